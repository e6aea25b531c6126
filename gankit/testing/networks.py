"""Conformance checks of architectures: every network a ``NetworkRequest`` asks for, its outputs, gradients
and a short run. Import them from :mod:`gankit.testing`."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gankit.components import (
    Architecture,
    DataDescription,
    Field,
    NetworkRequest,
)
from gankit.errors import GankitError
from gankit.testing._kit import (
    DEFAULT_DESCRIPTIONS,
    Report,
    _Check,
    _fork_rng,
    _grads_finite,
    _Runs,
    _Subject,
    _subject,
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
