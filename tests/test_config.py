"""Run configuration: --set parsing, TOML files, precedence, and RunConfig validation."""

from __future__ import annotations

import pytest

from gankit import GankitError
from gankit.config import RunConfig, convert_value, make_run_config, parse_set
from gankit.plugins import registry
from gankit.resolve import resolve


def _resolve(flags=None, set_items=(), config_file=None):
    return resolve(registry(), flags or {}, list(set_items), str(config_file) if config_file else None)


def _error(flags=None, set_items=(), config_file=None) -> str:
    with pytest.raises(GankitError) as info:
        _resolve(flags, set_items, config_file)
    message = str(info.value)
    assert "\n" not in message, message
    return message


def _toml(tmp_path, text: str, name: str = "run.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- --set ---------------------------------------------------------------------------------------


def test_set_run_fields_are_typed():
    run = _resolve(set_items=["steps=7", "lr_d=0.003", "betas=0.1,0.2", "download=yes", "epochs=none", "regs=gp,r1"])
    cfg = run.config
    assert cfg.steps == 7 and isinstance(cfg.steps, int)
    assert cfg.lr_d == pytest.approx(0.003)
    assert cfg.betas == (0.1, 0.2)
    assert cfg.download is True
    assert cfg.epochs is None
    assert cfg.regs == ("gp", "r1")
    assert [s.name for s in run.regularizers] == ["gp", "r1"]


def test_set_component_option_by_name():
    run = _resolve({"regs": ("gp",)}, ["gp.weight=2.5", "gp.one_sided=true", "mlp.g_hidden=8,16"])
    gp = run.component_configs["gp"]
    assert gp.weight == 2.5 and gp.one_sided is True
    assert run.component_configs["mlp"].g_hidden == (8, 16)


def test_set_component_option_by_kind_alias():
    run = _resolve({"loss": "bce"}, ["loss.variant=minimax", "arch.d_hidden=4,4", "data.split=test"])
    assert run.component_configs["bce"].variant == "minimax"
    assert run.component_configs["mlp"].d_hidden == (4, 4)
    assert run.component_configs["digits"].split == "test"
    # The alias is stored under the component's real name.
    assert run.config.options["bce"] == {"variant": "minimax"}
    assert "loss" not in run.config.options and "arch" not in run.config.options


def test_alias_follows_the_chosen_component():
    run = _resolve({"arch": "dcgan"}, ["arch.g_channels=8"])
    assert run.component_configs["dcgan"].g_channels == 8


def test_set_bad_run_key_names_key_and_choices():
    message = _error(set_items=["stepz=3"])
    assert "'stepz'" in message
    assert "did you mean 'steps'" in message
    assert "batch_size" in message and "<component>.<option>" in message


def test_set_bad_option_key_names_key_and_choices():
    message = _error({"regs": ("gp",)}, ["gp.wieght=3"])
    assert "'wieght'" in message and "'gp'" in message
    assert "did you mean 'weight'" in message
    assert "every, one_sided, target, weight" in message


@pytest.mark.parametrize(
    ("items", "key", "value"),
    [
        (["steps=abc"], "steps", "abc"),
        (["steps=1.5"], "steps", "1.5"),
        (["lr_g=fast"], "lr_g", "fast"),
        (["lr_g=nan"], "lr_g", "nan"),
        (["download=maybe"], "download", "maybe"),
        (["betas=0.5"], "betas", "0.5"),
        (["gp.weight=heavy"], "gp.weight", "heavy"),
        (["gp.every=2.5"], "gp.every", "2.5"),
    ],
)
def test_set_bad_value_names_key_and_value(items, key, value):
    message = _error({"regs": ("gp",)}, items)
    assert key in message
    assert repr(value) in message


def test_set_value_rejected_by_component_validator():
    message = _error({}, ["loss.variant=sideways"])
    assert "'bce'" in message and "sideways" in message


def test_set_without_equals_sign():
    message = _error(set_items=["steps"])
    assert "KEY=VALUE" in message and "'steps'" in message


def test_set_option_for_component_not_in_run():
    message = _error({"loss": "bce"}, ["gp.weight=3"])
    assert "'gp'" in message
    assert "not part of this run" in message
    for name in ("digits", "mlp", "bce", "unconditional"):
        assert name in message


def test_set_option_for_component_without_options():
    message = _error({"loss": "wgan"}, ["loss.scale=2"])
    assert "'wgan'" in message and "no options" in message and "scale" in message


# -- TOML ----------------------------------------------------------------------------------------


def test_toml_tables_and_run_fields(tmp_path):
    path = _toml(
        tmp_path,
        'loss = "wgan"\nregs = ["gp"]\nsteps = 11\nbetas = [0.0, 0.9]\n\n[gp]\nweight = 5\n\n[mlp]\ng_hidden = [8, 8]\n',
    )
    run = _resolve(config_file=path)
    cfg = run.config
    assert (cfg.loss, cfg.regs, cfg.steps, cfg.betas) == ("wgan", ("gp",), 11, (0.0, 0.9))
    assert run.component_configs["gp"].weight == 5.0
    assert run.component_configs["mlp"].g_hidden == (8, 8)
    assert run.loss.name == "wgan"


def test_invalid_toml_is_one_line_naming_the_file(tmp_path):
    path = _toml(tmp_path, "steps = \n[gp\n", name="broken.toml")
    message = _error(config_file=path)
    assert str(path) in message
    assert "not valid TOML" in message
    assert "line 1" in message


def test_toml_not_utf8(tmp_path):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00steps")
    message = _error(config_file=path)
    assert str(path) in message and "UTF-8" in message


def test_missing_toml_file(tmp_path):
    path = tmp_path / "absent.toml"
    message = _error(config_file=path)
    assert str(path) in message


def test_toml_unknown_key(tmp_path):
    message = _error(config_file=_toml(tmp_path, "stepz = 3\n"))
    assert "'stepz'" in message
    assert "did you mean 'steps'" in message


def test_toml_unknown_option_in_table(tmp_path):
    message = _error({"regs": ("gp",)}, config_file=_toml(tmp_path, "[gp]\nwieght = 3\n"))
    assert "'wieght'" in message and "did you mean 'weight'" in message


def test_toml_bad_value_type(tmp_path):
    message = _error(config_file=_toml(tmp_path, 'steps = "ten"\n'))
    assert "steps" in message and "'ten'" in message
    message = _error(config_file=_toml(tmp_path, "steps = true\n", name="bool.toml"))
    assert "steps" in message and "True" in message


def test_toml_table_for_component_not_in_run(tmp_path):
    message = _error({"loss": "bce"}, config_file=_toml(tmp_path, "[gp]\nweight = 3\n"))
    assert "'gp'" in message and "not part of this run" in message


# -- precedence ----------------------------------------------------------------------------------


def test_component_defaults_apply_when_not_set():
    cfg = _resolve({"loss": "wgan"}).config
    assert cfg.n_critic == 5
    assert cfg.lr_d == pytest.approx(1e-4)
    assert cfg.betas == (0.5, 0.9)
    # digits (the default data) suggests its own steps.
    assert cfg.steps == 5000
    # bce suggests nothing: RunConfig's defaults.
    assert _resolve({"loss": "bce"}).config.n_critic == 1


def test_explicit_flag_overrides_component_default():
    assert _resolve({"loss": "wgan", "n_critic": 2}).config.n_critic == 2


def test_set_and_toml_override_component_default(tmp_path):
    assert _resolve({"loss": "wgan"}, ["n_critic=3"]).config.n_critic == 3
    path = _toml(tmp_path, 'loss = "wgan"\nn_critic = 4\n')
    assert _resolve(config_file=path).config.n_critic == 4


def test_flags_beat_set_beat_toml(tmp_path):
    path = _toml(tmp_path, "steps = 10\n[mlp]\ng_hidden = [8]\n")
    assert _resolve(config_file=path).config.steps == 10
    assert _resolve({}, ["steps=20"], path).config.steps == 20
    assert _resolve({"steps": 30}, ["steps=20"], path).config.steps == 30
    # --set overrides one option of a TOML table and keeps the others.
    run = _resolve({}, ["mlp.g_hidden=4", "mlp.negative_slope=0.1"], path)
    assert run.component_configs["mlp"].g_hidden == (4,)
    assert run.component_configs["mlp"].negative_slope == 0.1


def test_clip_suggests_rmsprop_and_overrides_loss_defaults():
    cfg = _resolve({"loss": "wgan", "regs": ("clip",)}).config
    assert cfg.optimizer == "rmsprop"
    # Regularizers' suggestions come after the loss's: clip's 5e-5, not wgan's 1e-4.
    assert cfg.lr_d == pytest.approx(5e-5)
    assert cfg.n_critic == 5
    explicit = _resolve({"loss": "wgan", "regs": ("clip",), "optimizer": "adam", "lr_d": 0.1}).config
    assert explicit.optimizer == "adam"
    assert explicit.lr_d == 0.1


def test_toy_data_suggests_its_batch_size():
    assert _resolve({"data": "ring8"}).config.batch_size == 256
    assert _resolve({"data": "ring8", "batch_size": 8}).config.batch_size == 8


def test_regularizer_given_twice():
    message = _error({"regs": ("gp", "gp")})
    assert "'gp'" in message and "twice" in message


# -- RunConfig -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"steps": -5}, "steps must be positive"),
        ({"steps": 0}, "steps must be positive"),
        ({"batch_size": 0}, "batch_size must be positive"),
        ({"seed": -1}, "seed must be zero or positive"),
        ({"betas": (0.5, 1.0)}, "betas must be two numbers in [0, 1)"),
        ({"betas": (-0.1, 0.9)}, "betas must be two numbers in [0, 1)"),
        ({"betas": (0.5,)}, "betas must be two numbers in [0, 1)"),
        ({"amp": "maybe"}, "unknown amp 'maybe'"),
        ({"optimizer": "sgd"}, "unknown optimizer 'sgd'"),
        ({"ema": 1.0}, "ema must be a decay in [0, 1)"),
        ({"epochs": 0}, "epochs must be positive"),
    ],
)
def test_run_config_validation(kwargs, fragment):
    with pytest.raises(GankitError) as info:
        RunConfig(**kwargs)
    assert fragment in str(info.value)


