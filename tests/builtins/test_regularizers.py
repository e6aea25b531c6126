"""The bundled regularizers (gp, r1, sn, clip), and how the engine's StepContext applies them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit import DataDescription, PenaltyInputs, Regularizer
from gankit.engine.amp import Precision
from gankit.engine.step import StepContext
from gankit.plugins import registry
from tests.step_contexts import step_context

torch.set_num_threads(1)
CPU = torch.device("cpu")


def _reg(name: str, **options) -> Regularizer:
    spec = registry().get("regularizer", name)
    reg = spec.create(spec.make_config(options))
    assert isinstance(reg, Regularizer)
    return reg


def _linear_d(weight: torch.Tensor) -> nn.Module:
    layer = nn.Linear(weight.numel(), 1)
    with torch.no_grad():
        layer.weight.copy_(weight.reshape(1, -1))
        layer.bias.fill_(0.3)
    return nn.Sequential(layer, nn.Flatten(0))


def _inputs(d: nn.Module, real: torch.Tensor, fake: torch.Tensor, mode: str = "off") -> PenaltyInputs:
    precision = Precision(CPU, mode)
    return PenaltyInputs(real, fake, d, precision.input_gradients, precision.autocast)


def test_gp_is_zero_for_a_unit_norm_linear_discriminator():
    torch.manual_seed(0)
    w = torch.randn(5)
    d = _linear_d(w / w.norm())
    penalty = _reg("gp").discriminator_penalty(_inputs(d, torch.randn(32, 5), torch.randn(32, 5)))
    assert penalty.dim() == 0
    assert float(penalty.detach()) == pytest.approx(0.0, abs=1e-9)


def test_gp_is_positive_and_exact_for_other_norms():
    torch.manual_seed(0)
    w = torch.randn(5)
    d = _linear_d(3 * w / w.norm())  # gradient norm 3 everywhere
    penalty = _reg("gp", weight=2.0).discriminator_penalty(_inputs(d, torch.randn(16, 5), torch.randn(16, 5)))
    assert float(penalty.detach()) == pytest.approx(2.0 * (3 - 1) ** 2, rel=1e-5)
    # One-sided: only norms above the target count.
    small = _linear_d(0.5 * w / w.norm())
    inputs = _inputs(small, torch.randn(8, 5), torch.randn(8, 5))
    assert float(_reg("gp", one_sided=True).discriminator_penalty(inputs).detach()) == 0.0
    assert float(_reg("gp").discriminator_penalty(inputs).detach()) == pytest.approx(10 * 0.25, rel=1e-5)


def test_gp_backpropagates_into_the_weights():
    torch.manual_seed(0)
    d = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    penalty = _reg("gp").discriminator_penalty(_inputs(d, torch.randn(8, 2), torch.randn(8, 2)))
    penalty.backward()
    assert d[0].weight.grad is not None and d[0].weight.grad.abs().sum() > 0


def test_gp_on_images():
    torch.manual_seed(0)
    w = torch.randn(1 * 4 * 4)
    layer = _linear_d(w / w.norm())
    d = nn.Sequential(nn.Flatten(), layer)
    penalty = _reg("gp").discriminator_penalty(_inputs(d, torch.randn(4, 1, 4, 4), torch.randn(4, 1, 4, 4)))
    assert float(penalty.detach()) == pytest.approx(0.0, abs=1e-9)


def test_r1_equals_half_gamma_squared_weight_norm_for_linear_d():
    torch.manual_seed(0)
    w = torch.randn(6)
    d = _linear_d(w)
    reg = _reg("r1", gamma=4.0)
    assert reg.every == 16  # StyleGAN2's lazy default
    penalty = reg.discriminator_penalty(_inputs(d, torch.randn(10, 6), torch.randn(10, 6)))
    assert float(penalty.detach()) == pytest.approx(4.0 / 2 * float(w.pow(2).sum()), rel=1e-5)


def test_r1_is_the_same_under_amp():
    torch.manual_seed(0)
    w = torch.randn(6)
    d = _linear_d(w)
    # autocast bfloat16 rounds the weights, so compare loosely; the scaling itself is exact.
    penalty = _reg("r1", gamma=2.0).discriminator_penalty(_inputs(d, torch.randn(10, 6), torch.randn(10, 6), mode="on"))
    assert float(penalty.detach()) == pytest.approx(float(w.pow(2).sum()), rel=2e-2)


# -- StepContext: lazy penalties and weight clipping ---------------------------------------------


class CountingPenalty(Regularizer):
    def __init__(self, every: int):
        self.every = every
        self.calls = 0

    def discriminator_penalty(self, inputs):
        self.calls += 1
        return torch.tensor(1.0)


def _d_step(t: StepContext):
    d = t.nets["discriminator"]
    real = t.next_batch().x
    fake = t.nets["generator"](t.noise()).detach()
    loss = t.loss.discriminator_loss(d(real), d(fake))
    penalty = t.discriminator_penalty(real, fake, d)
    t.optimize("discriminator", loss if penalty is None else loss + penalty)
    return penalty


def test_lazy_penalty_runs_on_every_nth_discriminator_step_scaled_by_n():
    every3, every1 = CountingPenalty(3), CountingPenalty(1)
    t = step_context([every3, every1])
    totals = [_d_step(t) for _ in range(9)]
    assert t.d_steps == 9
    assert every3.calls == 3 and every1.calls == 9
    # Steps 0, 3, 6 carry both (3 * 1 + 1); the others only the eager one.
    assert [float(x) for x in totals] == [4.0, 1, 1, 4.0, 1, 1, 4.0, 1, 1]


def test_generator_steps_do_not_advance_the_lazy_counter():
    lazy = CountingPenalty(2)
    t = step_context([lazy])
    for _ in range(3):
        assert _d_step(t) is not None
        t.optimize("generator", t.nets["generator"](t.noise()).sum())
        assert _d_step(t) is None
    assert t.d_steps == 6 and lazy.calls == 3


def test_real_r1_every_n_through_step_context():
    torch.manual_seed(0)
    w = torch.randn(2)
    d = _linear_d(w)
    t = step_context([_reg("r1", gamma=2.0, every=4)], d=d)
    for step in range(8):
        current = d[0].weight.detach().clone()
        real = t.next_batch().x
        fake = t.nets["generator"](t.noise()).detach()
        penalty = t.discriminator_penalty(real, fake, d)
        if step % 4:
            assert penalty is None
        else:
            assert float(penalty.detach()) == pytest.approx(4 * float(current.pow(2).sum()), rel=1e-5)
        t.optimize("discriminator", t.loss.discriminator_loss(d(real), d(fake)) + (0 if penalty is None else penalty))


def test_no_penalty_when_no_regularizer():
    t = step_context([_reg("sn"), _reg("clip")])
    assert _d_step(t) is None


def test_clip_clamps_every_weight_after_a_discriminator_step():
    torch.manual_seed(0)
    d = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1), nn.Flatten(0))
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(10)
    t = step_context([_reg("clip", limit=0.05)], d=d)
    assert max(float(p.detach().abs().max()) for p in d.parameters()) > 0.05
    g_before = [p.detach().clone() for p in t.nets["generator"].parameters()]
    _d_step(t)
    params = list(d.parameters())
    limit = torch.tensor(0.05)  # the float32 limit the clamp uses
    assert all(bool(p.abs().max() <= limit) for p in params)
    assert any(float(p.detach().abs().max()) == pytest.approx(0.05) for p in params)
    # The generator is not clipped, and clipping happens only after discriminator steps.
    with torch.no_grad():
        for p in t.nets["generator"].parameters():
            p.add_(1.0)
    t.optimize("generator", t.nets["generator"](t.noise()).sum())
    assert any(float(p.detach().abs().max()) > 0.05 for p in t.nets["generator"].parameters())
    assert not all(torch.equal(a, b) for a, b in zip(g_before, t.nets["generator"].parameters()))


def test_clip_defaults():
    assert _reg("clip").limit == 0.01


def _mlp_d(data: DataDescription) -> nn.Module:
    spec = registry().get("architecture", "mlp")
    arch = spec.create(spec.make_config({"d_hidden": (32, 16)}))
    return arch.discriminator(data)


def test_sn_wraps_every_layer_and_normalizes_the_largest_singular_value():
    torch.manual_seed(0)
    data = DataDescription("digits", (1, 8, 8), "image")
    d = _reg("sn").wrap_discriminator(_mlp_d(data))
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3
    for layer in linears:
        assert hasattr(layer, "parametrizations") and "weight" in layer.parametrizations
    d.train()
    x = torch.randn(16, 1, 8, 8)
    for _ in range(30):
        d(x)
    for layer in linears:
        sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert float(sigma) == pytest.approx(1.0, abs=0.05)
    out = d(x)
    assert out.shape == (16,)


def test_sn_wraps_conv_layers_of_dcgan():
    torch.manual_seed(0)
    spec = registry().get("architecture", "dcgan")
    arch = spec.create(spec.make_config({"d_channels": 4}))
    d = _reg("sn", power_iterations=3).wrap_discriminator(
        arch.discriminator(DataDescription("img", (1, 8, 8), "image"))
    )
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all("weight" in m.parametrizations for m in convs)
    assert d(torch.randn(2, 1, 8, 8)).shape == (2,)


# -- penalties under mixed precision -------------------------------------------------------------


def test_gp_under_amp_matches_fp32_for_fp32_inputs():
    torch.manual_seed(0)
    d = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    torch.manual_seed(1)
    plain = _reg("gp").discriminator_penalty(_inputs(d, real, fake, mode="off"))
    torch.manual_seed(1)  # the same interpolation weights
    mixed = _reg("gp").discriminator_penalty(_inputs(d, real, fake, mode="on"))
    assert mixed.dtype == torch.float32
    assert float(mixed.detach()) == pytest.approx(float(plain.detach()), rel=5e-2)


def test_wgan_gp_runs_with_amp_on(gankit):
    tiny = ("--steps", "2", "--batch-size", "8", "--set", "arch.g_hidden=16", "--set", "arch.d_hidden=16")
    result = gankit("run", "--amp", "on", "--loss", "wgan", "--reg", "gp", *tiny, "--name", "amp", "-q")
    assert result.exit_code == 0, result.output
