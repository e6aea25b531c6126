"""The recipe of the authors' code (github.com/junyanz/pytorch-CycleGAN-and-pix2pix), value by value:
each assertion names where the value comes from."""

from __future__ import annotations

import json
import random

import pytest
import torch
import torch.nn.functional as F
from gankit import DataDescription, Field
from gankit.testing import create_component, run_cli

import gankit_cyclegan
from gankit_cyclegan.networks import (
    CycleGANNetworks,
    PatchDiscriminator,
    ResnetGenerator,
    default_blocks,
    default_layers,
    patch_grid,
)
from gankit_cyclegan.scheme import CycleGAN, ImagePool


def test_loss_weights_and_pool_defaults():
    cfg = gankit_cyclegan.CycleGANConfig()
    assert (cfg.lambda_a, cfg.lambda_b) == (10.0, 10.0)  # cycle_gan_model.py: --lambda_A 10, --lambda_B 10
    assert cfg.lambda_identity == 0.5  # --lambda_identity 0.5 (identity weight 0.5 * lambda)
    assert cfg.pool_size == 50  # train_options.py: --pool_size 50
    assert (cfg.ngf, cfg.ndf) == (64, 64)  # base_options.py: --ngf 64, --ndf 64
    assert cfg.gan_weight == 2.0  # gankit's lsgan G term is half of MSELoss(D, 1): see test_generator_loss_*


def test_optimizer_and_schedule_suggestions():
    recipe = gankit_cyclegan.RECIPE
    assert recipe["lr_g"] == recipe["lr_d"] == 2e-4  # train_options.py: --lr 0.0002
    assert recipe["betas"] == (0.5, 0.999)  # --beta1 0.5; cycle_gan_model.py: betas=(opt.beta1, 0.999)
    # networks.py get_scheduler('linear'): --n_epochs 100 at the base rate, then --n_epochs_decay 100 to 0.
    assert (recipe["lr_schedule"], recipe["lr_decay_start"]) == ("linear", 0.5)
    assert recipe["loss"] == "lsgan"  # train_options.py: --gan_mode lsgan
    assert recipe["regs"] == ()


def test_network_sizes_by_resolution():
    # networks.py define_G: resnet_9blocks (256 px), resnet_6blocks (128 px); smaller: see default_blocks.
    assert [default_blocks(s) for s in (8, 16, 32, 64, 128, 256, 512)] == [1, 2, 4, 6, 6, 9, 9]
    # define_D 'basic': n_layers 3, the 70x70 PatchGAN: 30x30 scores at 256 px.
    assert default_layers(256) == 3 and patch_grid(256, 3) == 30
    assert [default_layers(s) for s in (8, 16, 32, 64)] == [1, 1, 2, 3]
    assert all(patch_grid(s, default_layers(s)) >= 2 for s in (8, 16, 32, 64, 128))


def _receptive_field(layers) -> int:
    size = 1
    for m in reversed([m for m in layers if isinstance(m, torch.nn.Conv2d)]):
        size = (size - 1) * m.stride[0] + m.kernel_size[0]
    return size


def test_patchgan_is_the_70x70_one_and_networks_use_instance_norm():
    D = PatchDiscriminator(3, 64, 3)
    assert _receptive_field(D.model) == 70
    assert D(torch.zeros(1, 3, 256, 256)).shape == (1, 30, 30)
    G = ResnetGenerator(3, 3, 64, 9)
    norms = [m for m in G.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    # --norm instance: no affine parameters and no running statistics (get_norm_layer).
    assert norms and all(not m.affine and not m.track_running_stats for m in norms)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in [*G.modules(), *D.modules()])
    assert sum(isinstance(m, torch.nn.ReflectionPad2d) for m in G.modules()) == 2 + 2 * 9


