"""Conformance checks of the components around training: data sources, schemes, trackers and
metrics. Import them from :mod:`gankit.testing`."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gankit import plugins as _plugins
from gankit.components import (
    DataDescription,
    DataRequest,
    Dataset,
    EvalContext,
    Field,
    Metric,
    NetworkRequest,
    Scheme,
    Tracker,
    TrackerContext,
    _overrides,
)
from gankit.data import FIELD_KINDS
from gankit.errors import GankitError
from gankit.inputs import Attributes, FromData, Label, Noise, Option
from gankit.testing._kit import (
    Report,
    _Check,
    _fork_rng,
    _Runs,
    _subject,
    resume_states,
    run_cli,
    state_difference,
)

if TYPE_CHECKING:
    pass

# -- data sources --------------------------------------------------------------------------------


def _check_description(c: _Check, d: DataDescription) -> None:
    c.expect(isinstance(d, DataDescription), "its description is not a gankit.DataDescription")
    c.expect(d.modality in ("points", "image"), f"modality {d.modality!r} is neither 'points' nor 'image'")
    c.expect(
        bool(d.shape) and all(isinstance(n, int) and n > 0 for n in d.shape),
        f"shape {d.shape} is not positive ints",
    )
    if d.modality == "image":
        c.expect(len(d.shape) == 3, f"image shape {d.shape} is not (C, H, W)")
    lo, hi = d.value_range
    c.expect(lo < hi, f"value_range {d.value_range} is empty")
    c.expect(d.main in d.fields, f"its main field {d.main!r} is not among its fields {list(d.fields)}")
    main = d.fields[d.main]
    c.expect(
        (main.shape, main.kind, main.value_range) == (d.shape, d.modality, d.value_range),
        f"its main field {d.main!r} ({main.kind} {main.shape}, range {main.value_range}) disagrees with its "
        f"shape, modality and value_range ({d.modality} {d.shape}, range {d.value_range})",
    )
    for name, field in d.fields.items():
        where = f"field {name!r}"
        c.expect(isinstance(field, Field), f"{where} is a {type(field).__name__}, not a gankit.Field")
        c.expect(field.kind in FIELD_KINDS, f"{where} has kind {field.kind!r}, not one of {FIELD_KINDS}")
        if field.kind == "image":
            c.expect(len(field.shape) == 3, f"{where}: image shape {field.shape} is not (C, H, W)")
        if field.kind in ("image", "points"):
            c.expect(field.value_range[0] < field.value_range[1], f"{where}: value_range {field.value_range} is empty")
        if field.kind == "class":
            c.expect(
                isinstance(field.num_classes, int) and field.num_classes >= 1,
                f"{where} is a class field without num_classes",
            )
        if field.kind == "attributes":
            c.expect(len(field.shape) == 1, f"{where}: attributes shape {field.shape} is not (count,)")
    named = sorted(f for stream in d.streams for f in stream)
    c.expect(named == sorted(d.fields), f"streams {d.streams} do not name each field {list(d.fields)} once")


def _check_field_values(c: _Check, name: str, field: Field, value: Any, n: int, what: str) -> None:
    """One field's batch of ``n``: its shape, dtype and range by the field's kind."""
    import torch

    shape = (n, *field.shape)
    if field.kind in ("image", "points"):
        c.tensor(value, what, shape, within=1.0)
    elif field.kind == "class":
        c.expect(isinstance(value, torch.Tensor), f"{what} is a {type(value).__name__}, not a tensor")
        c.expect(tuple(value.shape) == shape, f"{what} have shape {tuple(value.shape)}, expected {shape}")
        c.expect(not value.is_floating_point() and value.dtype != torch.bool, f"{what} are not integers")
        if field.num_classes is not None and value.numel():
            c.expect(
                bool(((value >= 0) & (value < field.num_classes)).all()),
                f"{what} exceed num_classes ({field.num_classes}): they span [{int(value.min())}, {int(value.max())}]",
            )
    elif field.kind == "attributes":
        c.tensor(value, what, shape)
        c.expect(bool(((value == 0) | (value == 1)).all()), f"{what} are not 0/1 flags")
    else:
        c.tensor(value, what, shape)


def _what(d: DataDescription, name: str) -> str:
    """How the messages name a field: gankit 0.1's words for the one-field case."""
    if name == d.main and len(d.fields) <= 2:
        return "the samples"
    if d.fields[name].kind == "class" and name == "label":
        return "labels"
    return f"field {name!r}"


