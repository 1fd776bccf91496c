"""The real-data path of BeachLitter: EXIF-upright reading, grouped splits, letterboxing,
native-resolution scoring, the training recipe (one process and two gloo processes) and the
checkpoint that ``geolab beach-coverage`` reads."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from torch import nn

from geolab.data.beachlitter import BeachLitter, photo_groups, split_stems
from geolab.recipes.beachlitter import STRENGTHS, LetterboxPairs, main
from geolab.segmentation import load_model, prior_bias
from geolab.segmentation.evaluation import NativeEvaluation, evaluate_native, working_size
from tests.beachlitter_fixture import COLOURS, PHOTOS, STORED_MASKS, write_real_format

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def real_format(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("beachlitter_real_format")
    return root, write_real_format(root)


def test_photos_are_read_upright_and_masks_follow(real_format):
    root, truth = real_format
    data = BeachLitter(root)
    orientation = {stem: o for stem, _, o, _ in PHOTOS}
    assert {o for o in orientation.values()} >= {1, 3, 6, 8}  # the fixture has turned photos
    for i, stem in enumerate(data.stems):
        image, mask = data.read_pair(i)
        with Image.open(data.image_paths[i]) as im:
            stored = (im.height, im.width)
            oracle = np.array(ImageOps.exif_transpose(im).convert("RGB"))
        np.testing.assert_array_equal(image, oracle)  # PIL's own transpose is the oracle
        assert image.shape[:2] == truth[stem].shape
        if orientation[stem] in (6, 8):
            assert stored == image.shape[1::-1]  # the file holds the photo on its side
        np.testing.assert_array_equal(mask, truth[stem])  # also for the mask drawn on the stored pixels
        # the mask lies on the picture: the mean colour of the sky pixels is the sky's colour
        sky = image[mask == 5].mean(axis=0)
        assert np.abs(sky - np.array(COLOURS[5])).max() < 10, stem
    assert STORED_MASKS <= set(data.stems)


def test_a_mask_of_another_size_is_a_clear_error(tmp_path):
    write_real_format(tmp_path)
    from geolab.data.beachlitter import BeachLitterFormatError, save_mask

    save_mask(tmp_path / "beachlitter" / "maskpngs" / "000008.png", np.ones((10, 12), np.uint8))
    with pytest.raises(BeachLitterFormatError, match=r"000008\.png.*nearest"):
        BeachLitter(tmp_path).read_pair(0)


def test_groups_from_file_names_and_exif_dates(real_format, tmp_path):
    root, _ = real_format
    data = BeachLitter(root)
    days = {stem: day.replace(":", "-") for stem, _, _, day in PHOTOS}
    assert photo_groups(data.image_paths, "exif-date") == [days[s] for s in data.stems]
    assert photo_groups(data.image_paths, "photo") == [f"photo:{s}" for s in data.stems]
    named = [tmp_path / "site3_2019-05-21_0001.jpg", tmp_path / "20200101_x.jpg", tmp_path / "IMG_1234.jpg"]
    for p in named:
        p.write_bytes(b"not read for a dated name")
    Image.new("RGB", (4, 4)).save(named[2])  # no EXIF date: its own group
    assert photo_groups(named, "auto") == ["2019-05-21", "2020-01-01", "photo:IMG_1234"]
    with pytest.raises(ValueError, match="by must be"):
        photo_groups(named, "site")
    # a grouped split keeps every survey day in one part and covers every photo once
    parts = {s: BeachLitter(root, s, group_by="auto").stems for s in ("train", "val", "test")}
    assert sorted(sum(parts.values(), [])) == data.stems
    for s, stems in parts.items():
        assert stems, s
        others = {days[t] for o, st in parts.items() if o != s for t in st}
        assert not {days[t] for t in stems} & others, s
    assert BeachLitter(root, "train", group_by="auto", limit=2).stems == parts["train"][:2]
    # without groups: the unchanged split by photo
    assert BeachLitter(root, "test").stems == split_stems(data.stems, "test")
    with pytest.raises(ValueError, match="labels"):
        split_stems(data.stems, "test", groups=["a"])


def test_letterbox_keeps_the_aspect_and_ignores_the_padding(real_format):
    root, truth = real_format
    data = BeachLitter(root)
    boxed = LetterboxPairs(data, 48)
    batch = torch.utils.data.default_collate([boxed[i] for i in range(len(boxed))])  # mixed sizes collate
    assert batch[0].shape == (len(data), 3, 48, 48) and batch[1].shape == (len(data), 48, 48)
    for i, stem in enumerate(data.stems):
        h, w = truth[stem].shape
        sh, sw = working_size(h, w, 48)
        assert max(sh, sw) == 48 and abs(sh / sw - h / w) < 0.05
        mask = batch[1][i].numpy()
        assert (mask[:sh, :sw] != 255).all() and (mask[sh:] == 255).all() and (mask[:, sw:] == 255).all()
        # class shares survive the nearest-neighbour resize (to within the rectangles' edges)
        share = np.bincount(mask[:sh, :sw].ravel(), minlength=8) / (sh * sw)
        np.testing.assert_allclose(share, np.bincount(truth[stem].ravel(), minlength=8) / (h * w), atol=0.06)
    with pytest.raises(ValueError, match="without size"):
        LetterboxPairs(BeachLitter(root, size=32), 48)


class ColourModel(nn.Module):
    """Scores every class by closeness to the fixture's colours (an oracle segmenter)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.full((x.shape[0], 8, *x.shape[-2:]), -1e3)
        for k, col in COLOURS.items():
            ref = torch.tensor(col, dtype=torch.float32).view(1, 3, 1, 1) / 255
            out[:, k] = -((x - ref) ** 2).sum(1) * 50
        return out