def test_amp_error_lists_choices():
    with pytest.raises(GankitError, match="choose from: auto, bf16, fp16, off, on"):
        RunConfig(amp="maybe")


def test_valid_run_config_and_to_dict():
    cfg = RunConfig(steps=3, betas=[0.0, 0.99], regs=["gp"], epochs=None)
    assert cfg.betas == (0.0, 0.99) and cfg.regs == ("gp",)
    d = cfg.to_dict()
    assert d["betas"] == [0.0, 0.99] and d["regs"] == ["gp"] and d["steps"] == 3


def test_make_run_config_unknown_field():
    with pytest.raises(GankitError, match="invalid run configuration"):
        make_run_config({"stepz": 3})


def test_invalid_values_through_set_are_validated():
    assert "betas must be two numbers" in _error(set_items=["betas=0.5,1.5"])
    assert "unknown amp 'maybe'" in _error(set_items=["amp=maybe"])
    assert "steps must be positive" in _error(set_items=["steps=-3"])


# -- the parser and converter on their own -------------------------------------------------------


def test_parse_set_splits_run_values_and_options():
    run_values, options = parse_set(["steps=5", "gp.weight=3", "arch.g_hidden=1,2", "a.b.c=x=y"])
    assert run_values == {"steps": "5"}
    assert options == {"gp": {"weight": "3"}, "arch": {"g_hidden": "1,2"}, "a.b": {"c": "x=y"}}


