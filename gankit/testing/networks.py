"""Conformance checks of the components that make and judge networks: architectures, losses and
regularizers. Import them from :mod:`gankit.testing`."""

from __future__ import annotations

import contextlib
import copy
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gankit.components import (
    Architecture,
    DataDescription,
    Field,
    GeneratorPenaltyInputs,
    Loss,
    NetworkRequest,
    PenaltyInputs,
    Regularizer,
)
from gankit.errors import GankitError
from gankit.testing._kit import (
    DEFAULT_DESCRIPTIONS,
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

#: Class-conditional requests are checked on these when ``data`` is the default (otherwise on the
#: descriptions in ``data`` that have a class field): 8x8 grayscale images of 10 classes, like ``digits``.
LABELLED_DESCRIPTIONS = (DataDescription("gray8-classes", (1, 8, 8), "image", value_range=(0.0, 1.0), num_classes=10),)
#: Batch size and noise size of the networks the architecture check builds.
_N, _Z = 4, 8


def default_requests(data: Sequence[DataDescription] = DEFAULT_DESCRIPTIONS) -> list[NetworkRequest]:
    """What :func:`check_architecture` asks for by default: an unconditional generator and discriminator
    for each description, and class-conditional ones (``G(z, label)``, ``D(x, label)``) for each
    labelled description (for :data:`LABELLED_DESCRIPTIONS` when ``data`` is the default)."""
    requests = []
    for d in data:
        requests += [NetworkRequest.generator(d, _Z), NetworkRequest.discriminator(d)]
    labelled = [d for d in data if d.class_field() is not None]
    if not labelled and tuple(data) == DEFAULT_DESCRIPTIONS:
        labelled = list(LABELLED_DESCRIPTIONS)
    for d in labelled:
        label = d.class_field()
        condition = {label: d.fields[label]}
        requests += [NetworkRequest.generator(d, _Z, **condition), NetworkRequest.discriminator(d, **condition)]
    return requests


def random_field(field: Field, n: int) -> torch.Tensor:
    """A batch of ``n`` values of ``field``: noise ~ N(0, 1), class labels below ``num_classes``,
    images and points uniform in ``[-1, 1]``, attributes 0/1 flags, scores ~ N(0, 1)."""
    import torch

    shape = (n, *field.shape)
    if field.kind == "class":
        return torch.randint(field.num_classes or 2, shape)
    if field.kind == "attributes":
        return torch.randint(0, 2, shape).float()
    if field.kind in ("image", "points"):
        return torch.rand(shape) * 2 - 1
    return torch.randn(shape)


def network_inputs(request: NetworkRequest, n: int = _N) -> list[torch.Tensor]:
    """Random inputs for a network built for ``request``, in the order it takes them."""
    return [random_field(field, n) for field in request.inputs.values()]


def _other(field: Field, value: torch.Tensor) -> torch.Tensor | None:
    """Another batch for the input ``field`` than ``value`` (``None`` if there is none)."""
    if field.kind == "class":
        return None if (field.num_classes or 2) < 2 else (value + 1) % (field.num_classes or 2)
    if field.kind == "attributes":
        return 1 - value
    return random_field(field, value.shape[0])


def _who(request: NetworkRequest) -> str:
    return {"generator": "G", "discriminator": "D"}.get(request.role, request.role)


def _where(request: NetworkRequest) -> str:
    d = request.data
    judged = d.main if request.role == "discriminator" else None
    given = [n for n, f in request.inputs.items() if f.kind != "noise" and n != judged]
    return f"on {d.name} {d.shape}" + (f" given {', '.join(given)}" if given else "")


def _as_outputs(c: _Check, request: NetworkRequest, out: Any, what: str) -> list[Any]:
    """The outputs of one call, one per declared output (a tuple when several, in order)."""
    count = len(request.outputs)
    if count == 1:
        return [out]
    c.expect(
        isinstance(out, (tuple, list)) and len(out) == count,
        f"{what} returned {type(out).__name__}, not a tuple of its {count} outputs {list(request.outputs)}",
    )
    return list(out)


def _label(request: NetworkRequest, name: str, suffix: str) -> str:
    single = len(request.outputs) == 1
    base = "output" if single and request.role != "discriminator" else name
    if request.role == "discriminator" and name == "scores" and suffix:
        base = f"scores {suffix}"
    return f"{_who(request)}'s {base} {_where(request)}"


def _check_output(
    c: _Check, request: NetworkRequest, name: str, field: Field, value: Any, n: int, what: str, patch_scores: bool
) -> None:
    import torch

    if field.kind == "scores" and not field.shape and patch_scores:
        c.tensor(value, what)
        shape = tuple(value.shape)
        c.expect(value.dim() >= 1 and shape[0] == n, f"{what} has shape {shape}, expected ({n}, ...)")
        return
    if field.kind == "class":  # a label (integers) or a classifier's logits over the classes
        c.expect(isinstance(value, torch.Tensor), f"{what} is a {type(value).__name__}, not a tensor")
        expected = [(n, *field.shape)] + ([(n, *field.shape, field.num_classes)] if field.num_classes else [])
        c.expect(tuple(value.shape) in expected, f"{what} has shape {tuple(value.shape)}, expected one of {expected}")
        if value.is_floating_point():
            c.expect(bool(torch.isfinite(value.detach()).all()), f"{what} is not finite")
        return
    within = 1.0 if field.kind in ("image", "points") and request.role != "discriminator" else None
    c.tensor(value, what, (n, *field.shape), within=within)


def _outputs_equal(a: Sequence[Any], b: Sequence[Any]) -> bool:
    return all(x.shape == y.shape and torch_equal(x, y) for x, y in zip(a, b))


def torch_equal(a: Any, b: Any) -> bool:
    import torch

    return bool(torch.equal(a, b))


def _check_network(
    c: _Check, net: nn.Module, request: NetworkRequest, patch_scores: bool
) -> tuple[list[Any], dict[str, Any]]:
    """Call ``net`` on random inputs: declared outputs, shapes, ranges; every input changes the output.
    Returns its inputs by name and its outputs."""
    import torch

    who, where = _who(request), _where(request)
    c.expect(isinstance(net, torch.nn.Module), f"{who} {where} ({request.describe()}) is not an nn.Module")
    inputs = network_inputs(request)
    out = _as_outputs(c, request, net(*inputs), f"{who} {where}")
    for (name, field), value in zip(request.outputs.items(), out):
        _check_output(c, request, name, field, value, _N, _label(request, name, "of real data"), patch_scores)
    # Each input must matter (a conditional D that ignores the label, a G that ignores its noise): compared in
    # eval mode without gradients, where a network should be a function of its inputs.
    training = net.training
    net.eval()
    try:
        with torch.no_grad():
            base = _as_outputs(c, request, net(*inputs), f"{who} {where}")
            if not _outputs_equal(base, _as_outputs(c, request, net(*inputs), f"{who} {where}")):
                c.report.skipped.append(f"{who} {where} uses every input: not deterministic in eval mode")
            else:
                for i, (name, field) in enumerate(request.inputs.items()):
                    other = _other(field, inputs[i])
                    if other is None:
                        continue
                    changed = [*inputs[:i], other, *inputs[i + 1 :]]
                    after = _as_outputs(c, request, net(*changed), f"{who} {where}")
                    c.expect(
                        not _outputs_equal(base, after),
                        f"{who} {where} ignores its input {name!r} ({field.kind}): changing it leaves its outputs "
                        "unchanged",
                    )
    finally:
        net.train(training)
    return out, dict(zip(request.inputs, inputs))


def _pairs(requests: Sequence[NetworkRequest]) -> list[tuple[int, int]]:
    """(generator, discriminator) indices of requests where D judges the samples of G (or of a translator)
    under G's own conditions (``G(z, label)`` and ``D(x, label)``, ``T(source)`` and ``D(source, target)``)."""
    pairs = []
    for i, g in enumerate(requests):
        if g.role == "discriminator":
            continue
        g_conditions = {n for n, f in g.inputs.items() if f.kind != "noise"}
        for j, d in enumerate(requests):
            if d.role != "discriminator" or d.data != g.data or not set(g.outputs) & set(d.inputs):
                continue
            if set(d.inputs) - set(g.outputs) == g_conditions:
                pairs.append((i, j))
    return pairs


def _check_gradient_flow(
    c: _Check, G: nn.Module, D: nn.Module, g: NetworkRequest, d: NetworkRequest, patch: bool
) -> None:

    where = _where(d)
    g_inputs = dict(zip(g.inputs, network_inputs(g)))
    samples = dict(zip(g.outputs, _as_outputs(c, g, G(*g_inputs.values()), f"G {_where(g)}")))
    given = g_inputs | samples
    d_inputs = [given[n] if n in given else random_field(f, _N) for n, f in d.inputs.items()]
    out = _as_outputs(c, d, D(*d_inputs), f"D {where}")
    name, field = next(iter(d.outputs.items()))
    _check_output(c, d, name, field, out[0], _N, _label(d, name, "of G's samples"), patch)
    out[0].float().sum().backward()
    g_params = list(G.parameters())
    c.expect(
        any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in g_params),
        f"no gradient reaches {_who(g)}'s parameters through D {where}",
    )
    c.expect(_grads_finite(g_params) and _grads_finite(list(D.parameters())), f"gradients {where} are not finite")
    for p in [*g_params, *D.parameters()]:
        p.grad = None


