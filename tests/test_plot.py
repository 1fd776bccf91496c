from __future__ import annotations

import numpy as np
import pytest
import torch

from geolab.plot import image_grid, mask_to_rgb, overlay_mask, plot_history, to_display


def test_to_display_handles_tensors_and_arrays():
    chw = torch.rand(3, 5, 7)
    assert to_display(chw).shape == (5, 7, 3)
    assert to_display(np.zeros((5, 7, 1))).shape == (5, 7)
    assert to_display(np.full((2, 2, 3), 2.0)).max() == 1.0  # float RGB clipped to [0, 1]
    with pytest.raises(ValueError):
        to_display(np.zeros((2, 2, 2, 2)))


def test_image_grid_layout_and_titles():
    imgs = [np.zeros((4, 4)), np.ones((4, 4, 3)), torch.zeros(3, 4, 4)]
    fig = image_grid(imgs, titles=["a", "b", "c"], ncols=2)
    axes = fig.axes
    assert len(axes) == 4  # 2 x 2 grid, last one empty
    assert [ax.get_title() for ax in axes[:3]] == ["a", "b", "c"]
    assert len(axes[3].images) == 0
    with pytest.raises(ValueError):
        image_grid(imgs, titles=["only one"])
    with pytest.raises(ValueError):
        image_grid([])


def test_mask_to_rgb_uses_palette_and_ignore():
    palette = [(10, 20, 30), (200, 100, 0)]
    mask = np.array([[0, 1], [255, 1]])
    rgb = mask_to_rgb(mask, palette)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert tuple(rgb[0, 0]) == (10, 20, 30) and tuple(rgb[0, 1]) == (200, 100, 0)
    assert tuple(rgb[1, 0]) == (0, 0, 0)
    with pytest.raises(ValueError, match="outside the palette"):
        mask_to_rgb(np.array([[5]]), palette)


def test_overlay_mask_legend_lists_present_classes():
    img = np.zeros((6, 6, 3), np.uint8)
    mask = np.zeros((6, 6), np.int64)
    mask[:3] = 2
    mask[5, 5] = 255
    ax = overlay_mask(img, mask, [(0, 0, 0), (1, 1, 1), (255, 0, 0)], class_names=["a", "b", "c"])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a", "c"]
    overlay_rgba = ax.images[1].get_array()
    assert overlay_rgba[5, 5, 3] == 0.0  # ignored pixel is transparent
    with pytest.raises(ValueError, match="differ in size"):
        overlay_mask(img, mask[:3], [(0, 0, 0)] * 3)


def test_plot_history_pairs_train_and_val():
    history = {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "val_acc": [0.5, 0.8], "lr": [0.1, 0.01]}
    fig = plot_history(history)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "acc", "lr"]
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(KeyError):
        plot_history(history, keys=["nope"])