def test_weights_start_from_normal_002():
    arch = CycleGANNetworks(gankit_cyclegan.CycleGANConfig(ngf=16))
    image = Field((1, 16, 16), "image")
    data = DataDescription.of("t", {"a": image, "b": image}, main="b", streams=(("a",), ("b",)))
    from gankit import NetworkRequest

    G = arch.build(NetworkRequest("translator", data, {"a": image}, {"b": image}))
    weights = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, torch.nn.Conv2d)])
    assert abs(float(weights.detach().std()) - 0.02) < 0.002  # init_weights: init_type 'normal', init_gain 0.02


class _Step:
    """Just enough of gankit's StepContext to run one CycleGAN step outside the engine."""

    def __init__(self, nets, loss, batch):
        self.nets, self.loss, self._batch = nets, loss, batch
        self.losses = {}

    def next_batch(self):
        return self._batch

    def frozen(self, net):
        import contextlib

        return contextlib.nullcontext()

    def autocast(self):
        import contextlib

        return contextlib.nullcontext()

    def generator_loss(self, fake, real=None):
        return self.loss.generator_loss(fake)

    def generator_penalty(self, G, inputs):
        return None

    def discriminator_penalty(self, real, fake, D, conditions=()):
        return None

    def optimize(self, name, loss):
        self.losses[name] = loss.detach()
        loss.backward()  # as the engine does: D's loss must not reach back into G's freed graph
        for net in self.nets.values():
            net.zero_grad(set_to_none=True)


def test_generator_and_discriminator_losses_are_the_authors():
    """With gankit's lsgan, both losses equal cycle_gan_model.py's backward_G and backward_D_basic."""
    torch.manual_seed(0)
    G_ab, G_ba = ResnetGenerator(1, 1, 4, 1), ResnetGenerator(1, 1, 4, 1)
    D_a, D_b = PatchDiscriminator(1, 4, 1), PatchDiscriminator(1, 4, 1)
    real_a, real_b = torch.rand(3, 1, 16, 16) * 2 - 1, torch.rand(3, 1, 16, 16) * 2 - 1
    scheme = CycleGAN(gankit_cyclegan.CycleGANConfig())
    t = _Step(
        {"g_ab": G_ab, "g_ba": G_ba, "d_a": D_a, "d_b": D_b},
        create_component("loss", "lsgan"),
        {"a": real_a, "b": real_b},
    )
    scheme.step(t)

    # The authors' forms (their G_A is g_ab, G_B is g_ba, D_A judges B and D_B judges A).
    def gan(scores, target):
        return F.mse_loss(scores, torch.full_like(scores, float(target)))  # GANLoss('lsgan') = MSELoss

    with torch.no_grad():
        fake_b, fake_a = G_ab(real_a), G_ba(real_b)
        loss_g = (
            gan(D_b(fake_b), 1)
            + gan(D_a(fake_a), 1)
            + F.l1_loss(G_ba(fake_b), real_a) * 10
            + F.l1_loss(G_ab(fake_a), real_b) * 10
            + F.l1_loss(G_ab(real_b), real_b) * 10 * 0.5
            + F.l1_loss(G_ba(real_a), real_a) * 10 * 0.5
        )
        # The pools are not full yet: D sees this step's fakes.
        loss_d = sum((gan(D(r), 1) + gan(D(f), 0)) * 0.5 for D, r, f in ((D_a, real_a, fake_a), (D_b, real_b, fake_b)))
    assert torch.allclose(t.losses["generator"], loss_g, rtol=1e-5)
    assert torch.allclose(t.losses["discriminator"], loss_d, rtol=1e-5)


def test_image_pool_stores_fifty_then_swaps_half_the_time():
    pool = ImagePool(50)  # util/image_pool.py
    first = torch.arange(50.0).reshape(50, 1, 1, 1)
    assert torch.equal(pool.query(first), first) and pool.count == 50  # filling: each fake passes through
    random.seed(1)
    fresh = torch.arange(1000.0, 3000.0).reshape(2000, 1, 1, 1)
    out = pool.query(fresh)
    from_pool = (out != fresh).flatten()
    assert 0.45 < float(from_pool.float().mean()) < 0.55  # p = random.uniform(0, 1) > 0.5
    assert pool.count == 50 and pool.images.shape == (50, 1, 1, 1)