@pytest.mark.parametrize(
    ("value", "tp", "expected"),
    [
        ("1_000", int, 1000),
        (3.0, int, 3),
        ("off", bool, False),
        ("ON", bool, True),
        ("1e-3", float, 1e-3),
        ("none", float | None, None),
        ("2", float | None, 2.0),
        ("0.5, 0.9", tuple[float, float], (0.5, 0.9)),
        ([1, 2, 3], tuple[int, ...], (1, 2, 3)),
    ],
)
def test_convert_value(value, tp, expected):
    assert convert_value("k", value, tp) == expected


@pytest.mark.parametrize(
    ("value", "tp"),
    [
        (True, int),
        (2.5, int),
        ("inf", float),
        (True, float),
        (3, str),
        ("1,2,3", tuple[float, float]),
        (5, tuple[int, ...]),
    ],
)
def test_convert_value_rejects(value, tp):
    with pytest.raises(GankitError, match="^k "):
        convert_value("k", value, tp)


def test_a_component_may_suggest_a_run_setting_for_when_another_is_in_the_run():
    """``wgan.steps`` from a data source: its step budget for wgan runs, below what the user types."""
    from gankit.plugins import registry
    from gankit.resolve import resolve

    reg = registry()
    data = reg.get("data", "ring8")
    original = dict(data.defaults)
    try:
        data.defaults.update({"steps": 900, "wgan.steps": 300, "hinge.n_critic": 2})
        assert resolve(reg, {"data": "ring8"}).config.steps == 900
        wgan = resolve(reg, {"data": "ring8", "loss": "wgan"}).config
        assert wgan.steps == 300 and wgan.n_critic == 5  # wgan's own n_critic still wins over the data's
        assert resolve(reg, {"data": "ring8", "loss": "wgan", "steps": 50}).config.steps == 50
        assert resolve(reg, {"data": "ring8", "loss": "hinge"}).config.n_critic == 2
        # It refines the named component's own suggestion; a later component's still wins (clip's rates).
        data.defaults.update({"wgan.lr_d": 3e-4})
        assert resolve(reg, {"data": "ring8", "loss": "wgan"}).config.lr_d == 3e-4
        assert resolve(reg, {"data": "ring8", "loss": "wgan", "regs": ("clip",)}).config.lr_d == 5e-5
    finally:
        data.defaults.clear()
        data.defaults.update(original)


