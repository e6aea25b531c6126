"""Network sizes that no machine can allocate, from flags or from a checkpoint: one line, no traceback."""

from __future__ import annotations

import json
import shutil

import pytest
from safetensors import safe_open
from safetensors.torch import load_file, save

from tests.conftest import one_error_line
from tests.reliability.conftest import TINY
from tests.reliability.test_confinement import CKPT, tiny_run  # noqa: F401 - the shared tiny run

HUGE_WIDTH = "100000000000"  # 1e11 x 64 floats: 25.6 TB


@pytest.mark.parametrize(
    "flags",
    [
        ("--set", f"arch.g_hidden={HUGE_WIDTH}"),
        ("--set", f"arch.d_hidden=32,{HUGE_WIDTH}"),
        ("--z-dim", "65536", "--set", "arch.g_hidden=1000000"),
    ],
    ids=["g_hidden", "d_hidden", "z_dim_times_width"],
)
def test_run_with_unallocatable_networks_is_one_line(gankit, tmp_path, flags):
    line = one_error_line(gankit("run", *TINY, *flags, "--steps", "1", "-q"))
    assert "cannot be built" in line and "this configuration" in line, line
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["sample", "eval", "resume"])
def test_checkpoint_asking_for_unallocatable_networks_is_one_line(gankit, tmp_path, tiny_run, command):  # noqa: F811
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    (run / ".lock").unlink(missing_ok=True)
    path = run / "checkpoints" / CKPT
    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata())
    config = json.loads(metadata["config"])
    config["run"]["z_dim"] = 65536
    config["components"]["mlp"]["options"]["g_hidden"] = [10**9]
    path.write_bytes(save(load_file(path), metadata=dict(metadata, config=json.dumps(config))))
    if command == "sample":
        result = gankit("sample", str(run), "-n", "4", "-o", "x.npy")
    elif command == "eval":
        result = gankit("eval", str(run), "--metric", "digit-quality", "-n", "8")
    else:
        result = gankit("run", "--resume", str(run), "-q")
    line = one_error_line(result)
    assert "cannot be built" in line and CKPT in line, line
