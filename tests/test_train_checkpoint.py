"""The one checkpoint format: save/load, weights_only, clear errors, and its users (segmentation, nn)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from geolab.train import CheckpointError, load_checkpoint, load_weights, save_checkpoint


def model() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))


def same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_round_trip_with_extras_and_weights_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    torch.manual_seed(0)
    m = model()
    path = save_checkpoint(tmp_path / "sub" / "m.pt", m, classes=["a", "b"], size=[8, 8], note=None)
    state = load_checkpoint(path)
    assert state["classes"] == ["a", "b"] and state["format"] == "geolab-checkpoint" and state["version"] == 1
    assert same(load_weights(model(), path), m)
    torch.save(m.state_dict(), tmp_path / "bare.pt")  # a bare state_dict (e.g. torchvision's cache) loads too
    assert same(load_weights(model(), tmp_path / "bare.pt"), m)
    wrapped = nn.DataParallel(model())
    save_checkpoint(tmp_path / "w.pt", nn.DataParallel(m))  # wrappers are unwrapped: keys without "module."
    assert "0.weight" in load_checkpoint(tmp_path / "w.pt")["model"]
    assert same(load_weights(wrapped, tmp_path / "w.pt").module, m)
    assert calls and all(c is True for c in calls)
    with pytest.raises(TypeError, match="weights_only"):
        save_checkpoint(tmp_path / "x.pt", m, when=object())
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path / "x.pt", m, format=1)
    assert not (tmp_path / "x.pt").exists()


def test_every_bad_file_raises_checkpoint_error_naming_it(tmp_path: Path):
    with pytest.raises(CheckpointError, match="missing.pt.*train") as info:
        load_weights(model(), tmp_path / "missing.pt")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt.*Delete it"):
        load_checkpoint(junk)
    truncated = tmp_path / "truncated.pt"
    save_checkpoint(truncated, model())
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_weights(model(), truncated)
    pickled = tmp_path / "pickled.pt"
    torch.save({"model": model().state_dict(), "obj": Path("x")}, pickled)  # an arbitrary object
    with pytest.raises(CheckpointError, match="pickled.pt"):
        load_checkpoint(pickled)
    listed = tmp_path / "list.pt"
    torch.save([1, 2], listed)
    with pytest.raises(CheckpointError, match="list.pt.*not a dict"):
        load_checkpoint(listed)
    wrong = save_checkpoint(tmp_path / "wrong.pt", nn.Linear(3, 3))
    with pytest.raises(CheckpointError, match="wrong.pt.*does not match.*same architecture"):
        load_weights(model(), wrong)
    torch.save({"epoch": 3}, tmp_path / "noweights.pt")
    with pytest.raises(CheckpointError, match="noweights.pt.*no model weights"):
        load_weights(model(), tmp_path / "noweights.pt")


def test_segmentation_models_use_the_same_format_and_old_files_still_load(tmp_path: Path):
    from geolab.segmentation import build_model, load_model, save_model

    torch.manual_seed(0)
    net = build_model("unet", num_classes=3, base=4, depth=2).eval()
    path = save_model(tmp_path / "seg.pt", net, classes=["a", "b", "c"])
    raw = load_checkpoint(path)
    assert raw["format"] == "geolab-checkpoint" and "state_dict" not in raw
    assert same(load_weights(build_model("unet", num_classes=3, base=4, depth=2), path), net)
    # a file of the earlier layout (weights under "state_dict" and "model") still loads
    old = tmp_path / "old.pt"
    torch.save({"arch": "unet", "kwargs": dict(net.arch_kwargs), "state_dict": net.state_dict()}, old)
    assert same(load_model(old), net)
    with pytest.raises(CheckpointError, match="junk.pt"):
        (tmp_path / "junk.pt").write_bytes(b"x")
        load_model(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="plain.pt.*save_model"):
        save_checkpoint(tmp_path / "plain.pt", net)
        load_model(tmp_path / "plain.pt")


def test_pretrained_backbone_reads_the_cache_through_load_checkpoint(tmp_path: Path, monkeypatch):
    import torchvision

    from geolab.nn import pretrained_backbone, weights_cache_path

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    path = weights_cache_path("resnet18")
    assert path.parent == tmp_path / "checkpoints" and path.name.startswith("resnet18-")
    # the segmentation models' backbone has its cache path computed by the same function
    assert weights_cache_path("mobilenet_v3_large").name.startswith("mobilenet_v3_large-")
    with pytest.raises(ValueError, match="unknown backbone"):
        weights_cache_path("alexnet9000")
    path.parent.mkdir(parents=True)
    torch.save({"fc.weight": torch.zeros(3)}, path)  # readable, but not resnet18's weights
    with pytest.warns(UserWarning, match=r"resnet18-.*does not match.*Delete the file"):
        assert pretrained_backbone("resnet18") is None
    torch.manual_seed(1)
    torch.save(torchvision.models.get_model("resnet18", weights=None).state_dict(), path)
    assert pretrained_backbone("resnet18") is not None
