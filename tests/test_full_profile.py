"""The GPU lessons' ``full`` configuration, checked on the CPU: one training step, one eval batch.

Sizes are read from the notebooks themselves (their ``X = PROFILE.pick(...)`` assignments,
evaluated with the ``full`` profile) and from :mod:`geolab.runtime`, so these tests follow the
lessons when they change. A shape, dtype or memory mistake at the full input size shows up
here instead of on a student's GPU. Each test reports parameters and an estimate of the
peak memory of one training step; the terminal summary prints them (README's table).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from geolab.constants import IGNORE_INDEX
from geolab.runtime import PROFILES
from tests.conftest import FULL_PROFILE_REPORT, ROOT

FULL = PROFILES["full"]


def notebook_parameters(path: Path, profile_name: str = "full") -> dict[str, Any]:
    """Top-level assignments of a notebook that depend only on ``PROFILE`` and literals.

    E.g. ``EPOCHS = PROFILE.pick(smoke=2, standard=8, full=40)`` gives ``{"EPOCHS": 40}`` for
    ``full``. Assignments that need anything else are left out.
    """
    namespace: dict[str, Any] = {"PROFILE": PROFILES[profile_name], "P": PROFILES[profile_name]}
    found: dict[str, Any] = {}
    cells = json.loads(path.read_text())["cells"]
    for cell in cells[1:]:  # the first cell is the Colab bootstrap
        if cell["cell_type"] != "code":
            continue
        try:
            tree = ast.parse("".join(cell["source"]))
        except SyntaxError:  # IPython magics
            continue
        for node in tree.body:
            if not isinstance(node, ast.Assign) or len(node.targets) != 1:
                continue
            names = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            if not names <= set(namespace):
                continue
            try:
                value = eval(compile(ast.Expression(node.value), str(path), "eval"), {"__builtins__": {}}, dict(namespace))
            except Exception:  # noqa: BLE001 - not a plain parameter
                continue
            target = node.targets[0]
            if isinstance(target, ast.Name):
                pairs = [(target.id, value)]
            elif isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
                pairs = list(zip([t.id for t in target.elts], value))  # type: ignore[union-attr]
            else:
                continue
            for name, val in pairs:
                namespace[name] = found[name] = val
    return found


@dataclass
class GpuLesson:
    """What one GPU lesson trains in ``full``: models, input size (height, width), batch size."""

    notebook: str
    models: Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]
    size_hw: Callable[[dict[str, Any]], tuple[int, int]]
    write_size: Callable[[dict[str, Any]], tuple[int, int]]  # the size argument the lesson passes to write_dataset
    batch: Callable[[dict[str, Any]], int]
    extra: dict[str, Any] = field(default_factory=dict)


GPU_LESSONS = [
    GpuLesson(
        "08_beachlitter_segmentation.ipynb",
        models=lambda p: [("unet", p["UNET_KW"]), ("hrnet", p["HRNET_KW"])],
        size_hw=lambda p: (p["HEIGHT"], p["WIDTH"]),
        write_size=lambda p: (p["HEIGHT"], p["WIDTH"]),  # write_dataset(size=(height, width))
        batch=lambda p: p["BATCH"],
    ),
    GpuLesson(
        "09_beach_coverage.ipynb",
        # The lesson trains build_model("unet", num_classes=8, base=WIDTH, depth=3) on
        # batches of PROFILE.batch_size // 2 (on hard=True scenes).
        models=lambda p: [("unet", {"base": p["WIDTH"], "depth": 3})],
        size_hw=lambda p: tuple(sorted(p["NET_SIZE"])),  # type: ignore[return-value,arg-type]
        write_size=lambda p: p["NET_SIZE"],
        batch=lambda p: FULL.batch_size // 2,
    ),
]


def test_notebook_parameters_reads_profile_picks(tmp_path):
    nb = {"cells": [
        {"cell_type": "code", "source": "%pip install x"},
        {"cell_type": "code", "source": "A = PROFILE.pick(smoke=1, standard=2, full=3)\nB = {'k': A * 2}\nC = f(A)\n"},
    ]}
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(nb))
    assert notebook_parameters(path) == {"A": 3, "B": {"k": 6}}
    assert notebook_parameters(path, "smoke") == {"A": 1, "B": {"k": 2}}


def test_every_gpu_lesson_is_covered():
    """A notebook that declares full_needs_gpu must have an entry in GPU_LESSONS."""
    declared = set()
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        if json.loads(nb.read_text())["metadata"].get("geolab", {}).get("full_needs_gpu"):
            declared.add(nb.name)
    from tests.test_full_profile_chapters import CHAPTER_GPU_LESSONS

    assert declared == {lesson.notebook for lesson in GPU_LESSONS} | set(CHAPTER_GPU_LESSONS)


class ActivationMeter:
    """Sum of the bytes of every leaf module's output in one forward pass (kept for backward)."""

    def __init__(self, model: nn.Module) -> None:
        self.bytes = 0
        self.handles = [m.register_forward_hook(self._hook) for m in model.modules() if not list(m.children())]

    def _hook(self, module: nn.Module, inputs: Any, output: Any) -> None:
        outputs = output if isinstance(output, (list, tuple)) else [output]
        self.bytes += sum(o.numel() * o.element_size() for o in outputs if isinstance(o, torch.Tensor))

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _batch(lesson: GpuLesson, params: dict[str, Any], folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision import tv_tensors
    from torchvision.transforms import v2

    from geolab.data.beachlitter import BeachLitter
    from geolab.synth.beach import write_dataset

    batch = lesson.batch(params)
    root = write_dataset(folder, n=batch, seed=0, size=lesson.write_size(params))
    to_float = v2.ToDtype({tv_tensors.Image: torch.float32, "others": None}, scale=True)
    data = BeachLitter(root, "all", transforms=to_float)
    loader = torch.utils.data.DataLoader(data, batch_size=batch, shuffle=False)
    images, masks = next(iter(loader))
    return images.as_subclass(torch.Tensor), masks.as_subclass(torch.Tensor).long()


@pytest.mark.slow
@pytest.mark.parametrize("lesson", GPU_LESSONS, ids=lambda lesson: lesson.notebook[:2])
def test_full_profile_one_training_step_and_one_eval_batch(lesson, tmp_path):
    from geolab.data.beachlitter import CLASSES
    from geolab.segmentation import build_model

    params = notebook_parameters(ROOT / "notebooks" / lesson.notebook)
    height, width = lesson.size_hw(params)
    images, masks = _batch(lesson, params, tmp_path / "data")
    batch = lesson.batch(params)
    assert images.shape == (batch, 3, height, width) and images.dtype == torch.float32
    assert masks.shape == (batch, height, width)
    assert int(masks.max()) < len(CLASSES) or int(masks.max()) == IGNORE_INDEX
    for name, kwargs in lesson.models(params):
        torch.manual_seed(0)
        model = build_model(name, num_classes=len(CLASSES), **kwargs)
        n_params = sum(p.numel() for p in model.parameters())
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)
        model.train()
        meter = ActivationMeter(model)
        optimizer.zero_grad()
        logits = model(images)
        meter.close()
        assert logits.shape == (batch, len(CLASSES), height, width) and logits.dtype == torch.float32
        loss = loss_fn(logits, masks)
        loss.backward()
        optimizer.step()
        assert torch.isfinite(loss)
        model.eval()
        with torch.no_grad():
            predictions = model(images).argmax(1)
        assert predictions.shape == (batch, height, width)
        param_bytes = n_params * 4
        # weights + gradients + AdamW's two moments + saved activations + the input batch
        peak = 4 * param_bytes + meter.bytes + images.numel() * 4
        FULL_PROFILE_REPORT.append(
            f"{lesson.notebook[:2]} {name:<6} input {batch} x 3 x {height} x {width}: "
            f"{n_params / 1e6:.2f} M parameters, training step ~{peak / 2**30:.2f} GiB "
            f"(activations {meter.bytes / 2**30:.2f} GiB)"
        )
