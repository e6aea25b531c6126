"""GPU throughput: DCGAN at 64 px, batch 256, in float32, AMP, AMP + channels-last and AMP + compile,
and the seed workload (MNIST MLPs, batch 100) against the seed's own loop moved to the GPU.

Run through benchmarks/gpu.sh (under 5 minutes on one H100/H200). Without CUDA it runs the same code on
the CPU at toy sizes (``--smoke``), which is how the test suite keeps it working.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import throughput  # noqa: E402  (the seed workload's data and loop live there)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def write_images(folder: Path, count: int, size: int) -> None:
    """``count`` RGB PNGs (smooth random blobs), so the `folder` data source has real files to decode."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (count, 4, 4, 3), dtype=np.uint8)
    for i in range(count):
        Image.fromarray(coarse[i]).resize((size, size), Image.BILINEAR).save(folder / f"{i:05d}.png")


def trainer_for(settings: dict, device: str, *set_items: str):
    from gankit.engine.trainer import Trainer
    from gankit.plugins import registry
    from gankit.resolve import resolve

    return Trainer(resolve(registry(), {"device": device, **settings}, set_items))


def images_per_second(trainer, steps: int, warmup: int) -> tuple[float, float]:
    """(real images per second in D's steps, seconds of warm-up including any compilation)."""
    device = trainer.device
    started = time.perf_counter()
    for _ in range(warmup):
        trainer.train_step()
    trainer.context.check_finite()
    sync(device)
    warm = time.perf_counter() - started
    rates = []
    for _ in range(3):
        sync(device)
        started = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        trainer.context.check_finite()
        sync(device)
        rates.append(steps * trainer.batches.batch_size * trainer.run.config.n_critic / (time.perf_counter() - started))
    return statistics.median(rates), warm


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="toy sizes, for a CPU check of the script")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    smoke = args.smoke or args.device == "cpu"
    device = args.device
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU (smoke run: toy sizes)"
    print(f"device: {name}; torch {torch.__version__}", flush=True)
    size, batch, steps, warmup, count = (16, 8, 2, 2, 64) if smoke else (64, 256, 30, 15, 2048)

    rows = []
    with tempfile.TemporaryDirectory() as work:
        write_images(Path(work) / "images", count, size)
        base = {
            "data": "folder", "data_root": str(Path(work) / "images"), "resolution": size, "arch": "dcgan",
            "loss": "bce", "regs": (), "batch_size": batch,
        }  # fmt: skip
        configs = {
            "fp32": {"amp": "off"},
            "AMP (fp16)": {"amp": "on"},
            "AMP + channels_last": {"amp": "on", "channels_last": True},
            "AMP + compile": {"amp": "on", "compile": True},
        }
        if smoke:  # compiling takes a minute on 2 CPU cores; tests/test_compile.py covers --compile there
            del configs["AMP + compile"]
        rates = {}
        for label, extra in configs.items():
            trainer = trainer_for(base | extra, device)
            rate, warm = images_per_second(trainer, steps, warmup)
            rates[label] = rate
            rows.append([label, f"{rate:.0f}", f"{rate / rates['fp32']:.2f}", f"{warm:.0f}"])
            print(f"{label}: {rate:.0f} images/s", flush=True)
            del trainer
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
        print()
        print(f"### DCGAN {size} px, batch {batch} ({name})\n")
        print(throughput.table(["setup", "images/s", "× fp32", "warm-up s"], rows))

        root = throughput.write_mnist_idx(Path(work) / "mnist", 600 if smoke else 60_000)
        seed_rate = seed_loop_on(device, root, 5 if smoke else 300)
        gankit_rates = {}
        setups = [("gankit, fp32", "off", ()), ("gankit, AMP", "on", ()),
                  ("gankit, AMP, reuse_fakes", "on", ("scheme.reuse_fakes=true",))]  # fmt: skip
        for label, amp, options in setups:
            trainer = trainer_for({"data": "mnist", "data_root": str(root), "batch_size": 100, "regs": (),
                                   "loss": "bce", "amp": amp}, device, *options)  # fmt: skip
            rate, _ = images_per_second(trainer, 5 if smoke else 300, 5 if smoke else 50)
            gankit_rates[label] = rate / 100
        print(f"\n### Seed workload: MNIST MLPs, batch 100 ({name})\n")
        seed_rows = [["seed loop, moved to the device", f"{seed_rate:.0f}", "1.00"]] + [
            [label, f"{rate:.0f}", f"{rate / seed_rate:.2f}"] for label, rate in gankit_rates.items()
        ]
        print(throughput.table(["loop", "steps/s", "× seed"], seed_rows))
    print(f"\nAMP ÷ fp32: {rates['AMP (fp16)'] / rates['fp32']:.2f} (target ≥ 1.6)")


def seed_loop_on(device: str, root: Path, steps: int) -> float:
    """The seed's loop (DataLoader, ToTensor + Normalize, BCELoss) with the models and batches on ``device``."""
    import torchvision
    from torch import nn
    from torchvision import transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    loader = torch.utils.data.DataLoader(
        torchvision.datasets.MNIST(str(root), train=True, transform=transform), batch_size=100, shuffle=True
    )
    G, D = (net.to(device) for net in throughput.seed_networks())
    criterion = nn.BCELoss()
    g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    done, started = 0, time.perf_counter()
    warmup = min(10, steps)
    while done < steps + warmup:
        for real, _ in loader:
            if done == warmup:
                sync(torch.device(device))
                started = time.perf_counter()
            real = real.view(-1, 784).to(device)
            n = real.size(0)
            ones, zeros = torch.ones(n, 1, device=device), torch.zeros(n, 1, device=device)
            D.zero_grad()
            d_loss = criterion(D(real), ones) + criterion(D(G(torch.randn(n, 64, device=device)).detach()), zeros)
            d_loss.backward()
            d_opt.step()
            G.zero_grad()
            criterion(D(G(torch.randn(n, 64, device=device))), ones).backward()
            g_opt.step()
            done += 1
            if done == steps + warmup:
                break
    sync(torch.device(device))
    return steps / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
