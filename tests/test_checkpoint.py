"""Checkpoints: safetensors round trip, atomic writes, hostile files, and finding a run's latest."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from gankit import GankitError, checkpoint
from gankit.checkpoint import TrainingState
from gankit.runs import RunFolder

torch.set_num_threads(1)

FORMAT = checkpoint.FORMAT


def _state(seed: int = 0) -> TrainingState:
    """A real training state: two small networks after one Adam step each, an EMA copy, RNG states."""
    torch.manual_seed(seed)
    generator = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    discriminator = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    optimizers = {}
    for name, net in (("generator", generator), ("discriminator", discriminator)):
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.5, 0.9))
        x = torch.randn(5, 3 if name == "generator" else 2)
        net(x).sum().backward()
        opt.step()
        optimizers[name] = opt.state_dict()
    return TrainingState(
        config={
            "run": {"steps": 10, "betas": [0.5, 0.9], "regs": ["gp"]},
            "components": {"mlp": {"kind": "architecture"}},
        },
        counters={"step": 7, "d_steps": 35, "data": {"epoch": 1, "position": 64, "started": 1}},
        networks={"generator": generator.state_dict(), "discriminator": discriminator.state_dict()},
        ema={"generator": {k: v * 0.5 for k, v in generator.state_dict().items()}},
        optimizers=optimizers,
        scaler={
            "scale": 65536.0,
            "growth_factor": 2.0,
            "backoff_factor": 0.5,
            "growth_interval": 2000,
            "_growth_tracker": 3,
        },
        rng={"torch": torch.get_rng_state(), "data": torch.Generator().manual_seed(5).get_state()},
    )


def _assert_tensor_dicts_equal(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert torch.equal(a[key], b[key]), key


def _write_header(path: Path, header: bytes, extra: bytes = b"") -> Path:
    path.write_bytes(len(header).to_bytes(8, "little") + header + extra)
    return path


# -- round trip ----------------------------------------------------------------------------------


def test_round_trip(tmp_path):
    state = _state()
    path = tmp_path / "ckpt.safetensors"
    checkpoint.save(state, path)
    loaded = checkpoint.load(path)

    assert loaded.config == state.config
    assert loaded.counters == state.counters
    assert loaded.scaler == state.scaler
    for name in state.networks:
        _assert_tensor_dicts_equal(loaded.networks[name], state.networks[name])
    _assert_tensor_dicts_equal(loaded.ema["generator"], state.ema["generator"])
    _assert_tensor_dicts_equal(loaded.rng, state.rng)

    for name, saved in state.optimizers.items():
        got = loaded.optimizers[name]
        assert got["param_groups"] == saved["param_groups"]
        assert set(got["state"]) == set(saved["state"])
        for index, fields in saved["state"].items():
            _assert_tensor_dicts_equal(got["state"][index], fields)


def test_loaded_optimizer_state_fits_a_fresh_optimizer(tmp_path):
    state = _state()
    path = tmp_path / "ckpt.safetensors"
    checkpoint.save(state, path)
    loaded = checkpoint.load(path)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    net.load_state_dict(loaded.networks["generator"])
    opt = torch.optim.Adam(net.parameters(), lr=0.5)
    opt.load_state_dict(loaded.optimizers["generator"])
    assert opt.param_groups[0]["lr"] == 1e-3
    assert opt.param_groups[0]["betas"] == (0.5, 0.9)
    # The next step continues from the saved moments: same result as the original optimizer.
    torch.manual_seed(1)
    ref_net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    ref_net.load_state_dict(state.networks["generator"])
    ref = torch.optim.Adam(ref_net.parameters(), lr=0.5)
    ref.load_state_dict(state.optimizers["generator"])
    x = torch.randn(4, 3)
    for model, optimizer in ((net, opt), (ref_net, ref)):
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
    for p, q in zip(net.parameters(), ref_net.parameters()):
        assert torch.equal(p, q)


def test_saved_tensors_are_copies(tmp_path):
    """Shared or non-contiguous tensors are fine: the checkpoint stores its own contiguous copies."""
    state = _state()
    weight = torch.arange(12.0).reshape(3, 4)
    state.networks["generator"] = {"a": weight.t(), "b": weight}  # non-contiguous + shared storage
    path = tmp_path / "ckpt.safetensors"
    checkpoint.save(state, path)
    loaded = checkpoint.load(path)
    assert torch.equal(loaded.networks["generator"]["a"], weight.t())
    assert torch.equal(loaded.networks["generator"]["b"], weight)


def test_file_is_plain_safetensors_with_gankit_metadata(tmp_path):
    from safetensors import safe_open

    path = tmp_path / "ckpt.safetensors"
    checkpoint.save(_state(), path)
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        keys = set(f.keys())
    assert metadata["format"] == FORMAT
    assert json.loads(metadata["counters"])["step"] == 7
    assert "net/generator/0.weight" in keys
    assert "ema/generator/0.weight" in keys
    assert "rng/torch" in keys
    assert any(k.startswith("optimizer/discriminator/") for k in keys)


# -- atomic writes -------------------------------------------------------------------------------


def test_atomic_write_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "ckpt.safetensors"
    checkpoint.save(_state(0), path)
    checkpoint.save(_state(1), path)  # replaces the first
    assert sorted(p.name for p in path.parent.iterdir()) == ["ckpt.safetensors"]
    loaded = checkpoint.load(path)
    _assert_tensor_dicts_equal(loaded.networks["generator"], _state(1).networks["generator"])


def test_failed_atomic_write_removes_its_temp_file(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("untouched")
    with pytest.raises(OSError):
        checkpoint.write_atomic(target, b"data")  # os.replace onto a non-empty folder fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (target / "keep.txt").read_text() == "untouched"


# -- hostile files -------------------------------------------------------------------------------


class _MakesFolder:
    """Unpickling this object calls os.mkdir(path)."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def _hostile_files(folder: Path, marker: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    files["empty"] = folder / "empty.safetensors"
    files["empty"].write_bytes(b"")
    files["four_bytes"] = folder / "four.safetensors"
    files["four_bytes"].write_bytes(b"\x01\x02\x03\x04")
    files["header_beyond_file"] = _write_header(folder / "long.safetensors", b"{}", b"")
    files["header_beyond_file"].write_bytes((10**6).to_bytes(8, "little") + b"{}")
    files["huge_header_length"] = folder / "huge.safetensors"
    files["huge_header_length"].write_bytes((2**64 - 1).to_bytes(8, "little") + b"{}")
    files["invalid_json"] = _write_header(folder / "badjson.safetensors", b"{not json at all")
    files["json_not_object"] = _write_header(folder / "list.safetensors", b"[1, 2, 3]")
    files["not_utf8"] = _write_header(folder / "utf.safetensors", b"\xff\xfe\xfd")
    files["tensor_beyond_data"] = _write_header(
        folder / "short.safetensors",
        json.dumps({"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}).encode(),
    )
    files["overlapping_tensors"] = _write_header(
        folder / "overlap.safetensors",
        json.dumps({n: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]} for n in "ab"}).encode(),
        b"\0" * 4,
    )
    files["metadata_not_strings"] = _write_header(folder / "meta.safetensors", b'{"__metadata__": {"format": 5}}')
    files["no_metadata"] = folder / "plain.safetensors"
    save_file({"weight": torch.zeros(3)}, str(files["no_metadata"]))
    files["other_format"] = folder / "other.safetensors"
    save_file({"weight": torch.zeros(3)}, str(files["other_format"]), metadata={"format": "someone-else/2"})
    files["gankit_format_missing_fields"] = folder / "partial.safetensors"
    save_file(
        {"net/generator/w": torch.zeros(3)}, str(files["gankit_format_missing_fields"]), metadata={"format": FORMAT}
    )
    files["pickle"] = folder / "pickle.safetensors"
    files["pickle"].write_bytes(pickle.dumps(_MakesFolder(str(marker))))
    files["torch_save_zip"] = folder / "torchzip.safetensors"
    torch.save({"weight": torch.zeros(3), "evil": _MakesFolder(str(marker))}, files["torch_save_zip"])
    files["torch_save_legacy"] = folder / "legacy.safetensors"
    torch.save({"evil": _MakesFolder(str(marker))}, files["torch_save_legacy"], _use_new_zipfile_serialization=False)
    return files


