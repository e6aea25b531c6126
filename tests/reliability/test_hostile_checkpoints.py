"""Crafted checkpoints through the real commands: ``gankit sample FILE`` and ``gankit run --resume FILE``.

Every file starts from a real checkpoint of a tiny run and is edited byte by byte, or in its header
JSON, or re-saved with :func:`safetensors.torch.save` and edited metadata. Each must end in exit 2
and exactly one ``Error:`` line, with no traceback, no output file, nothing written into the run
folder, and nothing executed (the pickle payloads would create a file).

tests/test_checkpoint.py already feeds synthetic hostile files to :func:`gankit.checkpoint.load` and
to ``gankit sample``; these cover the files a stranger could hand over for a *real* run, and the
resume path.
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import load_file, save

from tests.reliability.conftest import TINY, assert_one_error_line


class _CreatesFile:
    """Unpickling this calls ``open(path, "w")``: the file appears if anything unpickles it."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class Source:
    """A real checkpoint's bytes, tensors and metadata, plus a dcgan checkpoint's tensors."""

    def __init__(self, mlp: Path, dcgan: Path, marker: Path):
        self.raw = mlp.read_bytes()
        self.header_len = int.from_bytes(self.raw[:8], "little")
        self.header = self.raw[8 : 8 + self.header_len]
        self.tensors = load_file(mlp)
        with safe_open(str(mlp), framework="pt") as f:
            self.metadata = dict(f.metadata())
        self.dcgan_tensors = load_file(dcgan)
        self.marker = marker

    def config(self) -> dict:
        return json.loads(self.metadata["config"])

    def with_config(self, edit: Callable[[dict], None]) -> bytes:
        config = self.config()
        edit(config)
        return save(self.tensors, metadata=dict(self.metadata, config=json.dumps(config)))

    def with_tensors(self, edit: Callable[[dict], None], metadata: dict | None = None) -> bytes:
        tensors = dict(self.tensors)
        edit(tensors)
        return save(tensors, metadata=metadata or self.metadata)

    def with_header(self, edit: Callable[[dict], None]) -> bytes:
        header = json.loads(self.header)
        edit(header)
        encoded = json.dumps(header).encode()
        return len(encoded).to_bytes(8, "little") + encoded + self.raw[8 + self.header_len :]


def _overlap(header: dict) -> None:
    """The second tensor in the file claims the first one's bytes."""
    names = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    first, second = header[names[0]], header[names[1]]
    second.update(dtype=first["dtype"], shape=first["shape"], data_offsets=list(first["data_offsets"]))


def _narrower_generator(config: dict) -> None:
    config["components"]["mlp"]["options"]["g_hidden"] = [16]
    config["run"].setdefault("options", {}).setdefault("mlp", {})["g_hidden"] = "16"


def _torch_save_zip(src: Source) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(
        {"net/generator/0.weight": src.tensors["net/generator/0.weight"], "x": _CreatesFile(str(src.marker))}, buffer
    )
    return buffer.getvalue()


