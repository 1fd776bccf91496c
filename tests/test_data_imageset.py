"""geolab.data.ImageSet: items, transforms at every draw, label-free sets, errors."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset
from torchvision.transforms import v2

from geolab.data import ImageSet


def test_without_transform_it_equals_a_tensor_dataset():
    g = torch.Generator().manual_seed(0)
    images, labels = torch.rand(10, 1, 8, 8, generator=g), torch.arange(10) % 3
    ours, reference = ImageSet(images, labels), TensorDataset(images, labels)  # oracle: torch's own dataset
    assert len(ours) == len(reference) == 10
    for (x, y), (rx, ry) in zip(DataLoader(ours, batch_size=4), DataLoader(reference, batch_size=4), strict=True):
        assert torch.equal(x, rx) and torch.equal(y, ry)


def test_the_transform_runs_at_every_draw_and_leaves_the_images_alone():
    images = torch.zeros(4, 1, 8, 8)
    images[:, :, 3:5, 3:5] = 1.0
    original = images.clone()
    shift = v2.RandomAffine(degrees=0, translate=(0.25, 0.25))
    data = ImageSet(images, torch.zeros(4, dtype=torch.long), shift)
    torch.manual_seed(0)
    draws = [data[0][0] for _ in range(20)]
    assert len({tuple(d.flatten().nonzero().flatten().tolist()) for d in draws}) > 1  # different variants
    assert all(d.sum() == 4 for d in draws)  # a shift of at most 2 pixels keeps the 2 x 2 square inside
    assert torch.equal(images, original)
    torch.manual_seed(0)
    again = [data[0][0] for _ in range(20)]
    assert all(torch.equal(a, b) for a, b in zip(draws, again, strict=True))  # seeded: repeatable


def test_label_free_items_and_length_check():
    images = torch.rand(5, 3, 4, 4)
    data = ImageSet(images)
    assert torch.equal(data[2], images[2])
    assert next(iter(DataLoader(data, batch_size=5))).shape == (5, 3, 4, 4)
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        ImageSet(images, torch.zeros(4))
