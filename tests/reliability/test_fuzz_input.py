"""Hypothesis fuzzing of what users type: ``--set`` items, TOML config files, ``gankit run`` flags.

The property everywhere: the input is accepted, or the error is a :class:`GankitError` (or a click
usage error) whose message is one line, names the bad key or value, and lists the valid choices
when a name is unknown. Never another exception, never a traceback.

``--set`` and TOML go straight to :func:`gankit.resolve.resolve` (fast, no training); the flag
combinations go through the real CLI in-process and train for at most three tiny steps when valid.

Examples are derandomized (the same ones each run, so CI is stable); set ``GANKIT_FUZZ_RANDOM=1`` to
explore new ones. Inputs that hit a known bug are kept out of the fuzzers and pinned by the
``xfail(strict=True)`` tests at the bottom instead.
"""

from __future__ import annotations

import datetime
import itertools
import json
import math
import os
import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from gankit.config import RUN_FIELDS
from gankit.errors import GankitError
from tests.reliability.conftest import assert_one_error_line

FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=not os.environ.get("GANKIT_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)


def _examples(n: int) -> int:
    """``GANKIT_FUZZ_SCALE=10`` runs ten times as many examples."""
    return max(1, int(n * float(os.environ.get("GANKIT_FUZZ_SCALE", "1"))))


RUN_KEYS = sorted(set(RUN_FIELDS) - {"options"})


def _int_fields() -> set[str]:
    """Run settings converted with int(): ``int``, ``int | None``, ``tuple[int, ...]``."""
    import typing

    from gankit.config import RunConfig

    return {name for name, tp in typing.get_type_hints(RunConfig).items() if tp is int or int in typing.get_args(tp)}


INT_FIELDS = _int_fields()
#: Options of the components in the default run (and a few that are not in it).
OPTION_KEYS = [
    "arch.g_hidden",
    "arch.d_hidden",
    "arch.negative_slope",
    "mlp.g_hidden",
    "architecture.d_hidden",
    "loss.variant",
    "bce.variant",
    "data.split",
    "digits.split",
    "scheme.x",
    "unconditional.x",
    "console.progress",
    "jsonl.path",
    "gp.weight",
    "dcgan.g_channels",
    "arch.g_channels",
]
SPECIAL_VALUES = [
    "",
    " ",
    "=",
    "a=b",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "-0",
    "0",
    "-1",
    "1_000",
    "0x10",
    "٣",
    "none",
    "null",
    "true",
    "False",
    "yes",
    "on",
    "1,2",
    "1,,2",
    ",",
    "0.5,0.999",
    "gp,gp",
    "gp,r1",
    "bce",
    "wgan",
    "mlp",
    "dcgan",
    "digits",
    "ring8",
    "cpu",
    "stop",
    "skip",
    "adam",
    "rmsprop",
    "ünï",
    "🙂",
]

_registry = None


def registry():
    global _registry
    if _registry is None:
        from gankit.plugins import registry as load

        _registry = load()
    return _registry


def _resolve(flags=None, set_items=(), config_file=None):
    from gankit.resolve import resolve

    return resolve(registry(), flags or {}, tuple(set_items), config_file)


def _breaks_line(text: str) -> bool:
    return len(f"x{text}x".splitlines()) > 1


def _no_options_bug(component: str, option: str) -> bool:
    """Known bug (test_option_name_with_a_line_break_for_a_component_without_options)."""
    from gankit.config import KIND_ALIASES

    aliases = {"arch": "mlp", "loss": "bce", "data": "digits", "scheme": "unconditional"}
    name = aliases.get(KIND_ALIASES.get(component, ""), component)
    specs = [
        spec
        for kind in ("data", "architecture", "loss", "scheme", "tracker", "regularizer")
        for spec in registry().specs(kind)
        if spec.name == name
    ]
    return _breaks_line(option) and any(spec.config is None for spec in specs)


def _mentions(message: str, tokens) -> bool:
    lowered = message.lower()
    for token in tokens:
        token = str(token)
        bare = token.strip()
        if repr(token) in message or repr(bare) in message or (bare and bare.lower() in lowered):
            return True
    return False


def _assert_good_error(message: str, tokens, extra_ok=()) -> None:
    assert "\n" not in message and "\r" not in message, message
    assert len(message.splitlines()) <= 1, message
    assert _mentions(message, list(tokens) + list(extra_ok)), f"{message!r} names none of {list(tokens)[:12]}"
    if re.match(r"(Error: )?unknown ", message):  # choice_error: "unknown loss 'x' ...; choose from: ..."
        assert "choose from" in message, message
    if "not part of this run" in message:
        assert "components in this run" in message, message


# -- --set ------------------------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-3, 300).map(str),
)
set_values = st.one_of(
    st.text(max_size=15),
    numbers,
    st.integers(1, 64).map(str),
    st.sampled_from(["0.5", "1e-4", "0.5,0.999", "8,8", "16"]),
    st.booleans().map(str),
    st.sampled_from(SPECIAL_VALUES),
    st.lists(st.one_of(st.integers(-3, 300).map(str), st.sampled_from(SPECIAL_VALUES)), max_size=4).map(",".join),
    st.tuples(st.text(max_size=5), st.text(max_size=5)).map("=".join),
)
_key_kinds = [
    st.sampled_from(RUN_KEYS),
    st.sampled_from(RUN_KEYS),
    st.sampled_from(OPTION_KEYS),
    st.sampled_from(OPTION_KEYS),
    st.text(max_size=12),
    st.lists(st.text(max_size=6), min_size=2, max_size=3).map(".".join),
]
set_keys = st.integers(0, len(_key_kinds) - 1).flatmap(lambda i: _key_kinds[i])  # known keys 2 in 3
key_values = st.tuples(set_keys, set_values).map(lambda kv: f"{kv[0]}={kv[1]}")
# Three in four are KEY=VALUE; the rest random text, most often without '=' at all.
set_items = st.integers(0, 3).flatmap(lambda i: key_values if i else st.text(max_size=12))


