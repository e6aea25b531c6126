"""Throughput of gankit against plain PyTorch, as ratios measured in this one process.

    python benchmarks/throughput.py                  # every section, prints Markdown tables
    python benchmarks/throughput.py --write-docs     # ... and puts them into docs/benchmarks.md
    python benchmarks/throughput.py --only tax --quick

Sections:
  seed     the seed tutorial's MNIST loop (torchvision + DataLoader + nn.BCELoss) against `gankit run`
           on the same model, batch, loss and optimizer, on 60,000 MNIST-format images written here
  tax      gankit's training step against a hand-written loop of the identical algorithm
  startup  wall time of `gankit --help` and `gankit plugins`
  growth   step time against batch size and width
  compile  `--compile` against eager on the seed workload, and what stays eager under gp
  contention  two `gankit run` side by side against each alone, gankit's thread choice against PyTorch's
           default (in benchmarks/contention.py)
  convpath DCGAN at 32 and 64 px against a plain loop: float32, channels-last, bf16 (benchmarks/contention.py)

Each timing alternates the two contenders in blocks and takes medians, so a noisy neighbour slows both.
The machine must be otherwise idle: two torch processes sharing 2 cores slow each other many times over.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import seed_bounds
import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GANKIT = [sys.executable, "-m", "gankit"]


# -- helpers -----------------------------------------------------------------------------------------


def median_time(fn: Callable[[], None], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternate(contenders: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """Seconds of each contender's block, the blocks interleaved round by round (the order flipped
    every round, so neither always runs right after the other)."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for i in range(rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - start)
    return times


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def write_mnist_idx(root: Path, count: int, seed: int = 0) -> Path:
    """``count`` 28x28 MNIST-format images (scikit-learn's digits, upscaled, with pixel noise) in IDX files."""
    import struct

    from sklearn.datasets import load_digits

    digits, labels = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(labels), count)
    small = digits[pick].reshape(count, 8, 8) * (255 / 16)
    images = np.zeros((count, 28, 28), np.float32)
    images[:, 2:26, 2:26] = small.repeat(3, axis=1).repeat(3, axis=2)
    images = np.clip(images + rng.normal(0, 8, images.shape), 0, 255).astype(np.uint8)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split in ("train", "t10k"):
        n = count if split == "train" else 16
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images[:n].tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels[pick][:n].astype(np.uint8).tobytes()
        )
    return root


# -- the seed workload ------------------------------------------------------------------------------


def seed_networks() -> tuple[nn.Module, nn.Module]:
    """The seed tutorial's MLPs, Sigmoid in D (gankit's `mlp` defaults, whose D returns logits)."""
    G = nn.Sequential(
        nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 1024), nn.ReLU(),
        nn.Linear(1024, 784), nn.Tanh(),
    )  # fmt: skip
    D = nn.Sequential(
        nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1),
        nn.Sigmoid(),
    )  # fmt: skip
    return G, D


def seed_loop(root: Path, steps: int, warmup: int = 10) -> float:
    """The seed tutorial's loop, as written there; steps/s after ``warmup`` batches."""
    import torchvision
    from torchvision import transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    dataset = torchvision.datasets.MNIST(str(root), train=True, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=100, shuffle=True)
    G, D = seed_networks()
    criterion = nn.BCELoss()
    g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    done, started = 0, 0.0
    while True:
        for real, _ in loader:
            if done == warmup:
                started = time.perf_counter()
            real = real.view(-1, 784)
            n = real.size(0)
            ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)
            D.zero_grad()
            d_real = criterion(D(real), ones)
            fake = G(torch.randn(n, 64))
            d_fake = criterion(D(fake.detach()), zeros)
            (d_real + d_fake).backward()
            d_opt.step()
            G.zero_grad()
            fake = G(torch.randn(n, 64))
            g_loss = criterion(D(fake), ones)
            g_loss.backward()
            g_opt.step()
            done += 1
            if done == warmup + steps:
                return steps / (time.perf_counter() - started)


