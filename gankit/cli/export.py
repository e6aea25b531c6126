"""``gankit export``: a self-contained model folder (and deployment graphs) from a run."""

from __future__ import annotations

import click

from gankit.errors import GankitError

FORMATS = ("folder", "onnx", "pt2", "onnx-int8")


@click.command("export")
@click.argument("target", metavar="RUN_OR_CHECKPOINT")
@click.option("-o", "--output", required=True, type=click.Path(), help="The model folder to write.")
@click.option(
    "--format",
    "formats",
    multiple=True,
    metavar="FORMAT",
    help=f"Also write a deployment graph: {', '.join(FORMATS[1:])}; repeatable, or A,B. [default: folder only]",
)
@click.option("--force", is_flag=True, help="Replace a non-empty output folder.")
def export_command(target: str, output: str, formats: tuple[str, ...], force: bool) -> None:
    """Write a model folder: config.json, model.safetensors (the generating networks, EMA weights where
    kept, spectral norm folded) and a README.md model card. gankit.load(DIR) and gankit sample DIR take
    it. --format onnx / pt2 / onnx-int8 add the scheme's generate as a graph with a dynamic batch axis,
    checked against the eager networks at batch sizes 1, 7 and 64."""
    chosen = [f.strip() for item in formats for f in item.split(",") if f.strip()] or ["folder"]
    for fmt in chosen:
        if fmt not in FORMATS:
            raise GankitError(f"unknown --format {fmt!r}; choose from: {', '.join(FORMATS)}")

    from gankit.export import export

    report = export(target, output, tuple(dict.fromkeys(chosen)), force=force)
    files = ", ".join(f"{name} ({size / 1024:.1f} KiB)" for name, size in report["files"].items())
    click.echo(f"Wrote model folder {report['folder']}: {files}")
    for fmt, check in report["checks"].items():
        diffs = ", ".join(f"batch {b}: {d:.2e}" for b, d in check["max_abs_diff"].items())
        extra = f"; {check['size_ratio']:.0%} of the float32 file" if "size_ratio" in check else ""
        click.echo(f"  {fmt}: max abs difference to the eager generator {diffs}{extra}")
