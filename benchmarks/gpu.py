"""GPU throughput: DCGAN at 64 px, batch 256, in float32, AMP, AMP + channels-last and AMP + compile;
the seed workload (MNIST MLPs, batch 100) against the seed's own loop moved to the GPU; the five families
in plugins/ (BigGAN and StyleGAN2 at 32 px on CIFAR-10-format files, pix2pix, CycleGAN and StarGAN on
their digits tasks) in float32 and AMP; and two runs sharing the machine against each alone.

Run through benchmarks/gpu.sh (under 5 minutes on one H100/H200). Without CUDA it runs the same code on
the CPU at toy sizes (``--smoke``), which is how the test suite keeps it working. Without ``--data-root``
the CIFAR-10 rows train on random images written here in CIFAR-10's own on-disk format (speed only).
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


SECTIONS = ("dcgan", "seed", "families", "contention")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="toy sizes, for a CPU check of the script")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--data-root", type=Path, help="a folder holding the real cifar-10-batches-py/")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    if unknown := [s for s in chosen if s not in SECTIONS]:
        parser.error(f"unknown section {unknown[0]!r}; choose from: {', '.join(SECTIONS)}")
    smoke = args.smoke or args.device == "cpu"
    device = args.device
    name = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU (smoke run: toy sizes)"
    print(f"device: {name}; torch {torch.__version__}", flush=True)
    with tempfile.TemporaryDirectory() as work:
        if "dcgan" in chosen or "seed" in chosen:
            dcgan_and_seed(device, name, smoke, Path(work), chosen)
        if "families" in chosen:
            families(device, name, smoke, Path(work), args.data_root)
        if "contention" in chosen:
            sharing(device, name, smoke, Path(work))


def dcgan_and_seed(device: str, name: str, smoke: bool, work: Path, chosen: list[str]) -> None:
    size, batch, steps, warmup, count = (16, 8, 2, 2, 64) if smoke else (64, 256, 30, 15, 2048)

    rows = []
    rates = {}
    if "dcgan" in chosen:
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
        print(f"\nAMP ÷ fp32: {rates['AMP (fp16)'] / rates['fp32']:.2f} (target ≥ 1.6)")

    if "seed" in chosen:
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


#: The families in plugins/: label -> (package, run settings, --set items at full size, at smoke size).
#: Full sizes are each package's GPU recipe: BigGAN's StudioGAN CIFAR-10 defaults, StyleGAN2 at the size of
#: stylegan2-ada's cifar config (its README), the translation families' defaults on their digits tasks.
FAMILIES: dict[str, tuple[str, dict, tuple[str, ...], tuple[str, ...]]] = {
    "BigGAN, CIFAR-10 32 px": (
        "gankit_biggan",
        {"arch": "biggan", "data": "cifar10"},
        (),
        ("arch.g_channels=8", "arch.d_channels=8", "arch.shared_dim=8"),
    ),
    "StyleGAN2, CIFAR-10 32 px": (
        "gankit_stylegan",
        {"arch": "stylegan2", "data": "cifar10", "z_dim": 512},
        ("arch.w_dim=512", "arch.channel_base=32768", "arch.channel_max=512"),
        ("arch.w_dim=8", "arch.channel_base=64", "arch.channel_max=8"),
    ),
    "pix2pix, pix2pix-digits": ("gankit_pix2pix", {"data": "pix2pix-digits"}, (), ("pix2pix.ngf=4", "pix2pix.ndf=4")),
    "CycleGAN, cyclegan-digits": (
        "gankit_cyclegan",
        {"data": "cyclegan-digits"},
        (),
        ("cyclegan.ngf=4", "cyclegan.ndf=4"),
    ),
    "StarGAN, stargan-digits": (
        "gankit_stargan",
        {"arch": "stargan", "data": "stargan-digits"},
        (),
        ("stargan.g_conv_dim=4", "stargan.d_conv_dim=4", "stargan.g_repeat_num=1"),
    ),
}


def write_fake_cifar10(root: Path, per_batch: int) -> Path:
    """Random images in CIFAR-10's binary on-disk format (cifar-10-batches-bin/: a label byte and 3,072
    pixel bytes per record), which gankit reads as it reads the real release."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        labels = ((np.arange(per_batch) + index) % 10).astype(np.uint8)
        pixels = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        (folder / f"{name}.bin").write_bytes(np.concatenate([labels[:, None], pixels], axis=1).tobytes())
    return root