_ALIASES = {"arch": "mlp", "architecture": "mlp", "loss": "bce", "data": "digits", "scheme": "unconditional"}


def _set_tokens(items):
    tokens = []
    for item in items:
        key, _, value = item.partition("=")
        component, _, option = key.strip().rpartition(".")
        # "arch.g_hidden" is named in messages as "mlp.g_hidden" (or as the component "mlp": see
        # test_bad_layer_width_names_the_option).
        tokens += [item, key, component, option, _ALIASES.get(component, ""), *key.split("."), value, *value.split(",")]
    return tokens


@settings(FUZZ, max_examples=_examples(150))
@given(st.lists(set_items, min_size=1, max_size=3))
def test_fuzzed_set_items(items):
    keys = [item.partition("=")[0].strip().rpartition(".") for item in items if "=" in item]
    assume(not any(_no_options_bug(component, option) for component, _, option in keys))
    try:
        _resolve(set_items=items)
        event("accepted")
    except GankitError as exc:
        event("refused")
        _assert_good_error(str(exc), _set_tokens(items), extra_ok=("KEY=VALUE",))


# -- TOML config files --------------------------------------------------------------------------------

dates = st.one_of(st.dates(), st.datetimes(), st.times())
scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(SPECIAL_VALUES),
)
toml_values = st.one_of(
    scalars, dates, st.lists(st.one_of(scalars, dates), max_size=4), st.lists(st.lists(scalars, max_size=2), max_size=2)
)


def _run_value(key: str):
    # Known bug (test_toml_int_setting_given_a_list_or_date): integer settings get no lists or dates here.
    return scalars if key in INT_FIELDS else toml_values


def _option_value(key: str):
    if key in ("g_hidden", "d_hidden"):  # tuple[int, ...]: its items are converted with int() too
        return st.one_of(scalars, st.lists(scalars, max_size=4))
    return toml_values


toml_run_entries = st.one_of(st.sampled_from(RUN_KEYS), st.text(min_size=1, max_size=10)).flatmap(
    lambda k: st.tuples(st.just(k), _run_value(k))
)
option_names = st.one_of(
    st.sampled_from(["g_hidden", "d_hidden", "negative_slope", "variant", "split", "weight", "progress"]),
    st.text(min_size=1, max_size=8),
)
toml_tables = st.tuples(
    st.one_of(
        st.sampled_from(["mlp", "digits", "bce", "unconditional", "console", "jsonl", "gp", "dcgan"]),
        st.text(min_size=1, max_size=8),
    ),
    st.dictionaries(option_names, st.just(None), max_size=3).flatmap(
        lambda d: st.fixed_dictionaries({k: _option_value(k) for k in d})
    ),
)
toml_documents = st.tuples(
    st.lists(toml_run_entries, max_size=4, unique_by=lambda kv: kv[0]),
    st.lists(toml_tables, max_size=2, unique_by=lambda kv: kv[0]),
)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def _toml_text(run_entries, tables) -> str:
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in run_entries]
    for name, options in tables:
        lines.append(f"[{_toml_key(name)}]")
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in options.items()]
    return "\n".join(lines) + "\n"


def _value_tokens(value):
    if isinstance(value, list):
        return [repr(value)] + [t for v in value for t in _value_tokens(v)]
    if isinstance(value, str):  # lists in a string are split at commas
        return [repr(value), value, *value.split(",")]
    return [repr(value), str(value)]


