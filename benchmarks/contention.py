"""Two throughput sections that benchmarks/throughput.py runs: contention and the DCGAN conv path.

contention  two `gankit run` processes side by side on the machine's cores, each against itself alone,
            with gankit's thread choice (`--threads auto`, the default) and with PyTorch's default (one
            thread per core, `--threads N`); and a run alone under auto against the same run alone under
            PyTorch's default. Targets: a pair keeps >= 45 % of its solo steps/s; alone, auto >= 0.97x.
convpath    DCGAN at 32x32 and 64x64 (RGB images from the `folder` source): gankit's training step
            against a plain PyTorch loop of the same model, in float32, channels-last and bf16 autocast.

OMP_NUM_THREADS is removed from the environment of the contention runs (the thread policy honours it, so
a benchmark under OMP_NUM_THREADS=1 would measure nothing); everything else runs as the caller set it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import throughput
import torch

#: gankit's two thread settings in the contention section: the default and PyTorch's (filled in at run time).
AUTO = "auto"

#: Contention workloads: label -> (`gankit run` flags, steps alone). The seed tutorial's MNIST MLPs at
#: batch 100 (large enough for two threads to pay alone) and the digits' default MLPs (small: one thread).
WORKLOADS: dict[str, tuple[tuple[str, ...], int]] = {
    "seed workload (MNIST MLPs, batch 100)": (
        ("--arch", "mlp", "--loss", "bce", "--data", "mnist", "--data-root", "{mnist}", "--batch-size", "100"),
        300,
    ),
    "`gankit run` defaults (digits MLPs, batch 64)": ((), 600),
}

PAIR_TARGET, SOLO_TARGET = 0.45, 0.97


def load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "?"
    return f"{one:.1f}/{five:.1f}"


def torch_default_threads() -> int:
    """The intra-op threads a fresh PyTorch process takes when OMP_NUM_THREADS is unset."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return int(out.stdout.strip())


def gankit_command(flags: tuple[str, ...], steps: int, threads: str, out: str, name: str) -> list[str]:
    log_every = max(1, steps // 15)
    return [
        *throughput.GANKIT, "run", *flags, "--steps", str(steps), "--log-every", str(log_every),
        "--sample-every", str(steps), "--checkpoint-every", str(steps), "--threads", threads,
        "--out", out, "--name", name,
    ]  # fmt: skip


def rate_of(folder: Path) -> float:
    """Median steps/s over the run's log windows, the first (warm-up) and last (neighbour gone) dropped."""
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    rates = [r["steps_per_s"] for r in map(json.loads, lines) if "steps_per_s" in r]
    return statistics.median(rates[1:-1] if len(rates) > 3 else rates)


def run_together(commands: list[list[str]], env: dict[str, str]) -> list[str]:
    """Start the commands at once, wait for all; their stderr (the banners), in order."""
    processes = [
        subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env) for c in commands
    ]
    outputs = [p.communicate()[1] for p in processes]
    for command, process, err in zip(commands, processes, outputs):
        if process.returncode:
            raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{err}")
    return outputs


def chosen_threads(banner: str) -> str:
    """What the banner's ``threads:`` line says (gankit's choice and its reason)."""
    for line in banner.splitlines():
        if line.strip().startswith("threads:"):
            return line.split(":", 1)[1].strip()
    return "?"