#: name -> how to make it from the source checkpoint. Every one is refused by both commands.
HOSTILE: dict[str, Callable[[Source], bytes]] = {
    "empty": lambda s: b"",
    "truncated_header": lambda s: s.raw[: 8 + s.header_len // 2],
    "truncated_data": lambda s: s.raw[:-1000],
    "header_length_beyond_file": lambda s: (2**40).to_bytes(8, "little") + s.raw[8:],
    "invalid_json_header": lambda s: (
        s.raw[:8] + s.header.replace(b'"dtype"', b"'dtype'", 1) + s.raw[8 + s.header_len :]
    ),
    "overlapping_offsets": lambda s: s.with_header(_overlap),
    "wrong_dtype_float64": lambda s: s.with_tensors(
        lambda t: t.update({k: v.double() for k, v in t.items() if k.startswith("net/")})
    ),
    "shapes_do_not_fit_config": lambda s: s.with_config(_narrower_generator),
    "missing_tensor": lambda s: s.with_tensors(lambda t: t.pop("net/generator/0.weight")),
    "extra_tensor": lambda s: s.with_tensors(lambda t: t.update({"net/generator/9.weight": torch.zeros(4, 4)})),
    "extra_network": lambda s: s.with_tensors(lambda t: t.update({"net/critic/0.weight": torch.zeros(4, 4)})),
    "pickle_renamed": lambda s: pickle.dumps({"weights": _CreatesFile(str(s.marker))}),
    "torch_save_zip_renamed": _torch_save_zip,
    "other_architecture_dcgan_weights": lambda s: save(s.dcgan_tensors, metadata=s.metadata),
    "plain_safetensors_model": lambda s: save(
        {k[len("net/generator/") :]: v for k, v in s.tensors.items() if k.startswith("net/generator/")}
    ),
}


def _counters(step) -> Callable[[Source], bytes]:
    def make(s: Source) -> bytes:
        counters = json.loads(s.metadata["counters"])
        counters["step"] = step
        return save(s.tensors, metadata=dict(s.metadata, counters=json.dumps(counters)))

    return make


def _poisoned(key: str, value: float) -> Callable[[Source], bytes]:
    """One element of tensor ``key`` set to ``value`` (NaN or inf)."""

    def edit(tensors: dict) -> None:
        tensor = tensors[key].clone()
        tensor.view(-1)[0] = value
        tensors[key] = tensor

    return lambda s: s.with_tensors(edit)


#: Files whose numbers no training or sampling can use: refused when loaded, by every command.
NONFINITE_OR_IMPOSSIBLE: dict[str, Callable[[Source], bytes]] = {
    "weight_nan": _poisoned("net/generator/0.weight", math.nan),
    "weight_inf": _poisoned("net/discriminator/1.weight", math.inf),
    "ema_weight_inf": _poisoned("ema/generator/2.weight", -math.inf),
    "optimizer_exp_avg_sq_inf": _poisoned("optimizer/discriminator/0/exp_avg_sq", math.inf),
    "step_negative": _counters(-5),
    "step_fractional": _counters(2.5),
    "step_1e30": _counters(1e30),
    "step_2_to_53": _counters(2**53),
    "step_text": _counters("2"),
    "step_bool": _counters(True),
}
HOSTILE.update(NONFINITE_OR_IMPOSSIBLE)


def _optimizer_state(edit: Callable[[dict], None]) -> Callable[[Source], bytes]:
    return lambda s: s.with_tensors(edit)


def _optimizer_lr_text(s: Source) -> bytes:
    optimizers = json.loads(s.metadata["optimizers"])
    optimizers["generator"]["param_groups"][0]["lr"] = "fast"
    return save(s.tensors, metadata=dict(s.metadata, optimizers=json.dumps(optimizers)))


#: Files that still end in a traceback: (name, command, how to make it, the bug). Only the command
#: named is checked; the other handles the file correctly (it does not use the damaged part).
BUGS = [
    (
        "optimizer_state_wrong_shape",
        "resume",
        _optimizer_state(lambda t: t.update({"optimizer/generator/0/exp_avg": torch.zeros(3, 3)})),
        "gankit/engine/trainer.py Trainer._restore: Adam's load_state_dict does not check state tensor shapes, "
        "so the first step raises RuntimeError (size mismatch) with a traceback",
    ),
    (
        "optimizer_state_missing",
        "resume",
        _optimizer_state(lambda t: t.pop("optimizer/generator/0/exp_avg")),
        "gankit/engine/trainer.py Trainer._restore: a parameter state without exp_avg loads, then Adam's "
        "first step raises KeyError 'exp_avg' with a traceback",
    ),
    (
        "rng_data_state_missing",
        "resume",
        _optimizer_state(lambda t: t.pop("rng/data")),
        "gankit/engine/trainer.py Trainer._restore: rng.pop('data') raises KeyError with a traceback",
    ),
    (
        "rng_state_wrong_size",
        "resume",
        _optimizer_state(lambda t: t.update({"rng/torch": torch.zeros(7, dtype=torch.uint8)})),
        "gankit/engine/devices.py set_rng_state: torch.set_rng_state raises RuntimeError (state size 7, "
        "expected 5056) with a traceback",
    ),
    (
        "optimizer_lr_not_a_number",
        "resume",
        _optimizer_lr_text,
        "gankit/engine/trainer.py Trainer._restore: param_groups are not validated; lr 'fast' loads and Adam's "
        "step raises TypeError with a traceback",
    ),
    (
        "data_description_negative_shape",
        "sample",
        lambda s: s.with_config(lambda c: c["data_description"].update(shape=[1, -8, 8])),
        "gankit/cli/sample.py: the checkpoint's data_description is not validated; shape [1, -8, 8] reaches "
        "nn.Linear and raises RuntimeError (negative dimension) with a traceback",
    ),
    (
        "data_description_value_range_text",
        "sample",
        lambda s: s.with_config(lambda c: c["data_description"].update(value_range="ab")),
        "gankit/cli/sample.py: value_range 'ab' is not validated; to_data_units raises TypeError with a traceback",
    ),
    (
        "z_dim_astronomical",
        "sample",
        lambda s: s.with_config(lambda c: c["run"].update(z_dim=10**13)),
        "gankit/engine/trainer.py Model: a saved z_dim of 1e13 is built before the weights are checked against "
        "it; the allocator's RuntimeError (can't allocate 1.28e15 bytes) is a traceback (resume too)",
    ),
]


@pytest.fixture(scope="session")
def source(tmp_path_factory) -> Source:
    from gankit.cli import cli

    where = tmp_path_factory.mktemp("hostile-source")
    runner = CliRunner()
    for name, extra in (
        ("mlp", TINY),
        (
            "dcgan",
            ("--arch", "dcgan", "--set", "arch.g_channels=8", "--set", "arch.d_channels=8", "--batch-size", "16"),
        ),
    ):
        result = runner.invoke(
            cli, ["run", *extra, "--steps", "2", "--out", str(where), "--name", name, "-q"], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
    checkpoint = "checkpoints/step-000002.safetensors"
    return Source(where / "mlp" / checkpoint, where / "dcgan" / checkpoint, where / "PWNED")


def _place(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    path = folder / f"{name}.safetensors"
    path.write_bytes(data)
    return path


def _refused(gankit, tmp_path: Path, path: Path, command: str, source: Source) -> str:
    before = sorted(p.name for p in path.parent.iterdir())
    if command == "sample":
        result = gankit("sample", str(path), "-n", "4", "-o", "x.npy")
        assert not (tmp_path / "x.npy").exists()
    else:
        result = gankit("run", "--resume", str(path), "-q")
    assert result.exit_code == 2, result.output
    line = assert_one_error_line(result.output)
    after = sorted(p.name for p in path.parent.iterdir())
    assert set(after) - set(before) <= {".lock"}, f"{command} wrote {after} next to {path.name}"
    assert not (tmp_path / "runs").exists()
    assert not source.marker.exists(), "a checkpoint's pickle payload ran"
    return line


@pytest.mark.parametrize("command", ["sample", "resume"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_checkpoint_is_refused(gankit, tmp_path, source, name, command):
    path = _place(tmp_path, name, HOSTILE[name](source))
    line = _refused(gankit, tmp_path, path, command, source)
    assert str(path) in line or path.name in line, line


@pytest.mark.parametrize(
    ("name", "command", "make"),
    [pytest.param(name, command, make, id=name) for name, command, make, bug in BUGS],
)
def test_hostile_checkpoint_found_by_fuzzing(gankit, tmp_path, source, name, command, make):
    path = _place(tmp_path, name, make(source))
    _refused(gankit, tmp_path, path, command, source)


def test_the_source_checkpoint_itself_is_accepted(gankit, tmp_path, source):
    """The edits above are what breaks the files: the unedited bytes sample and resume fine."""
    path = _place(tmp_path, "original", source.raw)
    assert gankit("sample", str(path), "-n", "4", "-o", "x.npy").exit_code == 0
    resumed = gankit("run", "--resume", str(path), "--steps", "3", "-q")
    assert resumed.exit_code == 0, resumed.output
    assert (path.parent / "checkpoints" / "step-000003.safetensors").is_file()


def test_pickle_files_really_carry_a_payload(source, tmp_path):
    """The pickled payloads are live: unpickling one (here, on purpose) creates the marker file."""
    marker = tmp_path / "made-by-pickle"
    pickle.loads(pickle.dumps(_CreatesFile(str(marker))))
    assert marker.exists()
    marker.unlink()
    assert b"_CreatesFile" not in HOSTILE["pickle_renamed"](source)  # the payload is a bare open() call
