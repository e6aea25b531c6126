"""The defaults: each is stylegan2-ada-pytorch's cifar recipe (train.py cfg_specs['cifar'], loss.py,
networks.py, training_loop.py), pinned here, and they reach a run through gankit's suggestions."""

from __future__ import annotations

import math

import pytest
from gankit.plugins import registry
from gankit.resolve import resolve
from gankit.testing import check_plugin

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
    assert c.ema_kimg == 500  # cifar ema=500
    assert c.ema_rampup == 0.05  # cifar ramp=0.05


def test_path_length_defaults():
    c = PathLengthConfig()
    # loss.py pl_weight=2, pl_decay=0.01, pl_batch_shrink=2; training_loop.py G_reg_interval=4
    assert (c.weight, c.decay, c.batch_shrink, c.every) == (2.0, 0.01, 2, 4)


def test_lazy_regularization_correction():
    # training_loop.py: mb_ratio = reg_interval / (reg_interval + 1); lr * mb_ratio; beta ** mb_ratio
    assert gankit_stylegan.lazy_ratio(4) == 0.8
    assert gankit_stylegan.G_LR == pytest.approx(0.0025 * 0.8)
    assert gankit_stylegan.D_LR == pytest.approx(0.0025 * 16 / 17)
    assert gankit_stylegan.D_BETAS == (0.0, pytest.approx(0.99 ** (16 / 17)))
    assert gankit_stylegan.G_BETAS == (0.0, pytest.approx(0.99**0.8))


@pytest.mark.parametrize("flag", ["arch", "scheme"])
def test_a_run_gets_the_recipe(flag):
    run = resolve(registry(), flags={flag: "stylegan2", "data": "digits"})
    cfg = run.config
    assert (cfg.arch, cfg.scheme, cfg.loss, cfg.regs) == ("stylegan2", "stylegan2", "bce", ("r1", "pl"))
    assert cfg.batch_size == 64  # cifar mb=64
    assert cfg.lr_g == pytest.approx(0.002)  # cifar lrate=0.0025 * 4/5
    assert cfg.lr_d == pytest.approx(0.0025 * 16 / 17)  # cifar lrate=0.0025 * 16/17
    assert cfg.betas[0] == 0.0 and math.isclose(cfg.betas[1], 0.99 ** (16 / 17))  # train.py betas=[0,0.99]
    assert cfg.n_critic == 1 and cfg.ema == 0.0
    r1 = run.component_configs["r1"]
    assert (r1.gamma, r1.every) == (0.01, 16)  # cifar gamma=0.01; training_loop.py D_reg_interval=16
    assert run.component_configs["bce"].variant == "non-saturating"  # loss.py softplus(-logits)
    assert run.component_configs["pl"].every == 4


def test_flags_and_options_win():
    run = resolve(
        registry(),
        flags={"arch": "stylegan2", "lr_g": 0.01, "batch_size": 8},
        set_items=["r1.gamma=1", "arch.w_dim=16", "scheme.ema_kimg=10"],
    )
    assert (run.config.lr_g, run.config.batch_size) == (0.01, 8)
    assert run.component_configs["r1"].gamma == 1.0
    options = run.component_configs["stylegan2"]  # one config for the architecture and the scheme
    assert (options.w_dim, options.ema_kimg) == (16, 10.0)


def test_cpu_preset_is_shipped():
    import tomllib

    preset = tomllib.loads(gankit_stylegan.CPU_PRESET.read_text())
    assert (preset["arch"], preset["data"], preset["resolution"]) == ("stylegan2", "digits", 16)
