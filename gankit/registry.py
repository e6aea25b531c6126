"""Which components exist: kind -> name -> :class:`ComponentSpec`, filled by the plugins' hooks."""

from __future__ import annotations

import importlib
from collections import defaultdict
from typing import Any

import attrs

from gankit.components import KINDS
from gankit.errors import GankitError, choice_error


@attrs.define
class ComponentSpec:
    """One registered component, as a plugin's ``register`` call described it."""

    kind: str
    name: str
    plugin: str
    factory: Any
    config: type | None = None
    summary: str = ""
    defaults: dict[str, Any] = attrs.Factory(dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    def resolve_factory(self) -> Any:
        """The factory callable, importing it first when it was registered as ``"module:attr"``."""
        if isinstance(self.factory, str):
            module_name, _, attr = self.factory.partition(":")
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
            self.factory = obj
        return self.factory

    def make_config(self, options: dict[str, Any] | None = None) -> Any:
        """The component's attrs config from raw option values (from TOML or ``--set``)."""
        from gankit.config import build_options

        return build_options(self, options or {})

    def create(self, config: Any, *args: Any) -> Any:
        """The component, built by its factory. A factory that cannot be imported or called, or that fails
        with anything but a :class:`GankitError`, is one line naming the component and its plugin."""
        from gankit.errors import bug_message, machine_failure

        label = f"{self.kind} {self.name!r} (plugin {self.plugin!r})"
        pointer = f"; see: gankit plugins show {self.plugin}"
        try:
            factory = self.resolve_factory()
        except (ImportError, AttributeError) as exc:
            raise GankitError(
                f"{label} cannot be loaded: its factory {self.factory!r} does not import "
                f"({type(exc).__name__}: {exc}){pointer}"
            ) from None
        if not callable(factory):
            raise GankitError(
                f"{label} cannot be built: its factory is a {type(factory).__name__}, not a callable{pointer}"
            )
        try:
            return factory(config, *args)
        except GankitError:
            raise
        except Exception as exc:
            known = machine_failure(exc)
            whose = "gankit" if self.plugin.startswith("builtins.") else f"plugin {self.plugin!r}"
            raise GankitError(f"{label}: {known}" if known else bug_message(exc, label, whose)) from None


class Registry:
    """Lookup of components by kind and name, with helpful errors for unknown and ambiguous names."""

    def __init__(self) -> None:
        self._specs: dict[str, dict[str, list[ComponentSpec]]] = {k: defaultdict(list) for k in KINDS}

    def add(self, spec: ComponentSpec) -> None:
        if spec.kind not in self._specs:
            raise ValueError(f"unknown component kind {spec.kind!r}")
        if not spec.name or ":" in spec.name:
            raise ValueError(f"invalid component name {spec.name!r}: must be non-empty without ':'")
        if spec.config is not None and not attrs.has(spec.config):
            raise TypeError(f"config for {spec.kind} {spec.name!r} must be an attrs class")
        from gankit.config import RUN_FIELDS

        # Suggested run settings must be settings: a typo would otherwise only surface when the component
        # is first used. "component.option" keys name components that may come from other plugins.
        unknown = sorted(k for k in spec.defaults if "." not in k and (k not in RUN_FIELDS or k == "options"))
        if unknown:
            raise ValueError(
                f"{spec.kind} {spec.name!r} suggests unknown run setting {unknown[0]!r}; "
                "suggest run settings (lr_g, steps, ...) or component options as 'component.option'"
            )
        self._specs[spec.kind][spec.name].append(spec)

    def remove_plugin(self, plugin: str) -> None:
        for by_name in self._specs.values():
            for name in list(by_name):
                by_name[name] = [s for s in by_name[name] if s.plugin != plugin]
                if not by_name[name]:
                    del by_name[name]

    def names(self, kind: str) -> list[str]:
        return sorted(self._specs[kind])

    def specs(self, kind: str) -> list[ComponentSpec]:
        return [s for name in self.names(kind) for s in self._specs[kind][name]]

    def conflicts(self) -> list[list[ComponentSpec]]:
        """Groups of specs sharing one kind and name, registered by different plugins."""
        return [group for by_name in self._specs.values() for group in by_name.values() if len(group) > 1]

    def get(self, kind: str, name: str) -> ComponentSpec:
        """The component called ``name`` (or ``plugin:name``); a :class:`GankitError` otherwise."""
        by_name = self._specs[kind]
        flag = KINDS[kind]
        plugin, _, bare = name.rpartition(":")
        candidates = by_name.get(bare, [])
        if plugin:
            candidates = [s for s in candidates if s.plugin == plugin]
            if not candidates:
                choices = [s.qualified_name for s in self.specs(kind)]
                raise choice_error(f"{kind} ({flag})", name, choices)
        if not candidates:
            raise choice_error(f"{kind} ({flag})", name, by_name)
        if len(candidates) > 1:
            both = " and ".join(repr(s.plugin) for s in candidates)
            options = ", ".join(f"{flag} {s.qualified_name}" for s in candidates)
            raise GankitError(f"{kind} {bare!r} is registered by plugins {both}; pick one with {options}")
        return candidates[0]
