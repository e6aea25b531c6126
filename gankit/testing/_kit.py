"""The machinery of gankit's testing kit: registering plugins, building components, short CLI runs,
and :class:`_Check`, which names the component in every failure. The checks live in
:mod:`gankit.testing.networks` (architectures), :mod:`gankit.testing.losses`, :mod:`gankit.testing.regularizers`
and :mod:`gankit.testing.training` (data sources, schemes, trackers, metrics); import them from
:mod:`gankit.testing`."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import math
import os
import subprocess
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gankit import plugins as _plugins
from gankit.components import DataDescription, DataRequest, PenaltyInputs
from gankit.errors import GankitError
from gankit.plugins import PluginRecord, PluginSet
from gankit.registry import ComponentSpec

if TYPE_CHECKING:
    import click.testing
    import torch
    from torch import nn


#: ``check_component`` kinds: the short names of ``gankit list`` and ``gankit plugin new``, and the long ones.
KIND_ALIASES = {
    "arch": "architecture",
    "architecture": "architecture",
    "loss": "loss",
    "reg": "regularizer",
    "regularizer": "regularizer",
    "data": "data",
    "scheme": "scheme",
    "tracker": "tracker",
    "metric": "metric",
}
_FLAGS = {"architecture": "--arch", "loss": "--loss", "regularizer": "--reg", "data": "--data", "scheme": "--scheme"}
_HOOKS = {kind: hook for hook, kind in _plugins.REGISTRATION_HOOKS.items()}

#: Settings of the short runs: tiny, on the CPU, quiet. The MLP options apply when the run uses ``mlp``.
TINY_RUN = ("--steps", "2", "--batch-size", "8", "--z-dim", "8", "--log-every", "1", "--device", "cpu", "-q")
TINY_MLP = ("--set", "mlp.g_hidden=16", "--set", "mlp.d_hidden=16")

#: What architectures are checked on: 2-D points, 8x8 grayscale images and 32x32 RGB images.
DEFAULT_DESCRIPTIONS = (
    DataDescription("points", (2,), "points", value_range=(-2.0, 2.0)),
    DataDescription("gray8", (1, 8, 8), "image", value_range=(0.0, 1.0)),
    DataDescription("rgb32", (3, 32, 32), "image", value_range=(0.0, 1.0)),
)


class ConformanceError(AssertionError):
    """A component does not do what gankit relies on; the message says what and where."""


@attrs.define
class Report:
    """What :func:`check_component` checked (``passed``) and could not check (``skipped``, with why)."""

    kind: str
    name: str
    passed: list[str] = attrs.Factory(list)
    skipped: list[str] = attrs.Factory(list)


# -- registering a plugin for a test -------------------------------------------------------------


def default_plugin_name(plugin: Any) -> str:
    """The entry-point name an installed module is known by, else the module's (or class's) name."""
    if isinstance(plugin, types.ModuleType):
        for ep in importlib.metadata.entry_points(group=_plugins.ENTRY_POINT_GROUP):
            if ep.value == plugin.__name__:
                return ep.name
        return plugin.__name__
    return getattr(plugin, "__name__", type(plugin).__name__)


@contextlib.contextmanager
def registered_plugin(plugin: Any, name: str | None = None) -> Iterator[PluginRecord]:
    """Make ``plugin`` (a module or any object with hooks) part of what the CLI and ``resolve`` see.

    Outside any other such block the plugins are this one plus every installed plugin (an installed
    copy of the same plugin is replaced, not doubled); inside one, it joins that block's plugins.
    Everything is as before when the block ends. Use the ``gankit_plugin`` fixture in pytest.
    """
    name = name or default_plugin_name(plugin)
    active = _plugins.overriding()
    if active is None:
        plugin_set = PluginSet()
        record = plugin_set.add(name, plugin)
        plugin_set.load_entry_points(_plugins.current_settings().disabled)
        with _plugins.use_plugins(plugin_set):
            yield record
        return
    _replace(active, name, plugin)
    record = active.add(name, plugin)
    try:
        yield record
    finally:
        active.remove(name)


def _replace(plugin_set: PluginSet, name: str, plugin: Any) -> None:
    """Take out an earlier copy: the same name (an installed entry point) or the same object."""
    plugin_set.remove(name)
    other = plugin_set.manager.get_name(plugin) if plugin_set.manager.is_registered(plugin) else None
    if other is not None:
        plugin_set.remove(other)


def _fixture_factory() -> Iterator[Callable[..., PluginRecord]]:
    with contextlib.ExitStack() as stack:

        def register(plugin: Any, name: str | None = None, *, allow_errors: bool = False) -> PluginRecord:
            """Register ``plugin`` for this test; a plugin that fails to load fails the test."""
            record = stack.enter_context(registered_plugin(plugin, name))
            if record.status != "ok" and not allow_errors:
                raise ConformanceError(f"plugin {record.name!r} did not load: {record.error}\n{record.traceback}")
            return record

        yield register


# -- the plugin as a whole -----------------------------------------------------------------------


def check_plugin(plugin: Any, name: str | None = None) -> PluginRecord:
    """Check one plugin on its own: it loads, registers something, every config class has defaults,
    every ``"module:attr"`` factory imports, and importing the plugin module does not import torch."""
    name = name or default_plugin_name(plugin)
    plugin_set = PluginSet()
    record = plugin_set.add(name, plugin)
    if record.status != "ok":
        raise ConformanceError(f"plugin {name!r} does not load: {record.error}\n{record.traceback}")
    if not record.registered:
        raise ConformanceError(f"plugin {name!r} registers nothing; implement a gankit_register_* hook")
    for kind in _HOOKS:
        for spec in plugin_set.registry.specs(kind):
            where = f"{kind} {spec.name!r} of plugin {name!r}"
            if spec.config is not None:
                try:
                    spec.config()
                except TypeError as exc:
                    raise ConformanceError(f"{where}: its config needs a default for every field ({exc})") from None
            try:
                factory = spec.resolve_factory()
            except (ImportError, AttributeError) as exc:
                raise ConformanceError(f"{where}: factory {spec.factory!r} does not import: {exc}") from None
            if not callable(factory):
                raise ConformanceError(f"{where}: factory {factory!r} is not callable")
    if isinstance(plugin, types.ModuleType) and getattr(plugin, "__file__", None):
        _check_imports_no_torch(plugin.__name__)
    return record


def _check_imports_no_torch(module: str) -> None:
    """``gankit plugins``/``list``/``--help`` import every plugin module; torch would make them slow."""
    code = f"import sys, {module}; print('torch' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    if done.returncode != 0:
        raise ConformanceError(f"importing {module!r} fails in a fresh interpreter:\n{done.stderr}")
    if done.stdout.strip() != "False":
        raise ConformanceError(
            f"importing {module!r} imports torch, which slows down `gankit plugins` and `gankit --help`; "
            "register factories as 'module:attr' strings and import torch only in those modules"
        )


# -- building components and running the CLI -----------------------------------------------------


@attrs.define
class _Subject:
    spec: ComponentSpec
    config: Any
    #: The options to hand the CLI (a ``[name]`` TOML table); empty for the defaults.
    options: dict[str, Any]
    #: What the CLI flag takes: the name as given (possibly ``plugin:name``).
    flag_value: str


def _kind(kind: str) -> str:
    try:
        return KIND_ALIASES[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; choose from: {', '.join(KIND_ALIASES)}") from None


@contextlib.contextmanager
def _subject(kind: str, name_or_factory: Any, config: Any) -> Iterator[_Subject]:
    """The component to check, as a registered spec; a bare factory is registered for the duration."""
    if isinstance(name_or_factory, str):
        try:
            spec = _plugins.load_plugins().registry.get(kind, name_or_factory)
        except GankitError as exc:
            raise ConformanceError(
                f"{exc} (register your plugin for the test first: gankit_plugin(my_plugin) in pytest, "
                "or `with gankit.testing.registered_plugin(my_plugin):`)"
            ) from None
        yield _Subject(spec, *_config(spec, config), flag_value=name_or_factory)
        return
    if not callable(name_or_factory):
        raise TypeError(f"check {kind}: give a registered name or the factory itself, not {name_or_factory!r}")
    if isinstance(config, dict):
        raise TypeError("with a bare factory, give config as an instance of its attrs config class (or None)")
    name = f"checked-{kind}"
    config_class = type(config) if config is not None else None
    hook = _HOOKS[kind]

    def register_it(register: Any) -> None:
        register(name, name_or_factory, config=config_class, summary="checked by gankit.testing")

    adhoc = types.SimpleNamespace(**{hook: _plugins_hookimpl(register_it)})
    with registered_plugin(adhoc, name="gankit.testing") as record:
        if record.status != "ok":
            raise ConformanceError(f"cannot register {name_or_factory!r}: {record.error}")
        spec = _plugins.load_plugins().registry.get(kind, f"gankit.testing:{name}")
        yield _Subject(spec, *_config(spec, config), flag_value=f"gankit.testing:{name}")


def _plugins_hookimpl(function: Callable[..., Any]) -> Callable[..., Any]:
    from gankit import hookimpl

    return hookimpl(function)


def _config(spec: ComponentSpec, config: Any) -> tuple[Any, dict[str, Any]]:
    """(config instance, options for the CLI) from None, a dict of options, or an attrs instance."""
    if config is None or isinstance(config, dict):
        options = dict(config or {})
        return spec.make_config(options), options
    if not attrs.has(type(config)):
        raise TypeError(f"config must be None, a dict of options or an attrs instance, not {config!r}")
    defaults = spec.config() if spec.config is not None else None
    changed = {
        f.name: getattr(config, f.name)
        for f in attrs.fields(type(config))
        if defaults is None or getattr(config, f.name) != getattr(defaults, f.name)
    }
    return config, changed


def create_component(kind: str, name_or_factory: Any, config: Any = None, *args: Any) -> Any:
    """Build a component as a run would: ``create_component("loss", "myloss", {"smoothing": 0.2})``.

    Data sources get ``DataRequest()`` unless ``args`` says otherwise; trackers need a
    :class:`gankit.TrackerContext` in ``args``.
    """
    kind = _kind(kind)
    if kind == "data" and not args:
        args = (DataRequest(),)
    with _subject(kind, name_or_factory, config) as subject:
        return subject.spec.create(subject.config, *args)


def run_cli(*args: str, check: bool = True) -> click.testing.Result:
    """Run ``gankit ARGS`` in this process (so plugins registered for the test are there).

    With ``check`` (the default), a non-zero exit status fails with the command's output.
    """
    from click.testing import CliRunner

    from gankit.cli import cli

    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if check and result.exit_code != 0:
        raise ConformanceError(f"`gankit {' '.join(map(str, args))}` exited with {result.exit_code}:\n{result.output}")
    return result


def _toml(table: str, options: dict[str, Any]) -> str:
    """A ``[table]`` of options; TOML has no null, so ``None`` values (never a changed default here) are left out."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))

    lines = [f"[{json.dumps(table)}]"] + [f"{k} = {value(v)}" for k, v in options.items() if v is not None]
    return "\n".join(lines) + "\n"