def families(device: str, name: str, smoke: bool, work: Path, data_root: Path | None) -> None:
    """Each family's images/s in float32 and AMP (fp16 on CUDA, bf16 on the CPU)."""
    from gankit.errors import GankitError

    if data_root is None:
        data_root = write_fake_cifar10(work / "cifar", 8 if smoke else 2000)
    steps, warmup = (1, 1) if smoke else (20, 10)
    rows = []
    for label, (package, settings, full, tiny) in FAMILIES.items():
        settings = settings | {"data_root": str(data_root)}
        if smoke:
            settings |= {"batch_size": 4, "n_critic": 1, "z_dim": 8}
        rates = {}
        try:
            for amp in ("off", "on"):
                trainer = trainer_for(settings | {"amp": amp}, device, *(tiny if smoke else full))
                rates[amp], _ = images_per_second(trainer, steps, warmup)
                batch = trainer.batches.batch_size
                del trainer
                if device.startswith("cuda"):
                    torch.cuda.empty_cache()
        except GankitError as exc:  # the family is not installed (or disabled): say so, measure the others
            folder = package.replace("_", "-")
            rows.append([label, "unavailable", "", "", f"{exc} (pip install -e plugins/{folder})"])
            continue
        rows.append(
            [label, f"{rates['off']:.0f}", f"{rates['on']:.0f}", f"{rates['on'] / rates['off']:.2f}", f"batch {batch}"]
        )
        print(f"{label}: {rates['off']:.0f} / {rates['on']:.0f} images/s (fp32 / AMP)", flush=True)
    print(f"\n### Families in plugins/ ({name})\n")
    print(throughput.table(["family, data", "fp32 images/s", "AMP images/s", "AMP ÷ fp32", ""], rows))


def sharing(device: str, name: str, smoke: bool, work: Path) -> None:
    """Two `gankit run` of the seed workload side by side on this machine (on the GPU: both on it) against
    each alone, with gankit's thread choice and with PyTorch's default; see benchmarks/contention.py."""
    import contention

    root = throughput.write_mnist_idx(work / "mnist-sharing", 600 if smoke else 60_000)
    flags, steps = contention.WORKLOADS["seed workload (MNIST MLPs, batch 100)"]
    flags = tuple(f.replace("{mnist}", str(root)) for f in flags) + ("--device", device)
    default_threads = contention.torch_default_threads()
    results = contention.measure_contention(flags, 30 if smoke else steps, default_threads, 1, work)
    banners = results.pop("banners")
    rate = {k: statistics.median(v) for k, v in results.items()}
    rows = [
        [key, f"{rate[key]:.1f}", f"{rate[key] / rate['solo ' + key.split()[1]]:.2f}", banners.get(key, "")]
        for key in ("solo default", "solo auto", "pair default", "pair auto")
    ]
    print(f"\n### Two runs side by side, seed workload on {device} ({name}; {default_threads} threads by default)\n")
    print(throughput.table(["runs, threads", "steps/s each", "÷ alone", "gankit's choice"], rows))
    pair = rate["pair auto"] / rate["solo auto"]
    print(
        f"\npair ÷ alone (auto): {pair:.2f} (target ≥ {contention.PAIR_TARGET}); "
        f"alone, auto ÷ default: {rate['solo auto'] / rate['solo default']:.2f} (target ≥ {contention.SOLO_TARGET})"
    )


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
