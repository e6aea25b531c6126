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
    # Batch norm's statistics are averaged like the weights (they describe the averaged network's
    # activations only then); its counter of batches is copied.
    torch.testing.assert_close(ema.shadow[1].running_mean, torch.full((3,), 0.5 * 0.0 + 0.5 * 2.0))
    torch.testing.assert_close(ema.shadow[1].running_var, torch.full((3,), 0.5 * 1.0 + 0.5 * 2.0))
    assert ema.shadow[1].num_batches_tracked.item() == 2


def test_ema_statistics_are_copied_before_the_start_and_averaged_after():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(net, decay=0.9, start=1)
    net(torch.randn(16, 2) + 3.0)
    ema.update(step=1)  # within ``start``: a copy
    assert torch.equal(ema.shadow[1].running_mean, net[1].running_mean)
    before = ema.shadow[1].running_mean.clone()
    net(torch.randn(16, 2) - 3.0)
    ema.update(step=2)
    torch.testing.assert_close(ema.shadow[1].running_mean, 0.9 * before + 0.1 * net[1].running_mean)


def test_a_dropped_network_takes_its_frozen_block_with_it():
    t = step_context([], nn.Linear(2, 1))
    transient = nn.Linear(2, 2)
    with t.frozen(transient):
        pass
    probe = weakref.ref(transient)
    del transient
    gc.collect()
    assert probe() is None


def test_ema_start_copies_and_rampup_shortens_the_half_life():
    from gankit.engine.ema import EMA

    net = nn.Linear(2, 2)
    ema = EMA(net, 0.999, start=10)
    assert ema.decay_at(10) == 0.0 and ema.decay_at(11) == 0.999
    with torch.no_grad():
        net.weight.fill_(3.0)
    ema.update(5)  # before the start: a copy
    assert torch.equal(ema.shadow.weight, net.weight)
    ramped = EMA(net, 0.5 ** (1 / 1000), rampup=0.05)  # half-life 1000 steps at full strength
    assert ramped.decay_at(100) == pytest.approx(0.5 ** (1 / 5))  # 5 % of 100 steps
    assert ramped.decay_at(40000) == pytest.approx(ramped.decay)


def test_lazy_correction_scales_the_penalized_networks_optimizers(gankit, tmp_path):
    from gankit.checkpoint import find_checkpoint, load

    args = ("run", "--steps", "1", "--batch-size", "8", "--set", "arch.g_hidden=8", "--set", "arch.d_hidden=8", "-q")
    lazy = ("--reg", "r1", "--set", "r1.every=16", "--set", "lazy_correction=true")
    assert gankit(*args, *lazy, "--name", "lazy").exit_code == 0
    groups = load(find_checkpoint(tmp_path / "runs" / "lazy")).optimizers
    d, g = groups["discriminator"]["param_groups"][0], groups["generator"]["param_groups"][0]
    c = 16 / 17  # r1 every 16 D steps
    assert d["lr"] == pytest.approx(1e-3 * c) and d["betas"][1] == pytest.approx(0.99**c)
    assert g["lr"] == pytest.approx(4e-4) and g["betas"][1] == pytest.approx(0.99)


#: What a run may do besides training; none of it may change the training (it draws on forked RNGs or none).
OBSERVERS = {
    "evaluating": ("--eval-every", "2", "--metric", "digit-quality", "--set", "digit-quality.samples=200"),
    "sampling": ("--sample-every", "1"),
    "wandb": ("--tracker", "wandb", "--log-every", "1"),
    "logging every step": ("--log-every", "1"),
}


@pytest.mark.parametrize("observer", OBSERVERS)
def test_observing_a_run_leaves_the_training_bit_identical(gankit, tmp_path, monkeypatch, observer):
    from gankit.checkpoint import find_checkpoint, load

    if observer == "wandb":
        pytest.importorskip("wandb")
        monkeypatch.setenv("WANDB_MODE", "offline")
        monkeypatch.setenv("WANDB_DIR", str(tmp_path))
        monkeypatch.setenv("WANDB_SILENT", "true")
    tiny = ("run", "--steps", "4", "--batch-size", "8", "--set", "arch.g_hidden=8", "--set", "arch.d_hidden=8", "-q")
    assert gankit(*tiny, "--sample-every", "1000", "--name", "plain").exit_code == 0
    result = gankit(*tiny, *OBSERVERS[observer], "--name", "observed")
    assert result.exit_code == 0, result.output
    plain, seen = (load(find_checkpoint(tmp_path / "runs" / n)) for n in ("plain", "observed"))
    for name, weights in plain.networks.items():
        for key, tensor in weights.items():
            assert torch.equal(tensor, seen.networks[name][key]), (name, key)
    for name, state in plain.optimizers.items():
        for slot, values in state["state"].items():
            for key, tensor in values.items():
                assert torch.equal(torch.as_tensor(tensor), torch.as_tensor(seen.optimizers[name]["state"][slot][key]))


def test_penalties_the_step_never_asks_for_are_listed_as_unapplied():
    from gankit.plugins import registry

    gp = registry().get("regularizer", "gp")
    t = step_context([gp.create(gp.config())])
    assert list(t.unapplied_penalties()) == ["discriminator"]
    real, fake = t.next_batch().x, t.nets["generator"](t.noise())
    assert t.discriminator_penalty(real, fake, t.nets["discriminator"]) is not None
    assert t.unapplied_penalties() == {}


def test_a_scheme_that_ignores_a_penalty_trains_and_says_once_that_it_does_nothing(gankit, tmp_path, monkeypatch):
    from gankit_builtins.schemes.unconditional import Unconditional

    def step_without_penalties(self, t):  # a third-party scheme's step that never calls the penalty hooks
        G, D = t.nets["generator"], t.nets["discriminator"]
        fake = G(t.noise())
        t.optimize("discriminator", t.loss.discriminator_loss(D(t.next_batch().x), D(fake.detach())))
        with t.frozen(D):
            g_loss = t.generator_loss(D(G(t.noise())))
        t.optimize("generator", g_loss)
        return {"g_loss": g_loss.detach()}

    monkeypatch.setattr(Unconditional, "step", step_without_penalties)
    args = ("run", "--steps", "3", "--batch-size", "8", "--set", "arch.g_hidden=8", "--set", "arch.d_hidden=8", "-q")
    result = gankit(*args, "--reg", "r1", "--name", "ignored")
    assert result.exit_code == 0, result.output
    warning = (
        "Warning: regularizer 'r1' does nothing in this run: scheme 'unconditional' does not apply "
        "discriminator penalties"
    )
    assert result.output.count(warning) == 1, result.output
    # Regularizers that act on weights, not through a penalty, need nothing from the step.
    assert "Warning" not in gankit(*args, "--reg", "sn", "--name", "weights").output
