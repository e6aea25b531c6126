"""Conformance checks of regularizers: wrapping, penalties on the roles they target (also class-conditional),
a zero weight that changes nothing, ``state()`` round-trips, and a short run. Import them from
:mod:`gankit.testing`."""

from __future__ import annotations

import contextlib
import copy
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gankit.components import GeneratorPenaltyInputs, PenaltyInputs, Regularizer
from gankit.testing._kit import (
    Report,
    _Check,
    _first_difference,
    _fork_rng,
    _grads_finite,
    _Runs,
    _Subject,
    _subject,
    penalty_inputs,
    resume_differences,
)

if TYPE_CHECKING:
    import torch
    from torch import nn


def _networks() -> dict[str, nn.Module]:
    """Small networks a regularizer is tried on: D(x), G(z), and class-conditional D(x, y) and G(z, y)."""
    import torch
    from torch import nn

    class ConditionalD(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2))
            self.head = nn.Linear(16, 1)
            self.embed = nn.Embedding(4, 16)

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # y is required
            h = self.features(x)
            return self.head(h).flatten(0) + (self.embed(y) * h).sum(1)

    class ConditionalG(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(4, 4)
            self.net = nn.Sequential(nn.Linear(8 + 4, 16), nn.ReLU(), nn.Linear(16, 2), nn.Tanh())

        def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.net(torch.cat([z, self.embed(y)], 1))

    return {
        "D": nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1), nn.Flatten(0)),
        "G": nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2), nn.Tanh()),
        "conditional D": ConditionalD(),
        "conditional G": ConditionalG(),
    }


