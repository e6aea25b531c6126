"""How many intra-op threads a run uses: chosen from the model's size and the cores actually free.

PyTorch's default is one intra-op thread per core. When another process keeps one of those cores busy,
every parallel region waits for the thread that was descheduled, and a step gets tens of times slower
(a run doing 182 steps/s alone on one thread fell to 4.2 on two). gankit therefore picks the count
itself, says what it picked, and keeps watching the load during the run:

* ``--threads N`` (or ``threads = N`` in a config file) is used as given;
* otherwise an ``OMP_NUM_THREADS`` in the environment is the user's choice and wins;
* otherwise ("auto"): one thread for small models (splitting them costs more than it gains), else the
  cores free of other work, divided among the processes of a torchrun launch on this node. Every couple
  of seconds the load is sampled again (from /proc/stat, less this process's own CPU time) and the count
  follows it: down at once when a neighbour starts, back up once the cores have stayed free.

The thread count changes no checkpoint, but convolutions' float sums may differ in their last bits
between counts; ``--deterministic`` therefore fixes the count at the cores per process, whatever the load.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import torch

from gankit.errors import GankitError

#: Below this many parameters x batch samples (about the multiply-adds of one dense forward pass), one
#: thread is the fastest: the digits' and grid25's default MLPs (2e7) run best on one, the seed tutorial's
#: MNIST MLPs at batch 100 (2e8) gain from two.
SMALL_WORK = 5e7

#: Seconds between load samples during a run; a sample costs a read of /proc/stat.
CHECK_INTERVAL = 2.0

#: Other processes count as a busy core from this fraction of a core; the count goes back up only when
#: they leave a core idle but for less than ``RAISE_BELOW`` of it, two samples in a row.
BUSY_FROM = 0.5
RAISE_BELOW = 0.35


def parse_threads(value: object) -> int | str:
    """``auto`` or a positive whole number (as given on the command line, in TOML or with ``--set``)."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, bool):
        raise GankitError(f"threads must be auto or a positive whole number, got {value!r}")
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        number = 0
    if number < 1 or (isinstance(value, float) and not value.is_integer()):
        raise GankitError(f"threads must be auto or a positive whole number, got {value!r}")
    return number