def check_architecture(
    name_or_factory: Any,
    config: Any = None,
    *,
    data: Sequence[DataDescription] = DEFAULT_DESCRIPTIONS,
    requests: Sequence[NetworkRequest] | None = None,
    patch_scores: bool = False,
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """The networks it builds fit what was requested (it must build at least one).

    ``requests`` default to :func:`default_requests` of ``data``: unconditional G and D for each
    description, and class-conditional ones; the architecture must build G and D for at least one
    description. A request it refuses (:class:`gankit.UnsupportedRequest` or another
    :class:`gankit.GankitError`) is reported as skipped. Each network is called on random inputs
    (positionally, in the order of the request's inputs) and must return every declared output (a
    tuple when several): samples of shape ``(N, *field.shape)`` in ``[-1, 1]``, scores of shape ``(N,)``
    (``(N, ...)`` with ``patch_scores=True``), all finite; each input must change its outputs; and
    gradients must reach G through D when both were built for the same data.
    """
    with _subject("architecture", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        defaults = requests is None
        requests = default_requests(data) if requests is None else list(requests)
        c.expect(bool(requests), "no requests to check")
        built: dict[int, Any] = {}
        for i, request in enumerate(requests):
            c.expect(isinstance(request, NetworkRequest), f"requests[{i}] is not a gankit.NetworkRequest")
            arch = c.create(Architecture, subject.config)
            try:
                net = arch.build(request)
            except GankitError as exc:
                c.report.skipped.append(f"{request.describe()} on {request.data.name}: refused ({exc})")
                continue
            _check_network(c, net, request, patch_scores)
            built[i] = net
            what = "declared outputs, shapes and ranges; uses every input"
            c.passed(f"{request.describe()} on {request.data.name}: {what}")
        pairs = [(i, j) for i, j in _pairs(requests) if i in built and j in built]
        for i, j in pairs:
            _check_gradient_flow(c, built[i], built[j], requests[i], requests[j], patch_scores)
        if pairs:
            c.passed(f"gradients reach G through D ({len(pairs)} pairs)")
        if defaults:
            accepted = [requests[i].data for i, j in pairs if len(requests[i].inputs) == 1]
            c.expect(bool(accepted), f"it accepts none of {[d.shape for d in data]}")
        else:
            c.expect(bool(built), f"it accepts none of the requests {[r.describe() for r in requests]}")
        if run:
            _short_runs(c, subject, requests, pairs, run_args)
        return c.report


def _short_runs(
    c: _Check,
    subject: _Subject,
    requests: Sequence[NetworkRequest],
    pairs: Sequence[tuple[int, int]],
    run_args: Sequence[str],
) -> None:
    # Only noise-driven generators fit the bundled schemes' short runs (a translator needs its own scheme).
    def kinds(i: int) -> list[str]:
        return sorted(f.kind for f in requests[i].inputs.values())

    plain = [requests[i].data for i, _ in pairs if kinds(i) == ["noise"]]
    conditional = [
        requests[i].data for i, _ in pairs if kinds(i) == ["class", "noise"] and requests[i].data.class_field()
    ]
    data_flag = _cli_data_for(plain)
    runs: list[tuple[str, ...]] = []
    if data_flag is None:
        c.report.skipped.append("short run: no bundled data set of an accepted shape (pass run=False)")
    else:
        runs.append(("--data", data_flag))
    if any(d.shape == (1, 8, 8) for d in conditional):
        runs.append(("--data", "digits", "--scheme", "conditional"))
    with tempfile.TemporaryDirectory() as tmp:
        for k, flags in enumerate(runs):
            _Runs(subject, Path(tmp), run_args).run(f"arch{k}", "--arch", subject.flag_value, *flags)
            c.passed(f"trains through `gankit run --arch {subject.flag_value} {' '.join(flags)}`")


def _cli_data_for(accepted: Sequence[DataDescription]) -> str | None:
    shapes = {d.shape for d in accepted}
    if (1, 8, 8) in shapes:
        return "digits"
    if (2,) in shapes:
        return "ring8"
    return None


# -- losses --------------------------------------------------------------------------------------


def check_loss(name_or_factory: Any, config: Any = None, *, run: bool = True, run_args: Sequence[str] = ()) -> Report:
    """Both losses are finite scalars with finite gradients, for ordinary, extreme and per-patch scores;
    a loss with ``needs_real_scores`` gets (and uses) ``real_scores`` in ``generator_loss``."""
    import torch

    with _subject("loss", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        loss = c.create(Loss, subject.config)
        needs_real = loss.needs_real_scores
        c.expect(isinstance(needs_real, bool), f"needs_real_scores is {needs_real!r}, not a bool")

        def generator_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
            if needs_real:
                return loss.generator_loss(fake, real)
            try:
                return loss.generator_loss(fake)
            except Exception as exc:  # noqa: BLE001 - named in the failure
                c.fail(
                    f"generator_loss(fake_scores) raised {type(exc).__name__}: {exc}; a loss that needs the real "
                    "samples' scores sets needs_real_scores = True"
                )
                raise

        for label, make in (
            ("ordinary", lambda: torch.randn(16)),
            ("extreme (|score| = 30)", lambda: torch.tensor([-30.0, 30.0] * 8)),
            ("per-patch (16, 3, 3)", lambda: torch.randn(16, 3, 3)),
        ):
            real, fake = make().requires_grad_(True), make().flip(0).requires_grad_(True)
            d_loss = loss.discriminator_loss(real, fake)
            c.tensor(d_loss, f"discriminator_loss on {label} scores", ())
            c.expect(d_loss.requires_grad, f"discriminator_loss on {label} scores has no gradient")
            d_loss.backward()
            c.expect(_grads_finite([real, fake]), f"discriminator_loss gradients on {label} scores are not finite")
            fake_g, real_g = make().requires_grad_(True), make().flip(0).requires_grad_(True)
            g_loss = generator_loss(fake_g, real_g)
            c.tensor(g_loss, f"generator_loss on {label} scores", ())
            c.expect(g_loss.requires_grad, f"generator_loss on {label} scores has no gradient")
            g_loss.backward()
            c.expect(_grads_finite([fake_g, real_g]), f"generator_loss gradients on {label} scores are not finite")
            if label == "ordinary":
                c.expect(
                    bool(real.grad.abs().sum() + fake.grad.abs().sum() > 0), "discriminator_loss ignores the scores"
                )
                c.expect(bool(fake_g.grad.abs().sum() > 0), "generator_loss ignores the scores")
                if needs_real:
                    other = generator_loss(fake_g.detach(), torch.randn(16) * 3 + 1)
                    c.expect(
                        not torch.equal(other.detach(), g_loss.detach()),
                        "generator_loss ignores real_scores, yet needs_real_scores is set (each G step pays for "
                        "a forward pass of D on real samples)",
                    )
        c.passed("finite scalar losses with finite gradients, for ordinary, extreme and per-patch scores")
        if needs_real:
            c.passed("generator_loss takes and uses real_scores (needs_real_scores)")
        if run:
            with tempfile.TemporaryDirectory() as tmp:
                _Runs(subject, Path(tmp), run_args).run("loss", "--loss", subject.flag_value, "--data", "ring8")
            c.passed(f"trains through `gankit run --loss {subject.flag_value}`")
        return c.report


# -- regularizers --------------------------------------------------------------------------------


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