def generator_penalty_inputs(generator: nn.Module, inputs: dict[str, Any]) -> GeneratorPenaltyInputs:
    """What the engine hands ``Regularizer.generator_penalty``, in full precision on the CPU;
    ``inputs`` are the generation inputs in the order the generator takes them (``{"z": z}``)."""
    import torch

    def input_gradients(outputs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        (grad,) = torch.autograd.grad(outputs.float().sum(), x, create_graph=True)
        return grad

    return GeneratorPenaltyInputs(
        generator, dict(inputs), input_gradients, contextlib.nullcontext, lambda shape: torch.randn(shape)
    )


def _conditional_penalty_inputs(D: nn.Module, real: Any, fake: Any, labels: Any) -> PenaltyInputs:
    inputs = penalty_inputs(D, real, fake)
    inputs.conditions = (labels,)
    return inputs


def _penalty(c: _Check, compute: Any, what: str) -> Any:
    """Run one penalty; a penalty that calls the network without its conditions fails with a hint."""
    try:
        return compute()
    except TypeError as exc:
        c.fail(
            f"{what} raised TypeError: {exc} (call the networks with every input: inputs.scores(x) for D, "
            "G(*inputs.inputs.values()) for G)"
        )


def _check_scalar(c: _Check, penalty: Any, what: str, params: Sequence[Any]) -> None:
    if penalty is None:
        return
    c.tensor(penalty, what, ())
    if penalty.requires_grad:
        penalty.backward()
        c.expect(_grads_finite(list(params)), f"the gradients of {what} are not finite")
        for p in params:
            p.grad = None


def check_regularizer(
    name_or_factory: Any,
    config: Any = None,
    *,
    zero_options: dict[str, Any] | None = None,
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """Wrapping keeps each target network's output, penalties are finite scalars (also under a
    class-conditional D and G), at weight 0 it changes nothing, and ``state()`` round-trips.

    The weight-0 check sets ``zero_options`` (default: ``{"weight": 0}`` when the config has a
    ``weight`` field; otherwise it is skipped, as for spectral norm and clipping).
    """
    import torch

    with _subject("regularizer", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        reg = c.create(Regularizer, subject.config)
        c.expect(isinstance(reg.every, int) and reg.every >= 1, f"every = {reg.every!r}; it must be an int >= 1")
        targets = reg.targets
        c.expect(
            isinstance(targets, (tuple, list)) and bool(targets) and all(isinstance(t, str) and t for t in targets),
            f"targets = {targets!r}; it must name network roles, such as ('discriminator',)",
        )
        nets = _networks()
        D = nets["D"]
        real, fake = torch.randn(16, 2), torch.randn(16, 2)
        wrapped = _wrap(c, reg, D, "discriminator")
        c.tensor(wrapped(real), "the wrapped discriminator's scores", (16,))
        penalty = reg.discriminator_penalty(penalty_inputs(wrapped, real, fake))
        if penalty is not None:
            c.tensor(penalty, "discriminator_penalty", ())
            if penalty.requires_grad:
                penalty.backward()
                c.expect(_grads_finite(list(wrapped.parameters())), "the penalty's gradients are not finite")
        reg.after_discriminator_step(wrapped)
        c.expect(
            all(bool(torch.isfinite(p).all()) for p in wrapped.parameters()),
            "after_discriminator_step left non-finite weights",
        )
        c.passed("wraps D keeping its output shape; a finite scalar penalty; a clean after-step")

        zero = _zero_options(subject, zero_options)
        if zero is None:
            c.report.skipped.append("no-op at weight 0: no `weight` option (pass zero_options=...)")
        else:
            _check_zero(c, subject, zero, nets, real, fake)

        _check_targets(c, reg, nets, real, fake)
        _check_state(c, subject, reg, nets, real, fake)
        if run:
            with tempfile.TemporaryDirectory() as tmp:
                runs = _Runs(subject, Path(tmp), run_args)
                runs.run("reg", "--reg", subject.flag_value, "--data", "ring8")
                c.passed(f"trains through `gankit run --reg {subject.flag_value}`")
                runs.run("conditional", "--reg", subject.flag_value, "--data", "digits", "--scheme", "conditional")
                c.passed(f"trains through `gankit run --reg {subject.flag_value} --data digits --scheme conditional`")
                if reg.state():
                    flags = ("--reg", subject.flag_value, "--data", "ring8", "--checkpoint-every", "2")
                    difference = resume_differences(runs, flags, ("regularizers",))
                    c.expect(difference is None, f"2 steps + resume to 4 differ from 4 steps: {difference}")
                    c.passed("its state() survives a checkpoint: 2 steps + resume to 4 equal 4 steps")
        return c.report


def _wrap(c: _Check, reg: Regularizer, network: nn.Module, role: str) -> nn.Module:
    """``reg.wrap`` on a copy of ``network`` when ``role`` is among its targets, as the engine does."""
    import torch

    network = copy.deepcopy(network)
    if role not in reg.targets:
        return network
    wrapped = reg.wrap(network, role)
    c.expect(isinstance(wrapped, torch.nn.Module), f"wrap(network, {role!r}) returned no nn.Module")
    return wrapped


def _check_targets(c: _Check, reg: Regularizer, nets: dict[str, Any], real: Any, fake: Any) -> None:
    """Conditional D and G, the generator side, and penalties only for roles it declares."""
    import torch

    labels = torch.randint(4, (16,))
    z = torch.randn(16, 8)
    conditional_d = _wrap(c, reg, nets["conditional D"], "discriminator")
    c.tensor(conditional_d(real, labels), "the wrapped class-conditional discriminator's scores", (16,))
    penalty = _penalty(
        c,
        lambda: reg.discriminator_penalty(_conditional_penalty_inputs(conditional_d, real, fake, labels)),
        "discriminator_penalty under a class-conditional D (PenaltyInputs.conditions)",
    )
    _check_scalar(c, penalty, "discriminator_penalty under a class-conditional D", list(conditional_d.parameters()))
    if penalty is not None:
        c.expect(
            "discriminator" in reg.targets,
            f"it penalizes discriminators, but its targets {reg.targets} lack 'discriminator'",
        )
    c.passed("a finite scalar discriminator penalty under a class-conditional D (PenaltyInputs.conditions)")

    penalties = []
    for name, inputs in (("G", {"z": z}), ("conditional G", {"z": z, "label": labels})):
        G = _wrap(c, reg, nets[name], "generator")
        c.tensor(G(*inputs.values()), f"the wrapped {name}'s samples", (16, 2))
        what = f"generator_penalty of {'a class-conditional G' if 'label' in inputs else 'G'}"
        penalty = _penalty(
            c, lambda G=G, inputs=inputs: reg.generator_penalty(generator_penalty_inputs(G, inputs)), what
        )
        _check_scalar(c, penalty, what, list(G.parameters()))
        penalties.append(penalty)
    if any(p is not None for p in penalties):
        c.expect("generator" in reg.targets, f"it penalizes generators, but its targets {reg.targets} lack 'generator'")
        c.passed("a finite scalar generator penalty, for G(z) and a class-conditional G(z, label)")
    if "generator" in reg.targets:
        c.passed("wraps G keeping its output shape")


def _penalty_values(reg: Regularizer, nets: dict[str, Any], real: Any, fake: Any, seed: int) -> list[Any]:
    """Every penalty on fixed networks and inputs, with seeded randomness (torch and Python's)."""
    import torch

    state = random.getstate()
    try:
        torch.manual_seed(seed)
        random.seed(seed)
        z = torch.randn(16, 8)
        d = reg.discriminator_penalty(penalty_inputs(nets["D"], real, fake))
        g = reg.generator_penalty(generator_penalty_inputs(nets["G"], {"z": z}))
    finally:
        random.setstate(state)
    return [None if p is None else p.detach() for p in (d, g)]


def _check_state(c: _Check, subject: _Subject, reg: Regularizer, nets: dict[str, Any], real: Any, fake: Any) -> None:
    """``state()`` is tensors by name; a fresh regularizer given them returns them and penalizes alike."""
    import torch

    _penalty_values(reg, nets, real, fake, 1)  # state that evolves with the penalties (a running mean)
    state = reg.state()
    c.expect(
        isinstance(state, dict)
        and all(isinstance(k, str) and k and isinstance(v, torch.Tensor) for k, v in state.items()),
        f"state() returned {state!r}, not a dict of name -> tensor",
    )
    fresh = c.create(Regularizer, subject.config)
    fresh.load_state({k: v.clone() for k, v in state.items()})
    difference = _first_difference(state, fresh.state(), "state")
    c.expect(difference is None, f"load_state(state()) does not restore its state: {difference}")
    before, after = _penalty_values(reg, nets, real, fake, 2), _penalty_values(fresh, nets, real, fake, 2)
    difference = _first_difference(before, after, "penalties")
    c.expect(
        difference is None,
        f"a fresh regularizer given load_state(state()) penalizes differently ({difference}): state that "
        "a resumed run needs is missing from state()",
    )
    c.passed(f"state() round-trips through load_state ({len(state)} tensors)")


def _zero_options(subject: _Subject, zero_options: dict[str, Any] | None) -> dict[str, Any] | None:
    if zero_options is not None:
        return zero_options
    fields = attrs.fields_dict(subject.spec.config) if subject.spec.config is not None else {}
    return {"weight": 0} if "weight" in fields else None


def _check_zero(c: _Check, subject: _Subject, zero: dict[str, Any], nets: dict[str, Any], real: Any, fake: Any) -> None:
    import torch

    if isinstance(subject.config, dict) or subject.config is None or not attrs.has(type(subject.config)):
        config = subject.spec.make_config(dict(subject.options) | zero)
    else:
        config = attrs.evolve(subject.config, **zero)
    reg = c.create(Regularizer, config)
    D = nets["D"]
    wrapped = _wrap(c, reg, D, "discriminator")
    with torch.no_grad():
        same = torch.allclose(wrapped(real), D(real))
    c.expect(same, f"with {zero} the wrapped discriminator computes something else")
    before = {k: v.clone() for k, v in wrapped.state_dict().items()}
    penalty = reg.discriminator_penalty(penalty_inputs(wrapped, real, fake))
    if penalty is not None:
        value = float(penalty.detach())
        c.expect(value == 0.0, f"with {zero} the penalty is {value!r}, not 0")
    reg.after_discriminator_step(wrapped)
    after = wrapped.state_dict()
    c.expect(all(torch.equal(before[k], after[k]) for k in before), f"with {zero} after_discriminator_step changes D")
    G, z = nets["G"], torch.randn(16, 8)
    wrapped_g = _wrap(c, reg, G, "generator")
    with torch.no_grad():
        c.expect(torch.allclose(wrapped_g(z), G(z)), f"with {zero} the wrapped generator computes something else")
    penalty = reg.generator_penalty(generator_penalty_inputs(wrapped_g, {"z": z}))
    if penalty is not None:
        value = float(penalty.detach())
        c.expect(value == 0.0, f"with {zero} the generator penalty is {value!r}, not 0")
    c.passed(f"a no-op with {', '.join(f'{k}={v}' for k, v in zero.items())}")
