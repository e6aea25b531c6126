"""Data-parallel training through torchrun with gloo on the CPU (2 processes)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

SMALL = ("--batch-size", "32", "--set", "arch.g_hidden=64,64", "--set", "arch.d_hidden=64", "-q")
ENV = dict(os.environ, OMP_NUM_THREADS="1")


# gloo's TCP mesh can fail to connect on a heavily loaded machine (a socket refused while the other
# process is still starting); that is the transport, not gankit, so such a run is tried once more.
TRANSPORT_ERRORS = ("connectFullMesh", "Connection refused", "Connection reset by peer")


def _gankit(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    for attempt in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "gankit", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout
        )
        output = result.stdout + result.stderr
        if result.returncode == 0 or attempt or not any(e in output for e in TRANSPORT_ERRORS):
            break
        name = args[args.index("--name") + 1]
        shutil.rmtree(cwd / "runs" / name, ignore_errors=True)
    assert result.returncode == 0, output
    return result


def _final(run: Path) -> dict:
    return load_file(run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip())


@pytest.mark.parametrize(
    "args",
    [("--loss", "bce"), ("--loss", "wgan", "--reg", "gp", "--set", "scheme.reuse_fakes=true")],
    ids=["bce", "wgan-gp-reused-fakes"],  # reused: G's graph built in the last D step, backwarded in G's
)
def test_two_processes_reach_the_weights_of_one(tmp_path, args):
    common = (*args, "--steps", "20", "--log-every", "5", *SMALL)
    _gankit(tmp_path, "run", *common, "--name", "one")
    two = _gankit(tmp_path, "run", "--nproc", "2", *common, "--name", "two")
    assert "x 2 processes" in two.stderr
    one_w, two_w = _final(tmp_path / "runs" / "one"), _final(tmp_path / "runs" / "two")
    for key in one_w:
        if key.startswith(("net/", "optimizer/")):
            assert (one_w[key].float() - two_w[key].float()).abs().max() <= 1e-5, key
    # Rank 0 alone writes: one folder, one line per log step, the same steps as the single process.
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["one", "two"]
    steps = [
        json.loads(line)["step"] for line in (tmp_path / "runs" / "two" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [5, 10, 15, 20]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds worker processes through /proc")
def test_a_killed_rank_restarts_the_group_which_resumes_and_completes(tmp_path):
    for attempt in range(2):
        output, returncode = _kill_one_rank(tmp_path)
        if returncode == 0 or attempt or not any(e in output for e in TRANSPORT_ERRORS):
            break
        shutil.rmtree(tmp_path / "runs", ignore_errors=True)
    assert returncode == 0, output
    assert "resuming at step" in output
    assert (tmp_path / "runs" / "elastic" / "checkpoints" / "step-003000.safetensors").is_file()


def _kill_one_rank(tmp_path: Path) -> tuple[str, int]:
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        "--max-restarts=1",
        "-m",
        "gankit",
        "run",
        "--name",
        "elastic",
        "--steps",
        "3000",
        "--checkpoint-every",
        "50",
        "--log-every",
        "50",
        *SMALL,
    ]
    agent = subprocess.Popen(
        command, cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    latest = tmp_path / "runs" / "elastic" / "checkpoints" / "latest"
    deadline = time.time() + 120
    while not latest.exists() and time.time() < deadline and agent.poll() is None:
        time.sleep(0.05)
    assert latest.exists(), "no checkpoint appeared"
    workers = _children(agent.pid)
    while len(workers) != 2 and time.time() < deadline:  # the workers of the current attempt
        time.sleep(0.05)
        workers = _children(agent.pid)
    assert len(workers) == 2, (workers, agent.poll())
    os.kill(workers[-1], signal.SIGKILL)
    output, _ = agent.communicate(timeout=300)
    return output, agent.returncode
