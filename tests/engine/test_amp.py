"""Mixed precision on the CPU: bfloat16 autocast (no scaler), and float16 autocast with the GradScaler
that CUDA runs use, compared with fp32."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit import GankitError
from gankit.engine.amp import Precision

torch.set_num_threads(1)
CPU = torch.device("cpu")


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0))


def test_modes():
    on = Precision(CPU, "on")
    assert on.enabled and on.dtype == torch.bfloat16
    assert not on.scaler.is_enabled()  # bfloat16 has float32's range: nothing to scale
    fp16 = Precision(CPU, "fp16")
    assert fp16.enabled and fp16.dtype == torch.float16
    assert fp16.scaler.is_enabled() and fp16.scaler.get_scale() == 65536.0
    bf16 = Precision(CPU, "bf16")
    assert bf16.enabled and bf16.dtype == torch.bfloat16 and not bf16.scaler.is_enabled()
    off = Precision(CPU, "off")
    assert not off.enabled and not off.scaler.is_enabled()
    auto = Precision(CPU, "auto")
    assert not auto.enabled  # auto means CUDA only
    with pytest.raises(GankitError, match="unknown --amp 'fast'; choose from: auto, on, off, fp16, bf16"):
        Precision(CPU, "fast")


def test_autocast_on_cpu_computes_in_bfloat16():
    on, off = Precision(CPU, "on"), Precision(CPU, "off")
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with on.autocast():
        assert (a @ b).dtype == torch.bfloat16
    with off.autocast():
        assert (a @ b).dtype == torch.float32


@pytest.mark.parametrize("scale", [65536.0, 1024.0])
def test_input_gradients_match_plain_fp32(scale):
    net = _net()
    x = torch.randn(8, 3, requires_grad=True)
    (expected,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)

    precision = Precision(CPU, "fp16")
    precision.scaler = torch.amp.GradScaler("cpu", init_scale=scale)
    grad = precision.input_gradients(net(x), x)
    assert grad.dtype == torch.float32
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)
    # The graph is kept: the penalty can be backpropagated into the weights (double backward).
    penalty = grad.pow(2).sum()
    penalty.backward()
    weights = [m.weight for m in net if isinstance(m, nn.Linear)]
    assert all(w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0 for w in weights)


def test_input_gradients_off_is_plain_autograd():
    net = _net()
    x = torch.randn(8, 3, requires_grad=True)
    (expected,) = torch.autograd.grad(net(x).sum(), x)
    grad = Precision(CPU, "off").input_gradients(net(x), x)
    assert torch.equal(grad, expected)
    assert grad.requires_grad  # create_graph=True


def _gradient_penalty(precision: Precision, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    with precision.autocast():
        scores = net(x)
    grad = precision.input_gradients(scores, x)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def test_gradient_penalty_with_amp_trains():
    net = _net(1)
    precision = Precision(CPU, "fp16")
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    x = torch.randn(32, 3)
    before = [p.detach().clone() for p in net.parameters()]
    exact = Precision(CPU, "off")  # fp16 input gradients at the initial scale overflow: measure in fp32
    first = float(_gradient_penalty(exact, net, x).detach())
    for _ in range(30):
        with precision.autocast():
            loss = net(x).mean()
        penalty = _gradient_penalty(precision, net, x)
        precision.backward_and_step(loss + 10 * penalty, optimizer)
        scale = precision.scaler.get_scale()
        assert math.isfinite(scale) and scale > 0
    assert any(not torch.equal(b, p) for b, p in zip(before, net.parameters()))
    assert all(torch.isfinite(p).all() for p in net.parameters())
    # The penalty actually goes down: the scaled-and-unscaled gradients point the right way.
    assert float(_gradient_penalty(exact, net, x).detach()) < first


def test_amp_step_matches_fp32_step_direction():
    """One AMP step with an unscaled gradient equals the plain step up to bfloat16 rounding."""
    x = torch.randn(16, 3)
    results = []
    for mode in ("fp16", "off"):
        net = _net(2)
        precision = Precision(CPU, mode)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
        penalty = _gradient_penalty(Precision(CPU, "off"), net, x)  # fp32 penalty, scaled or not
        precision.backward_and_step(penalty, optimizer)
        results.append([p.detach().clone() for p in net.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_off_is_plain_backward_and_step():
    x = torch.randn(8, 3)
    nets = [_net(3), _net(3)]
    opts = [torch.optim.SGD(n.parameters(), lr=0.1) for n in nets]
    # Stale gradients are cleared first.
    for p in nets[0].parameters():
        p.grad = torch.full_like(p, 100.0)
    Precision(CPU, "off").backward_and_step(nets[0](x).pow(2).mean(), opts[0])
    opts[1].zero_grad()
    nets[1](x).pow(2).mean().backward()
    opts[1].step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)


def test_scaler_skips_non_finite_step_and_backs_off():
    net = _net(4)
    precision = Precision(CPU, "fp16")
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]
    loss = net(torch.randn(4, 3)).sum() * float("inf")
    precision.backward_and_step(loss, optimizer)
    assert all(torch.equal(b, p) for b, p in zip(before, net.parameters()))
    assert precision.scaler.get_scale() == 32768.0


def test_state_dict_round_trip():
    precision = Precision(CPU, "fp16")
    net = _net(5)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    precision.backward_and_step(net(torch.randn(4, 3)).sum() * float("inf"), optimizer)
    state = precision.state_dict()
    assert state["scale"] == 32768.0
    other = Precision(CPU, "fp16")
    other.load_state_dict(state)
    assert other.scaler.get_scale() == 32768.0
    assert Precision(CPU, "off").state_dict() == {}
    Precision(CPU, "off").load_state_dict(state)  # ignored when disabled


def test_bfloat16_trains_without_a_scaler():
    net = _net(6)
    precision = Precision(CPU, "on")
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01, fused=True)
    x = torch.randn(64, 3)
    target = x.sum(1)
    losses = []
    for _ in range(50):
        with precision.autocast():
            loss = (net(x).float() - target).pow(2).mean()
        assert precision.backward_and_step(loss, optimizer)
        losses.append(float(loss.detach()))
    assert precision.state_dict() == {}
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize(
    ("flags", "native"),
    [("fpu sse2 avx512f avx512bw", False), ("fpu avx512f avx512_bf16", True), ("fpu amx_bf16 amx_tile", True)],
)
def test_native_bfloat16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    from gankit.engine.amp import native_cpu_bfloat16

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert native_cpu_bfloat16(str(cpuinfo)) is native
    assert native_cpu_bfloat16(str(tmp_path / "missing")) is None  # not Linux: nothing is said


@pytest.mark.parametrize("native", [False, True, None])
def test_bfloat16_on_a_cpu_without_it_warns_once_per_run(monkeypatch, caplog, native):
    import gankit.engine.amp as amp

    monkeypatch.setattr(amp, "native_cpu_bfloat16", lambda: native)
    with caplog.at_level("WARNING", logger="gankit.engine.amp"):
        Precision(torch.device("cpu"), "bf16")
        Precision(torch.device("cpu"), "off")
        Precision(torch.device("cpu"), "fp16")
    warned = [r.getMessage() for r in caplog.records]
    expected = ["--amp bf16: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX), so bfloat16 is emulated"]
    assert [m[: len(expected[0])] for m in warned] == (expected if native is False else [])
