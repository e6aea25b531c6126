"""Data-parallel training on PyTorch's own machinery: torchrun + DistributedDataParallel.

Design: every rank draws *all* randomness for the global batch from the same seeded streams and keeps
its own slice (data order, noise, penalty interpolation weights). Ranks therefore stay in step without
communication, the saved RNG state is one state for all ranks, and N ranks at global batch B follow
the same trajectory as one process at batch B (up to the order of floating-point sums).
"""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import attrs
import torch
from torch import nn

from gankit.errors import RANK_ERRORS_ENV, GankitError


@attrs.frozen
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's slice of a tensor drawn for the global batch."""
        if self.size == 1:
            return batch
        per_rank = batch.shape[0] // self.size
        return batch[self.rank * per_rank : (self.rank + 1) * per_rank]

    def wrap(self, network: nn.Module, device: torch.device) -> nn.Module:
        if not self.distributed or not any(p.requires_grad for p in network.parameters()):
            return network
        from torch.nn.parallel import DistributedDataParallel

        if device.type == "cuda":  # batch statistics over the global batch; gloo has no SyncBatchNorm
            network = nn.SyncBatchNorm.convert_sync_batchnorm(network)
        # DDP's default buffer handling is kept on purpose: rank 0's buffers (batch-norm running stats,
        # spectral norm's power-iteration vectors) are copied to every rank at each forward, so every rank
        # holds what rank 0 checkpoints.
        return DistributedDataParallel(network, device_ids=[device.index] if device.type == "cuda" else None)

    def mean(self, values: dict[str, float], device: torch.device) -> dict[str, float]:
        """Average logged scalars over ranks (a collective: every rank calls it at the same step)."""
        if not self.distributed or not values:
            return values
        keys = sorted(values)
        tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
        torch.distributed.all_reduce(tensor)
        return dict(zip(keys, (tensor / self.size).tolist()))

    def broadcast_text(self, text: str, device: torch.device) -> str:
        """Rank 0's ``text`` on every rank (run folder names carry a timestamp)."""
        if not self.distributed:
            return text
        data = torch.zeros(256, dtype=torch.uint8, device=device)
        if self.is_main:
            raw = text.encode()[:256]
            data[: len(raw)] = torch.tensor(list(raw), dtype=torch.uint8)
        torch.distributed.broadcast(data, src=0)
        return bytes(data.cpu().tolist()).rstrip(b"\0").decode()

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every process when ``flag`` is true on any (a collective)."""
        if not self.distributed:
            return flag
        tensor = torch.tensor([int(flag)], device=device)
        torch.distributed.all_reduce(tensor, op=torch.distributed.ReduceOp.MAX)
        return bool(tensor.item())

    def close(self) -> None:
        """Leave the process group; without this, gloo aborts the process at exit (and torchrun,
        seeing a failed worker, restarts a run that had finished)."""
        if self.distributed and torch.distributed.is_initialized():
            # Leave together: a process tearing gloo down while its peer still writes the last checkpoint
            # can die in gloo's destructor ("terminate called without an active exception").
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


def no_sync(network: nn.Module) -> AbstractContextManager[object]:
    """For a DDP-wrapped network used only as a fixed function (D in G's step): no gradient reduction."""
    return network.no_sync() if hasattr(network, "no_sync") else nullcontext()


def current_world() -> World:
    """The world torchrun describes in the environment (one process when not under torchrun)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def init_world(device_name: str) -> tuple[World, str]:
    """Join the process group when under torchrun; returns the world and the device each rank uses."""
    world = current_world()
    if not world.distributed:
        return world, device_name
    if not torch.distributed.is_initialized():
        use_cuda = device_name in ("auto", "cuda") and torch.cuda.is_available()
        backend = "nccl" if use_cuda else "gloo"
        if use_cuda:
            torch.cuda.set_device(world.local_rank)
        # torchrun keeps one key-value store across restarts of the group; without a per-attempt prefix a
        # restarted process can read a dead peer's address left by the previous attempt and fail to connect.
        store, rank, size = next(torch.distributed.rendezvous("env://"))
        attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        store = torch.distributed.PrefixStore(f"gankit/attempt-{attempt}/", store)
        torch.distributed.init_process_group(backend, store=store, rank=rank, world_size=size)
    if device_name in ("auto", "cuda") and torch.cuda.is_available():
        return world, f"cuda:{world.local_rank}"
    if device_name.startswith("cuda:"):
        raise GankitError("under torchrun each rank uses the GPU of its LOCAL_RANK: pass --device cuda or auto")
    return world, device_name


def check_split(batch_size: int, processes: int) -> None:
    """The global batch must split evenly over the processes; checked before torchrun starts any, since
    torchrun reports a worker's refusal with tracebacks of its own."""
    if processes > 1 and batch_size % processes:
        fits = [n for n in range(2, min(batch_size, 64) + 1) if batch_size % n == 0][:6]
        hint = f" or --nproc {', '.join(map(str, fits))}" if fits else ""
        raise GankitError(
            f"--batch-size {batch_size} does not split evenly over --nproc {processes} processes; "
            f"use a batch size that is a multiple of {processes} (like {batch_size + processes - batch_size % processes})"
            f"{hint}"
        )


#: Set by ``gankit run --nproc`` when it, not the user, sets OMP_NUM_THREADS for the workers (as torchrun
#: would, with a warning): the thread policy then chooses per process instead of taking it as a choice.
OMP_SET_BY_LAUNCHER = "GANKIT_OMP_SET_BY_LAUNCHER"


def launch(argv: list[str]) -> int:
    """torchrun (``python -m torch.distributed.run ARGV``) with one error line, not one per process.

    Processes usually fail alike (a missing --data-root, say): local rank 0 prints its ``Error:`` line,
    and the others leave theirs in a private folder instead of the console. The launcher then adds each
    line that differs from rank 0's, once, with its rank, instead of torchrun's ChildFailedError
    traceback and summary. Returns the exit status of the first process that failed.
    """
    import logging
    import shutil
    import tempfile

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    # torchrun's own notices (closing signals sent to the other workers, its failure summary).
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)
    errors = Path(tempfile.mkdtemp(prefix="gankit-torchrun-"))
    os.environ[RANK_ERRORS_ENV] = str(errors)
    try:
        try:
            run(parse_args(argv))
        except ChildFailedError as exc:
            codes = [failure.exitcode for _, failure in sorted(exc.failures.items())]
            for line in _other_ranks_errors(errors):
                print(line, file=sys.stderr, flush=True)
            return next((code for code in codes if code > 0), 1)
        return 0
    finally:
        shutil.rmtree(errors, ignore_errors=True)


def _other_ranks_errors(folder: Path) -> list[str]:
    """The error lines of local ranks other than 0 that differ from rank 0's, once each, with their rank."""
    messages: dict[int, str] = {}
    for path in folder.glob("rank-*.txt"):
        try:
            messages[int(path.stem[5:])] = path.read_text(errors="replace")[:4000]
        except (ValueError, OSError):
            continue
    shown = {messages[0]} if 0 in messages else set()
    lines = []
    for rank in sorted(r for r in messages if r != 0):
        if messages[rank] not in shown:
            shown.add(messages[rank])
            lines.append(f"Error: rank {rank}: {messages[rank]}")
    return lines
