"""The bundled adversarial losses, built through the registry as a run builds them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit import Loss
from gankit.plugins import registry

torch.set_num_threads(1)

LOSSES = ["bce", "bce-minimax", "wgan", "hinge", "lsgan"]


def _loss(name: str) -> Loss:
    base, _, variant = name.partition("-")
    spec = registry().get("loss", base)
    options = {"variant": variant} if variant else {}
    loss = spec.create(spec.make_config(options))
    assert isinstance(loss, Loss)
    return loss


@pytest.mark.parametrize("name", LOSSES)
def test_losses_are_finite_scalars_with_gradients(name):
    loss = _loss(name)
    torch.manual_seed(0)
    real = torch.randn(16, requires_grad=True)
    fake = torch.randn(16, requires_grad=True)
    d_loss = loss.discriminator_loss(real, fake)
    g_loss = loss.generator_loss(fake)
    for value in (d_loss, g_loss):
        assert value.dim() == 0
        assert torch.isfinite(value)
    d_real, d_fake = torch.autograd.grad(d_loss, (real, fake))
    (g_fake,) = torch.autograd.grad(g_loss, fake)
    for grad in (d_real, d_fake, g_fake):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("name", LOSSES)
def test_losses_stay_finite_for_extreme_scores(name):
    loss = _loss(name)
    big = torch.full((4,), 200.0)
    assert torch.isfinite(loss.discriminator_loss(big, -big))
    assert torch.isfinite(loss.discriminator_loss(-big, big))
    assert torch.isfinite(loss.generator_loss(big)) and torch.isfinite(loss.generator_loss(-big))


@pytest.mark.parametrize("name", LOSSES)
def test_discriminator_loss_rewards_telling_real_from_fake(name):
    loss = _loss(name)
    high, low = torch.full((8,), 2.0), torch.full((8,), -2.0)
    assert loss.discriminator_loss(high, low) < loss.discriminator_loss(low, high)


@pytest.mark.parametrize("name", LOSSES)
def test_generator_loss_rewards_fooling_the_discriminator(name):
    loss = _loss(name)
    fooled, caught = torch.full((8,), 1.0), torch.full((8,), -2.0)
    assert loss.generator_loss(fooled) < loss.generator_loss(caught)


def test_bce_matches_torch_bce_with_logits():
    torch.manual_seed(1)
    real, fake = torch.randn(32) * 3, torch.randn(32) * 3
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(32), torch.zeros(32)
    non_saturating, minimax = _loss("bce"), _loss("bce-minimax")
    expected_d = bce(real, ones) + bce(fake, zeros)
    torch.testing.assert_close(non_saturating.discriminator_loss(real, fake), expected_d)
    torch.testing.assert_close(minimax.discriminator_loss(real, fake), expected_d)
    torch.testing.assert_close(non_saturating.generator_loss(fake), bce(fake, ones))
    torch.testing.assert_close(minimax.generator_loss(fake), -bce(fake, zeros))


def test_bce_default_is_non_saturating():
    loss = _loss("bce")
    # Non-saturating: a strong gradient where D confidently rejects the fake.
    fake = torch.full((4,), -10.0, requires_grad=True)
    (grad,) = torch.autograd.grad(loss.generator_loss(fake), fake)
    assert grad.abs().mean() > 0.2
    minimax = _loss("bce-minimax")
    fake = torch.full((4,), -10.0, requires_grad=True)
    (grad,) = torch.autograd.grad(minimax.generator_loss(fake), fake)
    assert grad.abs().mean() < 1e-3  # saturates


def test_wgan_hinge_lsgan_values():
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 0.5])
    torch.testing.assert_close(_loss("wgan").discriminator_loss(real, fake), torch.tensor(-0.25 - 1.0))
    torch.testing.assert_close(_loss("wgan").generator_loss(fake), torch.tensor(0.25))
    # hinge: relu(1 - real) = [0, 1], relu(1 + fake) = [0, 1.5]
    torch.testing.assert_close(_loss("hinge").discriminator_loss(real, fake), torch.tensor(0.5 + 0.75))
    torch.testing.assert_close(_loss("hinge").generator_loss(fake), torch.tensor(0.25))
    # lsgan: 0.5 * mean((real-1)^2) + 0.5 * mean(fake^2) = 0.5 * 1 + 0.5 * 0.625
    torch.testing.assert_close(_loss("lsgan").discriminator_loss(real, fake), torch.tensor(0.5 + 0.3125))
    torch.testing.assert_close(_loss("lsgan").generator_loss(fake), torch.tensor(0.5 * (4 + 0.25) / 2))


@pytest.mark.parametrize("name", LOSSES)
def test_tiny_gan_moves_generator_to_the_data(name):
    """A 1-D GAN: real ~ N(3, 0.5), G(z) = mu + 0.5 z with mu starting at 0; D a small MLP."""
    loss = _loss(name)
    torch.manual_seed(0)
    mu = nn.Parameter(torch.zeros(1))
    D = nn.Sequential(nn.Linear(1, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Flatten(0))
    opt_g = torch.optim.Adam([mu], lr=0.02, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), lr=0.02, betas=(0.5, 0.9))
    for _ in range(300):
        real = 3 + 0.5 * torch.randn(64, 1)
        fake = mu + 0.5 * torch.randn(64, 1)
        opt_d.zero_grad()
        loss.discriminator_loss(D(real), D(fake.detach())).backward()
        opt_d.step()
        if name == "wgan":  # a critic needs a Lipschitz constraint; clipping is the simplest
            with torch.no_grad():
                for p in D.parameters():
                    p.clamp_(-0.1, 0.1)
        opt_g.zero_grad()
        loss.generator_loss(D(mu + 0.5 * torch.randn(64, 1))).backward()
        opt_g.step()
    assert abs(mu.item() - 3.0) < 0.6, mu.item()
