"""The console tracker: a progress bar on a terminal with a size; plain lines on a pipe and on a
pseudo-terminal without one (``script -qc CMD /dev/null``, CI logs), where a bar would be 0 columns wide.
Losses show from the first step; plain lines carry the elapsed time, the rate and the ETA."""

from __future__ import annotations

import io
import os
import re
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gankit_builtins.trackers import ConsoleConfig
from gankit_builtins.trackers.console import HEARTBEAT_S, Console, terminal_columns

from gankit import TrackerContext

fcntl = pytest.importorskip("fcntl")  # pseudo-terminals: POSIX only
termios = pytest.importorskip("termios")

FIRST = {"d_loss": 1.3642, "g_loss": 0.7264}
LOGGED = {"d_loss": 0.8197, "g_loss": 1.538, "steps_per_s": 10.0, "grad_norm/generator": 2.0}


class Clock:
    """A clock the test moves by hand: no test depends on wall time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_console(stream, clock: Clock | None = None, progress: bool = True) -> Console:
    context = TrackerContext(Path("."), "run")
    return Console(ConsoleConfig(progress=progress), context, stream=stream, clock=clock or Clock())


def pty_pair(rows: int, columns: int) -> tuple[int, int]:
    """A pseudo-terminal (master, slave) whose window size is rows x columns (0 x 0: no size)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    return master, slave


def read_all(master: int, process: subprocess.Popen | None = None, limit_s: float = 600) -> str:
    """Everything written to the pty until its last writer closes it (EIO on Linux)."""
    chunks, deadline = [], time.monotonic() + limit_s  # a hang guard only; no assertion on time
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            if process is not None and process.poll() is not None:
                break
            continue
        try:
            data = os.read(master, 65536)
        except OSError:  # every writer closed the slave side
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


def test_a_pipe_gets_the_first_steps_losses_at_once_then_lines_with_elapsed_rate_and_eta():
    stream, clock = io.StringIO(), Clock()
    console = make_console(stream, clock)
    assert not console.interactive
    console.start({}, 300, 0)
    clock.now += 0.4
    console.advance(1)
    console.log_progress(1, FIRST)
    first = stream.getvalue().splitlines()
    assert first == ["step 1/300  d_loss 1.364  g_loss 0.7264  elapsed 0:00:00"]
    clock.now += 9.6
    for step in range(2, 101):
        console.advance(step)
    console.log_metrics(100, LOGGED)
    line = stream.getvalue().splitlines()[-1]
    assert line == "step 100/300  d_loss 0.8197  g_loss 1.538  elapsed 0:00:10  10.0 steps/s  ETA 0:00:20"
    # Four significant digits, trailing zeros kept, so the columns stay put from line to line.
    console.log_metrics(200, {"d_loss": 1.34, "g_loss": 2.0, "steps_per_s": 10.0})
    assert "d_loss 1.340  g_loss 2.000  " in stream.getvalue().splitlines()[-1]
    assert console.finish({}) == {}


def test_plain_lines_say_how_far_the_run_is_when_log_steps_are_far_apart():
    stream, clock = io.StringIO(), Clock()
    console = make_console(stream, clock)
    console.start({}, 1000, 200)  # a resumed run: the rate counts this session's steps only
    clock.now += HEARTBEAT_S - 1
    console.advance(229)
    assert stream.getvalue() == ""
    clock.now += 1
    console.advance(230)
    assert stream.getvalue().splitlines() == ["step 230/1000  elapsed 0:00:30  1.0 steps/s  ETA 0:12:50"]
    clock.now += 1
    console.advance(231)  # the next one waits another HEARTBEAT_S
    assert len(stream.getvalue().splitlines()) == 1


@pytest.mark.parametrize(("rows", "columns", "bar"), [(0, 0, False), (24, 100, True), (24, 10, False)])
def test_a_terminal_gets_a_bar_only_when_it_has_a_usable_width(rows, columns, bar):
    master, slave = pty_pair(rows, columns)
    with os.fdopen(slave, "w") as stream:
        assert terminal_columns(stream) == columns
        console = make_console(stream)
        assert console.interactive is bar
        console.start({}, 300, 0)
        console.advance(1)
        console.log_progress(1, FIRST)
        console.finish({})
    shown = read_all(master)
    os.close(master)
    if bar:
        assert "1/300" in shown and "d_loss=1.364" in shown and "g_loss=0.7264" in shown
    else:
        assert "step 1/300  d_loss 1.364  g_loss 0.7264  elapsed 0:00:00" in shown


def test_a_terminal_with_progress_off_gets_plain_lines():
    master, slave = pty_pair(24, 100)
    with os.fdopen(slave, "w") as stream:
        assert not make_console(stream, progress=False).interactive
    os.close(master)


def test_no_terminal_and_a_closed_stream_are_not_terminals():
    assert terminal_columns(io.StringIO()) is None
    closed = io.StringIO()
    closed.close()
    assert terminal_columns(closed) is None


@pytest.mark.parametrize(("rows", "columns"), [(0, 0), (30, 120)])
def test_a_real_run_under_a_pseudo_terminal_shows_steps_losses_and_time(tmp_path, rows, columns):
    """`script -qc "gankit run" /dev/null` (a 0 x 0 pty) showed nothing for minutes; a sized pty gets the bar."""
    master, slave = pty_pair(rows, columns)
    args = [*"--steps 30 --log-every 10 --batch-size 16 --z-dim 4 --name tty".split(), "--out", str(tmp_path)]
    args += ["--set", "arch.g_hidden=16", "--set", "arch.d_hidden=16"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "gankit", "run", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=tmp_path,
        start_new_session=True,
    )
    os.close(slave)
    try:
        shown = read_all(master, process)
        assert process.wait(timeout=600) == 0, shown
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    assert "gankit: mlp" in shown and "networks:" in shown and "Finished 30 steps" in shown
    if columns:
        # tqdm's bar: counts, elapsed<remaining, rate, and the losses from the first step on.
        assert re.search(r"30/30 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+step/s, d_loss=[-\d.]+, g_loss=[-\d.]+\]", shown), shown
    else:
        lines = [line.strip() for line in shown.splitlines() if line.startswith("step ")]
        first = r"step 1/30  d_loss [-\d.e]+  g_loss [-\d.e]+  elapsed 0:00:\d\d"
        assert lines and re.fullmatch(first, lines[0]), lines
        assert [line.split()[1] for line in lines] == ["1/30", "10/30", "20/30", "30/30"]
        assert all(re.search(r"elapsed \d:\d\d:\d\d  [\d.]+ steps/s  ETA \d:\d\d:\d\d$", line) for line in lines[1:])


TINY = ("--batch-size", "8", "--z-dim", "4", "--set", "arch.g_hidden=8", "--set", "arch.d_hidden=8", "--data", "ring8")


def step_lines(output: str) -> list[str]:
    return [line.split()[1] for line in output.splitlines() if line.startswith("step ")]


def test_each_session_shows_its_first_steps_losses_once(gankit):
    fresh = gankit("run", *TINY, "--steps", "4", "--log-every", "2", "--name", "r")
    assert fresh.exit_code == 0, fresh.output
    assert step_lines(fresh.output) == ["1/4", "2/4", "4/4"]
    resumed = gankit("run", "--resume", "runs/r", "--steps", "7")
    assert resumed.exit_code == 0, resumed.output
    assert step_lines(resumed.output) == ["5/7", "6/7", "7/7"]
    every = gankit("run", *TINY, "--steps", "2", "--log-every", "1", "--name", "e")
    assert step_lines(every.output) == ["1/2", "2/2"]  # a first step that is a log step: one line
