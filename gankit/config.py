"""Run configuration: one frozen attrs class, filled from defaults, a TOML file and flags.

Precedence, lowest first: :class:`RunConfig` defaults, the chosen components' suggested defaults
(data source, architecture, loss, regularizers, in that order), the ``--config`` TOML file, explicit
flags and ``--set``. Component options live in ``options[component_name]``.
"""

from __future__ import annotations

import json
import math
import tomllib
import types
import typing
from pathlib import Path
from typing import Any

import attrs

from gankit.engine.lr_schedule import LR_SCHEDULES
from gankit.errors import GankitError, choice_error
from gankit.limits import MAX_RESOLUTION

AMP_CHOICES = ("auto", "on", "off", "fp16", "bf16")
OPTIMIZER_CHOICES = ("adam", "rmsprop")
ON_NAN_CHOICES = ("stop", "skip")


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise GankitError(f"{attribute.name} must be a finite positive number, got {value!r}")
    if value is not None and value <= 0:
        raise GankitError(f"{attribute.name} must be positive, got {value!r}")


def _non_negative(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value < 0:
        raise GankitError(f"{attribute.name} must be zero or positive, got {value!r}")


def _at_most(limit: int) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and value > limit:
            raise GankitError(f"{attribute.name} must be at most {limit}, got {value!r}")

    return check


def _betas(instance: Any, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    if len(value) != 2 or not all(0.0 <= b < 1.0 for b in value):
        raise GankitError(f"betas must be two numbers in [0, 1), got {value!r}")


def _fraction(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise GankitError(f"{attribute.name} must be a fraction of the run in [0, 1), got {value!r}")


def _ema(instance: Any, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise GankitError(f"ema must be a decay in [0, 1) (0 turns it off), got {value!r}")


def _threads(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return
    raise GankitError(f"threads must be auto or a positive whole number, got {value!r}")


def _choice(choices: tuple[str, ...]) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: str) -> None:
        if value not in choices:
            raise choice_error(attribute.name, value, choices)

    return check


@attrs.frozen(kw_only=True)
class RunConfig:
    """Everything that defines a run. Saved resolved, with the components' options, in config.json."""

    data: str = "digits"
    arch: str = "mlp"
    loss: str = "bce"
    regs: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    scheme: str = "unconditional"
    #: Where reports go; ``--tracker NAME`` adds to these.
    trackers: tuple[str, ...] = attrs.field(default=("console", "jsonl"), converter=tuple)
    #: Metrics that ``--eval-every`` computes during training and ``gankit eval`` computes by default.
    metrics: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    #: Evaluate the metrics every N steps (and at the end); ``None`` evaluates only with ``gankit eval``.
    eval_every: int | None = attrs.field(default=None, validator=_positive)
    #: Training iterations (one iteration = n_critic discriminator steps + one generator step).
    steps: int = attrs.field(default=2000, validator=_positive)
    #: Passes over a finite data set by the discriminator; overrides ``steps`` when set.
    epochs: float | None = attrs.field(default=None, validator=_positive)
    batch_size: int = attrs.field(default=64, validator=_positive)
    optimizer: str = attrs.field(default="adam", validator=_choice(OPTIMIZER_CHOICES))
    lr_g: float = attrs.field(default=2e-4, validator=_positive)
    lr_d: float = attrs.field(default=2e-4, validator=_positive)
    betas: tuple[float, float] = attrs.field(default=(0.5, 0.999), converter=tuple, validator=_betas)
    #: Decay of both learning rates towards 0 at the last step: constant (none), linear or cosine.
    lr_schedule: str = attrs.field(default="constant", validator=_choice(LR_SCHEDULES))
    #: Where the decay starts, as a fraction of the run (0: from the first step).
    lr_decay_start: float = attrs.field(default=0.0, validator=_fraction)
    n_critic: int = attrs.field(default=1, validator=_positive)
    z_dim: int = attrs.field(default=64, validator=[_positive, _at_most(65536)])
    seed: int = attrs.field(default=0, validator=[_non_negative, _at_most(2**63 - 1)])
    device: str = "auto"
    #: Deterministic kernels only (slower on CUDA; CPU runs are reproducible either way).
    deterministic: bool = False
    amp: str = attrs.field(default="auto", validator=_choice(AMP_CHOICES))
    #: torch.compile the networks for training (discriminators under gp/r1 stay eager: no double backward).
    compile: bool = False
    #: Keep image batches and conv weights channels-last (NHWC): faster convolutions under CUDA AMP.
    channels_last: bool = False
    #: Intra-op CPU threads: a count, or auto (from the model's size and the free cores, following the load).
    threads: int | str = attrs.field(default="auto", validator=_threads)
    #: What a NaN/inf loss or gradient does: stop the run (keeping the last checkpoint) or skip that step.
    on_nan: str = attrs.field(default="stop", validator=_choice(ON_NAN_CHOICES))
    #: Decay of the generator's exponential moving average; 0 turns EMA off.
    ema: float = attrs.field(default=0.0, validator=_ema)
    #: Steps during which the average copies the weights instead (BigGAN's ema_start).
    ema_start: int = attrs.field(default=0, validator=_non_negative)
    #: StyleGAN2's EMA ramp-up: the average's half-life is at most this fraction of the steps taken.
    ema_rampup: float | None = attrs.field(default=None, validator=_positive)
    #: Lazy regularization's correction (StyleGAN2): the optimizer of a network penalized every k-th step
    #: gets lr * c and betas ** c with c = k / (k + 1), so its updates match those of a penalty every step.
    lazy_correction: bool = False
    log_every: int = attrs.field(default=100, validator=_positive)
    sample_every: int = attrs.field(default=1000, validator=_positive)
    checkpoint_every: int = attrs.field(default=1000, validator=_positive)
    keep_checkpoints: int = attrs.field(default=3, validator=_positive)
    data_root: str | None = None
    download: bool = False
    resolution: int | None = attrs.field(default=None, validator=[_positive, _at_most(MAX_RESOLUTION)])
    #: Component name -> option name -> value, as given; validated against each component's config.
    options: dict[str, dict[str, Any]] = attrs.Factory(dict)

    def to_dict(self) -> dict[str, Any]:
        lists = {k: list(getattr(self, k)) for k in ("regs", "betas", "trackers", "metrics")}
        return attrs.asdict(self, recurse=False) | lists


RUN_FIELDS = {f.name: f for f in attrs.fields(RunConfig)}

#: Fields that may differ when a run is resumed; everything else must match the checkpoint.
RESUMABLE_FIELDS = frozenset(
    {
        "steps",
        "epochs",
        "device",
        "deterministic",
        "compile",
        "channels_last",
        "threads",
        "trackers",
        "metrics",
        "eval_every",
        "on_nan",
        "log_every",
        "sample_every",
        "checkpoint_every",
        "keep_checkpoints",
        "data_root",
    }
)

#: ``--set`` prefixes that stand for the chosen component of a kind (``--set loss.saturating=true``).
KIND_ALIASES = {"arch": "arch", "architecture": "arch", "loss": "loss", "data": "data", "scheme": "scheme"}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def convert_value(key: str, value: Any, tp: Any) -> Any:
    """Convert a TOML value or a ``--set`` string to the annotated type ``tp``, or raise GankitError."""
    if isinstance(tp, str):  # postponed annotations on a class we could not resolve
        tp = {"int": int, "float": float, "str": str, "bool": bool}.get(tp, Any)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for arm in (a for a in args if a is not type(None)):
            try:
                return convert_value(key, value, arm)
            except GankitError as exc:
                errors.append(str(exc))
        raise GankitError(errors[0] if errors else f"{key}: cannot use {value!r}")
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise GankitError(f"{key} must be a comma-separated list, got {value!r}")
        item_types = args if args and args[-1] is not Ellipsis else (args[0] if args else Any,) * len(items)
        if len(item_types) != len(items):
            raise GankitError(f"{key} needs {len(item_types)} comma-separated values, got {value!r}")
        return tuple(convert_value(key, v.strip() if isinstance(v, str) else v, t) for v, t in zip(items, item_types))
    if tp is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise GankitError(f"{key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise GankitError(f"{key} must be an integer, got {value!r}")
        try:
            return int(value) if not isinstance(value, str) else int(value.strip().replace("_", ""))
        except (ValueError, TypeError, OverflowError):
            raise GankitError(f"{key} must be an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise GankitError(f"{key} must be a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise GankitError(f"{key} must be a number, got {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise GankitError(f"{key} must be a finite number, got {value!r}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise GankitError(f"{key} must be a string, got {value!r}")
        return value
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise GankitError(f"{key} must be a table, got {value!r}")
        return value
    return value


def _field_types(cls: type) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    return {f.name: hints.get(f.name, f.type) for f in attrs.fields(cls)}


def build_options(spec: Any, options: dict[str, Any]) -> Any:
    """Instantiate ``spec.config`` from raw options, naming the bad key or value on error."""
    label = spec.name
    if spec.config is None:
        if options:
            given = ", ".join(repr(k) for k in sorted(options))
            raise GankitError(f"{spec.kind} {label!r} has no options, got {given}")
        return None
    types_by_name = _field_types(spec.config)
    values = {}
    for key, raw in options.items():
        if key not in types_by_name:
            raise choice_error(f"option for {label!r}", key, types_by_name)
        values[key] = convert_value(f"{label}.{key}", raw, types_by_name[key])
    try:
        return spec.config(**values)
    except GankitError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        # Name the option: try each one alone (converters and validators do not know their field).
        for key, value in values.items():
            try:
                spec.config(**{key: value})
            except (TypeError, ValueError, OverflowError) as one:
                raise GankitError(f"invalid option {key!r} for {label!r}: {_reason(one)}") from None
            except GankitError:
                raise
        raise GankitError(f"invalid options for {label!r}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """The message of an exception on one line (attrs validators put theirs in ``args[0]``)."""
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    return " ".join(text.split())


def parse_set(assignments: list[str] | tuple[str, ...]) -> tuple[dict, dict]:
    """Split ``--set`` items into run-field values and options keyed by their prefix.

    The prefix is a component name (``gp.weight=10``) or a kind alias (``arch.width=128``) that the
    caller maps to the chosen component.
    """
    run_values: dict[str, Any] = {}
    options: dict[str, dict[str, Any]] = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise GankitError(f"--set expects KEY=VALUE (like gp.weight=10 or steps=500), got {item!r}")
        component, dot, option = key.rpartition(".")
        if not dot:
            if key not in RUN_FIELDS or key == "options":
                valid = sorted(set(RUN_FIELDS) - {"options"}) + ["<component>.<option>"]
                raise choice_error("setting for --set", key, valid)
            run_values[key] = value
            continue
        options.setdefault(component, {})[option] = value
    return run_values, options


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML run config; errors name the file and the line."""
    from gankit.safe_files import MAX_TEXT_BYTES, read_bounded

    path = Path(path)
    try:
        text = read_bounded(path, "config file", MAX_TEXT_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise GankitError(f"config file {str(path)!r} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GankitError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    return data


def split_toml(data: dict[str, Any]) -> tuple[dict, dict]:
    """Split a parsed TOML file into run-field values and per-component option tables."""
    run_values: dict[str, Any] = {}
    options: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            options[key] = dict(value)
        elif key in RUN_FIELDS and key != "options":
            run_values[key] = value
        else:
            valid = sorted(set(RUN_FIELDS) - {"options"}) + ["[<component>] tables"]
            raise choice_error("config key", key, valid)
    return run_values, options


def typed_run_values(values: dict[str, Any]) -> dict[str, Any]:
    types_by_name = _field_types(RunConfig)
    return {k: convert_value(k, v, types_by_name[k]) for k, v in values.items()}


def saved_config(saved: Any, where: str) -> dict[str, Any]:
    """A saved run configuration (config.json, a checkpoint's or a model folder's) with its layout checked
    and its run settings typed as :class:`RunConfig` declares them; else one line naming the bad value.

    What a file holds is not trusted to be what gankit wrote: ``"z_dim": 2.5``, ``"regs": 5`` or
    ``"options": []`` would otherwise fail deep inside resolution with a TypeError.
    """
    layout = '{"run": {setting: value}, "components": {name: {"options": {option: value}}}}'

    def bad(what: str) -> GankitError:
        return GankitError(f"{where} holds an invalid run configuration: {what}; expected {layout}")

    if not isinstance(saved, dict):
        raise bad(f"it is a {type(saved).__name__}, not an object")
    run, components = saved.get("run"), saved.get("components")
    for section, value in (("run", run), ("components", components)):
        if not isinstance(value, dict):
            raise bad(f"{section!r} is {_shown_value(value)}, not an object")
    for name, component in components.items():
        if not isinstance(component, dict) or not isinstance(component.get("options", {}), dict):
            raise bad(f"component {name!r} is {_shown_value(component)}")
    options = run.get("options", {})
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise bad(f"run options are {_shown_value(options)}, expected component name -> options")
    types_by_name = _field_types(RunConfig)
    typed = {}
    for key, value in run.items():
        if key in types_by_name and key != "options":
            try:
                value = convert_value(key, value, types_by_name[key])
                typed[key] = list(value) if isinstance(value, tuple) else value  # as JSON holds it
            except GankitError as exc:
                raise GankitError(f"{where} holds an invalid run configuration: {exc}") from None
    return dict(saved, run=dict(run, **typed), components={n: dict(c) for n, c in components.items()})


def _shown_value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def make_run_config(values: dict[str, Any]) -> RunConfig:
    try:
        return RunConfig(**values)
    except GankitError:
        raise
    except (TypeError, ValueError) as exc:
        raise GankitError(f"invalid run configuration: {exc}") from None


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default)


def _json_default(obj: Any) -> Any:
    if attrs.has(type(obj)):
        return attrs.asdict(obj)
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    return str(obj)
