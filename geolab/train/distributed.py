"""Small helpers for data-parallel training with ``torch.distributed`` (launched by ``torchrun``).

``torchrun --nproc_per_node N script.py`` starts ``N`` copies of a script and tells each one
who it is through environment variables: ``WORLD_SIZE`` (number of processes), ``RANK``
(this process, 0..N-1 over all machines) and ``LOCAL_RANK`` (this process on this machine,
which picks its GPU). :func:`geolab.train.fit` reads them itself; these helpers let any chapter
ask the same questions and work unchanged in a single process, where they answer
"rank 0 of 1".

* :func:`is_distributed`, :func:`rank`, :func:`local_rank`, :func:`world_size`,
  :func:`is_main_process`: who am I?
* :func:`barrier`, :func:`all_reduce_sum`: wait for every process; add numbers over processes.
* :func:`init_from_env`: start the process group (``nccl`` on CUDA, ``gloo`` on CPU) and pick
  this process's device.
* :func:`distributed_loader`: the same ``DataLoader`` with a ``DistributedSampler``, so each
  process sees its own share of every epoch.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler

__all__ = [
    "all_reduce_sum",
    "barrier",
    "distributed_loader",
    "init_from_env",
    "is_distributed",
    "is_main_process",
    "local_rank",
    "rank",
    "world_size",
]


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    try:
        return int(value) if value not in (None, "") else default
    except ValueError as exc:
        raise ValueError(f"environment variable {name}={value!r} is not an integer (torchrun sets it)") from exc


def world_size() -> int:
    """Number of processes (the process group's size, else ``WORLD_SIZE``, else 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return _env_int("WORLD_SIZE", 1)


def rank() -> int:
    """This process's rank, 0..world_size-1 (0 in a single process)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return _env_int("RANK", 0)


def local_rank() -> int:
    """This process's rank on its machine (``LOCAL_RANK``; picks the GPU)."""
    return _env_int("LOCAL_RANK", 0)


def is_distributed() -> bool:
    """Whether more than one process takes part (``WORLD_SIZE`` > 1 or an initialised group)."""
    return world_size() > 1


def is_main_process() -> bool:
    """Whether this is rank 0, the process that prints, draws progress bars and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process gets here (does nothing in a single process)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def all_reduce_sum(values: Sequence[float] | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Add numbers element-wise over all processes.

    Args:
        values: Numbers of this process, e.g. ``[loss_sum, n_samples]``.
        device: Where the reduction runs (``nccl`` needs the process's GPU, ``gloo`` the CPU).

    Returns:
        float64 tensor of the sums over processes (the values themselves in a single process).
    """
    t = torch.as_tensor(values, dtype=torch.float64).to(device)
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def init_from_env(device: str | torch.device | None = None) -> tuple[torch.device, bool]:
    """Join the process group described by torchrun's environment variables.

    Uses ``nccl`` when this process computes on CUDA, else ``gloo``; does nothing when the
    group is already initialised or when ``WORLD_SIZE`` is 1.

    Args:
        device: Requested device; on CUDA the process is pinned to ``cuda:LOCAL_RANK``.
            Default: CUDA if available, else the CPU.

    Returns:
        ``(device, started)``: this process's device, and whether this call started the
        group (so the caller should end it with ``torch.distributed.destroy_process_group()``).
    """
    if device is None:
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        dev = torch.device(device)
    if dev.type == "cuda" and world_size() > 1:
        dev = torch.device("cuda", local_rank())
        torch.cuda.set_device(dev)
    if world_size() <= 1 or dist.is_initialized():
        return dev, False
    if not dist.is_available():  # pragma: no cover - every standard torch build has it
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return dev, True


def distributed_loader(loader: DataLoader[Any], *, seed: int | None = None) -> DataLoader[Any]:
    """The same loader with a ``DistributedSampler``: each process gets 1/world_size of every epoch.

    Batch size, collate function, workers, ``pin_memory`` and ``drop_last`` are kept; shuffling is
    kept if the loader shuffled (call ``loader.sampler.set_epoch(epoch)`` every epoch so that the
    order changes; :func:`geolab.train.fit` does). With batch size ``b`` on each of ``N``
    processes, one step sees a global batch of ``N * b`` samples.

    Args:
        loader: A ``DataLoader`` with the default sampler (sequential or random).
        seed: Seed of the shuffling, the same in every process (default: the initial seed of
            the loader's generator, as :func:`geolab.train.make_loader` sets it, else 0).

    Raises:
        ValueError: The loader has a custom sampler (e.g. ``WeightedRandomSampler``), which
            cannot be split over processes automatically.
    """
    if isinstance(loader.sampler, DistributedSampler):
        return loader
    if not isinstance(loader.sampler, (RandomSampler, SequentialSampler)) or loader.batch_size is None:
        raise ValueError(
            f"cannot split a DataLoader with a {type(loader.sampler).__name__} (or a batch_sampler) over processes; "
            "build it with a torch.utils.data.DistributedSampler yourself and pass that loader to fit"
        )
    if seed is None:
        seed = int(loader.generator.initial_seed()) if loader.generator is not None else 0
    sampler: DistributedSampler[Any] = DistributedSampler(
        loader.dataset,
        num_replicas=world_size(),
        rank=rank(),
        shuffle=isinstance(loader.sampler, RandomSampler),
        seed=seed,
        drop_last=loader.drop_last,
    )
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        worker_init_fn=loader.worker_init_fn,
        persistent_workers=loader.persistent_workers if loader.num_workers > 0 else False,
    )