class _Runs:
    """Short CLI runs of one component in a temporary folder."""

    def __init__(self, subject: _Subject, folder: Path, run_args: Sequence[str]):
        self.subject = subject
        self.folder = folder
        self.run_args = [str(a) for a in run_args]
        self.config_args: list[str] = []
        if subject.options:
            path = folder / "options.toml"
            path.write_text(_toml(subject.spec.name, subject.options), encoding="utf-8")
            self.config_args = ["--config", str(path)]

    def run(self, name: str, *args: str) -> click.testing.Result:
        everything = [*TINY_RUN, *args, *self.run_args]
        # Small MLPs for speed when the run uses mlp, unless the architecture is what is being checked.
        tiny_mlp = _architecture_of(everything) == "mlp" and self.subject.spec.kind != "architecture"
        return run_cli(
            "run",
            *everything,
            *(TINY_MLP if tiny_mlp else ()),
            *self.config_args,
            "--out",
            str(self.folder),
            "--name",
            name,
        )


def _architecture_of(args: Sequence[str]) -> str:
    """The architecture a run with ``args`` uses: typed, or suggested by its data, loss, scheme or regs."""
    from gankit.resolve import resolve

    flags: dict[str, Any] = {}
    for flag, field in (("--arch", "arch"), ("--data", "data"), ("--loss", "loss"), ("--scheme", "scheme")):
        value = _last_value(args, flag, "")
        if value:
            flags[field] = value
    regs = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--reg"]
    if regs:
        flags["regs"] = tuple(regs)
    try:
        return resolve(_plugins.registry(), flags).architecture.name
    except GankitError:
        return flags.get("arch", "mlp")  # the run itself will say what is wrong