HOSTILE = [
    "empty",
    "four_bytes",
    "header_beyond_file",
    "huge_header_length",
    "invalid_json",
    "json_not_object",
    "not_utf8",
    "tensor_beyond_data",
    "overlapping_tensors",
    "metadata_not_strings",
    "no_metadata",
    "other_format",
    "gankit_format_missing_fields",
    "pickle",
    "torch_save_zip",
    "torch_save_legacy",
]


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_file_is_a_one_line_error_and_runs_nothing(tmp_path, kind):
    marker = tmp_path / "pwned"
    path = _hostile_files(tmp_path / "files", marker)[kind]
    assert not marker.exists()
    with pytest.raises(GankitError) as info:
        checkpoint.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert not marker.exists(), "loading a checkpoint executed pickled code"


def test_expected_reasons(tmp_path):
    files = _hostile_files(tmp_path / "files", tmp_path / "pwned")

    def reason(kind):
        with pytest.raises(GankitError) as info:
            checkpoint.load(files[kind])
        return str(info.value)

    assert "0 bytes" in reason("empty")
    assert "4 bytes" in reason("four_bytes")
    assert "header claims 1000000 bytes" in reason("header_beyond_file")
    assert "not a valid safetensors" in reason("invalid_json")
    assert "not a gankit checkpoint (format None" in reason("no_metadata")
    assert "'someone-else/2'" in reason("other_format")
    assert "damaged gankit checkpoint" in reason("gankit_format_missing_fields")


