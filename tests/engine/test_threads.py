"""The thread policy: what it picks for a core count and a load, how it follows the load, and --threads."""

from __future__ import annotations

import json

import pytest
import torch

from gankit.engine.threads import LoadProbe, ThreadChoice, ThreadGovernor, choose_threads, parse_threads
from tests.conftest import one_error_line

BIG = {"parameters": 2_000_000, "batch_size": 100}  # the seed tutorial's MLPs: worth splitting
SMALL = {"parameters": 313_000, "batch_size": 64}  # the digits' MLPs: one thread is fastest


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("cores", "others", "processes", "threads", "reason"),
    [
        (2, 0.1, 1, 2, "2 cores, 0 busy"),  # idle: torch's default
        (2, 0.9, 1, 1, "2 cores, 1 busy"),  # a neighbour on one core: never two threads against it
        (2, 1.8, 1, 1, "2 cores, 2 busy"),
        (8, 3.2, 1, 5, "8 cores, 3 busy"),
        (8, 0.0, 4, 2, "8 cores, 4 processes, 0 busy"),  # torchrun: the cores shared among its processes
        (8, 4.0, 4, 1, "8 cores, 4 processes, 4 busy"),
        (2, 0.0, 2, 1, "2 cores, 2 processes"),
    ],
)
def test_auto_takes_the_free_cores(cores, others, processes, threads, reason):
    choice = choose_threads("auto", cores=cores, others_busy=others, processes=processes, **BIG)
    assert (choice.threads, choice.reason) == (threads, reason)


def test_small_models_take_one_thread_on_an_idle_machine():
    choice = choose_threads("auto", cores=16, others_busy=0.0, **SMALL)
    assert choice.threads == 1 and not choice.adaptive
    assert choice.describe() == "threads: 1 (small model: 0.31M parameters at batch 64; 16 cores)"


def test_the_users_choice_wins():
    assert choose_threads(3, cores=2, others_busy=1.9, **SMALL) == ThreadChoice(3, "as given")
    from_env = choose_threads("auto", cores=16, others_busy=0.0, env="4", **SMALL)
    assert from_env.threads == 4 and "OMP_NUM_THREADS=4" in from_env.reason and not from_env.adaptive
    assert choose_threads(2, cores=16, others_busy=0.0, env="4", **BIG).threads == 2  # --threads over the env
    assert choose_threads("auto", cores=2, others_busy=0.0, env="many", **BIG).threads == 2  # not a count: unset


def test_deterministic_runs_fix_the_count_whatever_the_load():
    for others in (0.0, 1.0):
        choice = choose_threads("auto", cores=4, others_busy=others, fixed=True, **BIG)
        assert choice.threads == 4 and not choice.adaptive and "--deterministic" in choice.reason


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_governor_lowers_at_once_and_raises_after_two_calm_samples(restore_threads):
    applied = []
    clock = FakeClock()
    loads = iter([0.1, 1.0, 0.0, 0.0, 0.5, 0.0, 0.0])

    class Probe:
        def others(self) -> float:
            return next(loads)

    choice = choose_threads("auto", cores=2, others_busy=0.1, **BIG)
    governor = ThreadGovernor(choice, probe=Probe(), cores=2, apply=applied.append, clock=clock)
    history = []
    for _ in range(7):
        governor.tick()  # within the interval: no sample taken
        clock.now += 2.0
        governor.tick()
        history.append(governor.current)
    # 0.1 idle; 1.0 a neighbour: down; two calm samples: up; 0.5 half a core busy: down; two calm: up.
    assert history == [2, 1, 1, 2, 1, 1, 2]
    assert applied[-4:] == [1, 2, 1, 2] and governor.changes == 4


def test_governor_leaves_a_fixed_choice_alone(restore_threads):
    class Probe:
        def others(self) -> float:
            raise AssertionError("a fixed choice samples no load")

    clock = FakeClock()
    governor = ThreadGovernor(ThreadChoice(3, "as given"), probe=Probe(), cores=2, clock=clock)
    assert torch.get_num_threads() == 3
    clock.now += 10
    governor.tick()
    assert governor.current == 3


