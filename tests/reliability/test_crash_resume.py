"""SIGKILL ``gankit run`` at 20 random moments, resume it every time, and end with the uninterrupted weights.

The moments come from a seeded RNG. Half of them are plain random delays after the run starts
training; the other half wait, after a random delay, for a checkpoint write to begin (a ``.*.tmp``
file in ``checkpoints/``) and kill at once, so that many kills land inside ``write_atomic``. A kill
"during a write" is counted when a temporary file is still there after the process is gone.

After every kill: every ``step-*.safetensors`` loads with :func:`gankit.checkpoint.load`, ``latest``
names one of them, the folder's lock is free, and the next ``--resume`` starts at exactly the step
``latest`` names (step 0, from config.json, when the kill came before the first checkpoint).

Set ``GANKIT_CRASH_REPORT=path.json`` to keep the per-kill record.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path

from tests.reliability.conftest import (
    REFERENCE_STEPS,
    TINY,
    Process,
    assert_lock_free,
    assert_same_weights,
    check_run_folder,
    checkpoint_steps,
    metrics_lines_parse,
    temp_files,
)

KILLS = 20
SEED = 20261126
STARTED = r"^gankit: .*-> (?P<folder>\S+)$"
RESUMING = r"\(resuming at step (\d+)\)"


def _wait_for_temp_file(checkpoints: Path, process: Process, timeout: float = 2.0) -> bool:
    """Spin until a checkpoint or pointer write is in progress; False if none began in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.popen.poll() is None:
        try:
            with os.scandir(checkpoints) as entries:
                if any(e.name.startswith(".") and e.name.endswith(".tmp") for e in entries):
                    return True
        except FileNotFoundError:
            pass
    return False


def test_sigkill_at_20_random_moments_then_resume_equals_uninterrupted(tmp_path, reference_run):
    rng = random.Random(SEED)
    args = (
        "run",
        *TINY,
        "--steps",
        str(REFERENCE_STEPS),
        "--checkpoint-every",
        "3",
        "--log-every",
        "25",
        "--sample-every",
        "100000",
        "-q",
    )
    kills: list[dict] = []
    cycle, completed_cycles = 1, 0
    name = f"crash-{cycle}"
    expected_start: int | None = None  # None: a fresh run; 0 or more: where the resume must begin
    started_runs = 0

    while len(kills) < KILLS:
        run = tmp_path / "runs" / name
        fresh = expected_start is None
        command = (*args, "--name", name) if fresh else ("run", "--resume", f"runs/{name}", "-q")
        process = Process(tmp_path, *command, tag=f"p{started_runs}")
        started_runs += 1
        started = process.wait_for(STARTED)
        line = started.group(0)
        if not fresh:
            resumed_at = int(m.group(1)) if (m := re.search(RESUMING, line)) else 0
            assert resumed_at == expected_start, f"resumed at {resumed_at}, latest named {expected_start}: {line}"

        trial = len(kills)
        mode = "random" if trial == 0 or rng.random() < 0.5 else "during-write"
        delay = 0.0 if trial == 0 else rng.uniform(0.0, 0.35 if mode == "random" else 0.25)
        time.sleep(delay)
        if mode == "during-write":
            _wait_for_temp_file(run / "checkpoints", process)
        process.kill()

        if process.popen.returncode == 0:  # it finished before the kill: a whole run survived
            assert "Finished" in process.stdout
            check_run_folder(run)
            assert_same_weights(run, reference_run)
            completed_cycles += 1
            cycle += 1
            name, expected_start = f"crash-{cycle}", None
            continue
        assert process.popen.returncode == -9, process.stderr

        leftovers = temp_files(run / "checkpoints")
        steps = checkpoint_steps(run / "checkpoints")
        start = check_run_folder(run)  # every checkpoint loads, latest names a valid one
        assert_lock_free(run)
        metrics_lines_parse(run)  # no torn metrics line either
        kills.append(
            {
                "trial": trial,
                "mode": mode,
                "delay_s": round(delay, 4),
                "checkpoints_after": steps,
                "latest": start,
                "temp_files": leftovers,
                "checkpoint_write": any(n.startswith(".step-") for n in leftovers),
                "pointer_write": any(n.startswith(".latest.") for n in leftovers),
                "renamed_not_pointed": bool(steps) and start is not None and steps[-1] > start,
                "before_first_checkpoint": not steps,
                "after_last_checkpoint": start == REFERENCE_STEPS,  # killed while exiting
            }
        )
        expected_start = start or 0

    # The last resume runs to the end, undisturbed, and must equal the uninterrupted run bit for bit.
    run = tmp_path / "runs" / name
    process = Process(tmp_path, "run", "--resume", f"runs/{name}", "-q", tag="final")
    line = process.wait_for(STARTED).group(0)
    m = re.search(RESUMING, line)
    assert (int(m.group(1)) if m else 0) == expected_start
    assert process.wait() == 0, process.stdout + process.stderr
    assert check_run_folder(run) == REFERENCE_STEPS
    assert temp_files(run / "checkpoints") == []
    assert_same_weights(run, reference_run)

    during_write = sum(k["checkpoint_write"] or k["pointer_write"] for k in kills)
    summary = {
        "kills": len(kills),
        "kills_during_a_write": during_write,
        "during_checkpoint_data_write": sum(k["checkpoint_write"] for k in kills),
        "during_latest_pointer_write": sum(k["pointer_write"] for k in kills),
        "between_rename_and_pointer": sum(k["renamed_not_pointed"] for k in kills),
        "before_first_checkpoint": sum(k["before_first_checkpoint"] for k in kills),
        "after_last_checkpoint": sum(k["after_last_checkpoint"] for k in kills),
        "processes_started": started_runs + 1,
        "whole_runs_completed_between_kills": completed_cycles,
    }
    print("crash-resume summary:", json.dumps(summary))
    if os.environ.get("GANKIT_CRASH_REPORT"):
        Path(os.environ["GANKIT_CRASH_REPORT"]).write_text(json.dumps({"summary": summary, "kills": kills}, indent=1))
    assert len(kills) == KILLS
