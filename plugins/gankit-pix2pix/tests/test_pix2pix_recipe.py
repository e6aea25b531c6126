"""The pix2pix recipe: every value pinned to its source, the suggestions as a run resolves them, and the
scheme's losses computed as in Pix2PixModel (D's loss halved, G's = GAN + 100 * L1)."""

from __future__ import annotations

import contextlib
import json

import pytest
import torch
import torch.nn.functional as F
from gankit.testing import check_plugin, create_component, run_cli

import gankit_pix2pix
from gankit_pix2pix import RECIPE, Pix2PixConfig
from gankit_pix2pix.scheme import D_LOSS_SCALE

SMALL = ("--set", "pix2pix.ngf=8", "--set", "pix2pix.ndf=8")


def test_plugin_loads_cleanly_without_importing_torch():
    check_plugin(gankit_pix2pix)


def test_recipe_values_and_their_sources():
    # options/train_options.py: --lr 0.0002, --beta1 0.5; pix2pix_model.py: Adam(betas=(opt.beta1, 0.999))
    assert RECIPE["lr_g"] == RECIPE["lr_d"] == 2e-4
    assert RECIPE["betas"] == (0.5, 0.999)
    # pix2pix_model.py: gan_mode 'vanilla' (BCE on logits), one D step then one G step, no regularizer
    assert (RECIPE["loss"], RECIPE["n_critic"], RECIPE["regs"], RECIPE["scheme"]) == ("bce", 1, (), "pix2pix")
    # --n_epochs 100 + --n_epochs_decay 100, --lr_policy linear: linear decay over the second half
    assert (RECIPE["epochs"], RECIPE["lr_schedule"], RECIPE["lr_decay_start"]) == (200, "linear", 0.5)
    # --batch_size 1 in the original; 16 here (see RECIPE's comment: eval-mode BatchNorm, CPU throughput)
    assert RECIPE["batch_size"] == 16
    assert RECIPE["ema"] == 0.0
    config = Pix2PixConfig()
    # --lambda_L1 100; --ngf 64 --ndf 64; norm 'batch'; dropout unless --no_dropout; --init_gain 0.02
    assert (config.l1, config.gan) == (100.0, 1.0)
    assert (config.ngf, config.ndf, config.norm, config.dropout, config.init_gain) == (64, 64, "batch", True, 0.02)
    assert config.d_layers == 0  # sized to the resolution; 3 (netD 'basic') at 256 px, see test_pix2pix_networks
    # pix2pix_model.py: loss_D = (loss_D_fake + loss_D_real) * 0.5
    assert D_LOSS_SCALE == 0.5


def _config(folder):
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def test_a_run_resolves_the_recipe_from_the_architecture(gankit_plugin, tmp_path):
    gankit_plugin(gankit_pix2pix)
    common = ("--steps", "1", "--device", "cpu", "-q", "--out", str(tmp_path), *SMALL)
    run_cli("run", "--arch", "pix2pix", "--data", "pix2pix-digits", *common, "--name", "arch")
    # The data set alone brings the scheme, which brings the architecture (and the recipe with it).
    run_cli("run", "--data", "pix2pix-digits", *common, "--name", "data")
    for name in ("arch", "data"):
        saved = _config(tmp_path / name)
        run = saved["run"]
        assert (run["arch"], run["scheme"], run["loss"], run["data"], run["regs"]) == (
            "pix2pix",
            "pix2pix",
            "bce",
            "pix2pix-digits",
            [],
        )
        for key in ("lr_g", "lr_d", "n_critic", "batch_size", "lr_schedule", "lr_decay_start", "ema"):
            assert run[key] == RECIPE[key], key
        assert tuple(run["betas"]) == RECIPE["betas"]
        assert run["epochs"] is None  # an explicit --steps beats the suggested 200 epochs
        options = saved["components"]["pix2pix"]["options"]  # one table for the arch and scheme named pix2pix
        assert (options["ngf"], options["ndf"], options["l1"]) == (8, 8, 100.0)


