"""The StarGAN recipe as yunjey/stargan publishes it, pinned value by value, and the networks' contracts."""

from __future__ import annotations

import attrs
import pytest
import torch
from gankit import DataDescription, Field, GankitError, NetworkRequest, UnsupportedRequest
from gankit.testing import check_component, check_plugin, create_component

import gankit_stargan
from gankit_stargan import RECIPE, StarGANConfig
from gankit_stargan.networks import Discriminator, Generator, StarGANArchitecture, default_repeat_num
from gankit_stargan.scheme import StarGAN, classification_loss

SMALL = {"g_conv_dim": 8, "d_conv_dim": 8, "g_repeat_num": 1}


def test_plugin_loads_cleanly_without_importing_torch():
    check_plugin(gankit_stargan)


def test_recipe_values_are_those_of_the_original_code():
    # main.py: --lambda_cls 1 --lambda_rec 10 --lambda_gp 10 --n_critic 5 --g_lr/--d_lr 0.0001
    # --beta1 0.5 --beta2 0.999 --batch_size 16 --num_iters 200000 --num_iters_decay 100000
    # --g_conv_dim/--d_conv_dim 64 --g_repeat_num/--d_repeat_num 6 (at --image_size 128)
    config = StarGANConfig()
    assert (config.lambda_cls, config.lambda_rec) == (1.0, 10.0)
    assert (config.g_conv_dim, config.d_conv_dim, config.g_repeat_num) == (64, 64, 6)
    assert default_repeat_num(128, 128) == 6
    assert RECIPE["gp.weight"] == 10.0
    assert RECIPE["n_critic"] == 5
    assert (RECIPE["lr_g"], RECIPE["lr_d"], RECIPE["betas"]) == (1e-4, 1e-4, (0.5, 0.999))
    assert (RECIPE["lr_schedule"], RECIPE["lr_decay_start"]) == ("linear", 0.5)  # 100000 of 200000 iterations
    assert (RECIPE["loss"], RECIPE["regs"], RECIPE["scheme"], RECIPE["batch_size"]) == ("wgan", ("gp",), "stargan", 16)


def test_networks_have_the_original_parameter_counts():
    # Counted on model.py's Generator(64, c_dim, 6) and Discriminator(128, 64, c_dim, 6) (3-channel 128 px).
    def count(net):
        return sum(p.numel() for p in net.parameters())

    assert count(Generator(3, 5)) == 8_430_528
    assert count(Discriminator((3, 128, 128), 5)) == 44_762_048
    assert count(Generator(3, 8)) == 8_439_936
    assert count(Discriminator((3, 128, 128), 8)) == 44_786_624
    # No running statistics: G normalizes each image by its own (as model.py does in training mode).
    assert not [b for b in Generator(1, 4, 8, 1).buffers()]


def test_generator_tiles_the_domains_as_channels_and_discriminator_has_two_heads():
    G, D = Generator(1, 4, 8, 1), Discriminator((1, 16, 16), 4, 8)
    assert G.main[0].in_channels == 1 + 4
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    out = G(x, torch.tensor([[1.0, 0, 0, 0]] * 3))
    assert out.shape == x.shape and out.abs().max() <= 1
    scores, logits = D(x)
    assert scores.shape == (3, 2, 2) and logits.shape == (3, 4)  # PatchGAN map, one logit per domain


def test_classification_losses_follow_solver_py():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -3.0]])
    multi = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    # CelebA: F.binary_cross_entropy_with_logits(logit, target, size_average=False) / logit.size(0)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, multi, reduction="sum") / 2
    assert torch.allclose(classification_loss(logits, multi, single=False), expected)
    # RaFD: F.cross_entropy(logit, label) on the domain index
    onehot = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([2, 1]))
    assert torch.allclose(classification_loss(logits, onehot, single=True), expected)


def _requests(shape, count):
    image = Field(shape, "image", value_range=(0.0, 1.0))
    domains = Field((count,), "attributes")
    data = DataDescription.of(f"domains{shape[-1]}", {"x": image, "attributes": domains}, main="x")
    return StarGAN(StarGANConfig()).networks(data, 8)


def test_architecture_conforms_for_translators_and_two_headed_discriminators():
    requests = [*_requests((1, 16, 16), 4).values(), *_requests((3, 32, 32), 3).values()]
    report = check_component("arch", "stargan", SMALL, requests=requests, patch_scores=True, run=False)
    assert len(report.passed) >= 4


def test_architecture_refuses_what_it_cannot_build():
    arch = StarGANArchitecture(StarGANConfig(**SMALL))
    gray = DataDescription("gray", (1, 16, 16), "image", value_range=(0.0, 1.0))
    for request in (NetworkRequest.generator(gray, 8), NetworkRequest.discriminator(gray)):
        with pytest.raises(UnsupportedRequest, match="translator\\(image, attributes\\)"):
            arch.build(request)
    odd = _requests((1, 10, 10), 2)["generator"]
    with pytest.raises(UnsupportedRequest, match="multiples of 4"):
        arch.build(odd)


def test_scheme_refuses_data_without_attributes():
    scheme = create_component("scheme", "stargan")
    digits = DataDescription("digits", (1, 8, 8), "image", value_range=(0.0, 1.0), num_classes=10)
    with pytest.raises(GankitError, match="needs images with one attributes field.*stargan-digits") as error:
        scheme.networks(digits, 8)
    assert "\n" not in str(error.value)


def test_options_are_validated():
    with pytest.raises((ValueError, TypeError)):
        StarGANConfig(classification="both")
    with pytest.raises((ValueError, TypeError)):
        StarGANConfig(d_repeat_num=0)
    assert attrs.evolve(StarGANConfig(), d_repeat_num=3).d_repeat_num == 3