@settings(FUZZ, max_examples=_examples(150))
@given(toml_documents)
def test_fuzzed_toml_config_files(document):
    run_entries, tables = document
    assume(not any(_no_options_bug(name, option) for name, options in tables for option in options))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.toml"
        path.write_text(_toml_text(run_entries, tables), encoding="utf-8")
        try:
            _resolve(config_file=str(path))
            event("accepted")
        except GankitError as exc:
            event("refused")
            tokens = [k for k, _ in run_entries] + [n for n, _ in tables]
            tokens += [k for _, options in tables for k in options]
            tokens += [t for _, v in run_entries for t in _value_tokens(v)]
            tokens += [t for _, options in tables for v in options.values() for t in _value_tokens(v)]
            _assert_good_error(str(exc), tokens, extra_ok=(str(path),))


# -- gankit run flag combinations --------------------------------------------------------------------


def _texts(*choices):
    return st.one_of(st.sampled_from(choices), st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=8))


def _ints(lo, hi):
    return st.one_of(st.integers(lo, hi).map(str), st.sampled_from(["x", "1.5", ""]))


def _floats(*special):
    # Known bug (test_float_flag_given_nan_or_inf): no "nan" or "inf" for --lr/--lr-g/--lr-d/--epochs here.
    return st.one_of(st.floats(-1, 1e9, allow_nan=False).map(repr), st.sampled_from(["0", "-1", "x", "", *special]))


#: Each flag with values that keep a valid run tiny: steps <= 3, widths <= 16, batch <= 32. No --download,
#: no W&B flags (they start a W&B service), no --nproc above 1.
FLAGS = {
    "--arch": _texts("mlp", "dcgan", "mpl", "resnet"),
    "--loss": _texts("bce", "hinge", "lsgan", "wgan", "wgn"),
    "--reg": _texts("gp", "r1", "sn", "clip", "gpp"),
    "--data": _texts("digits", "ring8", "grid25", "mnist", "cifar10", "folder", "imagenet"),
    "--scheme": _texts("unconditional", "twin"),
    "--data-root": st.sampled_from(["/nonexistent/gankit-fuzz", "data", "", "x" * 300]),  # 300: ENAMETOOLONG
    "--resolution": st.one_of(_ints(-2, 16), st.sampled_from(["4097", "100000", str(2**64)])),
    "--steps": _ints(-1, 3),
    "--epochs": st.sampled_from(["0", "-1", "0.001", "x", "1e-9"]),
    "--batch-size": _ints(-1, 32),
    "--lr": _floats("1e8"),
    "--lr-g": _floats(),
    "--lr-d": _floats(),
    "--betas": _texts("0.5,0.999", "0.5", "1,1", "a,b", "0.0,0.9", "-1,0.5", "0.5,0.9,0.1", "nan,0.5"),
    "--optimizer": _texts("adam", "rmsprop", "sgd"),
    "--n-critic": _ints(-1, 3),
    "--z-dim": _ints(-1, 16),
    "--seed": st.one_of(_ints(-1, 1000), st.integers(0, 2**66).map(str)),
    "--device": _texts("cpu", "auto", "cuda", "cuda:3", "tpu", "cpu:0"),
    "--deterministic": st.none(),
    "--amp": _texts("auto", "on", "off", "maybe"),
    "--on-nan": _texts("stop", "skip", "ignore"),
    "--ema": st.sampled_from(["0", "0.5", "0.999", "1", "-0.1", "nan", "inf", "x"]),
    "--log-every": _ints(-1, 5),
    "--sample-every": _ints(-1, 5),
    "--checkpoint-every": _ints(-1, 5),
    "--config": st.sampled_from(["missing.toml", "bad.toml"]),
    "--resume": st.sampled_from(["runs/none", "", "missing.safetensors"]),
    "--set": st.sampled_from(
        [
            "steps=2",
            "stepz=2",
            "arch.g_hidden=4",
            "arch.g_hidden=0",
            "gp.weight=x",
            "ema=0.5",
            "betas=0.5",
            "lr=1",
            "z_dim=x",
            "log_every=-3",
            "=",
            "loss.variant=minimax",
            "loss.variant=max",
            "seed=-1",
        ]
    ),
    "--tracker": _texts("console", "jsonl", "tensorboard"),
    "--metric": _texts("modes", "digit-quality", "fid"),
    "--eval-every": _ints(-1, 3),
    "--nproc": _ints(-1, 1),  # never a real launch of several processes
    "--name": st.one_of(
        st.text(alphabet=st.characters(blacklist_characters="\x00/"), min_size=1, max_size=8).filter(
            lambda n: n not in (".", "..")
        ),
        st.just("x" * 300),
    ),
}
flag_choices = st.tuples(st.permutations(sorted(FLAGS)), st.integers(1, 5)).flatmap(
    lambda order: st.tuples(*[st.tuples(st.just(n), FLAGS[n]) for n in order[0][: order[1]]])
)
_example = itertools.count()