def check_data_source(
    name_or_factory: Any,
    config: Any = None,
    *,
    request: DataRequest | None = None,
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """Every described field has its shape and kind (images and points finite in [-1, 1], class labels
    integers below ``num_classes``, attributes 0/1), each stream's fields one length; sampling follows
    the generator; it trains (class-conditionally too when it has class labels)."""
    import torch

    request = request or DataRequest()
    with _subject("data", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        dataset = c.create(Dataset, subject.config, request)
        d = dataset.description
        _check_description(c, d)
        tensors = dataset.field_tensors()
        smallest = None
        if tensors is not None:
            c.expect(isinstance(tensors, dict), f"field_tensors() returned a {type(tensors).__name__}, not a dict")
            missing = sorted(set(d.fields) - set(tensors))
            c.expect(not missing, f"field_tensors() lacks the described fields {missing}")
            sizes = []
            for stream in d.streams:
                lengths = {name: len(tensors[name]) for name in stream}
                c.expect(len(set(lengths.values())) == 1, f"fields of one stream differ in length: {lengths}")
                n = next(iter(lengths.values()))
                c.expect(n > 0, f"the data set is empty (stream {list(stream)})")
                for name in stream:
                    _check_field_values(c, name, d.fields[name], tensors[name], n, _what(d, name))
                sizes.append(n)
            c.expect(d.size in (None, sizes[0]), f"description.size is {d.size}, but there are {sizes[0]} samples")
            smallest = min(sizes)
            if len(d.fields) == 1 or (len(d.fields) == 2 and d.class_field()):
                c.passed(f"{sizes[0]} finite samples of shape {d.shape} in [-1, 1]")
            else:
                c.passed(f"fields {list(d.fields)} of the described shapes and kinds; streams of {sizes} samples")
        else:
            first = dataset.sample(64, torch.Generator().manual_seed(1))
            again = dataset.sample(64, torch.Generator().manual_seed(1))
            what = "sample(64, generator)"
            if isinstance(first, dict):
                c.expect(
                    sorted(first) == sorted(d.fields),
                    f"{what} returned fields {sorted(first)}, described {sorted(d.fields)}",
                )
                for name, field in d.fields.items():
                    _check_field_values(c, name, field, first[name], 64, f"{what}[{name!r}]")
                same = isinstance(again, dict) and all(torch.equal(first[k], again[k]) for k in first)
            else:
                others = sorted(set(d.fields) - {d.main})
                c.expect(not others, f"{what} returned one tensor, but the data has fields {others} too; return a dict")
                c.tensor(first, what, (64, *d.shape), within=1.0)
                same = isinstance(again, torch.Tensor) and torch.equal(first, again)
            c.expect(same, "sample() draws differ for equal generators; use only `generator`")
            c.passed(f"sample() draws finite samples of shape {d.shape} in [-1, 1], determined by the generator")
        if run:
            extra = ["--data", subject.flag_value]
            if request.root is not None:
                extra += ["--data-root", str(request.root)]
            if request.resolution is not None:
                extra += ["--resolution", str(request.resolution)]
            if smallest is not None and smallest < 8:
                extra += ["--batch-size", str(smallest)]
            with tempfile.TemporaryDirectory() as tmp:
                runs = _Runs(subject, Path(tmp), run_args)
                runs.run("data", *extra)
                c.passed(f"trains through `gankit run --data {subject.flag_value}`")
                if d.class_field() is not None:
                    runs.run("conditional", *extra, "--scheme", "conditional")
                    how = f"gankit run --data {subject.flag_value} --scheme conditional"
                    c.passed(f"trains class-conditionally: `{how}`")
        return c.report


# -- schemes -------------------------------------------------------------------------------------

#: Data sets :func:`check_scheme` tries, in order, for a scheme that does not name one.
SCHEME_DATA = ("ring8", "digits")


def _scheme_data(c: _Check, scheme: Scheme, data: str | None) -> tuple[str, DataDescription, dict | None]:
    """The first data set (``data``, else :data:`SCHEME_DATA`) whose description the scheme takes:
    its name, description and the scheme's network requests (``None`` for a gankit 0.1 scheme)."""
    candidates = [data] if data else list(SCHEME_DATA)
    refused = []
    for name in candidates:
        spec = _plugins.load_plugins().registry.get("data", name)
        description = spec.create(spec.make_config({}), DataRequest()).description
        try:
            requests = None if _overrides(scheme, "build", Scheme) else scheme.networks(description, 8)
            scheme.generation_inputs(description, 8)
        except GankitError as exc:
            refused.append(f"{name}: {exc}")
            continue
        return name, description, requests
    c.fail(f"it takes none of the data sets {candidates}: {'; '.join(refused)} (pass data='a data set it takes')")
    raise AssertionError  # unreachable


def _check_declarations(c: _Check, scheme: Scheme, d: DataDescription, requests: dict | None) -> dict:
    """Networks, optimizers, EMA networks and generation inputs agree with one another."""
    if requests is None:
        c.report.skipped.append("network requests: a gankit 0.1 scheme (build() instead of networks())")
    else:
        c.expect(
            isinstance(requests, dict) and bool(requests), f"networks() returned {requests!r}, not a dict of requests"
        )
        for name, request in requests.items():
            c.expect(isinstance(request, NetworkRequest), f"networks()[{name!r}] is not a gankit.NetworkRequest")
            c.expect(isinstance(request.role, str) and bool(request.role), f"network {name!r} has no role")
        for optimizer, names in scheme.optimizers.items():
            unknown = sorted(set(names) - set(requests))
            c.expect(not unknown, f"optimizer {optimizer!r} trains {unknown}, which networks() does not request")
        unknown = sorted(set(scheme.ema_networks) - set(requests))
        c.expect(not unknown, f"ema_networks name {unknown}, which networks() does not request")
    inputs = dict(scheme.generation_inputs(d, 8))
    for name, kind in inputs.items():
        c.expect(
            isinstance(kind, (Noise, Label, Attributes, FromData, Option)),
            f"generation input {name!r} is a {type(kind).__name__}, not Noise, Label, Attributes, FromData or Option",
        )
        if isinstance(kind, FromData):
            c.expect(
                kind.field in d.fields, f"generation input {name!r} takes field {kind.field!r}, which {d.name} lacks"
            )
    c.passed(f"declares networks, optimizers and generation inputs ({', '.join(inputs)}) that agree, on {d.name}")
    return inputs


def check_scheme(
    name_or_factory: Any,
    config: Any = None,
    *,
    data: str | None = None,
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """Training 4 steps equals training 2, then resuming to 4 (through the CLI): networks, EMA,
    optimizers, scheme and regularizer state, counters and RNG states bit for bit; ``gankit sample``
    fills its generation inputs (``--label`` for a class input) and generates samples of the data's shape.

    It trains on ``data`` (a data set name), or on the first of :data:`SCHEME_DATA` it takes.
    """
    with _subject("scheme", name_or_factory, config) as subject:
        c = _Check(subject)
        scheme = c.create(Scheme, subject.config)
        c.expect(bool(scheme.optimizers), "it declares no optimizers")
        c.passed("builds a gankit.Scheme with optimizers")
        data_name, description, requests = _scheme_data(c, scheme, data)
        inputs = _check_declarations(c, scheme, description, requests)
        if not run:
            c.report.skipped.append("checkpoint and resume (run=False)")
            return c.report
        with tempfile.TemporaryDirectory() as tmp:
            runs = _Runs(subject, Path(tmp), run_args)
            flags = ("--scheme", subject.flag_value, "--data", data_name, "--ema", "0.9", "--checkpoint-every", "2")
            full, part = resume_states(runs, flags)
            c.expect(part.counters["step"] == 4, f"the resumed run stopped at step {part.counters['step']}, not 4")
            difference = state_difference(full, part)
            c.expect(difference is None, f"2 steps + resume to 4 differ from 4 steps: {difference}")
            c.passed(
                f"checkpoints and resumes exactly on {data_name}: networks, EMA, optimizers, scheme and regularizer "
                "state, counters and RNG states after 2+2 steps equal 4 steps"
            )
            _check_sampling(c, Path(tmp), description, inputs)
        return c.report


def _check_sampling(c: _Check, tmp: Path, d: DataDescription, inputs: dict) -> None:
    import numpy as np

    def sample(name: str, *args: str) -> Any:
        out = tmp / f"{name}.npy"
        run_cli("sample", str(tmp / "full"), "-n", "8", "-o", str(out), "--device", "cpu", *args)
        values = np.load(out)
        c.expect(
            values.shape == (8, *d.shape),
            f"`gankit sample -n 8 {' '.join(args)}` wrote samples of shape {values.shape}, expected {(8, *d.shape)}",
        )
        return values

    extra = []
    for name, kind in inputs.items():
        if isinstance(kind, Attributes):
            extra += ["--set", f"{name}={','.join('1' if i == 0 else '0' for i in range(kind.count))}"]
    sample("samples", *extra)
    c.passed(f"`gankit sample` generates from its generation inputs ({', '.join(inputs)})")
    labels = [kind for kind in inputs.values() if isinstance(kind, Label)]
    if labels:
        first = sample("label0", "--label", "0", *extra)
        second = sample("label1", "--label", "1", *extra)
        same = np.array_equal(first, second)
        c.expect(not same, "`gankit sample --label 0` and `--label 1` generate the same samples")
        c.passed("`gankit sample --label K` generates per class")


# -- trackers and metrics ----------------------------------------------------------------------


def check_tracker(
    name_or_factory: Any, config: Any = None, *, run: bool = True, run_args: Sequence[str] = ()
) -> Report:
    """Every method runs on realistic arguments, ``state()`` is JSON, and runs log without warnings."""
    with _subject("tracker", name_or_factory, config) as subject, tempfile.TemporaryDirectory() as tmp:
        c = _Check(subject)
        folder = Path(tmp) / "direct"
        folder.mkdir()
        tracker = c.create(Tracker, subject.config, TrackerContext(folder, folder.name))
        image, checkpoint_file = _sample_files(folder)
        calls: list[tuple[str, tuple[Any, ...]]] = [
            ("start", ({"run": {"steps": 3}, "components": {}}, 3, 0)),
            ("advance", (1,)),
            ("log_progress", (1, {"d_loss": 1.25, "g_loss": 0.75})),
            ("log_metrics", (1, {"d_loss": 1.25, "g_loss": 0.75, "steps_per_s": 10.0})),
            ("log_images", (1, "samples", image)),
            ("log_evaluation", (1, {"score": 0.5})),
            ("log_checkpoint", (1, checkpoint_file)),
        ]
        for method, args in calls:
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:
                c.fail(f"{method} raised {type(exc).__name__}: {exc}")
        state = tracker.state()
        c.expect(isinstance(state, dict), f"state() returned a {type(state).__name__}, not a dict")
        try:
            json.dumps(state)
        except (TypeError, ValueError) as exc:
            c.fail(f"state() is not JSON-able: {exc}")
        shown = tracker.finish({"steps": 1, "run_folder": str(folder)})
        c.expect(
            isinstance(shown, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in shown.items()),
            f"finish() returned {shown!r}, not a dict of str -> str",
        )
        c.passed(
            "start, advance, log_progress, log_metrics, log_images, log_evaluation, log_checkpoint, state and finish run"
        )
        if run:
            runs = _Runs(subject, Path(tmp), run_args)
            flags = ("--tracker", subject.flag_value, "--data", "ring8")
            for result in (
                runs.run("tracked", *flags, "--sample-every", "1"),
                run_cli("run", "--resume", str(Path(tmp) / "tracked"), "--steps", "3", "--device", "cpu", "-q"),
            ):
                warning = next(
                    (line for line in result.output.splitlines() if line.startswith("Warning: tracker")), None
                )
                c.expect(warning is None, f"a run switched it off: {warning}")
            c.passed(f"`gankit run --tracker {subject.flag_value}` and its resume log without warnings")
        return c.report


def _sample_files(folder: Path) -> tuple[Path, Path]:
    """A real PNG and a real safetensors file, as the engine would hand a tracker."""
    import numpy as np
    import torch
    from PIL import Image
    from safetensors.torch import save_file

    image = folder / "samples.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image)
    checkpoint_file = folder / "step-000001.safetensors"
    save_file({"x": torch.zeros(1)}, str(checkpoint_file))
    return image, checkpoint_file


def check_metric(
    name_or_factory: Any,
    config: Any = None,
    *,
    data: Sequence[str] = ("ring8", "digits"),
    run: bool = True,
    run_args: Sequence[str] = (),
) -> Report:
    """Named finite numbers, the same for the same seed; a JSON protocol; works in training and ``gankit eval``.

    It is scored on each of the ``data`` sets it accepts (it must accept one), with two generators:
    one that returns the data's own samples and one that returns uniform noise. Their
    ``EvalContext.sample`` returns the images it is given (a translator that changes nothing) and
    uniform noise of their shape.
    """
    import torch

    with _subject("metric", name_or_factory, config) as subject, _fork_rng():
        c = _Check(subject)
        metric = c.create(Metric, subject.config)
        c.expect(isinstance(metric.version, str) and bool(metric.version), f"version {metric.version!r} is not a str")
        protocol = metric.protocol()
        c.expect(isinstance(protocol, dict), f"protocol() returned a {type(protocol).__name__}, not a dict")
        try:
            json.dumps(protocol)
        except (TypeError, ValueError) as exc:
            c.fail(f"protocol() is not JSON-able: {exc}")
        scored = []
        for data_name in data:
            spec = _plugins.load_plugins().registry.get("data", data_name)
            dataset = spec.create(spec.make_config({}), DataRequest())
            try:
                for label, generate, sample in _generators(dataset):
                    context = EvalContext(
                        dataset, dataset.description, generate, torch.device("cpu"), seed=0, sample=sample
                    )
                    values = metric.evaluate(context)
                    _check_values(c, values, f"on {data_name} with {label}")
                    again = metric.evaluate(context)
                    c.expect(
                        again == values, f"on {data_name} with {label} two evaluations differ: {values} vs {again}"
                    )
            except GankitError as exc:
                c.report.skipped.append(f"{data_name}: refused ({exc})")
                continue
            scored.append(data_name)
        c.expect(bool(scored), f"it scores none of {list(data)}")
        c.passed(f"named finite numbers on {', '.join(scored)}, the same for the same seed; a JSON protocol")
        if run:
            with tempfile.TemporaryDirectory() as tmp:
                flags = ("--data", scored[0], "--metric", subject.flag_value, "--eval-every", "2")
                _Runs(subject, Path(tmp), run_args).run("metric", *flags)
                run_cli("eval", str(Path(tmp) / "metric"), "--device", "cpu")
                saved = json.loads((Path(tmp) / "metric" / "eval.json").read_text(encoding="utf-8"))
                c.expect(subject.spec.name in saved.get("metrics", {}), "`gankit eval` saved no results for it")
            c.passed(f"`gankit run --metric {subject.flag_value} --eval-every 2` and `gankit eval` work")
        return c.report


def _generators(dataset: Dataset) -> list[tuple[str, Callable[[int], Any], Callable[[int, dict[str, Any]], Any]]]:
    """Stand-ins for ``EvalContext.generate`` and ``EvalContext.sample``, both seeded: the data itself (as
    ``sample``, a translator that returns the images it is given), and uniform noise."""
    import torch

    description = dataset.description
    tensors = dataset.field_tensors()

    def real(n: int) -> Any:
        generator = torch.Generator().manual_seed(0)
        if tensors is not None:
            main = tensors[description.main]
            return main[torch.randint(len(main), (n,), generator=generator)]
        return dataset.sample(n, generator)

    def noise(n: int, shape: tuple[int, ...] = tuple(description.shape)) -> Any:
        generator = torch.Generator().manual_seed(0)
        return torch.rand(n, *shape, generator=generator) * 2 - 1

    def given_images(given: dict[str, Any]) -> Any:
        return next((v for v in given.values() if isinstance(v, torch.Tensor) and v.is_floating_point()), None)

    def real_given(n: int, given: dict[str, Any]) -> Any:
        images = given_images(given)
        return real(n) if images is None else images.clone()

    def noise_given(n: int, given: dict[str, Any]) -> Any:
        images = given_images(given)
        return noise(n) if images is None else noise(len(images), tuple(images.shape[1:]))

    return [("its own samples", real, real_given), ("uniform noise", noise, noise_given)]


def _check_values(c: _Check, values: Any, where: str) -> None:
    c.expect(
        isinstance(values, dict) and bool(values), f"evaluate() {where} returned {values!r}, not a dict of numbers"
    )
    for key, value in values.items():
        c.expect(isinstance(key, str) and bool(key), f"evaluate() {where} returned the key {key!r}, not a name")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        c.expect(number and math.isfinite(value), f"evaluate() {where} returned {key} = {value!r}, not a finite number")
