"""``gankit plugins`` and ``gankit list``: what is installed, and what each component takes."""

from __future__ import annotations

import json
from typing import Any

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
    "tracker": "tracker",
    "trackers": "tracker",
    "metric": "metric",
    "metrics": "metric",
}
#: The short names shown in errors and help.
SHORT_KINDS = ["arch", "loss", "reg", "data", "scheme", "tracker", "metric"]


def _disabled_by(record: Any, settings: Any) -> str:
    return settings.disabled_by.get(record.name) or settings.disabled_by.get(record.distribution) or "?"


def _what(record: Any, settings: Any) -> str:
    """The ``registers`` column: what it registers, its error, or why it is disabled."""
    if record.status == "disabled":
        return f"(disabled by {_disabled_by(record, settings)})"
    if record.error:
        return record.error
    return ", ".join(record.registered) or "(nothing registered)"


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts) instead of a table.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """Show every plugin: distribution and version, status, and what it registers (or its error).

    \b
    Status is ok, error (left out; the rest works) or disabled (--disable-plugin or
    GANKIT_DISABLE_PLUGINS). A name registered by two plugins is listed as a conflict.
    With --strict-plugins (or GANKIT_STRICT_PLUGINS=1) any problem also ends in an error (exit 2).
    See one plugin, with its full traceback:  gankit plugins show NAME
    """
    if ctx.invoked_subcommand is not None:
        return
    from gankit.plugins import current_settings, load_plugins

    settings = current_settings()
    loaded = load_plugins()
    records = sorted(loaded.records.values(), key=lambda r: r.name)
    if as_json:
        payload = {
            "plugins": [r.to_dict() for r in records],
            "problems": loaded.problems(),
            "conflicts": [
                {"kind": g[0].kind, "name": g[0].name, "plugins": [s.plugin for s in g]}
                for g in loaded.registry.conflicts()
            ],
            "disabled": sorted(settings.disabled),
            "unmatched_disabled": loaded.unmatched_disabled,
            "strict": settings.strict,
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        _print_table(loaded, records, settings)
    loaded.check(settings)


def _print_table(loaded: Any, records: list[Any], settings: Any) -> None:
    rows = []
    for record in records:
        dist = f"{record.distribution} {record.version}" if record.distribution else "-"
        rows.append((record.name, dist, record.status, _what(record, settings)))
    widths = [max(len(r[i]) for r in rows + [("plugin", "distribution", "status", "")]) for i in range(3)]
    click.echo(f"{'plugin':<{widths[0]}}  {'distribution':<{widths[1]}}  {'status':<{widths[2]}}  registers")
    for row in rows:
        click.echo(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")
    for problem in loaded.problems():
        if not problem.startswith("plugin "):  # broken plugins are in the table already
            click.echo(f"conflict: {problem}")
    for name in loaded.unmatched_disabled:
        known = sorted(set(loaded.records) | {r.distribution for r in loaded.records.values() if r.distribution})
        click.echo(f"note: {choice_error('plugin to disable', name, known)}")
    if any(r.status == "error" for r in records):
        click.echo("Details of a broken plugin, with its traceback: gankit plugins show NAME")


@plugins.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Everything about plugin NAME (or the plugins of distribution NAME), with its traceback."""
    from gankit.plugins import current_settings, load_plugins

    settings = current_settings()
    loaded = load_plugins()
    records = [r for r in loaded.records.values() if name in (r.name, r.distribution)]
    if not records:
        known = set(loaded.records) | {r.distribution for r in loaded.records.values() if r.distribution}
        raise choice_error("plugin", name, known)
    for i, record in enumerate(sorted(records, key=lambda r: r.name)):
        if i:
            click.echo()
        dist = f"{record.distribution} {record.version}" if record.distribution else "(added in-process)"
        lines = [
            ("plugin", record.name),
            ("distribution", dist),
            ("entry point", record.entry_point or "-"),
            ("status", record.status),
        ]
        if record.error:
            lines.append(("error", record.error))
        if record.status == "disabled":
            lines.append(("disabled by", _disabled_by(record, settings)))
        components = [r for r in record.registered if not r.startswith("command:")]
        lines.append(("registers", ", ".join(components) or "(nothing)"))
        if record.commands:
            state = " (broken)" if record.status == "error" else ""
            lines.append(("commands", ", ".join(f"gankit {c}" for c in record.commands) + state))
        for label, value in lines:
            click.echo(f"{label + ':':<14}{value}")
        if record.traceback:
            click.echo()
            click.echo(record.traceback.rstrip())


@click.command("list")
@click.argument("kind", required=False)
def list_components(kind: str | None) -> None:
    """List components of every KIND, or of one: arch, loss, reg, data, scheme, tracker."""
    import attrs

    from gankit.config import _field_types, _type_name
    from gankit.plugins import registry

    if kind is not None and kind not in KIND_NAMES:
        raise choice_error("kind", kind, SHORT_KINDS)
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
