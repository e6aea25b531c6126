"""``gankit sample``: samples from a run's latest checkpoint (or a given one) into .png or .npy."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import click

from gankit.errors import GankitError
from gankit.safe_files import shown

FORMATS = (".png", ".npy")


@click.command()
@click.argument("target", metavar="RUN_OR_CHECKPOINT")
@click.option(
    "-n",
    "count",
    type=click.IntRange(min=1),
    default=None,
    help="How many samples [default: 64, or every --input image].",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), required=True, help="A .png grid (or scatter) or a .npy array."
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the noise.")
@click.option(
    "--label",
    metavar="K",
    default=None,
    help="Class of every sample (class-conditional models): its number, or its name where the data names its classes.",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(),
    default=None,
    help="Images to translate (translators): a PNG, a folder of PNGs, or a .npy in data units.",
)
@click.option(
    "--split",
    metavar="NAME",
    default=None,
    help="Translate images from this split of the run's data set (--split test: the held-out part) "
    "instead of the one it trained on (translators, without --input).",
)
@click.option(
    "--set",
    "set_items",
    multiple=True,
    metavar="NAME=VALUE",
    help="A generation input or option of the model (truncation=0.7, domains=1,0,1); repeatable.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="Samples generated per forward pass (the samples do not depend on it).",
)
def sample(
    target: str,
    count: int | None,
    output: str,
    seed: int,
    label: str | None,
    input_path: str | None,
    split: str | None,
    set_items: tuple[str, ...],
    device: str,
    batch_size: int,
) -> None:
    """Generate N samples. A .npy holds them in the data's own units (pixels in [0, 1], points in
    their plane); a .png shows them as an image grid (one row per class for class-conditional models,
    named where the data names its classes; each input beside its translation for translators, and the
    pair's target when the inputs come from paired data) or a scatter plot."""
    from gankit.limits import check_count, check_seed

    if count is not None:
        check_count(count, "-n")
    check_seed(seed)
    out = Path(output)
    if out.suffix.lower() not in FORMATS:
        raise GankitError(
            f"unknown output format {out.suffix or '(none)'!r} for {output!r}; choose from: {', '.join(FORMATS)}"
        )

    import numpy as np
    import torch

    from gankit.engine import generation
    from gankit.engine.devices import choose_device
    from gankit.engine.model import data_samples, load_model
    from gankit.images import read_images, save_samples
    from gankit.inputs import FromData, Label

    model, state, path = load_model(target, choose_device(device))
    spec = model.inputs
    given = _given(spec, set_items)
    if label is not None:
        labels = [name for name, kind in spec.items() if isinstance(kind, Label)]
        if not labels:
            raise GankitError(f"--label needs a class-conditional model; this one takes {', '.join(spec)}")
        given[labels[0]] = generation.parse_value("--label", label, spec[labels[0]])
    if input_path is not None:
        images = [name for name, kind in spec.items() if isinstance(kind, FromData)]
        if not images:
            raise GankitError(f"--input needs a translating model; this one takes {', '.join(spec)}")
        field = model.description.field(spec[images[0]].field)
        given[images[0]] = read_images(input_path, field)
    if split is not None:
        if input_path is not None:
            raise GankitError("--split and --input both choose the images to translate; give one of them")
        if not any(isinstance(kind, FromData) for kind in spec.values()):
            raise GankitError(f"--split needs a translating model (images from data); this one takes {', '.join(spec)}")

    if count is None:  # every given image, or a screenful
        count = max((len(v) for v in given.values() if isinstance(v, torch.Tensor) and v.dim() == 4), default=64)
    from_data = data_samples(state.config, split)
    values = model.fill_inputs(count, seed, given, from_data=from_data)
    samples = model.generate_all(values, batch_size)
    # Written beside the output and renamed over it: a failed write leaves no half file, and an
    # existing file at -o stays as it was. (-o naming a symlink, to /dev/full say, writes through it.)
    through, partial = False, out
    try:
        through = out.is_symlink()
        if not through and out.exists() and not out.is_file():
            raise GankitError(f"cannot write samples to {shown(output)}: it exists and is not a regular file")
        partial = out if through else out.with_name(f".{out.name}.{os.getpid()}.tmp{out.suffix}")
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".npy":
            with open(partial, "wb") as handle:  # np.save(path) would add .npy to the temporary name
                np.save(handle, model.description.to_data_units(samples).numpy())
        else:
            columns = generation.grid_columns(spec, len(samples)) if label is None else None
            # Inputs taken from the data bring their pairs' targets, shown right of the translations.
            target = generation.paired_target(spec) if input_path is None else None
            save_samples(
                samples,
                model.description,
                partial,
                columns=columns,
                inputs=generation.image_input(spec, values),
                targets=from_data(target, len(samples)) if target else None,
                row_labels=generation.row_names(spec, given),
            )
        if not through:
            os.replace(partial, out)
    except OSError as exc:  # /dev/full, a read-only /proc or /sys, a file where a folder should be
        if partial != out:
            with contextlib.suppress(OSError):
                partial.unlink()
        raise GankitError(f"cannot write samples to {shown(output)}: {exc.strerror or exc}") from None
    noun = "sample" if len(samples) == 1 else "samples"
    click.echo(f"Wrote {len(samples)} {noun} from {path} (step {state.counters['step']}) to {out}")


def _given(spec: dict, set_items: tuple[str, ...]) -> dict:
    from gankit.engine import generation

    given = {}
    for item in set_items:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or name not in spec:
            listed = ", ".join(spec) or "none"
            raise GankitError(f"--set {item!r} names no generation input of this model; its inputs: {listed}")
        given[name] = generation.parse_value(name, text.strip(), spec[name])
    return given