def usable_cores() -> list[int]:
    """The CPUs this process may run on (its affinity), cut to its cgroup's CPU quota when one is set."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = list(range(os.cpu_count() or 1))
    quota = _cgroup_quota()
    if quota is not None and quota < len(cpus):
        cpus = cpus[: max(1, quota)]
    return cpus


def _cgroup_quota() -> int | None:
    """Cores the cgroup (v2 ``cpu.max``) allows, rounded up; None when unlimited or unknown."""
    try:
        limit, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if limit == "max":
        return None
    try:
        return max(1, math.ceil(int(limit) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


class LoadProbe:
    """CPU time the rest of the machine spent on our cores since the probe (or its last reading), in cores.

    From the per-CPU lines of /proc/stat, less this process's own CPU time over the same wall time;
    without /proc/stat, the 1-minute load average less the one core this process keeps busy.
    """

    def __init__(
        self,
        cpus: list[int],
        stat: Path = Path("/proc/stat"),
        own_time: Callable[[], float] = time.process_time,
        wall_time: Callable[[], float] = time.monotonic,
    ):
        self.cpus = set(cpus)
        self.stat, self.own_time, self.wall_time = stat, own_time, wall_time
        self._last = self._read()

    def _read(self) -> tuple[float, float, float] | None:
        try:
            lines = self.stat.read_text().splitlines()
        except OSError:
            return None
        busy = 0
        for line in lines:
            name, _, rest = line.partition(" ")
            if not name.startswith("cpu") or name == "cpu":
                continue
            try:
                if int(name[3:]) not in self.cpus:
                    continue
                ticks = [int(v) for v in rest.split()]
            except ValueError:
                continue
            # user nice system idle iowait irq softirq steal (guest is already within user)
            busy += sum(ticks[:8]) - ticks[3] - ticks[4]
        return busy / os.sysconf("SC_CLK_TCK"), self.own_time(), self.wall_time()

    def others(self) -> float:
        """Cores kept busy by other processes since the previous call (0 when nothing can be read)."""
        before = self._last
        now = self._read()
        if now is not None and before is not None and now[2] - before[2] < 0.05:
            time.sleep(0.05)  # too short to say anything: the kernel counts in ticks of 10 ms
            now = self._read()
        self._last = now
        if now is None or before is None:
            try:
                return max(0.0, os.getloadavg()[0] - 1.0)
            except OSError:
                return 0.0
        return max(0.0, ((now[0] - before[0]) - (now[1] - before[1])) / (now[2] - before[2]))


def wanted_threads(others: float, cores: int, processes: int, busy_from: float = 0.5) -> int:
    """Threads per process when other processes keep ``others`` cores busy (a core counts from ``busy_from``)."""
    per_process = max(1, cores // max(1, processes))
    busy = min(cores, math.floor(others + 1 - busy_from))
    return max(1, min(per_process, (cores - busy) // max(1, processes)))


@attrs.frozen
class ThreadChoice:
    threads: int
    #: Why, in words: "2 cores, 1 busy", "--threads", "OMP_NUM_THREADS=1 in the environment".
    reason: str
    #: Whether the count follows the load during the run.
    adaptive: bool = False

    def describe(self) -> str:
        return f"threads: {self.threads} ({self.reason})"


def choose_threads(
    requested: int | str,
    *,
    cores: int,
    others_busy: float,
    parameters: int,
    batch_size: int,
    processes: int = 1,
    env: str | None = None,
    fixed: bool = False,
) -> ThreadChoice:
    """The policy, free of the machine: ``others_busy`` is the cores other processes keep busy."""
    if requested != "auto":
        return ThreadChoice(int(requested), "as given")
    if env is not None and env.strip().isdigit() and int(env) >= 1:
        return ThreadChoice(int(env), f"OMP_NUM_THREADS={int(env)} in the environment; --threads overrides it")
    per_process = max(1, cores // max(1, processes))
    where = f"{cores} core{'s' * (cores != 1)}" + (f", {processes} processes" if processes > 1 else "")
    if parameters * batch_size < SMALL_WORK:
        return ThreadChoice(1, f"small model: {parameters / 1e6:.2g}M parameters at batch {batch_size}; {where}")
    if per_process == 1:
        return ThreadChoice(1, where)
    if fixed:
        return ThreadChoice(per_process, f"{where}; fixed by --deterministic")
    busy = min(cores, math.floor(others_busy + 1 - BUSY_FROM))
    threads = wanted_threads(others_busy, cores, processes, BUSY_FROM)
    return ThreadChoice(threads, f"{where}, {busy} busy", adaptive=True)


def parameter_count(nets: dict[str, torch.nn.Module]) -> int:
    return sum(p.numel() for net in nets.values() for p in net.parameters())


class ThreadGovernor:
    """Applies a :class:`ThreadChoice` and, when it is adaptive, follows the load with :meth:`tick`."""

    def __init__(
        self,
        choice: ThreadChoice,
        *,
        probe: LoadProbe | None = None,
        cores: int = 1,
        processes: int = 1,
        interval: float = CHECK_INTERVAL,
        apply: Callable[[int], None] = torch.set_num_threads,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.choice, self.current = choice, choice.threads
        self.probe, self.cores, self.processes = probe, cores, max(1, processes)
        self.interval, self.apply, self.clock = interval, apply, clock
        self.changes = 0
        self._calm = 0
        self._next = clock() + interval
        if choice.threads != torch.get_num_threads():
            apply(choice.threads)

    def describe(self) -> str:
        return self.choice.describe()

    def tick(self) -> None:
        """Call once per step: every ``interval`` seconds, one load sample and maybe a new count."""
        if not self.choice.adaptive or self.probe is None:
            return
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.interval
        # A torchrun launch's other processes on this node are ours, not neighbours: leave their threads out.
        self.observe(max(0.0, self.probe.others() - (self.processes - 1) * self.current))

    def observe(self, others: float) -> None:
        """A new load sample, in cores used by other processes: lower at once, raise after two calm ones."""
        lower = wanted_threads(others, self.cores, self.processes, BUSY_FROM)
        if lower < self.current:
            self._set(lower)
            self._calm = 0
            return
        # Too many threads collapse, too few only halve the speed: raise only when the neighbours are
        # clearly gone (a stricter threshold), twice in a row.
        higher = wanted_threads(others, self.cores, self.processes, RAISE_BELOW)
        self._calm = self._calm + 1 if higher > self.current else 0
        if self._calm >= 2:
            self._set(higher)
            self._calm = 0

    def _set(self, threads: int) -> None:
        self.current = threads
        self.changes += 1
        self.apply(threads)


def start_governor(
    requested: int | str,
    nets: dict[str, torch.nn.Module],
    batch_size: int,
    probe: LoadProbe,
    *,
    fixed: bool = False,
) -> ThreadGovernor:
    """Choose the run's thread count now (``probe`` started before the model was built) and apply it."""
    cores = len(probe.cpus)
    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    env = os.environ.get("OMP_NUM_THREADS")
    if os.environ.get("GANKIT_OMP_SET_BY_LAUNCHER"):  # set by `gankit run --nproc`, not by the user
        env = None
    # Only sample the load when the choice depends on it (no user choice, a model worth splitting).
    params = parameter_count(nets)
    needs_load = requested == "auto" and env is None and params * batch_size >= SMALL_WORK and not fixed
    # While the model is built, each of a torchrun launch's other processes keeps about one core busy.
    others = max(0.0, probe.others() - (processes - 1)) if needs_load else 0.0
    choice = choose_threads(
        requested,
        cores=cores,
        others_busy=others,
        parameters=params,
        batch_size=batch_size,
        processes=processes,
        env=env,
        fixed=fixed,
    )
    return ThreadGovernor(choice, probe=probe, cores=cores, processes=processes)
