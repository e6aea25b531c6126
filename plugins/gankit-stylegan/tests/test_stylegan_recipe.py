"""The defaults: each is stylegan2-ada-pytorch's cifar recipe (train.py cfg_specs['cifar'], loss.py,
networks.py, training_loop.py), pinned here, and they reach a run through gankit's suggestions."""

from __future__ import annotations

import math

import pytest
from gankit import checkpoint
from gankit.plugins import registry
from gankit.resolve import resolve
from gankit.testing import check_plugin, run_cli

import gankit_stylegan
from gankit_stylegan import PathLengthConfig, StyleGAN2Config


def test_plugin_loads_cleanly_without_importing_torch():
    check_plugin(gankit_stylegan)


def test_architecture_and_scheme_defaults_are_the_cifar_recipe():
    c = StyleGAN2Config()
    assert c.mapping_layers == 2  # cifar map=2
    assert c.mapping_lr_multiplier == 0.01  # networks.py MappingNetwork
    assert c.w_avg_beta == 0.995  # networks.py MappingNetwork
    assert c.mbstd_group == 32  # cifar mbstd=32
    assert c.mbstd_channels == 1  # networks.py DiscriminatorEpilogue
    assert c.style_mixing == 0.9  # loss.py style_mixing_prob


def test_path_length_defaults():
    c = PathLengthConfig()
    # loss.py pl_weight=2, pl_decay=0.01, pl_batch_shrink=2; training_loop.py G_reg_interval=4
    assert (c.weight, c.decay, c.batch_shrink, c.every) == (2.0, 0.01, 2, 4)


@pytest.mark.parametrize("flag", ["arch", "scheme"])
def test_a_run_gets_the_recipe(flag):
    run = resolve(registry(), flags={flag: "stylegan2", "data": "digits"})
    cfg = run.config
    assert (cfg.arch, cfg.scheme, cfg.loss, cfg.regs) == ("stylegan2", "stylegan2", "bce", ("r1", "pl"))
    assert cfg.batch_size == 64  # cifar mb=64
    assert (cfg.lr_g, cfg.lr_d) == (0.0025, 0.0025)  # cifar lrate=0.0025
    assert cfg.betas == (0.0, 0.99)  # train.py betas=[0,0.99]
    assert cfg.lazy_correction  # training_loop.py mb_ratio, applied per optimizer by the engine
    assert cfg.n_critic == 1
    # cifar ema=500 (kimg) at mb=64: a half-life of 500000 / 64 steps; ramp=0.05
    assert cfg.ema == 0.5 ** (64 / 500_000)
    assert math.isclose(math.log(0.5) / math.log(cfg.ema), 500_000 / 64)
    assert (cfg.ema_rampup, cfg.ema_start) == (0.05, 0)
    r1 = run.component_configs["r1"]
    assert (r1.gamma, r1.every) == (0.01, 16)  # cifar gamma=0.01; training_loop.py D_reg_interval=16
    assert run.component_configs["bce"].variant == "non-saturating"  # loss.py softplus(-logits)
    assert run.component_configs["pl"].every == 4


def test_flags_and_options_win():
    run = resolve(
        registry(),
        flags={"arch": "stylegan2", "lr_g": 0.01, "batch_size": 8, "ema": 0.9},
        set_items=["r1.gamma=1", "arch.w_dim=16", "scheme.style_mixing=0.5"]
        + ["ema_rampup=none", "lazy_correction=false"],
    )
    cfg = run.config
    assert (cfg.lr_g, cfg.batch_size, cfg.ema, cfg.ema_rampup, cfg.lazy_correction) == (0.01, 8, 0.9, None, False)
    assert run.component_configs["r1"].gamma == 1.0
    options = run.component_configs["stylegan2"]  # one config for the architecture and the scheme
    assert (options.w_dim, options.style_mixing) == (16, 0.5)


def _adam(state, name: str) -> tuple[float, tuple[float, float]]:
    """The learning rate and betas of a checkpoint's optimizer (one setting for all its groups)."""
    groups = state.optimizers[name]["param_groups"]
    assert len({(g["lr"], tuple(g["betas"])) for g in groups}) == 1
    return groups[0]["lr"], tuple(groups[0]["betas"])


def test_the_engine_applies_the_lazy_correction_per_optimizer(gankit_plugin, tmp_path):
    # training_loop.py: mb_ratio = reg_interval / (reg_interval + 1); lr * mb_ratio; beta ** mb_ratio,
    # G with G_reg_interval=4 (pl), D with D_reg_interval=16 (r1), each with its own betas.
    gankit_plugin(gankit_stylegan)
    tiny = ["--set", "arch.channel_base=64", "--set", "arch.channel_max=16", "--set", "arch.w_dim=16", "--z-dim", "8"]
    common = ["run", "--arch", "stylegan2", "--data", "digits", *tiny, "--batch-size", "8", "--steps", "1"]
    run_cli(*common, "--device", "cpu", "-q", "--out", str(tmp_path), "--name", "recipe")
    state = checkpoint.load(checkpoint.find_checkpoint(tmp_path / "recipe"))
    lr, betas = _adam(state, "generator")
    assert lr == pytest.approx(0.0025 * 0.8) and betas[0] == 0.0 and betas[1] == pytest.approx(0.99**0.8)
    lr, betas = _adam(state, "discriminator")
    assert lr == pytest.approx(0.0025 * 16 / 17) and betas[0] == 0.0 and betas[1] == pytest.approx(0.99 ** (16 / 17))
    assert set(state.ema) == {"generator"}  # the engine's EMA of G
    # The correction follows the intervals: R1 every 4 D steps gives D G's correction.
    run_cli(*common, "--set", "r1.every=4", "--device", "cpu", "-q", "--out", str(tmp_path), "--name", "every4")
    state = checkpoint.load(checkpoint.find_checkpoint(tmp_path / "every4"))
    lr, betas = _adam(state, "discriminator")
    assert lr == pytest.approx(0.0025 * 0.8) and betas == (0.0, pytest.approx(0.99**0.8))


def test_cpu_preset_is_shipped():
    import tomllib

    preset = tomllib.loads(gankit_stylegan.CPU_PRESET.read_text())
    assert (preset["arch"], preset["data"], preset["resolution"]) == ("stylegan2", "digits", 16)


def test_cpu_preset_is_the_cifar_recipe_with_cifar_s_own_mixing_and_path_length():
    # The preset turns off what cifar turns off (train.py: pl_weight=0, style_mixing_prob=0; measured
    # to matter on the digits, see the preset's comments) and keeps the rest of the recipe.
    run = resolve(registry(), config_file=str(gankit_stylegan.CPU_PRESET))
    cfg = run.config
    assert cfg.regs == ("r1",) and run.component_configs["stylegan2"].style_mixing == 0.0
    assert (cfg.loss, cfg.lr_g, cfg.lr_d, cfg.betas, cfg.n_critic) == ("bce", 0.0025, 0.0025, (0.0, 0.99), 1)
    assert (cfg.ema, cfg.ema_rampup, cfg.lazy_correction) == (0.5 ** (64 / 500_000), 0.05, True)
    assert (run.component_configs["r1"].gamma, run.component_configs["r1"].every) == (0.01, 16)