def _last_value(args: Sequence[str], flag: str, default: str) -> str:
    """What click makes of a repeated option: the last one wins."""
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]
    return values[-1] if values else default


# -- the checks ----------------------------------------------------------------------------------


class _Check:
    """Collects what passed and raises :class:`ConformanceError` naming the component on a failure."""

    def __init__(self, subject: _Subject):
        self.spec = subject.spec
        self.report = Report(subject.spec.kind, subject.spec.name)

    def fail(self, message: str) -> None:
        raise ConformanceError(f"{self.spec.kind} {self.spec.name!r} (plugin {self.spec.plugin!r}): {message}")

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            self.fail(message)

    def passed(self, what: str) -> None:
        self.report.passed.append(what)

    def create(self, expected: type, config: Any, *args: Any) -> Any:
        try:
            obj = self.spec.create(config, *args)
        except GankitError as exc:
            self.fail(f"refused to build with {'its defaults' if config is None else 'the given config'}: {exc}")
        self.expect(
            isinstance(obj, expected), f"the factory built a {type(obj).__name__}, not a gankit.{expected.__name__}"
        )
        return obj

    def tensor(self, value: Any, what: str, shape: tuple[int, ...] | None = None, within: float | None = None) -> None:
        import torch

        self.expect(isinstance(value, torch.Tensor), f"{what} is a {type(value).__name__}, not a tensor")
        if shape is not None:
            self.expect(tuple(value.shape) == shape, f"{what} has shape {tuple(value.shape)}, expected {shape}")
        self.expect(value.is_floating_point(), f"{what} has dtype {value.dtype}, expected a float dtype")
        self.expect(bool(torch.isfinite(value.detach()).all()), f"{what} is not finite")
        if within is not None and value.numel():
            lo, hi = float(value.detach().min()), float(value.detach().max())
            self.expect(lo >= -within - 1e-5 and hi <= within + 1e-5, f"{what} spans [{lo:.4g}, {hi:.4g}], not [-1, 1]")