def test_suggested_components_apply_and_bring_their_own_suggestions():
    """An architecture suggesting a loss, scheme and regularizers: they join the run (and what they suggest
    applies too), while what the user typed wins."""
    reg = registry()
    arch, loss = reg.get("architecture", "dcgan"), reg.get("loss", "hinge")
    saved = dict(arch.defaults), dict(loss.defaults)
    try:
        arch.defaults.update({"loss": "hinge", "scheme": "conditional", "regs": ("sn",)})
        loss.defaults.update({"n_critic": 3})
        run = resolve(reg, {"arch": "dcgan"})
        assert (run.loss.name, run.scheme.name, [r.name for r in run.regularizers]) == ("hinge", "conditional", ["sn"])
        assert run.config.n_critic == 3  # the suggested loss's own suggestion
        typed = resolve(reg, {"arch": "dcgan", "loss": "wgan", "regs": ()})
        assert typed.loss.name == "wgan" and typed.regularizers == ()
        saved_run = resolve(reg, base={"arch": "dcgan", "loss": "bce", "scheme": "unconditional", "regs": []})
        assert saved_run.loss.name == "bce"  # a resumed run keeps what it was trained with
    finally:
        for spec, before in zip((arch, loss), saved):
            spec.defaults.clear()
            spec.defaults.update(before)


def test_suggestions_that_never_settle_are_one_line():
    reg = registry()
    hinge, lsgan = reg.get("loss", "hinge"), reg.get("loss", "lsgan")
    try:
        hinge.defaults["loss"] = "lsgan"
        lsgan.defaults["loss"] = "hinge"
        assert resolve(reg, {}).loss.name == "bce"  # neither is in a plain run
        reg.get("architecture", "mlp").defaults["loss"] = "hinge"
        with pytest.raises(GankitError, match="do not settle"):
            resolve(reg, {})
    finally:
        hinge.defaults.pop("loss", None)
        lsgan.defaults.pop("loss", None)
        reg.get("architecture", "mlp").defaults.pop("loss", None)


def test_an_architecture_and_a_scheme_may_share_a_name_and_their_options():
    """A family's `--arch x` and `--scheme x`: each gets its own config class, filled from one namespace."""
    import attrs

    from gankit.registry import ComponentSpec

    @attrs.frozen
    class ArchOptions:
        width: int = 8

    @attrs.frozen
    class SchemeOptions:
        mixing: float = 0.9
        width: int = 8

    reg = registry()
    reg.add(ComponentSpec("architecture", "fam", "test", object, ArchOptions))
    reg.add(ComponentSpec("scheme", "fam", "test", object, SchemeOptions))
    try:
        run = resolve(reg, {"arch": "fam", "scheme": "fam"}, ["fam.width=4", "scheme.mixing=0.5"])
        assert run.config_for(run.architecture) == ArchOptions(4)
        assert run.config_for(run.scheme) == SchemeOptions(0.5, 4)
        saved = run.describe()["components"]["fam"]
        assert saved["kind"] == "architecture, scheme" and saved["options"] == {"width": 4, "mixing": 0.5}
        again = resolve(reg, base=run.config.to_dict() | {"options": {"fam": saved["options"]}})
        assert again.config_for(again.architecture) == ArchOptions(4)
        with pytest.raises(GankitError, match="option for 'fam'"):
            resolve(reg, {"arch": "fam", "scheme": "fam"}, ["fam.depth=2"])
    finally:
        reg.remove_plugin("test")


def test_a_suggested_component_applies_before_the_one_that_suggested_it():
    """`--arch x` suggesting wgan and its own betas: the architecture's recipe refines wgan's settings."""
    reg = registry()
    arch = reg.get("architecture", "dcgan")
    saved = dict(arch.defaults)
    try:
        arch.defaults.update({"loss": "wgan", "betas": (0.5, 0.999), "lr_g": 3e-4})
        run = resolve(reg, {"arch": "dcgan"})
        assert run.loss.name == "wgan" and run.config.n_critic == 5  # wgan's own setting, not overridden
        assert run.config.betas == (0.5, 0.999) and run.config.lr_g == 3e-4  # the architecture's recipe wins
        typed = resolve(reg, {"arch": "dcgan", "loss": "hinge"})
        assert typed.loss.name == "hinge" and typed.config.betas == (0.5, 0.999)
    finally:
        arch.defaults.clear()
        arch.defaults.update(saved)
