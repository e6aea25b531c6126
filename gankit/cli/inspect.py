"""``gankit plugins`` and ``gankit list``: what is installed, and what each component takes."""

from __future__ import annotations

import click

from gankit.components import KINDS
from gankit.errors import choice_error

KIND_NAMES = {
    "arch": "architecture",
    "architecture": "architecture",
    "architectures": "architecture",
    "loss": "loss",
    "losses": "loss",
    "reg": "regularizer",
    "regularizer": "regularizer",
    "regularizers": "regularizer",
    "data": "data",
    "scheme": "scheme",
    "schemes": "scheme",
}


@click.command()
def plugins() -> None:
    """Show every plugin: distribution and version, status, and what it registers (or its error)."""
    from gankit.plugins import load_plugins

    loaded = load_plugins()
    rows = []
    for record in sorted(loaded.records.values(), key=lambda r: r.name):
        dist = f"{record.distribution} {record.version}" if record.distribution else "-"
        what = record.error if record.error else ", ".join(record.registered) or "(nothing registered)"
        rows.append((record.name, dist, record.status, what))
    widths = [max(len(r[i]) for r in rows + [("plugin", "distribution", "status", "")]) for i in range(3)]
    click.echo(f"{'plugin':<{widths[0]}}  {'distribution':<{widths[1]}}  {'status':<{widths[2]}}  registers")
    for row in rows:
        click.echo(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    for problem in loaded.problems():
        if "registered by" in problem:
            click.echo(f"conflict: {problem}")


@click.command("list")
@click.argument("kind", required=False)
def list_components(kind: str | None) -> None:
    """List components of every KIND, or of one: arch, loss, reg, data, scheme."""
    import attrs

    from gankit.config import _field_types, _type_name
    from gankit.plugins import registry

    if kind is not None and kind not in KIND_NAMES:
        raise choice_error("kind", kind, ["arch", "loss", "reg", "data", "scheme"])
    kinds = [KIND_NAMES[kind]] if kind else list(KINDS)
    reg = registry()
    for k in kinds:
        click.echo(f"{k} ({KINDS[k]}):")
        for spec in reg.specs(k):
            click.echo(f"  {spec.name:<14} {spec.summary}  [{spec.plugin}]")
            if spec.config is not None:
                types = _field_types(spec.config)
                for field in attrs.fields(spec.config):
                    click.echo(f"      {spec.name}.{field.name} = {field.default!r}  ({_type_name(types[field.name])})")
            if spec.defaults:
                shown = ", ".join(f"{key}={value}" for key, value in spec.defaults.items())
                click.echo(f"      suggests: {shown}")
        click.echo()