def measure_contention(
    flags: tuple[str, ...], steps: int, default_threads: int, rounds: int, work: Path
) -> dict[str, list[float]]:
    """Steps/s per setting, ``rounds`` interleaved rounds: alone and in pairs, auto and PyTorch's default.

    PyTorch's default can run tens of times slower (in a pair, or alone beside other work), so its runs
    get a tenth of the steps: the rate is a median over log windows, whatever their number.
    """
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    default = str(default_threads)
    results: dict[str, list[float]] = {}
    banners: dict[str, str] = {}
    settings = [("solo", AUTO, 1, 1), ("solo", default, 1, 10), ("pair", AUTO, 2, 1), ("pair", default, 2, 10)]
    for i in range(rounds):
        for kind, threads, count, shrink in settings if i % 2 == 0 else settings[::-1]:
            with tempfile.TemporaryDirectory(dir=work) as out:
                names = [f"{kind}{j}" for j in range(count)]
                commands = [gankit_command(flags, max(15, steps // shrink), threads, out, n) for n in names]
                stderr = run_together(commands, env)
                key = f"{kind} {'auto' if threads == AUTO else 'default'}"
                results.setdefault(key, []).append(statistics.mean(rate_of(Path(out) / n) for n in names))
                banners[key] = chosen_threads(stderr[0])
    results["banners"] = banners  # type: ignore[assignment]
    return results


def section_contention(args: argparse.Namespace, work: Path) -> str:
    default_threads = torch_default_threads()
    mnist = work / "mnist"
    if not mnist.exists():
        throughput.write_mnist_idx(mnist, 60_000 if not args.quick else 600)
    rounds = 1 if args.quick else getattr(args, "contention_rounds", 2)
    rows, verdicts = [], []
    for label, (flags, steps) in WORKLOADS.items():
        flags = tuple(f.replace("{mnist}", str(mnist)) for f in flags)
        load_before = load_average()
        results = measure_contention(flags, steps // (20 if args.quick else 1), default_threads, rounds, work)
        banners = results.pop("banners")
        rate = {k: statistics.median(v) for k, v in results.items()}
        pair_auto = rate["pair auto"] / rate["solo auto"]
        pair_default = rate["pair default"] / rate["solo default"]
        solo = rate["solo auto"] / rate["solo default"]
        rows.append([
            label, f"{rate['solo default']:.1f}", f"{rate['solo auto']:.1f}", f"{solo:.2f}",
            f"{rate['pair default']:.1f}", f"{pair_default:.0%}", f"{rate['pair auto']:.1f}", f"{pair_auto:.0%}",
            banners.get("solo auto", "?"), banners.get("pair auto", "?"), f"{load_before} → {load_average()}",
        ])  # fmt: skip
        verdict = (
            f"{label}: pair ÷ solo {pair_auto:.2f} (target ≥ {PAIR_TARGET:.2f}, "
            f"{'met' if pair_auto >= PAIR_TARGET else 'NOT met'}; PyTorch's default: {pair_default:.2f}); "
            f"alone, auto ÷ default {solo:.2f} (target ≥ {SOLO_TARGET:.2f}, {'met' if solo >= SOLO_TARGET else 'NOT met'})"
        )
        print(verdict, flush=True)
        verdicts.append(verdict)
    header = [
        "workload", f"alone, {default_threads} threads", "alone, auto", "auto ÷ default",
        f"pair, {default_threads} threads each", "of alone", "pair, auto", "of alone",
        "auto chose (alone)", "auto chose (in a pair)", "load avg 1/5 min",
    ]  # fmt: skip
    return (
        "### Contention: two runs side by side\n\n"
        f"Steps/s of one `gankit run` alone and of each of two started together on the {os.cpu_count()} cores, "
        f"with PyTorch's default of one thread per core (`--threads {default_threads}`, what gankit did before "
        "it chose) and with gankit's choice (`--threads auto`, the default); median over "
        f"{rounds} interleaved rounds, OMP_NUM_THREADS unset. Targets: a pair keeps ≥ {PAIR_TARGET:.0%} of its "
        f"solo steps/s; alone, auto keeps ≥ {SOLO_TARGET} of PyTorch's default.\n\n"
        + throughput.table(header, rows)
        + "\n\n"
        + "\n".join(f"- {v}" for v in verdicts)
        + "\n"
    )


# -- the DCGAN conv path ----------------------------------------------------------------------------


class PlainConvLoop(throughput.PlainLoop):
    """The unconditional DCGAN game hand-written (PlainLoop's), in bf16 autocast and/or channels-last."""

    def __init__(self, trainer, loss: str, bf16: bool, channels_last: bool):
        super().__init__(trainer, loss, None)
        if channels_last:
            for net in (self.G, self.D):
                net.to(memory_format=torch.channels_last)
            self.data = self.data.contiguous(memory_format=torch.channels_last)
        self.bf16 = bf16

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast("cpu", torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def step(self) -> None:
        G, D = self.G, self.D
        real = self.next_real()
        with self.autocast():
            with torch.no_grad():
                fake = G(torch.randn(self.batch, self.z_dim))
            d_loss = self.d_loss(D(real).float(), D(fake).float())
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_opt.step()
        for p in D.parameters():
            p.requires_grad_(False)
        with self.autocast():
            g_loss = self.g_loss(D(G(torch.randn(self.batch, self.z_dim))).float())
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        for p in D.parameters():
            p.requires_grad_(True)
        self.update_ema(G)


CONV_SETUPS = {"float32": ("off", False), "channels-last": ("off", True), "bf16 autocast": ("bf16", False)}


def conv_trainer(images: Path, size: int, batch: int, amp: str, channels_last: bool):
    from gankit.engine.trainer import Trainer
    from gankit.plugins import registry
    from gankit.resolve import resolve

    settings = {
        "data": "folder", "data_root": str(images), "resolution": size, "arch": "dcgan", "loss": "bce",
        "regs": (), "batch_size": batch, "amp": amp, "channels_last": channels_last, "ema": 0.0,
    }  # fmt: skip
    return Trainer(resolve(registry(), settings))


@contextlib.contextmanager
def fixed_threads() -> Iterator[None]:
    """In-process timings keep the thread count they started with (the trainer's policy may change it)."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


def section_convpath(args: argparse.Namespace, work: Path) -> str:
    from gpu import write_images

    sizes = (16,) if args.quick else (32, 64)
    batch = 8 if args.quick else 64
    rows = []
    for size in sizes:
        images = work / f"images{size}"
        if not images.exists():
            write_images(images, 64 if args.quick else 512, size)
        base = None
        for label, (amp, channels_last) in CONV_SETUPS.items():
            with fixed_threads():
                threads = torch.get_num_threads()
                trainer = conv_trainer(images, size, batch, amp, channels_last)
                torch.set_num_threads(threads)
                plain = PlainConvLoop(trainer, "bce", amp == "bf16", channels_last)
                for _ in range(2 if args.quick else 5):  # warm-up: allocator, oneDNN primitives, optimizer state
                    trainer.train_step()
                    plain.step()
                step_seconds = throughput.median_time(plain.step, 3)
                steps = max(1, round(0.5 / step_seconds)) if not args.quick else 1
                contenders: dict[str, Callable[[], None]] = {
                    "gankit": throughput.gankit_block(trainer, steps),
                    "plain": lambda plain=plain, steps=steps: [plain.step() for _ in range(steps)],
                }
                times = throughput.alternate(contenders, 2 if args.quick else 8)
            ratio = statistics.median(g / p for g, p in zip(times["gankit"], times["plain"]))
            rate = {name: steps / statistics.median(t) for name, t in times.items()}
            base = base or rate["gankit"]
            rows.append([
                f"{size}×{size}", label, f"{rate['plain']:.2f}", f"{rate['gankit']:.2f}", f"{ratio:.3f}",
                f"{rate['gankit'] / base:.2f}", load_average(),
            ])  # fmt: skip
            print(f"convpath {size}px {label}: gankit {rate['gankit']:.2f} steps/s, ÷ plain {ratio:.3f}", flush=True)
    return (
        "### DCGAN conv path\n\n"
        f"`dcgan` + `bce` (its default widths, no EMA), batch {batch}, RGB images from the `folder` source, "
        f"{torch.get_num_threads()} thread(s): gankit's training step against a plain PyTorch loop of the same "
        "networks (copies), losses and fused Adam, each in float32, channels-last (images and conv weights "
        "NHWC) and bfloat16 autocast (`--amp bf16`; the plain loop under `torch.autocast`). Steps/s are medians "
        "of interleaved blocks of about 0.5 s; gankit ÷ plain is the median of the blocks' time ratios.\n\n"
        + throughput.table(
            ["size", "setup", "plain steps/s", "gankit steps/s", "gankit ÷ plain (time)", "× float32", "load avg"],
            rows,
        )
        + "\n"
    )
