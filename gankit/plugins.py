"""Loading plugins from the ``gankit`` entry-point group, each in isolation.

Bundled components take the same path as third-party ones: gankit's own pyproject declares them
under the ``gankit`` entry-point group. A plugin that fails to import, implements a hook that does not
exist, or raises while registering is recorded with its error and left out; everything else works.
"""

from __future__ import annotations

import functools
import importlib.metadata
import traceback
from typing import Any

import attrs
import pluggy

from gankit import hookspecs
from gankit.registry import ComponentSpec, Registry

ENTRY_POINT_GROUP = "gankit"

#: Registration hook name -> component kind.
REGISTRATION_HOOKS = {
    "gankit_register_architectures": "architecture",
    "gankit_register_losses": "loss",
    "gankit_register_regularizers": "regularizer",
    "gankit_register_data_sources": "data",
    "gankit_register_schemes": "scheme",
    "gankit_register_trackers": "tracker",
}


@attrs.define
class PluginRecord:
    """What ``gankit plugins`` reports about one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # "ok" or "error"
    error: str | None = None
    traceback: str | None = None
    registered: list[str] = attrs.Factory(list)

    def fail(self, stage: str, exc: BaseException) -> None:
        self.status = "error"
        # One line for `gankit plugins`, but all of it: pluggy puts the cause on its second line.
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        self.error = f"{stage}: {type(exc).__name__}: {message}"
        self.traceback = "".join(traceback.format_exception(exc))


class PluginSet:
    """The loaded plugins: a pluggy manager, a record per plugin, and the registry they filled."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager("gankit")
        self.manager.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.registry = Registry()

    def add(self, name: str, plugin: Any, record: PluginRecord | None = None) -> PluginRecord:
        """Register one plugin object and let it register its components; errors stay in the record."""
        record = record or PluginRecord(name=name)
        self.records[name] = record
        try:
            self.manager.register(plugin, name=name)
        except Exception as exc:  # a hook with a wrong signature
            record.fail("invalid hook", exc)
            return record
        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:  # a misspelled hook name
            self.manager.unregister(name=name)
            record.fail("unknown hook", exc)
            return record
        for hook_name, kind in REGISTRATION_HOOKS.items():
            for impl in getattr(self.manager.hook, hook_name).get_hookimpls():
                if impl.plugin_name != name:
                    continue
                try:
                    impl.function(register=self._register_callback(kind, record))
                except Exception as exc:
                    self.registry.remove_plugin(name)
                    self.manager.unregister(name=name)
                    record.registered.clear()
                    record.fail(f"{hook_name} failed", exc)
                    return record
        return record

    def _register_callback(self, kind: str, record: PluginRecord) -> hookspecs.Register:
        def register(
            name: str,
            factory: Any,
            *,
            config: type | None = None,
            summary: str = "",
            defaults: dict[str, Any] | None = None,
        ) -> None:
            spec = ComponentSpec(kind, name, record.name, factory, config, summary, dict(defaults or {}))
            self.registry.add(spec)
            record.registered.append(f"{kind}:{name}")

        return register

    def load_entry_points(self, disabled: frozenset[str] = frozenset()) -> None:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in self.records or ep.name in disabled:
                continue
            dist = getattr(ep, "dist", None)
            record = PluginRecord(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist else None,
                version=dist.version if dist else None,
            )
            try:
                plugin = ep.load()
            except Exception as exc:
                self.records[ep.name] = record
                record.fail("import failed", exc)
                continue
            self.add(ep.name, plugin, record)

    @functools.cached_property
    def commands(self) -> dict[str, Any]:
        """Subcommands that plugins add through ``gankit_register_commands``, by name."""
        import click

        group = click.Group()
        for impl in self.manager.hook.gankit_register_commands.get_hookimpls():
            before = dict(group.commands)
            try:
                impl.function(cli=group)
            except Exception as exc:
                group.commands = before
                self.records[impl.plugin_name].fail("gankit_register_commands failed", exc)
        return dict(group.commands)

    def problems(self) -> list[str]:
        """One line per broken plugin and per name registered twice."""
        lines = [f"plugin {r.name!r} is broken ({r.error})" for r in self.records.values() if r.error]
        for group in self.registry.conflicts():
            who = " and ".join(repr(s.plugin) for s in group)
            pick = " or ".join(s.qualified_name for s in group)
            lines.append(f"{group[0].kind} {group[0].name!r} is registered by {who}; use {pick}")
        return lines


@functools.cache
def load_plugins() -> PluginSet:
    """Load every installed plugin once per process."""
    plugins = PluginSet()
    plugins.load_entry_points()
    return plugins


def registry() -> Registry:
    return load_plugins().registry