def test_image_pool_draws_as_the_authors_do():
    """The same Python random calls in the same order: the authors' pool and this one agree fake for fake."""

    class Theirs:  # util/image_pool.py ImagePool.query, condensed
        def __init__(self, size):
            self.size, self.images = size, []

        def query(self, images):
            out = []
            for image in images:
                image = image[None]
                if len(self.images) < self.size:
                    self.images.append(image)
                    out.append(image)
                elif random.uniform(0, 1) > 0.5:
                    i = random.randint(0, self.size - 1)
                    out.append(self.images[i].clone())
                    self.images[i] = image
                else:
                    out.append(image)
            return torch.cat(out)

    ours, theirs = ImagePool(5), Theirs(5)
    batches = [torch.randn(3, 1, 2, 2) for _ in range(8)]
    random.seed(7)
    expected = [theirs.query(b) for b in batches]
    random.seed(7)
    assert all(torch.equal(ours.query(b), e) for b, e in zip(batches, expected, strict=True))


def test_image_pool_state_round_trips_with_its_fill_count():
    pool = ImagePool(4)
    pool.query(torch.randn(3, 1, 2, 2))
    state = pool.state("pool_a")
    assert int(state["pool_a_count"]) == 3 and state["pool_a_images"].shape == (4, 1, 2, 2)
    again = ImagePool(4)
    again.load_state(state, "pool_a")
    assert again.count == 3 and torch.equal(again.images, pool.images)
    with pytest.raises(ValueError, match="pool_size is 8"):
        ImagePool(8).load_state(state, "pool_a")


def test_a_run_follows_the_recipe(tmp_path):
    """--data cyclegan-digits brings the arch, scheme, loss and rates; the rate is constant for the first half
    of the run, then falls linearly (gankit's `linear` schedule from lr_decay_start 0.5)."""
    flags = ["--steps", "4", "--log-every", "1", "--device", "cpu", "-q", "--out", str(tmp_path), "--name", "r"]
    tiny = ["--set", "cyclegan.ngf=4", "--set", "cyclegan.ndf=4", "--resolution", "8"]
    run_cli("run", "--data", "cyclegan-digits", *flags, *tiny)
    config = json.loads((tmp_path / "r" / "config.json").read_text())["run"]
    assert (config["arch"], config["scheme"], config["loss"], config["regs"]) == ("cyclegan", "cyclegan", "lsgan", [])
    assert (config["lr_g"], config["lr_d"], config["betas"]) == (2e-4, 2e-4, [0.5, 0.999])
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    rates = [r["lr/generator"] for r in records if "lr/generator" in r]
    assert rates == pytest.approx([2e-4, 2e-4, 2e-4, 1e-4])
    assert all(r["lr/discriminator"] == r["lr/generator"] for r in records if "lr/generator" in r)


def test_without_pool_or_identity_a_step_still_trains():
    """--set cyclegan.pool_size=0 (D sees this step's fakes, detached) and lambda_identity=0."""
    torch.manual_seed(0)
    nets = {"g_ab": ResnetGenerator(1, 1, 4, 1), "g_ba": ResnetGenerator(1, 1, 4, 1)}
    nets |= {"d_a": PatchDiscriminator(1, 4, 1), "d_b": PatchDiscriminator(1, 4, 1)}
    batch = {"a": torch.rand(2, 1, 8, 8) * 2 - 1, "b": torch.rand(2, 1, 8, 8) * 2 - 1}
    t = _Step(nets, create_component("loss", "lsgan"), batch)
    scheme = CycleGAN(gankit_cyclegan.CycleGANConfig(pool_size=0, lambda_identity=0.0))
    metrics = scheme.step(t)
    assert set(t.losses) == {"generator", "discriminator"} and "identity" not in metrics
    assert scheme.state() == {"pool_a_count": torch.tensor(0), "pool_b_count": torch.tensor(0)}
