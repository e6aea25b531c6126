"""``gankit explore``: interpolations, latent directions (SeFa, GANSpace), classes and densities of a run."""

from __future__ import annotations

from pathlib import Path

import click

from gankit.errors import GankitError


@click.command()
@click.argument("target", metavar="RUN_OR_CHECKPOINT")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the pictures [default: RUN/explore].",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of every latent drawn.")
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=20_000,
    show_default=True,
    help="Samples for GANSpace's PCA, the class boundaries and the density of points.",
)
@click.option(
    "--components", type=click.IntRange(min=1), default=16, show_default=True, help="Directions kept (SeFa, GANSpace)."
)
@click.option("--rows", type=click.IntRange(min=1, max=64), default=8, show_default=True, help="Rows of each grid.")
@click.option(
    "--steps",
    type=click.IntRange(min=2, max=64),
    default=9,
    show_default=True,
    help="Columns of each grid (GIF frames).",
)
@click.option(
    "--distance",
    type=click.FloatRange(min=0, min_open=True),
    default=3.0,
    show_default=True,
    help="How far a traversal goes along a unit direction, each way.",
)
@click.option("--layer", default=None, help="The generator layer GANSpace reads [default: its first nonlinearity].")
@click.option(
    "--project",
    "project_image",
    type=click.Path(dir_okay=False),
    default=None,
    help="An image (PNG) to project: the latent whose sample is closest to it, and the error.",
)
@click.option(
    "--label", metavar="K", default=None, help="The class (number or name) to project into [default: the best one]."
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
def explore(
    target: str,
    output: str | None,
    seed: int,
    samples: int,
    components: int,
    rows: int,
    steps: int,
    distance: float,
    layer: str | None,
    project_image: str | None,
    label: str | None,
    device: str,
) -> None:
    """Pictures of what a generator learned about its noise, and explore.json beside them: slerp
    interpolation (grid and GIF), SeFa and GANSpace traversals, one latent across every class
    (class-conditional models) with a linear boundary per class, the learned density (2-D points), and
    with --project IMAGE the latent whose sample is closest to that image."""
    from gankit.limits import check_count, check_seed

    check_count(samples, "--samples")
    check_seed(seed)
    if samples < 2:
        raise GankitError(f"--samples {samples} is too few for a PCA: give at least 2")

    from gankit.engine.devices import choose_device
    from gankit.engine.model import data_samples, load_dataset, load_model
    from gankit.explore import explore as run_explore

    model, state, path = load_model(target, choose_device(device))
    if output is None:
        folder = Path(target)
        output = str((folder if folder.is_dir() else path.parent.parent) / "explore")

    def dataset():
        try:
            return load_dataset(state.config)
        except GankitError:
            return None

    report = run_explore(
        model,
        Path(output),
        seed=seed,
        samples=samples,
        components=components,
        rows=rows,
        steps=steps,
        distance=distance,
        layer=layer,
        dataset=dataset,
        from_data=data_samples(state.config),
        log=click.echo,
        project_image=project_image,
        project_label=label,
    )
    click.echo(
        f"Wrote {Path(output) / 'explore.json'} from {path} (step {state.counters['step']}); "
        f"{len(report['skipped'])} part(s) skipped"
    )
