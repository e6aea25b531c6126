"""From what the user typed to a fully resolved run: component specs, their configs, the run config."""

from __future__ import annotations

from typing import Any

import attrs

from gankit.config import (
    KIND_ALIASES,
    RUN_FIELDS,
    RunConfig,
    make_run_config,
    parse_set,
    read_toml,
    split_toml,
    typed_run_values,
)
from gankit.errors import GankitError, choice_error
from gankit.registry import ComponentSpec, Registry

_NAME_FIELDS = {"data": "data", "architecture": "arch", "loss": "loss", "scheme": "scheme"}


@attrs.frozen
class ResolvedRun:
    """A run config with every component looked up and its options validated."""

    config: RunConfig
    data: ComponentSpec
    architecture: ComponentSpec
    loss: ComponentSpec
    regularizers: tuple[ComponentSpec, ...]
    scheme: ComponentSpec
    trackers: tuple[ComponentSpec, ...]
    metrics: tuple[ComponentSpec, ...]
    #: Component name -> its attrs config instance (or None); see :meth:`config_for` when two
    #: components of different kinds share a name.
    component_configs: dict[str, Any]
    #: (kind, name) -> config, for every component.
    configs: dict[tuple[str, str], Any] = attrs.Factory(dict)

    def specs(self) -> list[ComponentSpec]:
        return [self.data, self.architecture, self.loss, *self.regularizers, self.scheme, *self.trackers, *self.metrics]

    def config_for(self, spec: ComponentSpec) -> Any:
        """The config of ``spec`` (a family's architecture and scheme may both be called ``stylegan2``)."""
        return self.configs.get((spec.kind, spec.name), self.component_configs.get(spec.name))

    def describe(self) -> dict[str, Any]:
        """The resolved configuration as saved in config.json and checkpoints. Components sharing a name
        share an entry: their options are one namespace (``--set stylegan2.w_dim=64``)."""
        components: dict[str, Any] = {}
        for spec in self.specs():
            cfg = self.config_for(spec)
            options = attrs.asdict(cfg) if cfg is not None else {}
            if spec.name in components:
                entry = components[spec.name]
                entry["kind"] += f", {spec.kind}"
                entry["options"] = options | entry["options"]
                continue
            components[spec.name] = {"kind": spec.kind, "plugin": spec.plugin, "options": options}
        return {"run": self.config.to_dict(), "components": components}


def resolve(
    registry: Registry,
    flags: dict[str, Any] | None = None,
    set_items: tuple[str, ...] | list[str] = (),
    config_file: str | None = None,
    base: dict[str, Any] | None = None,
) -> ResolvedRun:
    """Resolve a run. ``flags`` holds only the options the user gave explicitly, already typed.

    ``base`` (a saved run's ``run`` section, used on resume) replaces the component defaults.
    """
    file_values: dict[str, Any] = {}
    options: dict[str, dict[str, Any]] = {}
    if config_file:
        file_values, options = split_toml(read_toml(config_file))
    set_values, set_options = parse_set(set_items)
    explicit = typed_run_values(file_values) | typed_run_values(set_values) | dict(flags or {})

    names, reg_names = _component_names(registry, explicit, base)
    data = registry.get("data", names["data"])
    arch = registry.get("architecture", names["arch"])
    loss = registry.get("loss", names["loss"])
    regs = tuple(registry.get("regularizer", r) for r in reg_names)
    scheme = registry.get("scheme", names["scheme"])
    tracker_names = explicit.get("trackers", (base or {}).get("trackers", RUN_FIELDS["trackers"].default))
    trackers = tuple(registry.get("tracker", t) for t in dict.fromkeys(tracker_names))
    # Metrics are components too, so the ones a data source suggests must be known before the rest.
    suggested = [s.defaults["metrics"] for s in (data, arch, loss, *regs, scheme) if "metrics" in s.defaults]
    default_metrics = suggested[-1] if suggested else RUN_FIELDS["metrics"].default
    metric_names = explicit.get("metrics", (base or {}).get("metrics", default_metrics))
    metrics = tuple(registry.get("metric", m) for m in dict.fromkeys(metric_names))
    seen: set[str] = set()
    for reg in regs:
        if reg.name in seen:
            raise GankitError(f"regularizer {reg.name!r} is given twice with --reg")
        seen.add(reg.name)

    # ``arch.width=...`` (or a TOML ``[arch]`` table) means the options of whichever architecture is used.
    chosen = {"arch": arch.name, "loss": loss.name, "data": data.name, "scheme": scheme.name}
    file_options, options = options, {}
    for prefix, values in [*file_options.items(), *set_options.items()]:
        name = chosen.get(KIND_ALIASES.get(prefix, ""), prefix)
        options.setdefault(name, {}).update(values)
    specs = [data, arch, loss, *regs, scheme, *trackers, *metrics]
    in_run = {s.name: s for s in specs}
    base_options = (base or {}).get("options", {})
    for name in options:
        if name not in in_run:
            listed = ", ".join(in_run)
            raise GankitError(
                f"options given for {name!r}, which is not part of this run{_how_to_add(registry, name)}; "
                f"components in this run: {listed}"
            )

    suggested_options: dict[str, dict[str, Any]] = {}
    if base is not None:
        values = dict(base)
    else:
        values = {}
        # "wgan.lr_g" from a data source: a run setting for when wgan is in the run. It refines wgan's own
        # suggestion (applied right after it), and a later component's suggestion (clip's rates) still wins.
        refinements: dict[str, dict[str, Any]] = {}
        ordered = _suggestion_order(specs)
        for spec in ordered:
            for key, value in spec.defaults.items():
                component, dot, option = key.partition(".")
                if not dot:
                    if key not in RUN_FIELDS or key == "options":
                        raise GankitError(
                            f"{spec.kind} {spec.name!r} (plugin {spec.plugin!r}) suggests unknown setting {key!r}"
                        )
                elif component in in_run:  # about another component: only when it is in the run
                    if option in RUN_FIELDS and option not in _options_of(in_run[component]):
                        refinements.setdefault(component, {})[option] = value
                    else:
                        suggested_options.setdefault(component, {})[option] = value
        for spec in ordered:
            values |= {key: value for key, value in spec.defaults.items() if "." not in key}
            values |= refinements.get(spec.name, {})
    values |= explicit
    if "steps" in explicit and "epochs" not in explicit:
        values["epochs"] = None  # an explicit step count beats a suggested (or saved) epoch count
    # Names as the user typed them: a qualified ``plugin:name`` keeps resolving while two plugins collide.
    values |= names | {
        "regs": tuple(reg_names),
        "trackers": tuple(dict.fromkeys(tracker_names)),
        "metrics": tuple(dict.fromkeys(metric_names)),
    }
    merged_options = {
        name: suggested_options.get(name, {}) | base_options.get(name, {}) | options.get(name, {}) for name in in_run
    }
    given = {name: base_options.get(name, {}) | options.get(name, {}) for name in in_run}
    values["options"] = {name: opts for name, opts in given.items() if opts}
    config = make_run_config(values)
    configs = {(spec.kind, spec.name): spec.make_config(_own_options(spec, specs, merged_options)) for spec in specs}
    component_configs = {}
    for spec in specs:
        component_configs.setdefault(spec.name, configs[(spec.kind, spec.name)])
    return ResolvedRun(config, data, arch, loss, regs, scheme, trackers, metrics, component_configs, configs)


