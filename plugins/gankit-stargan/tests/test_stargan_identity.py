"""The identity term (stargan.lambda_id): CycleGAN's |x - G(x, c)| at x's own domains, outside StarGAN's recipe."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest
import torch
from gankit import DataDescription, Field

from gankit_stargan import StarGANConfig
from gankit_stargan.scheme import StarGAN


class _Translator(torch.nn.Module):
    """G(x, c) = x * w + b * sum(c): its distance to x depends on the domains it is given."""

    def __init__(self):
        super().__init__()
        self.w, self.b = torch.nn.Parameter(torch.tensor(0.7)), torch.nn.Parameter(torch.tensor(0.3))

    def forward(self, x, c):
        return x * self.w + self.b * c.sum(1).view(-1, 1, 1, 1)


def _critic(x):  # scores and domain logits, no parameters: the G step's other terms stay fixed
    return x.mean((1, 2, 3)), x.flatten(1)[:, :3]


def _g_loss(lambda_id: float, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """The generator loss one StarGAN iteration hands to its G optimizer, on a stub step context."""
    seen = {}
    data = DataDescription.of("d", {"x": Field((1, 4, 4), "image"), "attributes": Field((3,), "attributes")}, main="x")
    t = SimpleNamespace(
        nets={"generator": _Translator(), "discriminator": _critic},
        data=data,
        n_critic=1,
        next_batch=lambda: _Batch(x, c),
        uniform=lambda *shape, n=None: torch.arange(n or 1, dtype=torch.float32).flip(0),
        autocast=contextlib.nullcontext,
        frozen=lambda net: contextlib.nullcontext(),
        loss=SimpleNamespace(discriminator_loss=lambda r, f: (f - r).mean(), needs_real_scores=False),
        discriminator_penalty=lambda real, fake, D: None,
        generator_loss=lambda fake, real: -fake.mean(),
        optimize=lambda name, loss: seen.setdefault(name, loss),
    )
    metrics = StarGAN(StarGANConfig(lambda_id=lambda_id)).step(t)
    return seen["generator"], metrics


class _Batch:
    def __init__(self, x, c):
        self.x, self._c = x, c

    def __getitem__(self, name):
        assert name == "attributes"
        return self._c


def test_identity_term_is_the_l1_to_the_input_at_its_own_domains():
    x = torch.linspace(-1, 1, 3 * 16).view(3, 1, 4, 4)
    c = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    without, metrics = _g_loss(0.0, x, c)
    assert "idt" not in metrics  # the recipe's weight: the term is not computed at all
    with_id, metrics = _g_loss(2.5, x, c)
    expected = (x - (x * 0.7 + 0.3 * c.sum(1).view(-1, 1, 1, 1))).abs().mean()  # G(x, own domains), not targets
    assert metrics["idt"] == pytest.approx(float(expected))
    assert float((with_id - without).detach()) == pytest.approx(2.5 * float(expected))


def test_identity_weight_defaults_to_the_recipe_and_is_validated():
    assert StarGANConfig().lambda_id == 0.0
    with pytest.raises(ValueError):
        StarGANConfig(lambda_id=-1.0)
