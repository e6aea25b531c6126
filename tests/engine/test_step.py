"""StepContext.frozen and the EMA: both list a network's parameters once, so they must stay right when
blocks nest, when a parameter was frozen by the user, and after weights are loaded into the network."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
from torch import nn

from gankit.engine.ema import EMA
from tests.step_contexts import step_context


def _trainable(net: nn.Module) -> list[bool]:
    return [p.requires_grad for p in net.parameters()]


def test_frozen_gives_input_gradients_only_and_restores_the_weights():
    d = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    t = step_context([], d)
    x = torch.randn(4, 2, requires_grad=True)
    for _ in range(2):  # the same block object serves every iteration
        with t.frozen(d):
            d(x).sum().backward()
        assert all(p.grad is None for p in d.parameters())
        assert x.grad is not None
        assert _trainable(d) == [True] * 4


def test_frozen_keeps_a_user_frozen_layer_frozen_and_nests():
    d = nn.Sequential(nn.Linear(2, 8), nn.Linear(8, 1))
    d[0].requires_grad_(False)
    t = step_context([], d)
    with t.frozen(d):
        with t.frozen(d):
            assert _trainable(d) == [False] * 4
        assert _trainable(d) == [False] * 4  # the outer block still holds them
    assert _trainable(d) == [False, False, True, True]


def test_frozen_restores_the_weights_when_the_block_raises():
    d = nn.Linear(2, 1)
    t = step_context([], d)
    with pytest.raises(RuntimeError, match="boom"):
        with t.frozen(d):
            raise RuntimeError("boom")
    assert _trainable(d) == [True, True]


def test_ema_follows_the_weights_after_a_load_into_the_network():
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    ema = EMA(net, decay=0.5)
    new = {k: torch.full_like(v, 2.0) for k, v in net.state_dict().items()}
    net.load_state_dict(new)  # copies into the tensors the EMA listed
    shadow_before = [p.clone() for p in ema.shadow.parameters()]
    ema.update()
    for before, after in zip(shadow_before, ema.shadow.parameters()):
        torch.testing.assert_close(after, 0.5 * before + 0.5 * torch.full_like(before, 2.0))
    assert torch.equal(ema.shadow[1].running_mean, torch.full((3,), 2.0))


def test_a_dropped_network_takes_its_frozen_block_with_it():
    t = step_context([], nn.Linear(2, 1))
    transient = nn.Linear(2, 2)
    with t.frozen(transient):
        pass
    probe = weakref.ref(transient)
    del transient
    gc.collect()
    assert probe() is None
