"""``gankit sample``: samples from a run's latest checkpoint (or a given one) into .png or .npy."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from gankit.errors import GankitError

FORMATS = (".png", ".npy")


@click.command()
@click.argument("target", metavar="RUN_OR_CHECKPOINT")
@click.option("-n", "count", type=click.IntRange(min=1), default=64, show_default=True, help="How many samples.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), required=True, help="A .png grid (or scatter) or a .npy array."
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the noise.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1024,
    show_default=True,
    help="Samples generated per forward pass.",
)
def sample(target: str, count: int, output: str, seed: int, device: str, batch_size: int) -> None:
    """Generate N samples. A .npy holds them in the data's own units (pixels in [0, 1], points in
    their plane); a .png shows them as an image grid or a scatter plot."""
    from gankit.limits import check_count, check_seed

    check_count(count, "-n")
    check_seed(seed)
    out = Path(output)
    if out.suffix.lower() not in FORMATS:
        raise GankitError(
            f"unknown output format {out.suffix or '(none)'!r} for {output!r}; choose from: {', '.join(FORMATS)}"
        )

    import attrs
    import numpy as np

    from gankit import checkpoint
    from gankit.components import DataDescription
    from gankit.engine.devices import choose_device
    from gankit.engine.model import Model
    from gankit.images import save_samples
    from gankit.plugins import registry
    from gankit.resolve import resolve

    path = checkpoint.find_checkpoint(target)
    state = checkpoint.load(path)
    saved = state.config
    if "data_description" not in saved:
        raise GankitError(f"checkpoint {str(path)!r} lacks the data description that sampling needs")
    base = dict(saved["run"], options={n: c["options"] for n, c in saved["components"].items()})
    run = resolve(registry(), base=base)
    fields = {f.name for f in attrs.fields(DataDescription)}
    try:
        description = DataDescription(**{k: v for k, v in saved["data_description"].items() if k in fields})
    except (TypeError, ValueError) as exc:
        raise GankitError(f"checkpoint {str(path)!r} has a damaged data description: {exc}") from None
    dev = choose_device(device)
    try:
        model = Model(run, dev, description)
    except (RuntimeError, ValueError, TypeError, MemoryError) as exc:
        raise GankitError(f"checkpoint {str(path)!r} describes networks that cannot be built: {exc}") from None
    model.load_weights(state, f"checkpoint {str(path)!r}")

    samples = model.sample(count, seed, batch_size)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() == ".npy":
            np.save(out, description.to_data_units(samples).numpy())
        else:
            save_samples(samples, description, out)
    except OSError as exc:  # /dev/full, a read-only /proc or /sys, a file where a folder should be
        with contextlib.suppress(OSError):  # no half-written file left behind
            if out.is_file():
                out.unlink()
        raise GankitError(f"cannot write samples to {output!r}: {exc.strerror or exc}") from None
    click.echo(f"Wrote {count} samples from {path} (step {state.counters['step']}) to {out}")