def test_native_evaluation_against_sklearn_and_an_oracle_model(real_format):
    root, truth = real_format
    data = BeachLitter(root, "all")
    weights = torch.tensor([4.0, 1, 1, 1, 2.0, 1, 1, 1])
    model = ColourModel()
    ev = evaluate_native(model, data, 40, class_weights=weights, strengths=(0.0, 1.0))
    for s in (0.0, 1.0):
        cm = np.zeros((8, 8), np.int64)
        for i in range(len(data)):
            image, mask = data.read_pair(i)
            h, w = working_size(*image.shape[:2], 40)
            small = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255
            logits = model(torch.from_numpy(small).permute(2, 0, 1)[None])
            up = torch.nn.functional.interpolate(logits, size=image.shape[:2], mode="bilinear")[0]
            pred = (up + prior_bias(weights, s).view(-1, 1, 1)).argmax(0).numpy()
            assert pred.shape == truth[data.stems[i]].shape  # scored at native resolution
            cm += sk_confusion_matrix(mask.ravel(), pred.ravel(), labels=range(8))
            litter = np.isin(mask, [0, 4])
            assert ev.support[i, 2] == litter.sum() and ev.predicted[s][i, 2] == np.isin(pred, [0, 4]).sum()
            assert ev.hits[s][i, 0] == ((mask == 0) & (pred == 0)).sum()
        np.testing.assert_array_equal(ev.matrices[s], cm)
    # the oracle finds almost every litter pixel in every photo; only edges blur at a quarter of the size
    pct = ev.recall_percentiles(0.0)
    assert pct["litter"]["n"] == len(data) and pct["litter"]["p10"] > 0.7 and pct["litter"]["p50"] > 0.85
    assert ev.coverage_rel_error(0.0) < 0.2
    # the full correction shrinks litter (its weights were > 1)
    assert ev.predicted[1.0][:, 2].sum() < ev.predicted[0.0][:, 2].sum()


def test_choose_strength_takes_the_least_biased_sum():
    support = np.array([[10, 0, 10], [0, 20, 20]])
    predicted = {0.0: np.array([[20, 0, 20], [0, 40, 40]]), 0.5: np.array([[11, 0, 11], [0, 18, 18]]),
                 1.0: np.array([[2, 0, 2], [0, 5, 5]])}  # fmt: skip
    hits = {s: np.minimum(v, support) for s, v in predicted.items()}
    ev = NativeEvaluation(["a", "b"], [0.0, 0.5, 1.0], {}, support, hits, predicted)
    assert ev.choose_strength() == 0.5
    assert ev.summed_bias(0.0) == pytest.approx(1.0) and ev.summed_bias(0.5) == pytest.approx(-1 / 30)
    assert ev.coverage_rel_error(0.5) == pytest.approx(np.median([0.1, 0.1]))
    assert ev.recall_percentiles(1.0)["natural"] == {"p10": 0.25, "p25": 0.25, "p50": 0.25, "p75": 0.25, "p90": 0.25, "n": 1.0}
    np.testing.assert_allclose(ev.per_image_recall(1.0, "litter"), [0.2, 0.25])
    with pytest.raises(ValueError, match="no photo"):
        NativeEvaluation(["a"], [0.0], {}, np.zeros((1, 3), int), predicted, predicted).choose_strength()


