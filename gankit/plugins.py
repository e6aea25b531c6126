"""Loading plugins from the ``gankit`` entry-point group, each in isolation.

Bundled components take the same path as third-party ones: gankit's own pyproject declares them
under the ``gankit`` entry-point group. A plugin that fails to import, implements a hook that does not
exist, or raises while registering is recorded with its error and left out; everything else works.

Users control loading with ``GANKIT_DISABLE_PLUGINS=a,b`` / ``gankit --disable-plugin NAME`` (left
out, shown as disabled) and ``GANKIT_STRICT_PLUGINS=1`` / ``gankit --strict-plugins`` (any problem
is an error). Tests swap in their own :class:`PluginSet` with :func:`use_plugins`.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib.metadata
import os
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import attrs
import pluggy

from gankit import hookspecs
from gankit.errors import GankitError
from gankit.registry import ComponentSpec, Registry

ENTRY_POINT_GROUP = "gankit"
DISABLE_ENV = "GANKIT_DISABLE_PLUGINS"
STRICT_ENV = "GANKIT_STRICT_PLUGINS"
#: Where the command line keeps its ``--disable-plugin`` / ``--strict-plugins`` values (``click`` ``ctx.meta``).
CLI_DISABLED_KEY = "gankit.plugins.disabled"
CLI_STRICT_KEY = "gankit.plugins.strict"

#: Registration hook name -> component kind.
REGISTRATION_HOOKS = {
    "gankit_register_architectures": "architecture",
    "gankit_register_losses": "loss",
    "gankit_register_regularizers": "regularizer",
    "gankit_register_data_sources": "data",
    "gankit_register_schemes": "scheme",
    "gankit_register_trackers": "tracker",
    "gankit_register_metrics": "metric",
}
COMMANDS_HOOK = "gankit_register_commands"


@attrs.define
class PluginRecord:
    """What ``gankit plugins`` reports about one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # "ok", "error" or "disabled"
    error: str | None = None
    traceback: str | None = None
    registered: list[str] = attrs.Factory(list)
    #: ``name = module:attr`` as the entry point declares it; ``None`` for plugins added in-process.
    entry_point: str | None = None
    #: Subcommands this plugin adds (working or not: a broken plugin's commands are listed as broken).
    commands: list[str] = attrs.Factory(list)

    def fail(self, stage: str, exc: BaseException, message: str | None = None) -> None:
        self.status = "error"
        if message is None:
            # One line for `gankit plugins`, but all of it: pluggy puts the cause on its second line.
            text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        self.error = f"{stage}: {message}"
        self.traceback = "".join(traceback.format_exception(exc))

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class PluginSettings:
    """Which plugins to leave out and whether problems are errors: the environment plus the CLI flags."""

    disabled: frozenset[str] = frozenset()
    strict: bool = False
    #: Where each disabled name came from: ``GANKIT_DISABLE_PLUGINS`` or ``--disable-plugin``.
    disabled_by: dict[str, str] = attrs.field(factory=dict, eq=False, hash=False)


