"""Real batches on the device: shuffled per epoch from tensors, or drawn from a distribution.

A data set's fields come in one or more **streams** (unpaired data has two); each stream has its own
CPU generator, epoch and position, so the data order depends neither on how much randomness the models
use nor on the other streams, and its state is saved with each checkpoint for exact resume.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from gankit.data import Dataset
from gankit.engine.distributed import World
from gankit.errors import GankitError


class Batch:
    """One batch of named fields: ``batch["source"]``, ``batch.x`` (the main field), ``batch.y`` (the
    class labels, or ``None``). Fields other than the main one are gathered when first read: a scheme
    that never reads the labels (the unconditional one) does not pay for them every step.

    It reads like a mapping (``keys()``, ``items()``, ``in``, ``get``); iterating it unpacks
    ``x, y = batch``, as in gankit 0.1.
    """

    __slots__ = ("_values", "_pending", "main", "_label")

    def __init__(self, x: torch.Tensor | dict[str, torch.Tensor], y: torch.Tensor | None = None, *, main: str = "x"):
        self.main = main
        self._label = "label"
        self._values: dict[str, torch.Tensor] = dict(x) if isinstance(x, dict) else {main: x}
        if y is not None:
            self._values["label"] = y
        self._pending: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def gathered(
        cls,
        values: dict[str, torch.Tensor],
        pending: dict[str, tuple[torch.Tensor, torch.Tensor]],
        main: str,
        label: str | None,
    ) -> Batch:
        """A batch whose ``pending`` fields (name -> (all samples, index)) are gathered on first read."""
        batch = cls(values, main=main)
        batch._pending = pending
        batch._label = label or "label"
        return batch

    def __getitem__(self, name: str) -> torch.Tensor:
        value = self._values.get(name)
        if value is None:
            if name not in self._pending:
                raise KeyError(f"batch has no field {name!r}; its fields: {', '.join(self.keys())}")
            source, index = self._pending.pop(name)
            value = self._values[name] = source.index_select(0, index)
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._values or name in self._pending

    def __len__(self) -> int:
        return len(self._values) + len(self._pending)

    def keys(self) -> list[str]:
        return [*self._values, *self._pending]

    def items(self) -> list[tuple[str, torch.Tensor]]:
        return [(k, self[k]) for k in self.keys()]

    def values(self) -> list[torch.Tensor]:
        return [self[k] for k in self.keys()]

    def get(self, name: str, default: torch.Tensor | None = None) -> torch.Tensor | None:
        return self[name] if name in self else default

    @property
    def x(self) -> torch.Tensor:
        return self[self.main]

    @property
    def y(self) -> torch.Tensor | None:
        return self.get(self._label)

    def __iter__(self) -> Iterator[torch.Tensor | None]:  # ``x, y = batch``
        return iter((self.x, self.y))


class _Stream:
    """One group of fields shuffled together."""

    def __init__(self, tensors: dict[str, torch.Tensor], seed: int):
        self.tensors = tensors
        self.length = int(next(iter(tensors.values())).shape[0])
        self.generator = torch.Generator().manual_seed(seed % 2**63)
        self.epoch = 0
        self.position = 0
        self.perm: torch.Tensor | None = None
        self.epoch_start = self.generator.get_state()

    def take(self, count: int, device: torch.device) -> torch.Tensor:
        if self.perm is None or self.position + count > len(self.perm):
            if self.perm is not None:
                self.epoch += 1
            self.epoch_start = self.generator.get_state()
            self.perm = torch.randperm(self.length, generator=self.generator).to(device)
            self.position = 0
        index = self.perm[self.position : self.position + count]
        self.position += count
        return index

    def state(self) -> tuple[dict[str, int], torch.Tensor]:
        started = self.perm is not None
        counters = {"epoch": self.epoch, "position": self.position, "started": int(started)}
        return counters, (self.epoch_start if started else self.generator.get_state())

    def load_state(self, counters: dict[str, int], generator_state: torch.Tensor, device: torch.device) -> None:
        self.generator.set_state(generator_state)
        if counters.get("started"):
            self.epoch_start = generator_state.clone()
            self.perm = torch.randperm(self.length, generator=self.generator).to(device)
        self.epoch = counters.get("epoch", 0)
        self.position = counters.get("position", 0)


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
        self.description = dataset.description
        self.global_batch = batch_size
        #: This process's share of each global batch.
        self.batch_size = batch_size // world.size
        self.world = world
        self.device = device
        self._label = self.description.class_field()
        base_seed = seed + 0x5EED
        tensors = dataset.field_tensors()
        self.streams: list[_Stream] = []
        if tensors is None:
            # A distribution: one generator draws every field.
            self.generator = torch.Generator().manual_seed(base_seed % 2**63)
            return
        for i, names in enumerate(self.description.streams):
            on_device = {}
            for name in names:
                t = tensors[name]
                if t.is_floating_point():
                    layout = torch.channels_last if channels_last and t.dim() == 4 else torch.contiguous_format
                    t = t.to(device, torch.float32).contiguous(memory_format=layout)
                on_device[name] = t.to(device)
            stream = _Stream(on_device, base_seed + 7919 * i)
            if batch_size > stream.length:
                what = self.description.name + (f" (stream {', '.join(names)})" if i else "")
                raise GankitError(
                    f"--batch-size {batch_size} is larger than data set {what!r} "
                    f"({stream.length} sample{'s' if stream.length != 1 else ''}); "
                    f"use at most {stream.length}"
                )
            self.streams.append(stream)

    @property
    def finite(self) -> bool:
        return bool(self.streams)

    @property
    def samples(self) -> torch.Tensor | None:
        """The main field's samples of a finite data set, on the device."""
        for stream in self.streams:
            if self.description.main in stream.tensors:
                return stream.tensors[self.description.main]
        return None

    @property
    def epoch(self) -> int:
        return self.streams[0].epoch if self.streams else 0

    @property
    def position(self) -> int:
        return self.streams[0].position if self.streams else 0

    def epochs_to_steps(self, epochs: float, batches_per_step: int) -> int:
        if not self.finite:
            raise GankitError(
                f"--epochs needs a finite data set; {self.description.name!r} is sampled on demand, use --steps"
            )
        per_epoch = self.streams[0].length // self.global_batch
        return max(1, round(epochs * per_epoch / batches_per_step))

    def next(self) -> Batch:
        # Every process draws the global batch and keeps its own slice (see engine/distributed.py).
        main = self.description.main
        if not self.finite:
            drawn = self.dataset.sample(self.global_batch, self.generator)
            fields = drawn if isinstance(drawn, dict) else {main: drawn}
            values = {
                k: self.world.shard(v).to(
                    self.device, torch.float32 if v.is_floating_point() else None, non_blocking=True
                )
                for k, v in fields.items()
            }
            return Batch(values, main=main)
        values: dict[str, torch.Tensor] = {}
        pending: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for stream in self.streams:
            index = self.world.shard(stream.take(self.global_batch, self.device))
            for name, tensor in stream.tensors.items():
                if name == main:
                    values[name] = tensor.index_select(0, index)
                else:
                    pending[name] = (tensor, index)
        return Batch.gathered(values, pending, main, self._label)

    def state(self) -> list[tuple[dict[str, int], torch.Tensor]]:
        """(counters, generator state) per stream; one entry for a distribution."""
        if not self.finite:
            return [({"epoch": 0, "position": 0, "started": 0}, self.generator.get_state())]
        return [stream.state() for stream in self.streams]

    def load_state(self, states: list[tuple[dict[str, int], torch.Tensor]]) -> None:
        if not self.finite:
            self.generator.set_state(states[0][1])
            return
        if len(states) != len(self.streams):
            raise ValueError(f"the checkpoint holds {len(states)} data streams, this data set has {len(self.streams)}")
        for stream, (counters, generator_state) in zip(self.streams, states):
            stream.load_state(counters, generator_state, self.device)
