"""geolab.data.base: deterministic (grouped) splits and the GeoDataset base class."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from geolab.data import SPLITS, GeoDataset, split_indices  # noqa: E402


def _parts(n, **kw):
    return {s: split_indices(n, s, **kw) for s in SPLITS}


@pytest.mark.parametrize("n", [0, 1, 7, 100, 1001])
def test_splits_partition_the_items(n):
    parts = _parts(n)
    joined = np.concatenate(list(parts.values()))
    assert sorted(joined.tolist()) == list(range(n))  # disjoint and complete
    for idx in parts.values():
        assert idx.dtype == np.int64 and (np.diff(idx) > 0).all()
    assert len(parts["test"]) == round(0.15 * n) and len(parts["val"]) == min(round(0.15 * n), n - round(0.15 * n))
    np.testing.assert_array_equal(split_indices(n, "all"), np.arange(n))


def test_splits_are_deterministic_and_seeded():
    a, b = _parts(200, seed=3), _parts(200, seed=3)
    for s in SPLITS:
        np.testing.assert_array_equal(a[s], b[s])
    assert not np.array_equal(_parts(200, seed=4)["test"], a["test"])
    # oracle: the first round(f_test * n) items of the seeded permutation are the test split
    perm = np.random.default_rng(3).permutation(200)
    np.testing.assert_array_equal(a["test"], np.sort(perm[:30]))
    np.testing.assert_array_equal(a["val"], np.sort(perm[30:60]))
    # the test split does not move when train and val trade shares
    np.testing.assert_array_equal(split_indices(200, "test", fractions=(0.85, 0.0, 0.15), seed=3), a["test"])


def test_groups_stay_whole():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 40, 500)  # e.g. 40 survey days
    parts = _parts(500, groups=groups, fractions=(0.6, 0.2, 0.2), seed=1)
    seen = [set(groups[idx].tolist()) for idx in parts.values()]
    assert not seen[0] & seen[1] and not seen[0] & seen[2] and not seen[1] & seen[2]
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(500))
    # sizes near the shares: each split is off by at most about one group
    biggest = np.bincount(groups).max()
    for s, f in zip(SPLITS, (0.6, 0.2, 0.2)):
        assert abs(len(parts[s]) - f * 500) <= biggest
    # string labels work too (each group whole), and the same arguments give the same split
    names = np.array([f"site{g}" for g in groups])
    by_name = _parts(500, groups=names, fractions=(0.6, 0.2, 0.2), seed=1)
    assert not set(names[by_name["test"]]) & set(names[by_name["train"]])
    np.testing.assert_array_equal(by_name["val"], split_indices(500, "val", groups=names, fractions=(0.6, 0.2, 0.2),
                                                                seed=1))  # fmt: skip
    # one group per item: the sizes of the ungrouped split
    singles = _parts(100, groups=np.arange(100))
    assert [len(singles[s]) for s in SPLITS] == [70, 15, 15]


def test_bad_split_arguments():
    with pytest.raises(ValueError, match="split must be"):
        split_indices(10, "validation")
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, "train", fractions=(0.5, 0.2, 0.2))
    with pytest.raises(ValueError, match="sum to 1"):
        split_indices(10, "train", fractions=(1.2, -0.1, -0.1))
    with pytest.raises(ValueError, match="one label per item"):
        split_indices(10, "train", groups=[1, 2, 3])
    with pytest.raises(ValueError, match="n must be"):
        split_indices(-1, "train")


class Tiles(GeoDataset):
    """A tiny data set of 5-band float tiles with masks."""

    classes = ("water", "land", "cloud")
    palette = ((0, 0, 255), (0, 160, 0), (230, 230, 230))
    rgb_bands = (3, 2, 1)

    def __init__(self, split: str = "train", n: int = 20) -> None:
        super().__init__(split)
        self.index = split_indices(n, split, seed=0)
        g = torch.Generator().manual_seed(0)
        self.images = torch.randn(n, 5, 12, 16, generator=g) * 300 + 1000  # reflectance-like numbers
        self.masks = torch.randint(0, 3, (n, 12, 16), generator=g)
        self.masks[:, 0, 0] = self.ignore_index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        k = int(self.index[i])
        return self.images[k], self.masks[k]


def test_geodataset_is_a_torch_dataset_with_splits():
    parts = {s: Tiles(s) for s in SPLITS}
    assert [len(parts[s]) for s in SPLITS] == [14, 3, 3]
    assert Tiles.splits == ("train", "val", "test") and Tiles.ignore_index == 255 and Tiles("val").num_classes == 3
    x, y = next(iter(DataLoader(parts["train"], batch_size=4)))
    assert x.shape == (4, 5, 12, 16) and y.shape == (4, 12, 16)
    with pytest.raises(ValueError, match="Tiles: split must be"):
        Tiles("dev")

    class Bare(GeoDataset):
        pass

    with pytest.raises(NotImplementedError, match="Bare"):
        len(Bare())


def test_plot_shows_image_and_mask():
    ds = Tiles("train")
    fig = ds.plot(ds[0], title="tile 0")
    axes = fig.get_axes()
    assert len(axes) == 2 and [a.get_title() for a in axes] == ["image", "mask"]
    shown = axes[0].get_images()[0].get_array()
    assert shown.shape == (12, 16, 3) and 0.0 <= shown.min() and shown.max() <= 1.0  # stretched 3 of 5 bands
    legend = [t.get_text() for t in axes[1].get_legend().get_texts()]
    assert set(legend) <= set(Tiles.classes) and legend
    plt.close(fig)
    # a uint8 RGB (H, W, 3) array with a class label instead of a mask
    fig = ds.plot((np.zeros((8, 8, 3), np.uint8), 2))
    assert fig.get_axes()[0].get_title() == "cloud"
    plt.close(fig)
