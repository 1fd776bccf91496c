"""fit under torchrun: 2 processes on gloo (CPU) equal one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from geolab.train import distributed, fit, load_checkpoint

# The script both runs use. With WORLD_SIZE=2 (torchrun) fit starts a gloo group, wraps the
# model in DistributedDataParallel and splits the shuffled loader with a DistributedSampler;
# rank r then sees positions r, r+2, ... of each epoch's permutation, so the two ranks' batches
# of b together are the single run's batch of 2b taken from the same permutation.
SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
    from geolab.train import Checkpoint, distributed, fit, make_loader

    out, per_rank_batch, single = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "single"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    y = (x @ torch.tensor([1.0, -2.0, 0.5]) > 0).long()
    data = TensorDataset(x, y)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    if single:  # the same permutations as the 2 ranks, batches of 2b
        sampler = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=7)
        train = DataLoader(data, batch_size=per_rank_batch, sampler=sampler)
    else:  # an ordinary shuffled loader: fit splits it over the ranks
        train = make_loader(data, per_rank_batch, shuffle=True, seed=7)
    val = make_loader(data, 16, shuffle=False, seed=0)
    hist = fit(model, train, val, nn.CrossEntropyLoss(), opt, 3, device="cpu",
               callbacks=[Checkpoint(out + ".ckpt.pt", restore_best=False)], progress=True)
    if distributed.is_main_process():
        torch.save({"weights": model.state_dict(), "history": dict(hist),
                    "world_size": distributed.world_size()}, out)
    # One file per rank (printed lines of two processes can interleave on a shared stdout).
    with open(f"{out}.rank{distributed.rank()}-of-{distributed.world_size()}", "w") as done:
        done.write("done")
    """
)


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR",
                                                             "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(tmp_path: Path):
    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT)
    single = _run([str(script), str(tmp_path / "single.pt"), "8", "single"], tmp_path)
    assert single.returncode == 0, single.stderr
    ddp = _run(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                str(script), str(tmp_path / "ddp.pt"), "4", "ddp"], tmp_path)
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr
    assert (tmp_path / "ddp.pt.rank0-of-2").exists() and (tmp_path / "ddp.pt.rank1-of-2").exists()
    a = torch.load(tmp_path / "single.pt", weights_only=True)
    b = torch.load(tmp_path / "ddp.pt", weights_only=True)
    assert a["world_size"] == 1 and b["world_size"] == 2
    # Same global batches and learning rate: DDP averages the two ranks' mean gradients, which is
    # the mean over the 8 samples. Only the order of float32 additions differs (about 1e-7
    # relative per step); after 3 epochs x 8 steps the weights agree to well within 1e-5.
    for key, value in a["weights"].items():
        torch.testing.assert_close(b["weights"][key], value, rtol=1e-5, atol=1e-5)
    different = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).state_dict()
    assert not torch.allclose(different["0.weight"], a["weights"]["0.weight"], atol=1e-3)  # the check can fail
    # the training loss is summed over ranks before dividing: equal to the single run's
    assert b["history"]["train_loss"] == pytest.approx(a["history"]["train_loss"], rel=1e-5)
    assert b["history"]["val_loss"] == pytest.approx(a["history"]["val_loss"], rel=1e-5)
    # rank 0 alone wrote the checkpoints, with model.module's weights (no "module." prefix)
    ckpt = load_checkpoint(tmp_path / "ddp.pt.ckpt.last.pt")
    assert ckpt["epoch"] == 3 and set(ckpt["model"]) == set(a["weights"])
    assert not list(tmp_path.glob(".*tmp*"))


def test_helpers_in_a_single_process(monkeypatch: pytest.MonkeyPatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert (distributed.rank(), distributed.world_size(), distributed.local_rank()) == (0, 1, 0)
    assert distributed.is_main_process() and not distributed.is_distributed()
    distributed.barrier()  # a no-op
    assert distributed.all_reduce_sum([1.5, 2]).tolist() == [1.5, 2.0]
    assert distributed.init_from_env("cpu") == (torch.device("cpu"), False)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    assert distributed.world_size() == 4 and distributed.rank() == 3 and not distributed.is_main_process()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(ValueError, match="RANK"):
        distributed.rank()


def test_distributed_loader_keeps_the_batches_and_splits_the_samples(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    data = TensorDataset(torch.arange(10.0))
    from geolab.train import make_loader

    parts = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        loader = distributed.distributed_loader(make_loader(data, 2, shuffle=True, seed=3, drop_last=False))
        assert isinstance(loader.sampler, DistributedSampler) and loader.batch_size == 2
        loader.sampler.set_epoch(1)
        parts.append([int(v) for (batch,) in loader for v in batch])
    assert sorted(parts[0] + parts[1]) == list(range(10))  # every sample once per epoch, over the two ranks
    with pytest.raises(ValueError, match="DistributedSampler yourself"):
        distributed.distributed_loader(DataLoader(data, sampler=[0, 1, 2]))


def test_fit_single_process_ignores_the_distributed_machinery():
    # no WORLD_SIZE: no process group, no wrapper
    model = nn.Linear(2, 2)
    fit(model, DataLoader(TensorDataset(torch.randn(8, 2), torch.zeros(8, dtype=torch.long)), batch_size=4), None,
        nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1), 1, device="cpu", progress=False)
    assert not torch.distributed.is_initialized()