def test_load_probe_counts_other_processes_on_our_cores_only(tmp_path):
    import os

    tick = os.sysconf("SC_CLK_TCK")
    stat = tmp_path / "stat"

    def write(cpu0_busy: int, cpu1_busy: int, cpu2_busy: int) -> None:
        # user nice system idle iowait irq softirq steal guest guest_nice
        lines = [f"cpu  {cpu0_busy + cpu1_busy + cpu2_busy} 0 0 0 0 0 0 0 0 0"]
        lines += [f"cpu{i} {b} 0 0 1000 5 0 0 0 0 0" for i, b in enumerate((cpu0_busy, cpu1_busy, cpu2_busy))]
        stat.write_text("\n".join(lines) + "\nintr 1 2 3\n")

    own, wall = FakeClock(), FakeClock()
    write(0, 0, 0)
    probe = LoadProbe([0, 1], stat=stat, own_time=own, wall_time=wall)
    # One second: this process used 0.5 s of CPU; cpu0 and cpu1 were busy 0.5 s and 1 s; cpu2 is not ours.
    write(tick // 2, tick, tick)
    own.now, wall.now = 0.5, 1.0
    assert probe.others() == pytest.approx(1.0)
    write(tick // 2, tick, 2 * tick)  # next second: nothing on our cores
    wall.now = 2.0
    assert probe.others() == pytest.approx(0.0)


def test_parse_threads():
    assert parse_threads("auto") == "auto" and parse_threads(" 4 ") == 4 and parse_threads(2) == 2
    for bad in ("0", "-1", "abc", "2.5", True, 1.5):
        with pytest.raises(Exception, match="auto or a positive whole number"):
            parse_threads(bad)


def _threads_line(output: str) -> str:
    """What the start banner says about threads (its ``threads:`` line)."""
    (line,) = [line for line in output.splitlines() if line.strip().startswith("threads:")]
    return line.split(":", 1)[1].strip()


TINY = ("--steps", "2", "--batch-size", "8", "--z-dim", "4", "--set", "arch.g_hidden=16", "--set", "arch.d_hidden=16")


def test_threads_option_sets_torch_threads_and_says_so(gankit, tmp_path, restore_threads, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    result = gankit("run", *TINY, "--threads", "3", "--name", "t3")
    assert result.exit_code == 0, result.output
    assert torch.get_num_threads() == 3
    assert _threads_line(result.output) == "3 (as given)"
    assert json.loads((tmp_path / "runs" / "t3" / "config.json").read_text())["run"]["threads"] == 3
    # The environment's choice, when --threads is not given; a resume may change the count.
    result = gankit("run", "--resume", "runs/t3", "--steps", "4")
    assert result.exit_code == 0, result.output
    assert torch.get_num_threads() == 3  # the saved run's setting
    result = gankit("run", *TINY, "--name", "env")
    assert result.exit_code == 0, result.output
    assert torch.get_num_threads() == 1
    assert _threads_line(result.output) == "1 (OMP_NUM_THREADS=1 in the environment; --threads overrides it)"


@pytest.mark.parametrize(
    ("args", "named"), [(("--threads", "0"), "'0'"), (("--threads", "abc"), "'abc'"), (("--set", "threads=0"), "0")]
)
def test_bad_thread_count_is_one_line(gankit, tmp_path, args, named):
    line = one_error_line(gankit("run", *TINY, *args))
    assert "threads must be auto or a positive whole number" in line and line.endswith(f"got {named}")
    assert not (tmp_path / "runs").exists()


def test_a_torchrun_launch_does_not_count_its_own_processes_as_neighbours(restore_threads):
    class Probe:
        def others(self) -> float:
            return 12.0  # the three other ranks of this launch, four threads each, on 16 cores

    clock = FakeClock()
    choice = choose_threads("auto", cores=16, others_busy=0.0, processes=4, **BIG)
    governor = ThreadGovernor(choice, probe=Probe(), cores=16, processes=4, apply=lambda n: None, clock=clock)
    assert governor.current == 4
    clock.now += 10
    governor.tick()
    assert governor.current == 4


def test_omp_threads_set_by_the_nproc_launcher_is_not_taken_as_the_users_choice(monkeypatch, tmp_path):
    from gankit.engine.threads import LoadProbe, start_governor

    nets = {"generator": torch.nn.Linear(4, 4)}
    probe = LoadProbe([0, 1], stat=tmp_path / "no-stat")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    assert "OMP_NUM_THREADS=1" in start_governor("auto", nets, 8, probe).choice.reason
    monkeypatch.setenv("GANKIT_OMP_SET_BY_LAUNCHER", "1")
    assert "OMP_NUM_THREADS" not in start_governor("auto", nets, 8, probe).choice.reason
