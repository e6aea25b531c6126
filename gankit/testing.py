"""gankit's testing kit for plugin authors: register a plugin for one test, and check its components.

pytest finds it through gankit's ``pytest11`` entry point, so the ``gankit_plugin`` fixture needs no
import::

    import my_plugin
    from gankit.testing import check_component, check_plugin

    def test_loads_cleanly():
        check_plugin(my_plugin)          # registers without errors; importing it imports no torch

    def test_conforms(gankit_plugin):
        gankit_plugin(my_plugin)         # in the registry the CLI sees, for this test only
        check_component("loss", "myloss")

:func:`check_component` runs every conformance check for one component kind, including short
trainings through the real ``gankit`` command line (in-process, in a temporary folder):

* architecture: G maps noise to ``(N, *shape)`` in ``[-1, 1]``, D maps samples to scores ``(N,)``,
  gradients reach G through D; data it cannot take must be refused with a ``GankitError``;
* loss: both losses are finite scalars with finite gradients, also for extreme scores;
* regularizer: wrapping keeps D's output shape, a penalty is a finite scalar, and at weight 0 it is a
  no-op (penalty 0, D's function and weights unchanged);
* data: samples have the described shape, are finite and lie in ``[-1, 1]``; sampling is determined
  by the generator;
* scheme: 4 steps equal 2 steps + resume to 4 (networks, EMA and optimizers, bit for bit), and
  ``gankit sample`` works on the result;
* tracker: every method runs, ``state()`` is JSON, and a run and its resume log without warnings;
* metric: named finite numbers, the same for the same seed, a JSON protocol, and it works during
  training (``--eval-every``) and in ``gankit eval``.

Importing this module does not import torch (pytest loads it in every session).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.metadata
import json
import math
import os
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gankit import plugins as _plugins
from gankit.components import (
    Architecture,
    DataDescription,
    DataRequest,
    Dataset,
    EvalContext,
    Loss,
    Metric,
    PenaltyInputs,
    Regularizer,
    Scheme,
    Tracker,
    TrackerContext,
)
from gankit.errors import GankitError
from gankit.plugins import PluginRecord, PluginSet
from gankit.registry import ComponentSpec

if TYPE_CHECKING:
    import click.testing
    import torch
    from torch import nn

__all__ = [
    "ConformanceError",
    "Report",
    "check_architecture",
    "check_component",
    "check_data_source",
    "check_loss",
    "check_metric",
    "check_plugin",
    "check_regularizer",
    "check_scheme",
    "check_tracker",
    "create_component",
    "penalty_inputs",
    "registered_plugin",
    "run_cli",
]

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


try:
    import pytest
except ImportError:  # the kit works without pytest; only the fixture needs it
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def gankit_plugin() -> Iterator[Callable[..., PluginRecord]]:
        """``gankit_plugin(plugin, name=None)``: register a plugin object (module) for this test.

        The CLI (``gankit.testing.run_cli``), ``gankit.plugins.registry()`` and ``resolve`` see it
        together with every installed plugin until the test ends. Returns the plugin's record; a
        plugin that does not load fails the test (``allow_errors=True`` returns the record instead).
        """
        yield from _fixture_factory()


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
        # Small MLPs for speed, unless the architecture is what is being checked (its options rule).
        tiny_mlp = _last_value(everything, "--arch", "mlp") == "mlp" and self.subject.spec.kind != "architecture"
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


def check_architecture(
    name_or_factory: Any,
    config: Any = None,
    *,
    data: Sequence[DataDescription] = DEFAULT_DESCRIPTIONS,
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """G and D fit each data description the architecture accepts (it must accept one)."""
    import torch

    with _subject("architecture", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        accepted = []
        for description in data:
            arch = c.create(Architecture, subject.config)
            try:
                G = arch.generator(description, 8)
                D = arch.discriminator(description)
            except GankitError as exc:
                c.report.skipped.append(f"{description.name} {description.shape}: refused ({exc})")
                continue
            where = f"on {description.name} {description.shape}"
            c.expect(
                isinstance(G, torch.nn.Module) and isinstance(D, torch.nn.Module),
                f"networks {where} are not nn.Modules",
            )
            x = G(torch.randn(4, 8))
            c.tensor(x, f"G's output {where}", (4, *description.shape), within=1.0)
            c.tensor(D(torch.rand(4, *description.shape) * 2 - 1), f"D's scores of real data {where}", (4,))
            scores = D(x)
            c.tensor(scores, f"D's scores of G's samples {where}", (4,))
            scores.sum().backward()
            g_params = list(G.parameters())
            c.expect(
                any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in g_params),
                f"no gradient reaches G's parameters through D {where}",
            )
            c.expect(
                _grads_finite(g_params) and _grads_finite(list(D.parameters())), f"gradients {where} are not finite"
            )
            accepted.append(description)
        c.expect(bool(accepted), f"it accepts none of {[d.shape for d in data]}")
        c.passed(f"G and D fit {', '.join(f'{d.name} {d.shape}' for d in accepted)}")
        if run:
            data_flag = _cli_data_for(accepted)
            if data_flag is None:
                c.report.skipped.append("short run: no bundled data set of an accepted shape (pass run=False)")
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    _Runs(subject, Path(tmp), run_args).run("arch", "--arch", subject.flag_value, "--data", data_flag)
                c.passed(f"trains through `gankit run --arch {subject.flag_value} --data {data_flag}`")
        return c.report


def _cli_data_for(accepted: Sequence[DataDescription]) -> str | None:
    shapes = {d.shape for d in accepted}
    if (1, 8, 8) in shapes:
        return "digits"
    if (2,) in shapes:
        return "ring8"
    return None


def check_loss(name_or_factory: Any, config: Any = None, *, run: bool = True, run_args: Sequence[str] = ()) -> Report:
    """Both losses are finite scalars with finite gradients, for ordinary and for extreme scores."""
    import torch

    with _subject("loss", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        loss = c.create(Loss, subject.config)
        for label, make in (
            ("ordinary", lambda: torch.randn(16)),
            ("extreme (|score| = 30)", lambda: torch.tensor([-30.0, 30.0] * 8)),
        ):
            real, fake = make().requires_grad_(True), make().flip(0).requires_grad_(True)
            d_loss = loss.discriminator_loss(real, fake)
            c.tensor(d_loss, f"discriminator_loss on {label} scores", ())
            c.expect(d_loss.requires_grad, f"discriminator_loss on {label} scores has no gradient")
            d_loss.backward()
            c.expect(_grads_finite([real, fake]), f"discriminator_loss gradients on {label} scores are not finite")
            fake_g = make().requires_grad_(True)
            g_loss = loss.generator_loss(fake_g)
            c.tensor(g_loss, f"generator_loss on {label} scores", ())
            c.expect(g_loss.requires_grad, f"generator_loss on {label} scores has no gradient")
            g_loss.backward()
            c.expect(_grads_finite([fake_g]), f"generator_loss gradients on {label} scores are not finite")
            if label == "ordinary":
                c.expect(
                    bool(real.grad.abs().sum() + fake.grad.abs().sum() > 0), "discriminator_loss ignores the scores"
                )
                c.expect(bool(fake_g.grad.abs().sum() > 0), "generator_loss ignores the scores")
        c.passed("finite scalar losses with finite gradients, for ordinary and extreme scores")
        if run:
            with tempfile.TemporaryDirectory() as tmp:
                _Runs(subject, Path(tmp), run_args).run("loss", "--loss", subject.flag_value, "--data", "ring8")
            c.passed(f"trains through `gankit run --loss {subject.flag_value}`")
        return c.report


def check_regularizer(
    name_or_factory: Any,
    config: Any = None,
    *,
    zero_options: dict[str, Any] | None = None,
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """Wrapping keeps D's output, a penalty is a finite scalar, and at weight 0 it changes nothing.

    The weight-0 check sets ``zero_options`` (default: ``{"weight": 0}`` when the config has a
    ``weight`` field; otherwise it is skipped, as for spectral norm and clipping).
    """
    import torch

    with _subject("regularizer", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        reg = c.create(Regularizer, subject.config)
        c.expect(isinstance(reg.every, int) and reg.every >= 1, f"every = {reg.every!r}; it must be an int >= 1")
        D = torch.nn.Sequential(
            torch.nn.Linear(2, 16), torch.nn.LeakyReLU(0.2), torch.nn.Linear(16, 1), torch.nn.Flatten(0)
        )
        real, fake = torch.randn(16, 2), torch.randn(16, 2)
        wrapped = reg.wrap_discriminator(copy.deepcopy(D))
        c.expect(isinstance(wrapped, torch.nn.Module), "wrap_discriminator returned no nn.Module")
        c.tensor(wrapped(real), "the wrapped discriminator's scores", (16,))
        penalty = reg.discriminator_penalty(penalty_inputs(wrapped, real, fake))
        if penalty is not None:
            c.tensor(penalty, "discriminator_penalty", ())
            if penalty.requires_grad:
                penalty.backward()
                c.expect(_grads_finite(list(wrapped.parameters())), "the penalty's gradients are not finite")
        reg.after_discriminator_step(wrapped)
        c.expect(
            all(bool(torch.isfinite(p).all()) for p in wrapped.parameters()),
            "after_discriminator_step left non-finite weights",
        )
        c.passed("wraps D keeping its output shape; a finite scalar penalty; a clean after-step")

        zero = _zero_options(subject, zero_options)
        if zero is None:
            c.report.skipped.append("no-op at weight 0: no `weight` option (pass zero_options=...)")
        else:
            _check_zero(c, subject, zero, D, real, fake)
        if run:
            with tempfile.TemporaryDirectory() as tmp:
                _Runs(subject, Path(tmp), run_args).run("reg", "--reg", subject.flag_value, "--data", "ring8")
            c.passed(f"trains through `gankit run --reg {subject.flag_value}`")
        return c.report


def _zero_options(subject: _Subject, zero_options: dict[str, Any] | None) -> dict[str, Any] | None:
    if zero_options is not None:
        return zero_options
    fields = attrs.fields_dict(subject.spec.config) if subject.spec.config is not None else {}
    return {"weight": 0} if "weight" in fields else None


def _check_zero(c: _Check, subject: _Subject, zero: dict[str, Any], D: Any, real: Any, fake: Any) -> None:
    import torch

    if isinstance(subject.config, dict) or subject.config is None or not attrs.has(type(subject.config)):
        config = subject.spec.make_config(dict(subject.options) | zero)
    else:
        config = attrs.evolve(subject.config, **zero)
    reg = c.create(Regularizer, config)
    wrapped = reg.wrap_discriminator(copy.deepcopy(D))
    with torch.no_grad():
        same = torch.allclose(wrapped(real), D(real))
    c.expect(same, f"with {zero} the wrapped discriminator computes something else")
    before = {k: v.clone() for k, v in wrapped.state_dict().items()}
    penalty = reg.discriminator_penalty(penalty_inputs(wrapped, real, fake))
    if penalty is not None:
        value = float(penalty.detach())
        c.expect(value == 0.0, f"with {zero} the penalty is {value!r}, not 0")
    reg.after_discriminator_step(wrapped)
    after = wrapped.state_dict()
    c.expect(all(torch.equal(before[k], after[k]) for k in before), f"with {zero} after_discriminator_step changes D")
    c.passed(f"a no-op with {', '.join(f'{k}={v}' for k, v in zero.items())}")


def check_data_source(
    name_or_factory: Any,
    config: Any = None,
    *,
    request: DataRequest | None = None,
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """Samples have the described shape, are finite, lie in [-1, 1]; sampling follows the generator."""
    import torch

    request = request or DataRequest()
    with _subject("data", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        dataset = c.create(Dataset, subject.config, request)
        d = dataset.description
        c.expect(isinstance(d, DataDescription), "its description is not a gankit.DataDescription")
        c.expect(d.modality in ("points", "image"), f"modality {d.modality!r} is neither 'points' nor 'image'")
        c.expect(
            bool(d.shape) and all(isinstance(n, int) and n > 0 for n in d.shape),
            f"shape {d.shape} is not positive ints",
        )
        if d.modality == "image":
            c.expect(len(d.shape) == 3, f"image shape {d.shape} is not (C, H, W)")
        lo, hi = d.value_range
        c.expect(lo < hi, f"value_range {d.value_range} is empty")
        if dataset.samples is not None:
            n = int(dataset.samples.shape[0])
            c.tensor(dataset.samples, "the samples", (n, *d.shape), within=1.0)
            c.expect(n > 0, "the data set is empty")
            c.expect(d.size in (None, n), f"description.size is {d.size}, but there are {n} samples")
            if dataset.labels is not None:
                labels = dataset.labels
                c.expect(tuple(labels.shape) == (n,), f"labels have shape {tuple(labels.shape)}, expected ({n},)")
                c.expect(not labels.is_floating_point(), "labels are not integers")
                if d.num_classes is not None:
                    c.expect(bool(((labels >= 0) & (labels < d.num_classes)).all()), "labels exceed num_classes")
            c.passed(f"{n} finite samples of shape {d.shape} in [-1, 1]")
        else:
            first = dataset.sample(64, torch.Generator().manual_seed(1))
            c.tensor(first, "sample(64, generator)", (64, *d.shape), within=1.0)
            again = dataset.sample(64, torch.Generator().manual_seed(1))
            c.expect(torch.equal(first, again), "sample() draws differ for equal generators; use only `generator`")
            c.passed(f"sample() draws finite samples of shape {d.shape} in [-1, 1], determined by the generator")
        if run:
            extra = ["--data", subject.flag_value]
            if request.root is not None:
                extra += ["--data-root", str(request.root)]
            if request.resolution is not None:
                extra += ["--resolution", str(request.resolution)]
            if dataset.samples is not None and len(dataset.samples) < 8:
                extra += ["--batch-size", str(len(dataset.samples))]
            with tempfile.TemporaryDirectory() as tmp:
                _Runs(subject, Path(tmp), run_args).run("data", *extra)
            c.passed(f"trains through `gankit run --data {subject.flag_value}`")
        return c.report


def check_scheme(
    name_or_factory: Any,
    config: Any = None,
    *,
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """Training 4 steps equals training 2, then resuming to 4 (through the CLI; weights bit for bit)."""
    with _subject("scheme", name_or_factory, config) as subject:
        c = _Check(subject)
        scheme = c.create(Scheme, subject.config)
        c.expect(bool(scheme.optimizers), "it declares no optimizers")
        c.passed("builds a gankit.Scheme with optimizers")
        if not run:
            c.report.skipped.append("checkpoint and resume (run=False)")
            return c.report
        with tempfile.TemporaryDirectory() as tmp:
            runs = _Runs(subject, Path(tmp), run_args)
            flags = ("--scheme", subject.flag_value, "--data", "ring8", "--ema", "0.9", "--checkpoint-every", "2")
            runs.run("full", *flags, "--steps", "4")
            runs.run("part", *flags, "--steps", "2")
            run_cli("run", "--resume", str(Path(tmp) / "part"), "--steps", "4", "--device", "cpu", "-q")
            full, part = _final_state(Path(tmp) / "full"), _final_state(Path(tmp) / "part")
            c.expect(part.counters["step"] == 4, f"the resumed run stopped at step {part.counters['step']}, not 4")
            for label in ("networks", "ema", "optimizers"):
                difference = _first_difference(getattr(full, label), getattr(part, label), label)
                c.expect(difference is None, f"2 steps + resume to 4 differ from 4 steps: {difference}")
            c.passed("checkpoints and resumes exactly: networks, EMA and optimizers after 2+2 steps equal 4 steps")
            out = Path(tmp) / "samples.npy"
            run_cli("sample", str(Path(tmp) / "full"), "-n", "8", "-o", str(out), "--device", "cpu")
            import numpy as np

            shape = np.load(out).shape
            c.expect(shape[0] == 8, f"`gankit sample -n 8` wrote {shape[0]} samples")
            c.passed("`gankit sample` generates from its networks")
        return c.report


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


def check_tracker(
    name_or_factory: Any, config: Any = None, *, run: bool = True, run_args: Sequence[str] = ()
) -> Report:
    """Every method runs on realistic arguments, ``state()`` is JSON, and runs log without warnings."""
    with _subject("tracker", name_or_factory, config) as subject, tempfile.TemporaryDirectory() as tmp:
        c = _Check(subject)
        folder = Path(tmp) / "direct"
        folder.mkdir()
        tracker = c.create(Tracker, subject.config, TrackerContext(folder, folder.name))
        image, checkpoint_file = _sample_files(folder)
        calls: list[tuple[str, tuple[Any, ...]]] = [
            ("start", ({"run": {"steps": 3}, "components": {}}, 3, 0)),
            ("advance", (1,)),
            ("log_metrics", (1, {"d_loss": 1.25, "g_loss": 0.75, "steps_per_s": 10.0})),
            ("log_images", (1, "samples", image)),
            ("log_evaluation", (1, {"score": 0.5})),
            ("log_checkpoint", (1, checkpoint_file)),
        ]
        for method, args in calls:
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:
                c.fail(f"{method} raised {type(exc).__name__}: {exc}")
        state = tracker.state()
        c.expect(isinstance(state, dict), f"state() returned a {type(state).__name__}, not a dict")
        try:
            json.dumps(state)
        except (TypeError, ValueError) as exc:
            c.fail(f"state() is not JSON-able: {exc}")
        shown = tracker.finish({"steps": 1, "run_folder": str(folder)})
        c.expect(
            isinstance(shown, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in shown.items()),
            f"finish() returned {shown!r}, not a dict of str -> str",
        )
        c.passed("start, advance, log_metrics, log_images, log_evaluation, log_checkpoint, state and finish run")
        if run:
            runs = _Runs(subject, Path(tmp), run_args)
            flags = ("--tracker", subject.flag_value, "--data", "ring8")
            for result in (
                runs.run("tracked", *flags, "--sample-every", "1"),
                run_cli("run", "--resume", str(Path(tmp) / "tracked"), "--steps", "3", "--device", "cpu", "-q"),
            ):
                warning = next(
                    (line for line in result.output.splitlines() if line.startswith("Warning: tracker")), None
                )
                c.expect(warning is None, f"a run switched it off: {warning}")
            c.passed(f"`gankit run --tracker {subject.flag_value}` and its resume log without warnings")
        return c.report


def _sample_files(folder: Path) -> tuple[Path, Path]:
    """A real PNG and a real safetensors file, as the engine would hand a tracker."""
    import numpy as np
    import torch
    from PIL import Image
    from safetensors.torch import save_file

    image = folder / "samples.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image)
    checkpoint_file = folder / "step-000001.safetensors"
    save_file({"x": torch.zeros(1)}, str(checkpoint_file))
    return image, checkpoint_file


def check_metric(
    name_or_factory: Any,
    config: Any = None,
    *,
    data: Sequence[str] = ("ring8", "digits"),
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """Named finite numbers, the same for the same seed; a JSON protocol; works in training and ``gankit eval``.

    It is scored on each of the ``data`` sets it accepts (it must accept one), with two generators:
    one that returns the data's own samples and one that returns uniform noise.
    """
    import torch

    with _subject("metric", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        metric = c.create(Metric, subject.config)
        c.expect(isinstance(metric.version, str) and bool(metric.version), f"version {metric.version!r} is not a str")
        protocol = metric.protocol()
        c.expect(isinstance(protocol, dict), f"protocol() returned a {type(protocol).__name__}, not a dict")
        try:
            json.dumps(protocol)
        except (TypeError, ValueError) as exc:
            c.fail(f"protocol() is not JSON-able: {exc}")
        scored = []
        for data_name in data:
            spec = _plugins.load_plugins().registry.get("data", data_name)
            dataset = spec.create(spec.make_config({}), DataRequest())
            try:
                for label, generate in _generators(dataset):
                    context = EvalContext(dataset, dataset.description, generate, torch.device("cpu"), seed=0)
                    values = metric.evaluate(context)
                    _check_values(c, values, f"on {data_name} with {label}")
                    again = metric.evaluate(context)
                    c.expect(
                        again == values, f"on {data_name} with {label} two evaluations differ: {values} vs {again}"
                    )
            except GankitError as exc:
                c.report.skipped.append(f"{data_name}: refused ({exc})")
                continue
            scored.append(data_name)
        c.expect(bool(scored), f"it scores none of {list(data)}")
        c.passed(f"named finite numbers on {', '.join(scored)}, the same for the same seed; a JSON protocol")
        if run:
            with tempfile.TemporaryDirectory() as tmp:
                flags = ("--data", scored[0], "--metric", subject.flag_value, "--eval-every", "2")
                _Runs(subject, Path(tmp), run_args).run("metric", *flags)
                run_cli("eval", str(Path(tmp) / "metric"), "--device", "cpu")
                saved = json.loads((Path(tmp) / "metric" / "eval.json").read_text(encoding="utf-8"))
                c.expect(subject.spec.name in saved.get("metrics", {}), "`gankit eval` saved no results for it")
            c.passed(f"`gankit run --metric {subject.flag_value} --eval-every 2` and `gankit eval` work")
        return c.report


def _generators(dataset: Dataset) -> list[tuple[str, Callable[[int], Any]]]:
    """Stand-ins for ``EvalContext.generate``: the data itself, and uniform noise; both seeded."""
    import torch

    def real(n: int) -> Any:
        generator = torch.Generator().manual_seed(0)
        if dataset.samples is not None:
            return dataset.samples[torch.randint(len(dataset.samples), (n,), generator=generator)]
        return dataset.sample(n, generator)

    def noise(n: int) -> Any:
        generator = torch.Generator().manual_seed(0)
        return torch.rand(n, *dataset.description.shape, generator=generator) * 2 - 1

    return [("its own samples", real), ("uniform noise", noise)]


def _check_values(c: _Check, values: Any, where: str) -> None:
    c.expect(
        isinstance(values, dict) and bool(values), f"evaluate() {where} returned {values!r}, not a dict of numbers"
    )
    for key, value in values.items():
        c.expect(isinstance(key, str) and bool(key), f"evaluate() {where} returned the key {key!r}, not a name")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        c.expect(number and math.isfinite(value), f"evaluate() {where} returned {key} = {value!r}, not a finite number")


_CHECKS: dict[str, Callable[..., Report]] = {
    "architecture": check_architecture,
    "loss": check_loss,
    "regularizer": check_regularizer,
    "data": check_data_source,
    "scheme": check_scheme,
    "tracker": check_tracker,
    "metric": check_metric,
}


def check_component(kind: str, name_or_factory: Any, config: Any = None, **options: Any) -> Report:
    """Run every conformance check for one component; raises :class:`ConformanceError` on the first failure.

    ``kind`` is arch, loss, reg, data, scheme, tracker or metric (or the long names). ``name_or_factory`` is
    a registered name (``plugin:name`` works) or the factory itself. ``config`` is ``None`` (the
    defaults), a dict of options, or an instance of the config class. ``options`` go to the kind's
    own check: ``run=False`` (no CLI runs), ``run_args=[...]`` (added to each ``gankit run``),
    ``data=`` (architecture: descriptions; metric: data set names), ``zero_options=`` (regularizer),
    ``request=`` (data source).
    """
    return _CHECKS[_kind(kind)](name_or_factory, config, **options)
