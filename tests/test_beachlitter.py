"""geolab.data.beachlitter on fixture folders in the real format (built here, never real data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors
from torchvision.transforms import v2

from geolab.data import GeoDataset
from geolab.data.beachlitter import (
    ARTIFICIAL,
    CLASSES,
    DATASET_ID,
    IGNORE_INDEX,
    LITTER,
    NATURAL,
    PALETTE,
    SAND,
    TRAIN_ID,
    BeachLitter,
    BeachLitterFormatError,
    class_frequencies,
    ids_to_train,
    palette_to_ids,
    read_mask,
    save_mask,
    split_stems,
    voc_colormap,
)
from geolab.data.fetch import DatasetNotFoundError

STEMS = ["000008", "000012", "000031", "000100", "000205"]


#: The first 21 colours of the PASCAL-VOC colour map (the VOC 2012 devkit's class colours) and
#: the "void" colour of index 255, typed out: an oracle independent of ``voc_colormap``.
VOC_COLOURS = {
    0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 4: (0, 0, 128), 5: (128, 0, 128),
    6: (0, 128, 128), 7: (128, 128, 128), 8: (64, 0, 0), 9: (192, 0, 0), 10: (64, 128, 0), 11: (192, 128, 0),
    12: (64, 0, 128), 13: (192, 0, 128), 14: (64, 128, 128), 15: (192, 128, 128), 16: (0, 64, 0),
    17: (128, 64, 0), 18: (0, 192, 0), 19: (128, 192, 0), 20: (0, 64, 128), 255: (224, 224, 192),
}  # fmt: skip


def _fixture_palette() -> bytes:
    pal = np.zeros((256, 3), np.uint8)
    for i, c in VOC_COLOURS.items():
        pal[i] = c
    return pal.tobytes()


def _palette_png(path: Path, ids: np.ndarray) -> None:
    im = Image.frombytes("P", (ids.shape[1], ids.shape[0]), ids.astype(np.uint8).tobytes())
    im.putpalette(_fixture_palette())
    im.save(path)


def _make(root: Path, sizes=None, stems=STEMS, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    bl = root / "beachlitter"
    (bl / "images").mkdir(parents=True)
    (bl / "maskpngs").mkdir(parents=True)
    for i, stem in enumerate(stems):
        w, h = (sizes[i] if sizes else (40 + 8 * i, 30 + 2 * i))
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(bl / "images" / f"{stem}.jpg", quality=90)
        ids = rng.integers(1, 9, (h, w))
        ids[0, 0] = 0
        _palette_png(bl / "maskpngs" / f"{stem}.png", ids)
    return bl


def test_constants():
    # the class table of the data description (Sugiyama et al. 2022), typed out
    assert CLASSES == ("Artificial Litter", "Background", "Living", "Sea", "Natural Litter", "Sky", "Sand Beach",
                       "Non Living")  # fmt: skip
    assert PALETTE == ((128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128), (0, 128, 128),
                       (128, 128, 128), (64, 0, 0))  # fmt: skip
    assert LITTER == (0, 4) and (ARTIFICIAL, NATURAL, SAND) == (0, 4, 6)
    assert DATASET_ID["sand"] == 7 and TRAIN_ID["sand"] == 6
    cmap = voc_colormap()
    assert cmap.shape == (256, 3) and cmap.dtype == np.uint8
    for i, colour in VOC_COLOURS.items():
        assert tuple(cmap[i]) == colour, i
    assert len({tuple(c) for c in cmap}) == 256  # every index its own colour
    assert BeachLitter.classes == CLASSES and BeachLitter.palette == PALETTE and BeachLitter.ignore_index == 255


def test_items_and_train_ids(tmp_path):
    bl = _make(tmp_path)
    ds = BeachLitter(tmp_path)
    assert len(ds) == 5 and ds.stems == STEMS
    for i in range(len(ds)):
        image, mask = ds[i]
        assert isinstance(image, tv_tensors.Image) and isinstance(mask, tv_tensors.Mask)
        assert image.dtype == torch.uint8 and image.shape[0] == 3
        assert mask.dtype == torch.int64 and mask.shape == image.shape[1:]
        raw = np.array(Image.open(bl / "maskpngs" / f"{STEMS[i]}.png"))
        expect = np.where((raw >= 1) & (raw <= 8), raw.astype(np.int64) - 1, IGNORE_INDEX)
        np.testing.assert_array_equal(mask.numpy(), expect)
        assert mask[0, 0] == IGNORE_INDEX
    # any image size
    assert len({tuple(ds[i][0].shape) for i in range(5)}) == 5


def test_root_may_be_the_beachlitter_folder(tmp_path):
    bl = _make(tmp_path)
    assert BeachLitter(bl).stems == BeachLitter(tmp_path).stems


def test_ids_to_train():
    np.testing.assert_array_equal(ids_to_train(np.array([[0, 1, 8, 9, 255]])), [[255, 0, 7, 255, 255]])


def test_split_is_deterministic_and_disjoint(tmp_path):
    stems = [f"{i:06d}" for i in range(1, 51)]
    train, val, test = (split_stems(stems, s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (35, 5, 10)
    assert not set(train) & set(test) and not set(train) & set(val) and not set(val) & set(test)
    assert sorted(train + val + test) == stems
    assert split_stems(stems[::-1], "test") == test  # order of listing does not matter
    assert split_stems(stems, "test", seed=1) != test
    # the test split is the paper-style 80/20 one: the first 20 % of a seeded shuffle of the sorted stems,
    # and it does not move when the validation share changes
    perm = np.random.default_rng(0).permutation(50)
    assert test == sorted(stems[i] for i in perm[:10])
    assert split_stems(stems, "test", fractions=(0.8, 0.0, 0.2)) == test
    assert split_stems(stems, "train", fractions=(0.8, 0.0, 0.2)) == sorted(train + val)
    _make(tmp_path, stems=[f"{i:06d}" for i in range(1, 21)])
    parts = {s: BeachLitter(tmp_path, s) for s in ("train", "val", "test", "all")}
    assert [len(parts[s]) for s in ("train", "val", "test", "all")] == [14, 2, 4, 20]
    assert sorted(parts["train"].stems + parts["val"].stems + parts["test"].stems) == parts["all"].stems
    assert isinstance(parts["val"], GeoDataset) and isinstance(parts["val"], torch.utils.data.Dataset)
    assert parts["val"].split == "val" and parts["val"].num_classes == 8
    with pytest.raises(ValueError, match="split"):
        BeachLitter(tmp_path, "validation")


def test_joint_transforms_and_size(tmp_path):
    _make(tmp_path)
    tf = v2.Compose([v2.RandomResizedCrop((24, 24), antialias=True), v2.RandomHorizontalFlip(1.0)])
    torch.manual_seed(0)
    ds = BeachLitter(tmp_path, transforms=tf)
    image, mask = ds[0]
    assert image.shape == (3, 24, 24) and mask.shape == (24, 24)
    # masks only ever take values that exist (nearest), never interpolated ones
    assert set(torch.unique(mask).tolist()) <= set(range(8)) | {255}
    sized = BeachLitter(tmp_path, size=(16, 20))
    im, m = sized[3]
    assert im.shape == (3, 16, 20) and m.shape == (16, 20) and m.dtype == torch.int64
    orig = set(torch.unique(BeachLitter(tmp_path)[3][1]).tolist())
    assert set(torch.unique(m).tolist()) <= orig


def test_masks_are_resized_by_nearest_neighbour(tmp_path):
    bl = tmp_path / "beachlitter"
    (bl / "images").mkdir(parents=True)
    (bl / "maskpngs").mkdir()
    blocks = np.random.default_rng(3).integers(1, 9, (6, 8))
    ids = np.kron(blocks, np.ones((4, 4), int))  # 24 x 32, constant 4 x 4 blocks
    Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(bl / "images" / "000001.jpg")
    _palette_png(bl / "maskpngs" / "000001.png", ids)
    _, m = BeachLitter(tmp_path, size=(6, 8))[0]
    np.testing.assert_array_equal(m.numpy(), blocks - 1)  # a linear resize would mix ids at block edges
    _, up = BeachLitter(tmp_path, size=(48, 64))[0]
    np.testing.assert_array_equal(up.numpy(), np.kron(blocks - 1, np.ones((8, 8), int)))


def test_class_frequencies(tmp_path):
    _make(tmp_path)
    ds = BeachLitter(tmp_path)
    counts = class_frequencies(ds)
    expect = np.zeros(8, np.int64)
    for i in range(len(ds)):
        m = ds[i][1].numpy()
        expect += np.bincount(m[m < 8], minlength=8)
    np.testing.assert_array_equal(counts, expect)
    # also through transforms / any sequence of pairs
    np.testing.assert_array_equal(class_frequencies([ds[i] for i in range(len(ds))]), expect)


def test_palette_to_ids_and_save_mask(tmp_path):
    ids = np.random.default_rng(0).integers(0, 9, (7, 9)).astype(np.uint8)
    save_mask(tmp_path / "m.png", ids)
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.array(im), ids)
        rgb = np.array(im.convert("RGB"))
    np.testing.assert_array_equal(palette_to_ids(rgb), ids)  # 0 (black) stays 0 = unknown
    np.testing.assert_array_equal(read_mask(tmp_path / "m.png"), ids)
    weird = rgb.copy()
    weird[0, 0] = (1, 2, 3)
    assert palette_to_ids(weird, unknown=0)[0, 0] == 0


# ------------------------------------------------------------------------------ errors
def test_root_not_found_says_how_to_download(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"does not exist.*10\.17882/85472"):
        BeachLitter(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="SEANOE"):
        BeachLitter(tmp_path / "empty")
    (tmp_path / "half" / "beachlitter" / "images").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="maskpngs"):
        BeachLitter(tmp_path / "half")


def test_unpaired_files(tmp_path):
    bl = _make(tmp_path)
    (bl / "maskpngs" / "000012.png").unlink()
    Image.new("P", (4, 4)).save(bl / "maskpngs" / "999999.png")
    with pytest.raises(BeachLitterFormatError, match=r"no mask.*000012\.jpg.*no image.*999999\.png.*strict=False"):
        BeachLitter(tmp_path)
    with pytest.warns(UserWarning, match="skipping"):
        ds = BeachLitter(tmp_path, strict=False)
    assert ds.stems == ["000008", "000031", "000100", "000205"]


def test_size_mismatch(tmp_path):
    bl = _make(tmp_path)
    _palette_png(bl / "maskpngs" / "000031.png", np.ones((5, 6), np.uint8))
    ds = BeachLitter(tmp_path)
    with pytest.raises(BeachLitterFormatError, match=r"000031\.png is 6 x 5 pixels but its image 000031\.jpg.*nearest"):
        ds[2]


def test_rgb_mask_is_refused_with_the_fix(tmp_path):
    bl = _make(tmp_path)
    with Image.open(bl / "maskpngs" / "000008.png") as im:
        im.convert("RGB").save(bl / "maskpngs" / "000008.png")
    ds = BeachLitter(tmp_path)
    with pytest.raises(BeachLitterFormatError, match=r"000008\.png.*RGB.*palette_to_ids"):
        ds[0]


def test_unreadable_files(tmp_path):
    bl = _make(tmp_path)
    (bl / "images" / "000100.jpg").write_bytes(b"not a jpeg")
    (bl / "maskpngs" / "000205.png").write_bytes(b"\x89PNG broken")
    ds = BeachLitter(tmp_path)
    with pytest.raises(BeachLitterFormatError, match=r"000100\.jpg: cannot read the image"):
        ds[3]
    with pytest.raises(BeachLitterFormatError, match=r"000205\.png: cannot read the mask"):
        ds[4]