def split_names(value: str | None) -> list[str]:
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def _strict_from_env() -> bool:
    raw = os.environ.get(STRICT_ENV, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise GankitError(f"{STRICT_ENV}={os.environ[STRICT_ENV]!r} is not understood; use 1 (strict) or 0")


def current_settings() -> PluginSettings:
    """The environment's settings, plus the flags of the ``gankit`` command being run (if any)."""
    disabled_by = {name: DISABLE_ENV for name in split_names(os.environ.get(DISABLE_ENV))}
    strict = _strict_from_env()
    # The CLI keeps its flags in the click context rather than in globals or os.environ, so that one
    # invocation (or one CliRunner call in a test) never leaks them into the next.
    click = sys.modules.get("click")
    ctx = click.get_current_context(silent=True) if click is not None else None
    if ctx is not None:
        for name in ctx.meta.get(CLI_DISABLED_KEY, ()):
            disabled_by.setdefault(name, "--disable-plugin")
        strict = strict or bool(ctx.meta.get(CLI_STRICT_KEY, False))
    return PluginSettings(frozenset(disabled_by), strict, disabled_by)


class PluginSet:
    """The loaded plugins: a pluggy manager, a record per plugin, and the registry they filled."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager("gankit")
        self.manager.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.registry = Registry()
        self._commands: dict[str, list[tuple[str, Any]]] = {}  # command name -> [(plugin, click command)]
        #: Names passed to ``load_entry_points(disabled=...)`` that matched no installed plugin.
        self.unmatched_disabled: list[str] = []

    # -- adding and removing ---------------------------------------------------------------------

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
            unknown = self._unknown_hooks(plugin)
            self.manager.unregister(name=name)
            record.fail("unknown hook", exc, _unknown_hook_message(unknown) if unknown else None)
            return record
        impls = {
            hook_name: [i for i in getattr(self.manager.hook, hook_name).get_hookimpls() if i.plugin_name == name]
            for hook_name in [*REGISTRATION_HOOKS, COMMANDS_HOOK]
        }
        for hook_name, kind in REGISTRATION_HOOKS.items():
            for impl in impls[hook_name]:
                try:
                    impl.function(register=self._register_callback(kind, record))
                except (Exception, SystemExit) as exc:
                    self._withdraw(name, record)
                    record.fail(f"{hook_name} failed", exc)
                    # Learn the names of its commands anyway, so that they show as broken, not unknown.
                    record.commands = sorted(_collect_commands(impls[COMMANDS_HOOK])[0])
                    return record
        commands, exc = _collect_commands(impls[COMMANDS_HOOK])
        record.commands = sorted(commands)
        if exc is not None:
            self._withdraw(name, record)
            record.fail(f"{COMMANDS_HOOK} failed", exc)
            return record
        for command_name, command in commands.items():
            self._commands.setdefault(command_name, []).append((name, command))
            record.registered.append(f"command:{command_name}")
        return record

    def remove(self, name: str) -> PluginRecord | None:
        """Take a plugin out again: its hooks, components, commands and record."""
        record = self.records.pop(name, None)
        if self.manager.has_plugin(name):
            self.manager.unregister(name=name)
        self.registry.remove_plugin(name)
        for command_name in list(self._commands):
            self._commands[command_name] = [(p, c) for p, c in self._commands[command_name] if p != name]
            if not self._commands[command_name]:
                del self._commands[command_name]
        return record

    def _withdraw(self, name: str, record: PluginRecord) -> None:
        self.registry.remove_plugin(name)
        self.manager.unregister(name=name)
        record.registered.clear()

    def _unknown_hooks(self, plugin: Any) -> list[str]:
        callers = self.manager.get_hookcallers(plugin) or []
        return sorted(c.name for c in callers if c.spec is None)

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

    def load_entry_points(self, disabled: frozenset[str] | set[str] = frozenset()) -> None:
        """Load every installed plugin, except names already present and ``disabled`` ones.

        ``disabled`` holds plugin (entry-point) names or distribution names; those plugins get a
        ``disabled`` record. A plugin object that is already registered under another name (a test
        added the module itself) is skipped rather than registered twice.
        """
        matched: set[str] = set()
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in self.records:
                continue
            dist = getattr(ep, "dist", None)
            record = PluginRecord(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist else None,
                version=dist.version if dist else None,
                entry_point=f"{ep.name} = {ep.value}",
            )
            hit = {ep.name, record.distribution} & set(disabled)
            if hit:
                matched |= hit
                record.status = "disabled"
                self.records[ep.name] = record
                continue
            try:
                plugin = ep.load()
            except (Exception, SystemExit) as exc:  # sys.exit() at import must not end every command
                self.records[ep.name] = record
                record.fail("import failed", exc)
                continue
            if self.manager.is_registered(plugin):
                continue
            self.add(ep.name, plugin, record)
        self.unmatched_disabled = sorted(set(disabled) - matched)

    # -- what was loaded -------------------------------------------------------------------------

    @property
    def commands(self) -> dict[str, Any]:
        """Working subcommands that plugins add through ``gankit_register_commands``, by name.

        A name that two plugins add is available only as ``plugin:name``.
        """
        found: dict[str, Any] = {}
        for command_name, providers in self._commands.items():
            if len(providers) == 1 and command_name not in _builtin_commands():
                found[command_name] = providers[0][1]
            else:
                for plugin, command in providers:
                    found[f"{plugin}:{command_name}"] = command
        return found

    def broken_commands(self) -> dict[str, str]:
        """Command name -> why it cannot run (its plugin is broken, or its name is taken twice)."""
        broken: dict[str, str] = {}
        for record in self.records.values():
            if record.status == "error":
                for command_name in record.commands:
                    broken.setdefault(command_name, f"plugin {record.name!r} is broken")
        for command_name, providers in self._commands.items():
            if command_name in _builtin_commands():
                continue  # gankit's own command wins; `problems()` reports the clash
            if len(providers) > 1:
                pick = " or ".join(f"{p}:{command_name}" for p, _ in providers)
                broken[command_name] = f"added by several plugins; use {pick}"
        return broken

    def command_plugin(self, command_name: str) -> str | None:
        """The plugin that provides a (possibly qualified) command name."""
        plugin, _, bare = command_name.rpartition(":")
        providers = self._commands.get(bare, [])
        return next((p for p, _ in providers if not plugin or p == plugin), None)

    def problems(self) -> list[str]:
        """One line per broken plugin and per name registered twice."""
        lines = [f"plugin {r.name!r} is broken ({r.error})" for r in self.records.values() if r.error]
        for group in self.registry.conflicts():
            who = " and ".join(repr(s.plugin) for s in group)
            pick = " or ".join(s.qualified_name for s in group)
            lines.append(f"{group[0].kind} {group[0].name!r} is registered by {who}; use {pick}")
        for command_name, providers in self._commands.items():
            who = " and ".join(repr(p) for p, _ in providers)
            if command_name in _builtin_commands():
                lines.append(f"command {command_name!r} from {who} clashes with gankit's own command; it is ignored")
            elif len(providers) > 1:
                pick = " or ".join(f"{p}:{command_name}" for p, _ in providers)
                lines.append(f"command {command_name!r} is added by {who}; use gankit {pick}")
        return lines

    def check(self, settings: PluginSettings | None = None) -> None:
        """In strict mode, any problem is a one-line :class:`GankitError`; otherwise nothing."""
        settings = settings or current_settings()
        problems = self.problems()
        if settings.strict and problems:
            raise GankitError(
                f"strict plugin mode: {'; '.join(problems)} "
                f"(details: gankit plugins; leave one out with --disable-plugin NAME or {DISABLE_ENV})"
            )


def _collect_commands(impls: list[Any]) -> tuple[dict[str, Any], BaseException | None]:
    """Run a plugin's ``gankit_register_commands`` on a fresh group: (commands added, error)."""
    if not impls:
        return {}, None
    import click

    group = click.Group()
    for impl in impls:
        try:
            impl.function(cli=group)
        except (Exception, SystemExit) as exc:
            return dict(group.commands), exc
    return dict(group.commands), None


def _builtin_commands() -> frozenset[str]:
    from gankit.cli import COMMANDS  # no cycle at import time: only called once plugins are loaded

    return frozenset(COMMANDS)


def _unknown_hook_message(unknown: list[str]) -> str:
    known = [name for name in dir(hookspecs) if name.startswith("gankit_")]
    parts, guessed = [], True
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        guessed = guessed and bool(close)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    message = f"{', '.join(parts)} {'is' if len(parts) == 1 else 'are'} not a gankit hook"
    return message if guessed else f"{message}; hooks: {', '.join(known)}"


# -- the process-wide plugin set -------------------------------------------------------------------

_overrides: list[PluginSet] = []


@functools.cache
def _load(disabled: frozenset[str]) -> PluginSet:
    plugins = PluginSet()
    plugins.load_entry_points(disabled)
    return plugins


def load_plugins() -> PluginSet:
    """The installed plugins, loaded once per process and per set of disabled names.

    Inside :func:`use_plugins` (how :mod:`gankit.testing` registers a plugin for one test) it is
    that plugin set instead.
    """
    if _overrides:
        return _overrides[-1]
    return _load(current_settings().disabled)


#: ``load_plugins.cache_clear()`` forgets the loaded plugins, as when it was a functools.cache.
load_plugins.cache_clear = _load.cache_clear  # type: ignore[attr-defined]


@contextlib.contextmanager
def use_plugins(plugins: PluginSet) -> Iterator[PluginSet]:
    """Make ``plugins`` what :func:`load_plugins` (the CLI, ``resolve``) sees inside the block."""
    _overrides.append(plugins)
    try:
        yield plugins
    finally:
        _overrides.remove(plugins)


def overriding() -> PluginSet | None:
    """The plugin set installed by the innermost :func:`use_plugins`, if any."""
    return _overrides[-1] if _overrides else None


def registry() -> Registry:
    """The registry of every loaded plugin; in strict mode, an error if any plugin has a problem."""
    plugins = load_plugins()
    plugins.check()
    return plugins.registry
