"""The bundled `unconditional` scheme: which fakes each step sees, and how often G runs."""

from __future__ import annotations

import copy

import pytest
import torch

from gankit.plugins import registry
from tests.step_contexts import step_context


def unconditional(**options):
    spec = registry().get("scheme", "unconditional")
    return spec.create(spec.config(**options))


def record_noise(t) -> list[torch.Tensor]:
    drawn: list[torch.Tensor] = []
    draw = t.noise

    def noise(n=None):
        drawn.append(draw(n))
        return drawn[-1]

    t.noise = noise
    return drawn


@pytest.mark.parametrize("n_critic", [1, 3])
@pytest.mark.parametrize("reuse_fakes", [False, True])
def test_generator_runs_once_per_d_step_and_once_more_unless_fakes_are_reused(n_critic, reuse_fakes):
    t = step_context([], n_critic=n_critic)
    G = t.nets["generator"]
    forwards: list[bool] = []  # whether each forward of G built a graph
    G.register_forward_hook(lambda *_: forwards.append(torch.is_grad_enabled()))
    backwards: list[int] = []
    next(G.parameters()).register_hook(lambda grad: backwards.append(1))

    unconditional(reuse_fakes=reuse_fakes).step(t)

    if reuse_fakes:  # only the last D step's fakes keep their graph, for G's step
        assert forwards == [False] * (n_critic - 1) + [True]
    else:
        assert forwards == [False] * n_critic + [True]
    assert len(backwards) == 1  # D's steps never backpropagate into G


@pytest.mark.parametrize("reuse_fakes", [False, True])
def test_generator_follows_the_updated_discriminator_on_the_fakes_it_scores(reuse_fakes):
    t = step_context([], n_critic=2)
    G, D = t.nets["generator"], t.nets["discriminator"]
    G_before = copy.deepcopy(G)
    drawn = record_noise(t)

    unconditional(reuse_fakes=reuse_fakes).step(t)

    # Reused: G's step scores the last D step's noise; otherwise a fresh draw after the D steps.
    assert len(drawn) == (2 if reuse_fakes else 3)
    z = drawn[-1]
    loss = t.loss.generator_loss(D(G_before(z)))  # D as it is after its steps
    gradients = torch.autograd.grad(loss, list(G_before.parameters()))
    for before, after, gradient in zip(G_before.parameters(), G.parameters(), gradients):
        torch.testing.assert_close(after, before - 0.5 * gradient)  # the context's SGD, lr 0.5


def test_reused_fakes_train_the_discriminator_on_the_same_batch_as_fresh_ones():
    """The D steps do not depend on the option: same seed, same D after the iteration."""
    torch.manual_seed(0)
    fresh = step_context([], n_critic=2)
    torch.manual_seed(0)
    reused = step_context([], n_critic=2)
    torch.manual_seed(0)
    unconditional(reuse_fakes=False).step(fresh)
    torch.manual_seed(0)
    unconditional(reuse_fakes=True).step(reused)
    for a, b in zip(fresh.nets["discriminator"].parameters(), reused.nets["discriminator"].parameters()):
        torch.testing.assert_close(a, b)


def test_reuse_fakes_is_off_by_default():
    assert unconditional().reuse_fakes is False