def resident_loop(root: Path, steps: int, warmup: int = 10) -> float:
    """The seed's loop with the images decoded once into a tensor: what a careful hand-written loop gets."""
    import torchvision

    data = torchvision.datasets.MNIST(str(root), train=True).data.float().div(127.5).sub(1).view(-1, 784)
    G, D = seed_networks()
    criterion = nn.BCELoss()
    g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    perm = torch.randperm(len(data))
    ones, zeros = torch.ones(100, 1), torch.zeros(100, 1)
    for i in range(warmup + steps):
        if i == warmup:
            started = time.perf_counter()
        real = data[perm[(i * 100) % 59900 :][:100]]
        D.zero_grad()
        d_loss = criterion(D(real), ones) + criterion(D(G(torch.randn(100, 64)).detach()), zeros)
        d_loss.backward()
        d_opt.step()
        G.zero_grad()
        g_loss = criterion(D(G(torch.randn(100, 64))), ones)
        g_loss.backward()
        g_opt.step()
    return steps / (time.perf_counter() - started)


def gankit_run(root: Path, steps: int, *flags: str) -> float:
    """`gankit run` on the seed's setup; steps/s as its jsonl tracker logged them, first log step dropped."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            *GANKIT, "run", "--arch", "mlp", "--loss", "bce", "--data", "mnist", "--data-root", str(root),
            "--batch-size", "100", "--steps", str(steps), "--log-every", "100", "--sample-every", str(steps),
            "--checkpoint-every", str(steps), "--out", out, "--name", "bench", "-q", *flags,
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, text=True)
        records = [json.loads(line) for line in (Path(out) / "bench" / "metrics.jsonl").read_text().splitlines()]
    rates = [r["steps_per_s"] for r in records if "steps_per_s" in r][1:-1]
    return statistics.median(rates)


#: gankit's two bfloat16 runs of the seed workload: their `gankit run` flags.
SEED_FLAGS = {"bf16": ("--amp", "on"), "reuse": ("--amp", "on", "--set", "scheme.reuse_fakes=true")}
SEED_SETUPS = {name: f"`gankit run {' '.join(flags)}`" for name, flags in SEED_FLAGS.items()}
#: The precisions whose matrix-product rate bounds the seed loops: float32, and bfloat16 under --amp on.
PRODUCT_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def section_seed(args: argparse.Namespace, work: Path) -> str:
    root = write_mnist_idx(work / "mnist", 60_000)
    steps = 60 if args.quick else 200
    rounds = 1 if args.quick else 5
    loops: dict[str, Callable[[], float]] = {
        "seed": lambda: seed_loop(root, steps),
        "bf16": lambda: gankit_run(root, 8 * steps, *SEED_FLAGS["bf16"]),
        "reuse": lambda: gankit_run(root, 8 * steps, *SEED_FLAGS["reuse"]),
        "resident": lambda: resident_loop(root, steps),
        "fp32": lambda: gankit_run(root, 4 * steps),
    }
    # The seed's loop between gankit's two bfloat16 runs, their order flipped every round: this VM's speed
    # drifts by ±10 % over minutes, and each round's ratio compares runs a few seconds apart.
    orders = (("bf16", "seed", "reuse", "resident", "fp32"), ("reuse", "seed", "bf16", "fp32", "resident"))
    results: dict[str, list[float]] = {name: [] for name in loops}
    for i in range(rounds):
        for name in orders[i % 2]:
            results[name].append(loops[name]())
    rate = {k: statistics.median(v) for k, v in results.items()}
    base = rate["seed"]
    ratio = {k: statistics.median(r / b for r, b in zip(results[k], results["seed"])) for k in results}
    flops = seed_bounds.seed_flops()
    # The products' own rate in each precision, measured between the loops' rounds on the same threads.
    repeats = 3 if args.quick else 7
    bound = {name: 1 / seed_bounds.product_seconds(dtype, repeats=repeats) for name, dtype in PRODUCT_DTYPES.items()}
    traffic = {name: seed_bounds.traffic_bytes(dtype.itemsize) for name, dtype in PRODUCT_DTYPES.items()}
    # gankit's own algorithm cannot beat its products plus Adam's update: the floor each target sits against.
    own_products, adam = seed_bounds.gankit_products(), seed_bounds.adam_seconds(repeats=repeats)
    floor = {
        name: 1 / (seed_bounds.product_seconds(dtype, repeats=repeats, products=own_products) + adam)
        for name, dtype in PRODUCT_DTYPES.items()
    }

    def of_bound(loop: str, precision: str) -> str:
        return f"{rate[loop] / bound[precision]:.0%} of {bound[precision]:.0f}"

    rows = [
        ["seed tutorial loop (DataLoader, ToTensor + Normalize, BCELoss)", f"{base:.1f}", "1.00", of_bound("seed", "fp32")],
        ["the same loop, images decoded once into a tensor", f"{rate['resident']:.1f}", f"{ratio['resident']:.2f}", of_bound("resident", "fp32")],
        ["`gankit run` (float32)", f"{rate['fp32']:.1f}", f"{ratio['fp32']:.2f}", of_bound("fp32", "fp32")],
        [f"{SEED_SETUPS['bf16']} (bfloat16 autocast)", f"{rate['bf16']:.1f}", f"{ratio['bf16']:.2f}", of_bound("bf16", "bf16")],
        [f"{SEED_SETUPS['reuse']} (one G forward per iteration)", f"{rate['reuse']:.1f}", f"{ratio['reuse']:.2f}", of_bound("reuse", "bf16")],
    ]  # fmt: skip
    verdicts = [
        f"float32: {ratio['fp32']:.2f}× the seed's loop, target 1.8×: {'met' if ratio['fp32'] >= 1.8 else 'NOT MET'}",
        f"bfloat16 (`--amp on`, no reuse_fakes): {ratio['bf16']:.2f}×, target 3.5×: "
        + ("met" if ratio["bf16"] >= 3.5 else "NOT MET"),
    ]
    verdicts.append(
        f"the floor of gankit's step (its {len(own_products)} products and Adam's update, each timed alone): "
        f"{floor['fp32']:.0f} steps/s in float32 ({floor['fp32'] / base:.2f}× the seed's loop), "
        f"{floor['bf16']:.0f} in bfloat16 ({floor['bf16'] / base:.2f}×); `gankit run` reaches "
        f"{rate['fp32'] / floor['fp32']:.0%} and {rate['bf16'] / floor['bf16']:.0%} of them"
    )
    for line in verdicts:
        print(line)
    print(
        f"seed workload: {flops / 1e9:.2f} GFLOP per step; its products alone run at {bound['fp32']:.0f} steps/s in "
        f"float32 ({flops * bound['fp32'] / 1e9:.0f} GFLOP/s), {bound['bf16']:.0f} in bfloat16 "
        f"({flops * bound['bf16'] / 1e9:.0f} GFLOP/s)"
    )
    header = ["loop", "steps/s", "× seed", "of the products' bound (steps/s)"]
    return (
        "### Seed workload: MNIST MLP GAN, batch 100\n\n"
        f"Steps per second (one D step on real then fake, one G step), median of {rounds} interleaved rounds; "
        "× seed is the median of the rounds' ratios. 60,000 MNIST-format images written by the benchmark. "
        f"{torch.get_num_threads()} threads.\n\n"
        + table(header, rows)
        + "\n\n"
        + "\n".join(f"- {line}." for line in verdicts)
        + f"\n\nThe bound: the seed iteration's {len(seed_bounds.seed_products())} matrix products "
        f"({flops / 1e9:.2f} GFLOP, batch 100), timed alone in this process (benchmarks/seed_bounds.py): "
        f"{flops * bound['fp32'] / 1e9:.0f} GFLOP/s in float32 ({bound['fp32']:.0f} steps/s, "
        f"{bound['fp32'] / base:.1f}× the seed's loop), {flops * bound['bf16'] / 1e9:.0f} GFLOP/s in bfloat16 "
        f"({bound['bf16']:.0f} steps/s, {bound['bf16'] / base:.1f}×). gankit's float32 step does less work than "
        "the seed's (no graph through G in D's step, no weight gradients for D in G's step), so it can pass "
        f"100 %. Its own {len(own_products)} products ({seed_bounds.flops(own_products) / 1e9:.2f} GFLOP, D's "
        f"batch of 200 included) plus fused Adam's update of both networks ({adam * 1e3:.2f} ms), each timed "
        "alone with hot caches, are the floor above: what no eager loop of gankit's algorithm can beat here, "
        "since activations, losses, bias gradients and the autograd engine only add to them. "
        "Memory traffic per step, the products' operands and Adam's update of both networks "
        f"({seed_bounds.parameters():,} parameters, 28 bytes each): {traffic['fp32'] / 1e6:.1f} MB in float32, "
        f"{traffic['bf16'] / 1e6:.1f} MB with bfloat16 operands; at the float32 loop's rate that is "
        f"{traffic['fp32'] * rate['fp32'] / 1e9:.1f} GB/s. With `reuse_fakes`, G's step scores the fakes of D's "
        "step instead of a second fresh batch, as PyTorch's DCGAN example does: the seed's recipe with one G "
        "forward fewer.\n"
    )


# -- framework tax ----------------------------------------------------------------------------------


def build_trainer(
    arch: str, loss: str, reg: str | None, batch_size: int, data: str = "digits", scheme: str = "unconditional"
):
    from gankit.engine.trainer import Trainer
    from gankit.plugins import registry
    from gankit.resolve import resolve

    settings = {"data": data, "arch": arch, "loss": loss, "regs": (reg,) if reg else (), "batch_size": batch_size}
    return Trainer(resolve(registry(), settings | {"scheme": scheme}))


class PlainLoop:
    """The identical algorithm, hand-written: the same networks (copies), losses, penalties, optimizers."""

    def __init__(self, trainer, loss: str, reg: str | None):
        cfg = trainer.run.config
        self.G = copy.deepcopy(trainer.model.nets["generator"])
        self.D = copy.deepcopy(trainer.model.nets["discriminator"])
        self.g_opt = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=cfg.betas, fused=True)
        self.d_opt = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=cfg.betas, fused=True)
        self.data = trainer.batches.samples
        self.batch, self.z_dim, self.loss, self.reg = cfg.batch_size, cfg.z_dim, loss, reg
        self.n_critic = cfg.n_critic
        options = trainer.run.component_configs
        self.gp_weight = options["gp"].weight if reg == "gp" else 0.0
        self.r1_gamma = options["r1"].gamma if reg == "r1" else 0.0
        # Lazy regularization: the penalty on every n-th D step only, scaled by n.
        self.every = options[reg].every if reg in ("gp", "r1") else 1
        self.d_steps = 0
        # The data set may suggest an EMA of G (digits do): kept the way a hand-written loop would.
        self.ema_decay = cfg.ema
        self.G_ema = copy.deepcopy(self.G).requires_grad_(False) if cfg.ema else None
        self.perm = torch.randperm(len(self.data))
        self.position = 0

    def next_real(self) -> torch.Tensor:
        if self.position + self.batch > len(self.perm):
            self.perm, self.position = torch.randperm(len(self.data)), 0
        idx = self.perm[self.position : self.position + self.batch]
        self.position += self.batch
        return self.data.index_select(0, idx)

    def d_loss(self, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
        if self.loss == "bce":
            return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()
        if self.loss == "hinge":
            return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()
        return fake_scores.mean() - real_scores.mean()  # wgan

    def g_loss(self, fake_scores: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_scores).mean() if self.loss == "bce" else -fake_scores.mean()

    def step(self) -> None:
        G, D = self.G, self.D
        for _ in range(self.n_critic):
            real = self.next_real()
            with torch.no_grad():
                fake = G(torch.randn(self.batch, self.z_dim))
            d_loss = self.d_loss(D(real), D(fake))
            due = self.d_steps % self.every == 0
            self.d_steps += 1
            if self.reg == "gp" and due:
                alpha = torch.rand((self.batch,) + (1,) * (real.dim() - 1))
                mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(mixed).sum(), mixed, create_graph=True)
                d_loss = d_loss + self.every * self.gp_weight * (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
            elif self.reg == "r1" and due:
                real = real.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(D(real).sum(), real, create_graph=True)
                d_loss = d_loss + self.every * self.r1_gamma / 2 * grad.flatten(1).pow(2).sum(1).mean()
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_opt.step()
        for p in D.parameters():
            p.requires_grad_(False)
        g_loss = self.g_loss(D(G(torch.randn(self.batch, self.z_dim))))
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        for p in D.parameters():
            p.requires_grad_(True)
        self.update_ema(G)

    def update_ema(self, G) -> None:
        """The EMA of G, as gankit's engine keeps it: weights and batch norm statistics averaged, other
        buffers copied."""
        if self.G_ema is not None:
            with torch.no_grad():
                torch._foreach_lerp_(list(self.G_ema.parameters()), list(G.parameters()), 1 - self.ema_decay)
                for (name, average), buffer in zip(self.G_ema.named_buffers(), G.buffers()):
                    if name.endswith(("running_mean", "running_var")):
                        average.lerp_(buffer, 1 - self.ema_decay)
                    else:
                        average.copy_(buffer)


class PlainConditionalLoop(PlainLoop):
    """The `conditional` scheme, hand-written: G(z, y) (a class embedding beside the noise) and the projection
    D(x, y), copied from the trainer; D's fakes take the real batch's labels, G's step draws uniform labels;
    the same loss, penalty (on D(x, y)), optimizers and EMA."""

    def __init__(self, trainer, loss: str, reg: str | None):
        super().__init__(trainer, loss, reg)
        description = trainer.batches.description
        label = description.class_field()
        self.labels = next(s.tensors[label] for s in trainer.batches.streams if label in s.tensors)
        self.num_classes = description.fields[label].num_classes

    def next_real(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.position + self.batch > len(self.perm):
            self.perm, self.position = torch.randperm(len(self.data)), 0
        idx = self.perm[self.position : self.position + self.batch]
        self.position += self.batch
        return self.data.index_select(0, idx), self.labels.index_select(0, idx)

    def step(self) -> None:
        G, D = self.G, self.D
        for _ in range(self.n_critic):
            real, label = self.next_real()
            with torch.no_grad():
                fake = G(torch.randn(self.batch, self.z_dim), label)
            d_loss = self.d_loss(D(real, label), D(fake, label))
            due = self.d_steps % self.every == 0
            self.d_steps += 1
            if self.reg == "gp" and due:
                alpha = torch.rand((self.batch,) + (1,) * (real.dim() - 1))
                mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(mixed, label).sum(), mixed, create_graph=True)
                d_loss = d_loss + self.every * self.gp_weight * (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()
            elif self.reg == "r1" and due:
                real = real.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(D(real, label).sum(), real, create_graph=True)
                d_loss = d_loss + self.every * self.r1_gamma / 2 * grad.flatten(1).pow(2).sum(1).mean()
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_opt.step()
        for p in D.parameters():
            p.requires_grad_(False)
        z = torch.randn(self.batch, self.z_dim)
        fake_label = torch.randint(self.num_classes, (self.batch,))
        g_loss = self.g_loss(D(G(z, fake_label), fake_label))
        self.g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_opt.step()
        for p in D.parameters():
            p.requires_grad_(True)
        self.update_ema(G)


#: (scheme, arch, loss, reg) of each tax row; the conditional rows are its digits recipe (bce + r1) and the
#: bare scheme (no penalty).
TAX_COMBOS = [
    ("unconditional", "mlp", loss, reg) for loss in ("bce", "wgan", "hinge") for reg in (None, "gp", "r1", "sn")
] + [
    ("unconditional", "dcgan", "bce", None),
    ("unconditional", "dcgan", "hinge", None),
    ("conditional", "mlp", "bce", "r1"),
    ("conditional", "mlp", "bce", None),
]
PLAIN_LOOPS = {"unconditional": PlainLoop, "conditional": PlainConditionalLoop}


def gankit_block(trainer, steps: int) -> Callable[[], None]:
    log_every = trainer.run.config.log_every

    def block() -> None:
        for _ in range(steps):
            trainer.train_step()
            if trainer.step % log_every == 0:
                trainer.context.check_finite()
        trainer.context.check_finite()

    return block


def measure_tax(trainers: list, plains: list, quick: bool) -> tuple[float, float, float]:
    """(plain ms/step, gankit ms/step, gankit ÷ plain) of two trainers against two plain loops.

    Two of each side, each plain loop on copies of its own trainer's networks: one pair of fresh instances
    can land a few per cent apart on where their tensors sit in memory (an A/A test of two plain loops
    shows it), and pooling two of each averages that out."""
    for _ in range(10 if not quick else 2):  # warm-up: allocator, kernels, optimizer state
        for trainer, plain in zip(trainers, plains):
            trainer.train_step()
            plain.step()
    # Blocks of about 0.1 s, whatever a step costs, and many rounds of them: the VM's speed drifts by
    # ~10 % over seconds, so the blocks of a round must run close together, and the cheapest steps
    # need as many rounds as the dearest to average out the timer's and the machine's jitter. The
    # dearest steps (the families' convolutional ones) get fewer rounds: about 40 s per row.
    probe = 3 if quick else 5
    step_time = median_time(plains[0].step, probe)
    # The other three take as many steps, so all four stay in the same phase of lazy penalties (StyleGAN2's
    # R1 every 16 D steps): each round's blocks then do the same work on both sides.
    for contender in (plains[1].step, trainers[0].train_step, trainers[1].train_step):
        for _ in range(probe):
            contender()
    steps = max(3, round(0.1 / step_time))
    rounds = 3 if quick else max(15, min(60, round(40 / (4 * steps * step_time))))
    contenders: dict[str, Callable[[], None]] = {}
    for i, (trainer, plain) in enumerate(zip(trainers, plains)):
        contenders[f"gankit{i}"] = gankit_block(trainer, steps)
        contenders[f"plain{i}"] = lambda plain=plain, steps=steps: [plain.step() for _ in range(steps)]
    times = alternate(contenders, rounds)
    gankit = [a + b for a, b in zip(times["gankit0"], times["gankit1"])]
    plain = [a + b for a, b in zip(times["plain0"], times["plain1"])]
    # The median of round-by-round ratios: a slow spell of the machine hits both sides of a round.
    ratio = statistics.median(g / p for g, p in zip(gankit, plain))
    return (1000 * statistics.median(plain) / (2 * steps), 1000 * statistics.median(gankit) / (2 * steps), ratio)


def section_tax(args: argparse.Namespace, work: Path) -> str:
    import tax_families  # the family packages' rows (plugins/), kept out of this file

    rows = []
    combos = TAX_COMBOS if not args.quick else TAX_COMBOS[:3] + [c for c in TAX_COMBOS if c[0] == "conditional"][:1]
    schemes = getattr(args, "tax_schemes", ())
    chosen = [c for c in combos if not schemes or c[0] in schemes]
    for scheme, arch, loss, reg in chosen:
        trainers = [build_trainer(arch, loss, reg, 64, scheme=scheme) for _ in range(2)]
        plains = [PLAIN_LOOPS[scheme](trainer, loss, reg) for trainer in trainers]
        plain_ms, gankit_ms, ratio = measure_tax(trainers, plains, args.quick)
        rows.append([scheme, arch, loss, reg or "none", f"{plain_ms:.2f}", f"{gankit_ms:.2f}", f"{ratio:.3f}"])
        print(f"tax {scheme}/{arch}/{loss}/{reg}: {ratio:.3f}", flush=True)
    families = [f for f in tax_families.FAMILIES if f in schemes or (not schemes and not args.quick)]
    rows += tax_families.family_rows(args, families, measure_tax)
    worst = max(float(row[-1]) for row in rows) if rows else 0.0
    return (
        "### Framework tax\n\n"
        "gankit's training step (`Trainer.train_step`: the scheme, the NaN watch, the EMA of G) "
        "against a hand-written loop of the identical algorithm (the same networks, losses, penalties, optimizers "
        "and EMA), with the digits' suggested settings, batch 64, float32. The `conditional` rows' plain loop is "
        "the class-conditional game written out: G(z, y) with a class embedding, the projection D(x, y), the "
        "real batch's labels for D's fakes and uniform labels for G's step. Two instances of each side run "
        "interleaved blocks of about 0.1 s; each row is the median over 60 rounds of gankit's time ÷ the plain "
        "loop's. The rows of the family packages in plugins/ (biggan, stylegan2, pix2pix, cyclegan, stargan: "
        "benchmarks/tax_families.py) use each family's CPU recipe (its preset's widths, batch, n_critic, "
        "penalties, schedule and EMA; BigGAN's in float32 and NCHW, as both sides run it); their plain loops import the networks from the package and write out "
        "the rest, and from one seed reach the same losses and weights as gankit after two steps (checked "
        "before each row); their blocks run at least 3 steps each, over 15 or more rounds (about 40 s a row). "
        "Target: at most 1.03.\n\n"
        + table(["scheme", "arch", "loss", "reg", "plain ms/step", "gankit ms/step", "gankit ÷ plain"], rows)
        + f"\n\nWorst ratio: {worst:.3f}.\n"
    )


# -- start-up ---------------------------------------------------------------------------------------


def section_startup(args: argparse.Namespace, work: Path) -> str:
    exe = shutil.which("gankit") or str(Path(sys.executable).parent / "gankit")
    commands = {
        "`gankit --help`": ([exe, "--help"], 0.3),
        "`gankit plugins`": ([exe, "plugins"], 1.0),
        "`python -c 'import torch'` (reference)": ([sys.executable, "-c", "import torch"], None),
    }
    rows = []
    for label, (command, target) in commands.items():
        subprocess.run(command, check=True, capture_output=True)  # warm the file cache
        seconds = median_time(
            lambda command=command: subprocess.run(command, check=True, capture_output=True), 3 if args.quick else 7
        )
        verdict = "" if target is None else ("met" if seconds <= target else "MISSED")
        rows.append([label, f"{seconds:.2f}", f"{target:.1f}" if target else "", verdict])
        print(f"startup {label}: {seconds:.2f} s", flush=True)
    return "### Start-up\n\nWall seconds, median of 7.\n\n" + table(["command", "seconds", "target", ""], rows) + "\n"


# -- growth -----------------------------------------------------------------------------------------


def section_growth(args: argparse.Namespace, work: Path) -> str:
    rows = []
    batches = (32, 128, 512) if args.quick else (32, 64, 128, 256, 512, 1024)
    for batch in batches:
        trainer = build_trainer("mlp", "bce", None, batch)
        block = gankit_block(trainer, 10)
        block()
        seconds = median_time(block, 5) / 10
        rows.append(["batch", batch, f"{1000 * seconds:.2f}", f"{1e6 * seconds / batch:.1f}"])
    for width in (128, 256, 512, 1024) if not args.quick else (256, 1024):
        from gankit.engine.trainer import Trainer
        from gankit.plugins import registry
        from gankit.resolve import resolve

        sets = [f"mlp.g_hidden={width},{width},{width}", f"mlp.d_hidden={width},{width}"]
        trainer = Trainer(resolve(registry(), {"regs": (), "batch_size": 128}, sets))
        block = gankit_block(trainer, 10)
        block()
        seconds = median_time(block, 5) / 10
        rows.append(["width (batch 128)", width, f"{1000 * seconds:.2f}", f"{1e6 * seconds / 128:.1f}"])
    return (
        "### Growth\n\n`mlp` + `bce` on digits, float32: step time against batch size (the digits' suggested "
        "3×256 MLPs and EMA), and against width (3 hidden layers in G, 2 in D, all that wide).\n\n"
        + table(["varied", "value", "ms/step", "µs/sample"], rows)
        + "\n"
    )


# -- compile ----------------------------------------------------------------------------------------


def section_compile(args: argparse.Namespace, work: Path) -> str:
    from gankit.engine.trainer import Trainer
    from gankit.plugins import registry
    from gankit.resolve import resolve

    root = work / "mnist"
    if not root.exists():
        write_mnist_idx(root, 60_000)
    rows = []
    for label, regs, amp in (("bce", (), "off"), ("bce, bf16", (), "on"), ("wgan + gp", ("gp",), "off")):
        rates = {}
        report = ""
        for compiled in (False, True):
            settings = {"data": "mnist", "data_root": str(root), "batch_size": 100, "regs": regs, "amp": amp,
                        "loss": "wgan" if regs else "bce", "compile": compiled}  # fmt: skip
            trainer = Trainer(resolve(registry(), settings))
            started = time.perf_counter()
            block = gankit_block(trainer, 50)
            block()  # compiles here
            warm = time.perf_counter() - started
            seconds = median_time(block, 3 if args.quick else 5) / 50
            rates[compiled] = 1 / seconds
            if compiled:
                report = trainer.compiled.describe()
                compile_seconds = max(0.0, warm - 50 * seconds)
        rows.append([label, f"{rates[False]:.1f}", f"{rates[True]:.1f}", f"{rates[True] / rates[False]:.2f}",
                     f"{compile_seconds:.0f}", report])  # fmt: skip
        print(f"compile {label}: {rates[True] / rates[False]:.2f}", flush=True)
    return (
        "### `--compile`\n\nThe seed workload (MNIST MLPs, batch 100), steps/s eager and compiled "
        "(after compilation), and the one-off compile time.\n\n"
        + table(["setup", "eager steps/s", "compiled steps/s", "gain", "compile s", "what was compiled"], rows)
        + "\n"
    )


def section_contention(args: argparse.Namespace, work: Path) -> str:
    import contention  # imported here: it imports this module

    return contention.section_contention(args, work)


def section_convpath(args: argparse.Namespace, work: Path) -> str:
    import contention

    return contention.section_convpath(args, work)


SECTIONS = {
    "seed": section_seed,
    "tax": section_tax,
    "startup": section_startup,
    "growth": section_growth,
    "compile": section_compile,
    "contention": section_contention,
    "convpath": section_convpath,
}


#: The block of docs/benchmarks.md (between its <!-- NAME:start --> and <!-- NAME:end --> markers) that
#: each section's table goes to; unlisted sections go to "throughput".
DOC_BLOCKS = {"contention": "contention", "convpath": "contention"}


def block_header(block: str) -> list[str]:
    if block == "contention":
        return [  # under the page's own heading, which explains the thread policy
            f"Machine: {machine()}. Reproduce: `python benchmarks/throughput.py --only contention,convpath "
            "--write-docs` (about 15 minutes). Each row gives the load average it ran under: these sections "
            "ran on a machine other work was using too.\n",
        ]
    return [
        "## Throughput (CPU)\n",
        f"Machine: {machine()}. Reproduce: `python benchmarks/throughput.py --write-docs` (about 16 minutes; "
        "the machine must be otherwise idle: a second busy process on 2 cores slows every number by 2× or more).\n",
    ]


def write_docs(markdown: str, path: Path, block: str = "throughput") -> None:
    text = path.read_text()
    start, end = f"<!-- {block}:start -->", f"<!-- {block}:end -->"
    if start not in text or end not in text:
        raise SystemExit(f"{path} lacks the markers {start} ... {end}")
    before, rest = text.split(start, 1)
    after = rest.split(end, 1)[1]
    path.write_text(before + start + "\n" + markdown.strip() + "\n" + end + after)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and combinations (a smoke run)")
    parser.add_argument(
        "--tax-schemes",
        type=lambda text: tuple(n.strip() for n in text.split(",") if n.strip()),
        default=(),
        help="only the tax rows of these schemes (unconditional, conditional, and the families in plugins/: "
        "biggan, stylegan2, pix2pix, cyclegan, stargan); default all (with --quick, the families only when named)",
    )
    parser.add_argument("--contention-rounds", type=int, default=2, help="rounds of the contention section")
    parser.add_argument("--write-docs", action="store_true", help="put the tables into docs/benchmarks.md")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; choose from: {', '.join(SECTIONS)}")
    import tax_families

    tax_choices = [*PLAIN_LOOPS, *tax_families.FAMILIES]
    bad = [s for s in args.tax_schemes if s not in tax_choices]
    if bad:
        parser.error(f"unknown --tax-schemes entry {bad[0]!r}; choose from: {', '.join(tax_choices)}")
    print(f"machine: {machine()}", flush=True)
    blocks: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as work:
        for name in chosen:
            started = time.perf_counter()
            part = SECTIONS[name](args, Path(work))
            print(part, flush=True)
            print(f"({name}: {time.perf_counter() - started:.0f} s)\n", flush=True)
            block = DOC_BLOCKS.get(name, "throughput")
            blocks.setdefault(block, block_header(block)).append(part)
    if args.write_docs:
        for block, parts in blocks.items():
            write_docs("\n".join(parts), args.docs, block)
        print(f"wrote {args.docs}")


if __name__ == "__main__":
    main()