def _own_options(spec: ComponentSpec, specs: list[ComponentSpec], options: dict[str, dict[str, Any]]) -> dict:
    """The options of ``spec``. Components of different kinds may share a name (a family's architecture
    and scheme): each takes the options its config has, and an option neither has is an error."""
    given = options[spec.name]
    namesakes = [s for s in specs if s.name == spec.name]
    if len(namesakes) == 1:
        return given
    everyone = set().union(*(_options_of(s) for s in namesakes))
    for key in given:
        if key not in everyone:
            raise choice_error(f"option for {spec.name!r}", key, everyone)
    own = _options_of(spec)
    return {k: v for k, v in given.items() if k in own}


#: Run settings that name components, which any component may suggest (``--arch biggan`` suggesting
#: ``loss = "hinge"`` and ``scheme = "conditional"``).
_SUGGESTIBLE = ("data", "arch", "loss", "scheme", "regs")


def _component_names(
    registry: Registry, explicit: dict[str, Any], base: dict[str, Any] | None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The data, arch, loss, scheme and regs of a run: typed > saved > suggested > default.

    Suggestions come from the components in the run, in the order data source, architecture, loss,
    regularizers, scheme (later wins); choosing a component may bring others in, so this repeats until
    the names settle."""
    fixed = {
        f: explicit[f] if f in explicit else (base or {})[f] for f in _SUGGESTIBLE if f in explicit or f in (base or {})
    }
    suggested: dict[str, Any] = {}
    for _ in range(5):
        chosen = {f: fixed.get(f, suggested.get(f, RUN_FIELDS[f].default)) for f in _SUGGESTIBLE}
        specs = [
            registry.get("data", chosen["data"]),
            registry.get("architecture", chosen["arch"]),
            registry.get("loss", chosen["loss"]),
            *(registry.get("regularizer", r) for r in chosen["regs"]),
            registry.get("scheme", chosen["scheme"]),
        ]
        now = {f: s.defaults[f] for s in specs for f in _SUGGESTIBLE if f in s.defaults}
        if now == suggested:
            return {f: chosen[f] for f in ("data", "arch", "loss", "scheme")}, tuple(chosen["regs"])
        suggested = now
    listed = ", ".join(f"{s.kind} {s.name!r}" for s in specs)
    raise GankitError(f"the components' suggestions do not settle ({listed} suggest each other in turn); name them")


_FIELD_KINDS = {"data": "data", "arch": "architecture", "loss": "loss", "scheme": "scheme", "regs": "regularizer"}


def _suggestion_order(specs: list[ComponentSpec]) -> list[ComponentSpec]:
    """The order in which the components' suggestions apply (later wins): data source, architecture, loss,
    regularizers, scheme, trackers, metrics; except that a component that another one suggests comes just
    before it, so that a family's recipe (``--arch stargan`` suggesting ``loss = "wgan"`` with its own
    betas) refines the suggested component's own settings rather than the other way round."""
    order = list(specs)
    for suggester in specs:
        for field, kind in _FIELD_KINDS.items():
            named = suggester.defaults.get(field)
            if named is None:
                continue
            names = {n.rpartition(":")[2] for n in ((named,) if isinstance(named, str) else named)}
            for spec in list(order):
                if spec.kind == kind and spec.name in names and order.index(spec) > order.index(suggester):
                    order.remove(spec)
                    order.insert(order.index(suggester), spec)
    return order


def _how_to_add(registry: Registry, name: str) -> str:
    """`` (add it with --reg gp)`` when ``name`` is an installed component."""
    from gankit.components import KINDS

    for kind, flag in KINDS.items():
        if name in registry.names(kind):
            return f" (add it with {flag} {name})"
    return ""


def _options_of(spec: ComponentSpec) -> set[str]:
    return set(attrs.fields_dict(spec.config)) if spec.config is not None and attrs.has(spec.config) else set()