def test_explicit_flags_win_over_the_suggestions(gankit_plugin, tmp_path):
    gankit_plugin(gankit_pix2pix)
    flags = ("--arch", "pix2pix", "--lr-g", "1e-3", "--batch-size", "4", "--loss", "lsgan", "--set", "scheme.l1=10")
    run_cli("run", *flags, "--steps", "1", "--device", "cpu", "-q", "--out", str(tmp_path), "--name", "x", *SMALL)
    saved = _config(tmp_path / "x")
    assert (saved["run"]["lr_g"], saved["run"]["batch_size"], saved["run"]["loss"]) == (1e-3, 4, "lsgan")
    assert saved["components"]["pix2pix"]["options"]["l1"] == 10.0


class _Step:
    """Just enough of gankit's StepContext to run the scheme's step once and see its losses."""

    def __init__(self, nets, loss, batch):
        self.nets, self.loss, self.batch, self.n_critic = nets, loss, batch, 1
        self.optimized: dict[str, torch.Tensor] = {}

    def next_batch(self):
        return self.batch

    def autocast(self):
        return torch.autocast("cpu", enabled=False)

    def frozen(self, net):
        return contextlib.nullcontext()

    def generator_loss(self, fake_scores, real_scores=None):
        return self.loss.generator_loss(fake_scores)

    def discriminator_penalty(self, *args, **kwargs):
        return None

    def generator_penalty(self, *args, **kwargs):
        return None

    def optimize(self, name, loss):
        self.optimized[name] = loss.detach()


@pytest.mark.parametrize(("l1", "gan"), [(100.0, 1.0), (10.0, 0.0)])
def test_the_step_halves_d_loss_and_weights_l1(gankit_plugin, l1, gan):
    gankit_plugin(gankit_pix2pix)
    torch.manual_seed(0)
    scheme = create_component("scheme", "pix2pix", {"l1": l1, "gan": gan})
    loss = create_component("loss", "bce")
    G = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding=1), torch.nn.Tanh())
    D = torch.nn.Conv2d(2, 1, 4, 2, 1)

    def pair_d(target, source):
        return D(torch.cat([target, source], 1))

    source, target = torch.rand(4, 1, 8, 8) * 2 - 1, torch.rand(4, 1, 8, 8) * 2 - 1
    t = _Step({"translator": G, "discriminator": pair_d}, loss, {"source": source, "target": target})
    metrics = scheme.step(t)
    with torch.no_grad():
        fake = G(source)
        real_scores, fake_scores = pair_d(target, source), pair_d(fake, source)
    assert real_scores.shape == (4, 1, 4, 4)  # bce works on per-patch scores
    expected_d = 0.5 * (F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean())
    expected_l1 = (fake - target).abs().mean()
    expected_g = gan * F.softplus(-fake_scores).mean() + l1 * expected_l1
    assert torch.allclose(t.optimized["discriminator"], expected_d)
    assert torch.allclose(t.optimized["generator"], expected_g)
    assert torch.allclose(metrics["l1"], expected_l1)


def test_the_digits_task_suggests_its_cpu_preset_and_other_data_the_recipe(gankit_plugin):
    from gankit.plugins import registry
    from gankit.resolve import resolve

    gankit_plugin(gankit_pix2pix)
    digits = resolve(registry(), {"data": "pix2pix-digits"})
    options = digits.component_configs["pix2pix"]
    assert (options.ngf, options.ndf, digits.config.epochs) == (32, 32, 20.0)
    assert (options.l1, options.gan, digits.config.lr_g) == (100.0, 1.0, RECIPE["lr_g"])  # the recipe otherwise
    # Flags beat the preset; other data keeps the paper's widths and 200 epochs.
    assert resolve(registry(), {"data": "pix2pix-digits", "epochs": 3.0}).config.epochs == 3.0
    folder = resolve(registry(), {"data": "pix2pix-folder", "arch": "pix2pix"})
    assert (folder.component_configs["pix2pix"].ngf, folder.config.epochs) == (64, 200)