def test_missing_file(tmp_path):
    with pytest.raises(GankitError, match="cannot read checkpoint"):
        checkpoint.load(tmp_path / "nope.safetensors")


def _gankit_file(path: Path, *, config: str, tensors=None, counters='{"step": 1}', optimizers="{}") -> Path:
    metadata = {"format": FORMAT, "config": config, "counters": counters, "optimizers": optimizers, "scaler": "{}"}
    save_file(tensors or {"net/generator/w": torch.zeros(2)}, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("config_not_json", {"config": "{oops"}),
        ("config_not_object", {"config": "[1]"}),
        ("no_components", {"config": '{"run": {}}'}),
        ("step_not_int", {"config": '{"run": {}, "components": {}}', "counters": '{"step": "many"}'}),
        ("optimizers_not_object", {"config": '{"run": {}, "components": {}}', "optimizers": "[1]"}),
        ("optimizer_without_groups", {"config": '{"run": {}, "components": {}}', "optimizers": '{"g": {}}'}),
        ("rng_not_uint8", {"config": '{"run": {}, "components": {}}', "tensors": {"rng/torch": torch.zeros(3)}}),
        ("unexpected_tensor", {"config": '{"run": {}, "components": {}}', "tensors": {"weird/x": torch.zeros(3)}}),
    ],
)
def test_damaged_gankit_checkpoint(tmp_path, name, kwargs):
    path = _gankit_file(tmp_path / f"{name}.safetensors", **kwargs)
    with pytest.raises(GankitError) as info:
        checkpoint.load(path)
    assert "damaged gankit checkpoint" in str(info.value)
    assert "\n" not in str(info.value)


def test_deeply_nested_metadata_is_a_gankit_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    path = _gankit_file(tmp_path / "deep.safetensors", config=deep)
    with pytest.raises(GankitError):
        checkpoint.load(path)


# -- finding a run's checkpoint ------------------------------------------------------------------


def test_find_checkpoint_follows_latest_pointer(tmp_path):
    folder = RunFolder.create(tmp_path / "run")
    first = folder.save_checkpoint(_state(0), 1, keep=3)
    second = folder.save_checkpoint(_state(1), 2, keep=3)
    assert checkpoint.find_checkpoint(folder.path) == second
    assert checkpoint.find_checkpoint(folder.checkpoints) == second
    # The pointer wins over the highest step number.
    (folder.checkpoints / "latest").write_text(first.name + "\n")
    assert checkpoint.find_checkpoint(folder.path) == first
    # A file path is returned as it is.
    assert checkpoint.find_checkpoint(second) == second


def test_find_checkpoint_without_valid_pointer_uses_highest_step(tmp_path):
    folder = RunFolder.create(tmp_path / "run")
    folder.save_checkpoint(_state(0), 1, keep=3)
    last = folder.save_checkpoint(_state(1), 12, keep=3)
    (folder.checkpoints / "latest").write_text("step-999999.safetensors\n")
    assert checkpoint.find_checkpoint(folder.path) == last
    (folder.checkpoints / "latest").unlink()
    assert checkpoint.find_checkpoint(folder.path) == last


