"""Filling a scheme's generation inputs: noise from a seed, labels, images from data, options.

Everything random is drawn for all ``count`` samples at once from one seeded generator, so sample
``i`` is the same whatever the batch size it is later generated in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.inputs import Attributes, FromData, Input, Label, Noise, Option

#: At most this many samples are generated in one call (the tensors are held in memory).
MAX_COUNT = 1_000_000
#: Noise is drawn in blocks of this many samples.
NOISE_BLOCK = 1024


def class_blocks(count: int, num_classes: int) -> torch.Tensor:
    """Labels going through the classes in equal blocks (one row per class in a grid of
    ``ceil(count / num_classes)`` columns)."""
    per_class = -(-count // num_classes)
    return (torch.arange(count) // per_class).clamp(max=num_classes - 1)


def grid_columns(spec: Mapping[str, Input], count: int) -> int | None:
    """Columns that put one class (or one attribute) per row, for a scheme with such an input."""
    for value in spec.values():
        if isinstance(value, Label):
            return -(-count // value.num_classes)
        if isinstance(value, Attributes):
            return -(-count // value.count)
    return None


def row_names(spec: Mapping[str, Input], given: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The names of a :func:`grid_columns` grid's rows: the classes (or flags) the data names, in row
    order; empty when it names none, or when the user ``given`` one value for all samples."""
    for name, value in spec.items():
        if isinstance(value, (Label, Attributes)):
            return () if given and given.get(name) is not None else value.names
    return ()


def parse_value(name: str, text: str, spec: Input) -> Any:
    """A value typed on the command line for input ``name`` (``--set truncation=0.7``)."""
    if isinstance(spec, Label):
        return parse_label(name, text, spec)
    if isinstance(spec, Attributes):
        return parse_attributes(name, text, spec)
    if isinstance(spec, Option):
        default = spec.default
        try:
            if isinstance(default, bool):
                if text.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                return text.lower() in ("true", "1")
            return type(default)(text) if default is not None else text
        except ValueError:
            raise GankitError(
                f"{name} must be a {type(default).__name__} (default {default!r}), got {text!r}"
            ) from None
    raise GankitError(f"{name} is a {type(spec).__name__.lower()} input and cannot be set with --set")


def parse_label(name: str, text: str, spec: Label) -> int:
    """A class by its number, or by its name (any case) when the data names its classes."""
    if text.strip().lstrip("-").isdigit():
        if 0 <= int(text) < spec.num_classes:
            return int(text)
    else:
        by_name = {n.strip().lower(): i for i, n in enumerate(spec.names)}
        if text.strip().lower() in by_name:
            return by_name[text.strip().lower()]
    names = f" or its name ({', '.join(spec.names)})" if spec.names else ""
    raise GankitError(f"{name} must be a class from 0 to {spec.num_classes - 1}{names}, got {text!r}")


def parse_attributes(name: str, text: str, spec: Attributes) -> list[float]:
    """``1,0,1``, or with named flags the names of those set, in any case: ``dimmed+thick`` (``none`` for no
    flag)."""
    flags = [f.strip() for f in text.split(",")]
    if len(flags) == spec.count and all(f in ("0", "1") for f in flags):
        return [float(f) for f in flags]
    expected = f"{name} must be {spec.count} flags of 0 or 1 separated by commas"
    if not spec.names:
        raise GankitError(f"{expected}, got {text!r}")
    chosen = {n.strip().lower() for n in text.replace(",", "+").split("+")}
    if chosen == {"none"}:
        return [0.0] * spec.count
    names = [n.lower() for n in spec.names]
    if not chosen <= set(names):
        raise GankitError(f"{expected} or names joined by + ({', '.join(spec.names)}; none for no flag), got {text!r}")
    return [float(n in chosen) for n in names]


def fill(
    spec: Mapping[str, Input],
    count: int,
    seed: int,
    given: Mapping[str, Any] | None = None,
    from_data: Callable[[str, int], torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Values for every input in ``spec`` for ``count`` samples, on the CPU.

    ``given`` holds what the user chose (``{"label": 7}``, ``{"source": images}``); ``from_data(field,
    count)`` supplies data samples for :class:`FromData` inputs the user left unset.
    """
    if count > MAX_COUNT:
        raise GankitError(f"cannot generate {count} samples at once; at most {MAX_COUNT:,}")
    given = dict(given or {})
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise GankitError(
            f"this model takes no input {unknown[0]!r}; its generation inputs: {', '.join(spec) or 'none'}"
        )
    generator = torch.Generator().manual_seed(seed)
    values: dict[str, Any] = {}
    for name, kind in spec.items():
        value = given.get(name)
        if isinstance(kind, Noise):
            # Whole blocks of NOISE_BLOCK samples: torch draws small tensors differently from large ones, so
            # sample i gets the same noise for any -n.
            blocks = -(-count // NOISE_BLOCK)
            values[name] = torch.randn((blocks * NOISE_BLOCK, *kind.shape), generator=generator)[:count]
        elif isinstance(kind, Label):
            values[name] = (
                torch.full((count,), int(value), dtype=torch.long)
                if value is not None
                else class_blocks(count, kind.num_classes)
            )
        elif isinstance(kind, Attributes):
            if value is not None:
                values[name] = torch.tensor(value, dtype=torch.float32).expand(count, kind.count).clone()
            else:
                values[name] = torch.eye(kind.count)[class_blocks(count, kind.count)]
        elif isinstance(kind, FromData):
            if value is None:
                if from_data is None:
                    raise GankitError(f"input {name!r} needs images: pass --input PATH")
                value = from_data(kind.field, count)
            values[name] = value[:count]
            count = min(count, len(value))  # given images decide how many samples there are
        elif isinstance(kind, Option):
            values[name] = kind.default if value is None else value
        else:
            raise GankitError(f"generation input {name!r} has unknown type {type(kind).__name__}")
    return values


def count_of(spec: Mapping[str, Input], values: Mapping[str, Any]) -> int:
    """How many samples filled ``values`` make."""
    return min(len(v) for n, v in values.items() if not isinstance(spec[n], Option)) if values else 0


def chunks(spec: Mapping[str, Input], values: Mapping[str, Any], count: int, batch_size: int):
    """``values`` in slices of ``batch_size`` samples (options as they are)."""
    for start in range(0, count, batch_size):
        end = min(start + batch_size, count)
        yield {name: value if isinstance(spec[name], Option) else value[start:end] for name, value in values.items()}


def image_input(spec: Mapping[str, Input], values: Mapping[str, Any]) -> torch.Tensor | None:
    """The first image a translator takes, to show beside its outputs."""
    names = [n for n, kind in spec.items() if isinstance(kind, FromData)]
    return values[names[0]] if names else None


def paired_target(spec: Mapping[str, Input]) -> str | None:
    """The data field a translator's outputs should match (:attr:`FromData.target`), if it declares one."""
    return next((kind.target for kind in spec.values() if isinstance(kind, FromData) and kind.target), None)