@settings(FUZZ, max_examples=_examples(60))
@given(flag_choices)
def test_fuzzed_run_flag_combinations(chosen):
    from gankit.cli import cli

    args: list[str] = []
    for flag, value in chosen:
        args += [flag] if value is None else [flag, value]
    dcgan = ("--arch", "dcgan") in chosen
    widths = ("arch.g_channels=4", "arch.d_channels=4") if dcgan else ("arch.g_hidden=8", "arch.d_hidden=8")
    base = ["--steps", "1", "--batch-size", "8", "--set", widths[0], "--set", widths[1], "-q"]
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bad.toml").write_text("steps = = 1\n")
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            named = [] if "--name" in dict(chosen) else ["--name", f"fuzz{next(_example)}"]
            result = CliRunner().invoke(cli, ["run", *base, *named, *args], catch_exceptions=True)
        finally:
            os.chdir(cwd)
    event(f"exit {result.exit_code}")
    shown = f"gankit run {' '.join(base + args)}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{shown}\n{type(result.exception).__name__}: {result.exception}"
    )
    assert result.exit_code in (0, 2), shown
    assert "Traceback" not in result.output, shown
    if result.exit_code == 2:
        line = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
        assert len(line) == 1, shown
        tokens = [
            t for flag, value in chosen for t in (flag, flag.strip("-"), flag.strip("-").replace("-", "_"), value or "")
        ]
        tokens += [t for flag, value in chosen if flag == "--set" for t in _set_tokens([value])]
        tokens += [os.path.normpath(v) for f, v in chosen if f in ("--resume", "--data-root", "--config") and v]
        tokens += ["'.'" for f, v in chosen if f in ("--resume", "--data-root", "--config") and v == ""]
        if re.search(r"'s (loss|weights) became NaN/inf (at|by) step", line[0]):
            # Training diverged: the step, optimizer and loss are named (which lr is to blame is not:
            # see test_nonfinite_error_blames_the_learning_rate_that_caused_it).
            tokens.append("NaN/inf")
        _assert_good_error(line[0], tokens)


# -- known bugs, pinned --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["steps = [1]\n", "batch_size = 1979-05-27\n", "[mlp]\ng_hidden = [[1]]\n"])
def test_toml_int_setting_given_a_list_or_date(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(GankitError) as info:
        _resolve(config_file=str(path))
    _assert_good_error(str(info.value), ["steps", "batch_size", "g_hidden"])


def test_seed_beyond_64_bits(gankit):
    result = gankit("run", "--steps", "1", "--batch-size", "8", "--seed", str(2**64), "-q")
    assert result.exit_code == 2
    assert "seed" in result.output and str(2**64) in result.output


def test_z_dim_beyond_what_torch_can_allocate(gankit):
    result = gankit("run", "--steps", "1", "--batch-size", "8", "--z-dim", str(10**20), "-q")
    assert result.exit_code == 2
    assert "z_dim" in result.output or "--z-dim" in result.output


@pytest.mark.parametrize("how", ["toml", "set"])
def test_option_name_with_a_line_break_for_a_component_without_options(gankit, tmp_path, how):
    if how == "toml":
        (tmp_path / "nl.toml").write_text('[unconditional]\n"x\\nInjected line" = 1\n')
        result = gankit("run", "--steps", "1", "--config", "nl.toml", "-q")
    else:
        result = gankit("run", "--steps", "1", "--set", "scheme.x\nInjected line=1", "-q")
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize(
    "flag",
    [("--lr", "nan"), ("--lr-d", "nan"), ("--epochs", "nan"), ("--epochs", "inf")],
    ids=["lr-nan", "lr-d-nan", "epochs-nan", "epochs-inf"],
)
def test_float_flag_given_nan_or_inf(tmp_path, flag):
    from gankit.cli import cli

    result = CliRunner().invoke(cli, ["run", "--steps", "1", "--batch-size", "8", "--out", str(tmp_path), "-q", *flag])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2
    assert flag[1] in assert_one_error_line(result.output)


def test_nonfinite_error_blames_the_learning_rate_that_caused_it(gankit):
    result = gankit(
        "run",
        "--steps",
        "5",
        "--batch-size",
        "16",
        "--set",
        "arch.g_hidden=32",
        "--set",
        "arch.d_hidden=32",
        "--lr-d",
        "1e9",
        "--name",
        "lrd",
        "-q",
    )
    assert result.exit_code == 2
    line = assert_one_error_line(result.output)
    assert re.search(r"NaN/inf at step \d+", line), line
    assert "1000000000.0" in line or "1e+09" in line or "lr_d" in line, line


def test_bad_layer_width_names_the_option():
    with pytest.raises(GankitError) as info:
        _resolve(set_items=["arch.g_hidden=8", "arch.d_hidden=00"])
    assert "d_hidden" in str(info.value), str(info.value)