def test_save_checkpoint_keeps_the_newest(tmp_path):
    folder = RunFolder.create(tmp_path / "run")
    for step in (1, 2, 3, 4):
        folder.save_checkpoint(_state(step), step, keep=2)
    names = sorted(p.name for p in folder.checkpoints.iterdir())
    assert names == ["latest", "step-000003.safetensors", "step-000004.safetensors"]
    assert (folder.checkpoints / "latest").read_text().strip() == "step-000004.safetensors"


def test_find_checkpoint_on_empty_folder(tmp_path):
    empty = tmp_path / "empty-run"
    empty.mkdir()
    with pytest.raises(GankitError) as info:
        checkpoint.find_checkpoint(empty)
    message = str(info.value)
    assert "no checkpoint" in message and str(empty) in message and "step-*.safetensors" in message
    (empty / "checkpoints").mkdir()
    with pytest.raises(GankitError, match="no checkpoint"):
        checkpoint.find_checkpoint(empty)


def test_find_checkpoint_missing_path(tmp_path):
    with pytest.raises(GankitError, match="no such run folder or checkpoint"):
        checkpoint.find_checkpoint(tmp_path / "never")


# -- through the CLI -----------------------------------------------------------------------------


def _assert_one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("kind", HOSTILE)
def test_sample_refuses_hostile_file(gankit, tmp_path, kind):
    marker = tmp_path / "pwned"
    path = _hostile_files(tmp_path / "files", marker)[kind]
    result = gankit("sample", str(path), "-n", "4", "-o", "x.png")
    _assert_one_error_line(result)
    assert not marker.exists()
    assert not (tmp_path / "x.png").exists()


def test_sample_refuses_pickle_in_a_subprocess(tmp_path):
    marker = tmp_path / "pwned"
    path = _hostile_files(tmp_path / "files", marker)["pickle"]
    result = subprocess.run(
        [sys.executable, "-m", "gankit", "sample", str(path), "-n", "4", "-o", "x.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().startswith("Error: ") and len(result.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_sample_refuses_checkpoint_with_malformed_sections(gankit, tmp_path):
    config = json.dumps({"run": 5, "components": 5, "data_description": {}})
    path = _gankit_file(tmp_path / "garbage.safetensors", config=config)
    _assert_one_error_line(gankit("sample", str(path), "-n", "4", "-o", "x.npy"))


def test_sample_refuses_checkpoint_with_incomplete_data_description(gankit, tmp_path):
    config = json.dumps({"run": {}, "components": {}, "data_description": {"bogus": 1}})
    path = _gankit_file(tmp_path / "nodesc.safetensors", config=config)
    _assert_one_error_line(gankit("sample", str(path), "-n", "4", "-o", "x.npy"))


def test_a_checkpoint_of_gankit_0_1_still_samples_and_resumes(tmp_path):
    """tests/data/checkpoint-v1.safetensors: 4 steps of `gankit run` (format 1, tiny MLPs, EMA) written
    by gankit 0.1 before the surface changed; it must keep loading."""
    import shutil

    from click.testing import CliRunner

    from gankit.cli import cli

    run = tmp_path / "runs" / "v1" / "checkpoints"
    run.mkdir(parents=True)
    shutil.copy(Path(__file__).parent / "data" / "checkpoint-v1.safetensors", run / "step-000004.safetensors")
    (run / "latest").write_text("step-000004.safetensors\n")
    state = checkpoint.load(run / "step-000004.safetensors")
    assert state.counters["step"] == 4 and state.scheme == {} and "python" not in state.rng
    assert state.counters["g_steps"] == 0 and state.counters["data_streams"] == []  # the migration fills them
    runner = CliRunner()
    out = tmp_path / "s.npy"
    result = runner.invoke(cli, ["sample", str(run.parent), "-n", "4", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["run", "--resume", str(run.parent), "--steps", "6", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    resumed = checkpoint.load(checkpoint.find_checkpoint(run.parent))
    assert resumed.counters["step"] == 6 and "python" in resumed.rng
