"""Real batches on the device: shuffled per epoch from a tensor, or drawn from a distribution.

The stream has its own CPU generator, so the data order does not depend on how much randomness the
models use, and its state (epoch, position, the generator at the epoch's start) is saved with each
checkpoint for exact resume.
"""

from __future__ import annotations

import torch

from gankit.components import Dataset
from gankit.engine.distributed import World
from gankit.errors import GankitError


class Batch:
    """Samples ``x`` and, for labelled data, their labels ``y``. The labels are gathered when first
    read: a scheme that never reads them (the unconditional one) does not pay for them every step."""

    __slots__ = ("x", "_y", "_labels", "_index")

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None):
        self.x = x
        self._y = y
        self._labels: torch.Tensor | None = None
        self._index: torch.Tensor | None = None

    @classmethod
    def gathered(cls, x: torch.Tensor, labels: torch.Tensor | None, index: torch.Tensor) -> Batch:
        batch = cls(x)
        batch._labels, batch._index = labels, index
        return batch

    @property
    def y(self) -> torch.Tensor | None:
        if self._y is None and self._labels is not None:
            self._y = self._labels.index_select(0, self._index)
        return self._y

    def __iter__(self):  # ``x, y = batch``
        return iter((self.x, self.y))


class BatchStream:
    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        device: torch.device,
        seed: int,
        world: World = World(),
        channels_last: bool = False,
    ):
        if batch_size % world.size:
            raise GankitError(
                f"--batch-size {batch_size} is the global batch and must divide evenly over {world.size} processes"
            )
        self.dataset = dataset
        self.global_batch = batch_size
        #: This process's share of each global batch.
        self.batch_size = batch_size // world.size
        self.world = world
        self.device = device
        self.generator = torch.Generator().manual_seed((seed + 0x5EED) % 2**63)
        self.epoch = 0
        self.position = 0
        self._perm: torch.Tensor | None = None
        self._epoch_start = self.generator.get_state()
        self.samples = self.labels = None
        if dataset.samples is not None:
            n = int(dataset.samples.shape[0])
            if batch_size > n:
                name = dataset.description.name
                raise GankitError(
                    f"--batch-size {batch_size} is larger than data set {name!r} ({n} samples); use at most {n}"
                )
            layout = torch.channels_last if channels_last and dataset.samples.dim() == 4 else torch.contiguous_format
            self.samples = dataset.samples.to(device, torch.float32).contiguous(memory_format=layout)
            if dataset.labels is not None:
                self.labels = dataset.labels.to(device)

    @property
    def finite(self) -> bool:
        return self.samples is not None

    def epochs_to_steps(self, epochs: float, batches_per_step: int) -> int:
        if not self.finite:
            raise GankitError(
                f"--epochs needs a finite data set; {self.dataset.description.name!r} is sampled on demand, use --steps"
            )
        per_epoch = len(self.samples) // self.global_batch
        return max(1, round(epochs * per_epoch / batches_per_step))

    def next(self) -> Batch:
        # Every process draws the global batch and keeps its own slice (see engine/distributed.py).
        if not self.finite:
            x = self.world.shard(self.dataset.sample(self.global_batch, self.generator))
            return Batch(x.to(self.device, torch.float32, non_blocking=True))
        if self._perm is None or self.position + self.global_batch > len(self._perm):
            self._start_epoch()
        idx = self.world.shard(self._perm[self.position : self.position + self.global_batch])
        self.position += self.global_batch
        return Batch.gathered(self.samples.index_select(0, idx), self.labels, idx)

    def _start_epoch(self) -> None:
        if self._perm is not None:
            self.epoch += 1
        self._epoch_start = self.generator.get_state()
        self._perm = torch.randperm(len(self.samples), generator=self.generator).to(self.device)
        self.position = 0

    def state(self) -> tuple[dict[str, int], torch.Tensor]:
        started = self._perm is not None
        counters = {"epoch": self.epoch, "position": self.position, "started": int(started)}
        return counters, (self._epoch_start if started and self.finite else self.generator.get_state())

    def load_state(self, counters: dict[str, int], generator_state: torch.Tensor) -> None:
        self.generator.set_state(generator_state)
        if self.finite and counters.get("started"):
            self._epoch_start = generator_state.clone()
            self._perm = torch.randperm(len(self.samples), generator=self.generator).to(self.device)
        self.epoch = counters.get("epoch", 0)
        self.position = counters.get("position", 0)
