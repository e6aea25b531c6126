"""What data sources yield: named fields, their description, and the data sets that hold them.

A data set is a set of named **fields**: the one-field case is ``x`` (with ``label`` when samples carry
a class), a paired translation set has ``source`` and ``target``, an unpaired one ``a`` and ``b`` in
two **streams** that are shuffled (and resumed) each on its own. This module imports no torch at run
time, so plugins can describe their data in modules that ``gankit plugins`` loads quickly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import torch
    from torch import Tensor

#: What a field holds. ``image`` is ``(C, H, W)``, ``points`` a vector, ``class`` an integer label of
#: shape ``()``, ``attributes`` a float vector of 0/1 flags (StarGAN's domains), ``noise`` a latent,
#: ``scores`` a discriminator's logits (``()`` per sample, or per patch).
FIELD_KINDS = ("image", "points", "class", "attributes", "noise", "scores")


def _shape(value: Any) -> tuple[int, ...]:
    value = tuple(value)
    if not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 1 << 20 for d in value):
        raise ValueError(f"shape must be positive integers, got {value!r}")
    if math.prod(value) > 1 << 28:
        raise ValueError(f"shape {value!r} is too large for one sample")
    return value


def _two_numbers(instance: Any, attribute: Any, value: tuple) -> None:
    if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise ValueError(f"value_range must be two numbers, got {value!r}")


@attrs.frozen
class Field:
    """One named thing that a data set yields per sample, or that a network takes or returns."""

    #: Shape of one sample: ``(C, H, W)`` for images, ``(2,)`` for points, ``()`` for a class label.
    shape: tuple[int, ...] = attrs.field(converter=_shape)
    kind: str = attrs.field(validator=attrs.validators.in_(FIELD_KINDS))
    #: The data-unit values that ``-1`` and ``+1`` stand for (images and points).
    value_range: tuple[float, float] = attrs.field(default=(-1.0, 1.0), converter=tuple, validator=_two_numbers)
    #: Number of classes of a ``class`` field.
    num_classes: int | None = None
    #: The names of a ``class`` field's classes (``("airplane", ...)``: ``--label cat``) or of an
    #: ``attributes`` field's flags (``("dimmed", "framed", "thick")``: ``--set target=dimmed+thick``),
    #: in order; the numbers and flags work too. Empty when unnamed.
    names: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if not self.names:
            return
        count = {"class": self.num_classes, "attributes": self.shape[0] if self.shape else None}.get(self.kind)
        if len(self.names) != count:
            raise ValueError(
                f"names {self.names!r} must name each class of a class field or each flag of an attributes field"
            )
        for name in self.names:
            if not isinstance(name, str) or not name.strip() or name.strip().isdigit():
                raise ValueError(f"{self.kind} name {name!r} must be text, not a number (numbers stand for themselves)")
            if self.kind == "attributes" and (any(c in name for c in ",+ ") or name == "none"):
                raise ValueError(f"attribute name {name!r} must be a word without ',', '+' or spaces (not none)")
        if len({n.strip().lower() for n in self.names}) != len(self.names):
            raise ValueError(f"{self.kind} names {self.names!r} must differ from each other (case aside)")

    @property
    def channels(self) -> int:
        """Image channels (the first of ``shape``); 1 for points."""
        return self.shape[0] if self.kind == "image" else 1

    @property
    def resolution(self) -> int | None:
        """Pixels per side of an image (the last of ``shape``); ``None`` for points."""
        return self.shape[-1] if self.kind == "image" else None

    @property
    def numel(self) -> int:
        """Numbers in one sample: the product of ``shape``."""
        return math.prod(self.shape)


@attrs.frozen
class DataDescription:
    """What a data source yields, so that architectures and schemes can shape themselves to it.

    ``shape``, ``modality``, ``value_range`` and ``num_classes`` describe the **main** field (what a
    generator produces); ``fields`` describes every field. The one-field constructor of gankit 0.1
    (``DataDescription(name, shape, modality, ...)``) still works and yields fields ``x`` (and
    ``label`` when ``num_classes`` is set); :meth:`of` builds a description from fields.
    """

    name: str
    #: Shape of one sample of the main field: ``(2,)`` for points, ``(C, H, W)`` for images.
    shape: tuple[int, ...] = attrs.field(converter=tuple)

    @shape.validator
    def _positive_ints(self, attribute: Any, value: tuple) -> None:
        if not value:
            raise ValueError(f"shape must be positive integers, got {value!r}")
        _shape(value)

    #: ``"points"`` or ``"image"``: the kind of the main field.
    modality: str
    value_range: tuple[float, float] = attrs.field(default=(-1.0, 1.0), converter=tuple, validator=_two_numbers)
    #: Number of classes when samples carry class labels, else ``None``.
    num_classes: int | None = None
    #: Number of samples for a finite data set (of the first stream), ``None`` for a distribution.
    size: int | None = None
    #: Field name -> :class:`Field`; derived from the attributes above when not given.
    fields: dict[str, Field] = attrs.field(default=None, converter=lambda v: None if v is None else dict(v))
    #: The field a generator produces (pictures and metrics show it).
    main: str = "x"
    #: Groups of fields shuffled together; more than one for unpaired data (CycleGAN's ``a`` and ``b``).
    streams: tuple[tuple[str, ...], ...] = attrs.field(default=(), converter=lambda v: tuple(tuple(s) for s in v))

    def __attrs_post_init__(self) -> None:
        if self.fields is None:
            fields = {"x": Field(self.shape, self.modality, self.value_range)}
            if self.num_classes is not None:
                fields["label"] = Field((), "class", num_classes=self.num_classes)
            object.__setattr__(self, "fields", fields)
        if self.main not in self.fields:
            raise ValueError(f"main field {self.main!r} is not among the fields {sorted(self.fields)}")
        if not self.streams:
            object.__setattr__(self, "streams", (tuple(self.fields),))
        named = [f for stream in self.streams for f in stream]
        if sorted(named) != sorted(self.fields):
            raise ValueError(f"streams {self.streams!r} must name every field of {sorted(self.fields)} once")

    @classmethod
    def of(
        cls,
        name: str,
        fields: Mapping[str, Field],
        *,
        main: str | None = None,
        streams: tuple[tuple[str, ...], ...] = (),
        size: int | None = None,
    ) -> DataDescription:
        """A description from its fields; ``main`` defaults to the first image (or points) field."""
        samples = [n for n, f in fields.items() if f.kind in ("image", "points")]
        main = main or (samples[0] if samples else None)
        if main not in fields:
            raise ValueError(f"main field {main!r} is not among the fields {sorted(fields)}")
        classes = [f.num_classes for f in fields.values() if f.kind == "class"]
        m = fields[main]
        return cls(
            name,
            m.shape,
            m.kind,
            value_range=m.value_range,
            num_classes=classes[0] if len(classes) == 1 else None,
            size=size,
            fields=fields,
            main=main,
            streams=streams,
        )

    @property
    def channels(self) -> int:
        """The main field's :attr:`Field.channels`."""
        return self.fields[self.main].channels

    @property
    def resolution(self) -> int | None:
        """The main field's :attr:`Field.resolution`."""
        return self.fields[self.main].resolution

    @property
    def numel(self) -> int:
        """The main field's :attr:`Field.numel`."""
        return self.fields[self.main].numel

    def field(self, name: str) -> Field:
        """The field ``name``; a one-line error naming the fields there are."""
        from gankit.errors import GankitError

        if name not in self.fields:
            raise GankitError(f"data {self.name!r} has no field {name!r}; its fields: {', '.join(self.fields)}")
        return self.fields[name]

    def class_field(self) -> str | None:
        """The name of the class-label field, if the data has exactly one."""
        names = [n for n, f in self.fields.items() if f.kind == "class"]
        return names[0] if len(names) == 1 else None

    def to_data_units(self, x: Tensor, field: str | None = None) -> Tensor:
        """Map a batch from ``[-1, 1]`` back to the data's own units (of ``field``, default the main one)."""
        lo, hi = self.fields[field or self.main].value_range
        return lo + (x + 1) * ((hi - lo) / 2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for config.json and checkpoints; :meth:`from_dict` reads it back."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, saved: Mapping[str, Any]) -> DataDescription:
        """Read :meth:`to_dict`'s output, also as gankit 0.1 saved it (without fields)."""
        known = {f.name for f in attrs.fields(cls)}
        values = {k: v for k, v in saved.items() if k in known}
        if values.get("fields") is not None:
            values["fields"] = {name: Field(**f) for name, f in values["fields"].items()}
        return cls(**values)


@attrs.frozen
class DataRequest:
    """Run-level options every data source receives besides its own config."""

    root: str | None = None
    download: bool = False
    resolution: int | None = None


class Dataset:
    """What a data source's factory returns: a description, and either all samples or a sampler.

    Finite data sets hold every field as one tensor, decoded once and scaled to ``[-1, 1]``
    (:class:`TensorDataset`); the engine moves them to the device and shuffles each stream per epoch.
    The one-field case may set ``samples`` (and ``labels``) instead. Distributions sampled on demand
    (the toy sets) implement :meth:`sample`.
    """

    description: DataDescription
    samples: Tensor | None = None
    labels: Tensor | None = None
    #: Field name -> a tensor of every sample of that field (set by :class:`TensorDataset`).
    tensors: dict[str, Tensor] | None = None

    def field_tensors(self) -> dict[str, Tensor] | None:
        """Every field's tensor for a finite data set, ``None`` for a distribution."""
        if self.tensors is not None:
            return self.tensors
        if self.samples is None:
            return None
        main = self.description.main
        label = self.description.class_field()
        return {main: self.samples} | ({label: self.labels} if label and self.labels is not None else {})

    def take(self, field: str, count: int, seed: int = 0) -> Tensor:
        """The first ``count`` samples of ``field`` (for a distribution, a draw seeded by ``seed``)."""
        tensors = self.field_tensors()
        if tensors is not None:
            return tensors[field][:count]
        import torch

        drawn = self.sample(count, torch.Generator().manual_seed(seed))
        return (drawn if isinstance(drawn, dict) else {self.description.main: drawn})[field]

    def sample(self, n: int, generator: torch.Generator) -> Tensor | dict[str, Tensor]:
        """Draw ``n`` fresh samples (on the CPU) using ``generator`` as the only randomness: the main
        field's tensor, or a dict with every field."""
        raise NotImplementedError(f"{type(self).__name__} has neither samples nor sample()")


class TensorDataset(Dataset):
    """A finite data set held as tensors: ``TensorDataset(description, samples, labels)`` for the one-field
    case, ``TensorDataset(description, fields={"source": ..., "target": ...})`` for any fields."""

    def __init__(
        self,
        description: DataDescription,
        samples: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        fields: Mapping[str, Tensor] | None = None,
    ):
        if fields is None:
            if samples is None:
                raise ValueError("TensorDataset needs samples or fields")
            self.samples, self.labels = samples, labels
            fields = {description.main: samples}
            label = description.class_field()
            if label is not None and labels is not None:
                fields[label] = labels
        else:
            self.samples = fields.get(description.main)
            label = description.class_field()
            self.labels = fields.get(label) if label else None
        missing = sorted(set(description.fields) - set(fields))
        if missing:
            raise ValueError(f"data {description.name!r} describes fields {missing} that the tensors lack")
        for stream in description.streams:
            sizes = {name: int(fields[name].shape[0]) for name in stream}
            if len(set(sizes.values())) > 1:
                raise ValueError(f"fields of one stream must have one length each, got {sizes}")
        self.tensors = dict(fields)
        self.description = attrs.evolve(description, size=int(fields[description.streams[0][0]].shape[0]))

    def stream_sizes(self) -> list[int]:
        """Samples in each stream (its first field's length), in the order of ``description.streams``."""
        return [int(self.tensors[stream[0]].shape[0]) for stream in self.description.streams]