def penalty_inputs(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> PenaltyInputs:
    """What the engine hands ``Regularizer.discriminator_penalty``, in full precision on the CPU."""
    import torch

    def input_gradients(scores: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        (grad,) = torch.autograd.grad(scores.float().sum(), inputs, create_graph=True)
        return grad

    return PenaltyInputs(real, fake, discriminator, input_gradients, contextlib.nullcontext)


def _fork_rng() -> contextlib.AbstractContextManager[Any]:
    """Seeded randomness for the checks, without disturbing the caller's."""
    import torch

    stack = contextlib.ExitStack()
    stack.enter_context(torch.random.fork_rng(devices=[]))
    torch.manual_seed(0)
    return stack


def _grads_finite(params: Sequence[Any]) -> bool:
    import torch

    return all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in params)


def _final_state(run_folder: Path) -> Any:
    from gankit import checkpoint

    return checkpoint.load(checkpoint.find_checkpoint(run_folder))


def _first_difference(a: Any, b: Any, where: str) -> str | None:
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
        return None if same else where
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{where}: keys {sorted(map(str, a))} vs {sorted(map(str, b))}"
        return next((d for k in a if (d := _first_difference(a[k], b[k], f"{where}/{k}"))), None)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{where}: lengths {len(a)} vs {len(b)}"
        return next((d for i, (x, y) in enumerate(zip(a, b)) if (d := _first_difference(x, y, f"{where}/{i}"))), None)
    return None if a == b else f"{where}: {a!r} vs {b!r}"


#: What a resumed run must reproduce bit for bit, compared in this order.
RESUMED_STATE = ("networks", "ema", "optimizers", "scheme", "regularizers", "counters", "rng")


def resume_states(runs: _Runs, flags: Sequence[str], steps: int = 4) -> tuple[Any, Any]:
    """Checkpoints of ``steps`` steps in one run and of ``steps / 2`` steps resumed to ``steps``
    (``flags`` need ``--checkpoint-every``)."""
    runs.run("full", *flags, "--steps", str(steps))
    runs.run("part", *flags, "--steps", str(steps // 2))
    run_cli("run", "--resume", str(runs.folder / "part"), "--steps", str(steps), "--device", "cpu", "-q")
    return _final_state(runs.folder / "full"), _final_state(runs.folder / "part")


def state_difference(full: Any, part: Any, labels: Sequence[str] = RESUMED_STATE) -> str | None:
    """The first difference between two checkpoints' parts ``labels`` (``networks/generator/0.weight``)."""
    differences = (_first_difference(getattr(full, label), getattr(part, label), label) for label in labels)
    return next((d for d in differences if d), None)


def resume_differences(runs: _Runs, flags: Sequence[str], labels: Sequence[str] = RESUMED_STATE) -> str | None:
    """How 2 steps + resume to 4 differ from 4 steps, in ``labels`` (``None`` if they do not)."""
    full, part = resume_states(runs, flags)
    if part.counters["step"] != 4:
        return f"the resumed run stopped at step {part.counters['step']}, not 4"
    return state_difference(full, part, labels)