TINY = ["--epochs", "1", "--long-side", "48", "--batch-size", "4", "--workers", "0", "--device", "cpu", "--width", "8",
        "--blocks", "1", "--no-progress"]  # fmt: skip


@pytest.mark.slow
def test_recipe_one_epoch_on_cpu_writes_what_the_coverage_tool_reads(real_format, tmp_path, monkeypatch, capsys):
    from geolab.cli import main as cli

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    root, truth = real_format
    out = tmp_path / "ckpt" / "bl.pt"
    report = main(["--data", str(root), "--out", str(out), *TINY])
    printed = capsys.readouterr().out
    assert "per-photo recall" in printed and "30-70%" in printed
    model = load_model(out)
    info = model.checkpoint_info
    assert info["arch"] == "hrnet" and info["image_size"] == 48 and len(info["class_weights"]) == 8
    assert info["prior_correction"] in STRENGTHS and info["prior_correction"] == report["prior_correction"]
    assert info["segmentation_rel_error"] == pytest.approx(report["segmentation_rel_error"])
    assert report["photos"]["train"] + report["photos"]["val"] + report["photos"]["test"] == len(PHOTOS)
    saved = json.loads(out.with_name("bl.pt.json").read_text())
    assert saved["test"]["recall_percentiles"].keys() == {"artificial", "natural", "litter"}
    test_stems = BeachLitter(root, "test", group_by=report["group_by"]).stems
    assert len(test_stems) == report["photos"]["test"]
    assert np.array(saved["test"]["confusion_matrix"]).sum() == sum(truth[s].size for s in test_stems)  # native pixels
    # the coverage tool takes the correction and the segmentation error from the checkpoint by default
    photos = sorted((root / "beachlitter" / "images").glob("*.jpg"))[:3]
    csv_out = tmp_path / "cov.csv"
    code = cli(["beach-coverage", *map(str, photos), "--model", str(out), "--camera-height", "1.5", "--bottom-distance",
                "3", "--vfov-deg", "40", "--out", str(csv_out)])  # fmt: skip
    assert code == 0
    with open(csv_out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    for r in rows:
        assert float(r["prior_correction"]) == report["prior_correction"]
        assert r["segmentation_error_source"] == "checkpoint"
        assert float(r["segmentation_rel_error"]) == pytest.approx(report["segmentation_rel_error"], rel=1e-5)  # CSV: 6 digits
        assert max(int(r["mask_width"]), int(r["mask_height"])) == 48  # the training scale


def test_find_real_beachlitter_skips_synthetic_copies(real_format, tmp_path):
    from geolab.data.beachlitter import find_real_beachlitter
    from geolab.synth.beach import write_dataset

    root, _ = real_format
    assert find_real_beachlitter(root) == root / "beachlitter"
    assert find_real_beachlitter(root / "beachlitter") == root / "beachlitter"
    assert find_real_beachlitter(tmp_path / "absent") is None
    write_dataset(tmp_path / "synth", 3, seed=0, size=(24, 32))
    assert find_real_beachlitter(tmp_path / "synth") is None  # never mistaken for the real data


def test_bad_data_folder_is_named(tmp_path):
    from geolab.data.fetch import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError, match="SEANOE"):
        main(["--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "x.pt"), *TINY])


SCRIPT = textwrap.dedent(
    """
    import sys
    from geolab.recipes.beachlitter import main
    from geolab.train import distributed

    data, out = sys.argv[1], sys.argv[2]
    report = main(["--data", data, "--out", out, *sys.argv[3:]])
    with open(f"{out}.rank{distributed.rank()}-of-{distributed.world_size()}", "w") as done:
        done.write("report" if report else "empty")
    """
)


@pytest.mark.slow
def test_recipe_under_torchrun_with_two_gloo_processes(real_format, tmp_path):
    root, _ = real_format
    if shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("torchrun is not installed next to this Python")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    out = tmp_path / "ddp.pt"
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(root), str(out), *TINY], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "ddp.pt.rank0-of-2").read_text() == "report"
    assert (tmp_path / "ddp.pt.rank1-of-2").read_text() == "empty"  # rank 1 trained, rank 0 alone evaluated and wrote
    report = json.loads((tmp_path / "ddp.pt.json").read_text())
    assert report["world_size"] == 2 and len(report["history"]["train_loss"]) == 1
    assert load_model(out).checkpoint_info["prior_correction"] == report["prior_correction"]
