"""Helpers shared by the reliability tests: real ``python -m gankit`` processes, run-folder checks.

Every training process here is small (an MLP with 32-wide hidden layers on the embedded 8x8 digits,
batch 16) and single-threaded, so that runs are bit-for-bit reproducible on CPU and several of them
fit on a 2-core machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

#: A run small enough to start and train in a few seconds on one core.
TINY = ("--batch-size", "16", "--set", "arch.g_hidden=32", "--set", "arch.d_hidden=32")

#: Steps of the reference run that the crash and signal tests must reproduce exactly.
REFERENCE_STEPS = 1200

#: One thread per process: reproducible float results, and no fight for the two cores.
ENV = dict(
    os.environ,
    OMP_NUM_THREADS="1",
    MKL_NUM_THREADS="1",
    PYTHONUNBUFFERED="1",
    WANDB_MODE="disabled",
)

STEP_FILE = re.compile(r"^step-(\d+)\.safetensors$")


def gankit_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gankit", *args]


def run_to_end(
    cwd: Path, *args: str, timeout: float = 300, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """Run ``python -m gankit ARGS`` to the end in ``cwd``."""
    return subprocess.run(
        [*prefix, *gankit_command(*args)], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout
    )


class Process:
    """A ``python -m gankit`` process whose stdout and stderr go to files that the test can poll."""

    def __init__(self, cwd: Path, *args: str, tag: str = "proc"):
        self.cwd = Path(cwd)
        self.out_path = self.cwd / f"{tag}.stdout"
        self.err_path = self.cwd / f"{tag}.stderr"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(gankit_command(*args), cwd=self.cwd, env=ENV, stdout=out, stderr=err)
        self.pid = self.popen.pid

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        """Block until ``pattern`` appears in stderr; fails if the process ends first."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = regex.search(self.stderr)
            if found:
                return found
            if self.popen.poll() is not None:
                found = regex.search(self.stderr)
                if found:
                    return found
                raise AssertionError(
                    f"gankit exited ({self.popen.returncode}) before printing {pattern!r}:\n"
                    f"{self.stdout}\n{self.stderr}"
                )
            time.sleep(0.002)
        self.kill()
        raise AssertionError(f"gankit did not print {pattern!r} within {timeout} s:\n{self.stderr}")

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=60)

    def wait(self, timeout: float = 300) -> int:
        return self.popen.wait(timeout=timeout)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Error:")]


def assert_one_error_line(text: str) -> str:
    """Exactly one ``Error:`` line, it is the last line, and no traceback anywhere."""
    assert "Traceback" not in text, text
    errors = error_lines(text)
    assert len(errors) == 1, text
    assert text.strip().splitlines()[-1] == errors[0], text
    return errors[0]


def checkpoint_steps(checkpoints: Path) -> list[int]:
    if not checkpoints.is_dir():
        return []
    return sorted(int(m.group(1)) for p in checkpoints.iterdir() if (m := STEP_FILE.match(p.name)))


def temp_files(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp"))


def check_run_folder(run: Path) -> int | None:
    """Every checkpoint loads, ``latest`` names a valid one; returns the step a resume starts from.

    ``None`` when there is no checkpoint yet (a resume restarts from step 0 with config.json).
    """
    from gankit import checkpoint

    checkpoints = run / "checkpoints"
    steps = checkpoint_steps(checkpoints)
    for step in steps:
        state = checkpoint.load(checkpoints / f"step-{step:06d}.safetensors")  # raises if damaged
        assert int(state.counters["step"]) == step
    pointer = checkpoints / "latest"
    if pointer.exists():
        name = pointer.read_text().strip()
        match = STEP_FILE.match(name)
        assert match, f"latest holds {name!r}"
        assert int(match.group(1)) in steps, f"latest names {name}, but the folder holds {steps}"
        return int(match.group(1))
    # The only moment without a pointer: killed between the first checkpoint's rename and its pointer.
    assert len(steps) <= 1, f"no latest pointer beside {steps}"
    return steps[-1] if steps else None


def assert_lock_free(run: Path) -> None:
    """The folder's locks (on the folder, and on .lock) can be taken right now (and are given back at once)."""
    fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pytest.fail(f"{run} is still locked after its process ended")
    finally:
        os.close(fd)
    lock = run / ".lock"
    if not lock.exists():
        return
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pytest.fail(f"{lock} is still locked after its process ended")
        fcntl.flock(handle, fcntl.LOCK_UN)


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    latest = (run / "checkpoints" / "latest").read_text().strip()
    return load_file(run / "checkpoints" / latest)


def assert_same_weights(run: Path, reference: Path) -> None:
    """Bit-for-bit equal networks, EMA and optimizer states (RNG states may differ in layout)."""
    got, want = final_weights(run), final_weights(reference)
    assert sorted(got) == sorted(want)
    for key in want:
        if key.startswith("rng/"):
            continue
        assert got[key].dtype == want[key].dtype, key
        assert torch.equal(got[key], want[key]), f"{key} differs from the uninterrupted run"


def metrics_lines_parse(run: Path) -> int:
    """Every line of metrics.jsonl is whole JSON; returns the number of lines."""
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
    for line in lines:
        json.loads(line)
    return len(lines)


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory) -> Path:
    """An uninterrupted run of REFERENCE_STEPS steps: what every interrupted run must end up equal to."""
    where = tmp_path_factory.mktemp("reference")
    done = run_to_end(
        where,
        "run",
        *TINY,
        "--steps",
        str(REFERENCE_STEPS),
        "--log-every",
        "100",
        "--sample-every",
        "100000",
        "--name",
        "reference",
        "-q",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return where / "runs" / "reference"
