"""gankit-biggan through the command line: training on digits at 16x16 and on local MNIST and CIFAR-10
files, per-class sampling with truncation, exact resume including gankit's moving average of G, and
that average's start step."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from gankit import DataDescription, NetworkRequest, checkpoint
from gankit.testing import create_component, run_cli

import gankit_biggan

#: Small widths and batches: the layout is BigGAN's, the cost is a test's.
SMALL = (
    "--set", "arch.g_channels=4", "--set", "arch.d_channels=4", "--set", "arch.shared_dim=8",
    "--batch-size", "8", "--n-critic", "2", "--device", "cpu", "-q",
)  # fmt: skip
DIGITS16 = DataDescription("digits", (1, 16, 16), "image", value_range=(0.0, 1.0), num_classes=10)
#: gankit's EMA, moving within a few steps: a copy of G for the first step, then decay 0.5.
FAST_EMA = ("--ema", "0.5", "--set", "ema_start=1")


def _run(out: Path, name: str, *flags: str) -> Path:
    run_cli("run", "--arch", "biggan", *SMALL, *flags, "--out", str(out), "--name", name)
    return out / name


def _state(run: Path):
    return checkpoint.load(checkpoint.find_checkpoint(run))


def _difference(a, b, where: str) -> str | None:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
        return None if same and torch.equal(a, b) else where
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{where}: keys differ"
        return next((d for k in a if (d := _difference(a[k], b[k], f"{where}/{k}"))), None)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{where}: lengths differ"
        return next(
            (d for i, (x, y) in enumerate(zip(a, b, strict=True)) if (d := _difference(x, y, f"{where}/{i}"))), None
        )
    return None if a == b else f"{where}: {a!r} != {b!r}"


def _sample(run: Path, out: Path, *flags: str) -> np.ndarray:
    run_cli("sample", str(run), "-o", str(out), "--device", "cpu", *flags)
    return np.load(out)


def _checkpoints(run: Path) -> list:
    """Every checkpoint of a run, oldest first."""
    return [checkpoint.load(path) for path in checkpoint.by_step((run / "checkpoints").glob("step-*.safetensors"))]


def test_digits16_trains_samples_per_class_and_resumes_exactly(gankit_plugin, tmp_path):
    gankit_plugin(gankit_biggan)
    # DiffAugment on: its random transforms draw from the run's generators, which resume restores. And the
    # CPU preset's bfloat16 on channels-last tensors (Adam's moments must come back in the weights' layout).
    flags = ("--data", "digits", "--resolution", "16", *FAST_EMA, "--set", "arch.augment=color,translation,cutout")
    flags += ("--amp", "bf16", "--channels-last")
    # Every step checkpointed, all kept, to follow the average; a checkpoint's contents do not depend on that.
    full = _run(tmp_path, "full", *flags, "--steps", "4", "--checkpoint-every", "1", "--set", "keep_checkpoints=4")
    part = _run(tmp_path, "part", *flags, "--steps", "2", "--checkpoint-every", "2")
    run_cli("run", "--resume", str(part), "--steps", "4", "--device", "cpu", "-q")

    a, b = _state(full), _state(part)
    assert a.counters["step"] == b.counters["step"] == 4
    assert set(a.networks) == {"generator", "discriminator"}
    assert set(a.ema) == {"generator"}  # gankit's EMA of G (the scheme's ema_networks)
    assert a.scheme == {}  # no state of its own
    # The resume crosses the averaging (a copy at step 1, averaged from step 2 on), so the saved average matters.
    for label in ("networks", "ema", "optimizers", "scheme", "regularizers", "counters", "rng"):
        assert _difference(getattr(a, label), getattr(b, label), label) is None
    config = a.config["run"]
    assert (config["loss"], config["scheme"], list(config["regs"])) == ("hinge", "biggan", ["ortho"])
    assert (config["ema"], config["ema_start"]) == (0.5, 1)

    # The start step: the average is a copy of G through step `ema_start`, then lerp(G, average, decay)
    # for parameters and batch norm statistics; other buffers (spectral norm's vectors, counters) are copied.
    G = create_component("arch", "biggan", {"g_channels": 4, "d_channels": 4, "shared_dim": 8}).build(
        NetworkRequest.generator(DIGITS16, 80, label=DIGITS16.fields["label"])
    )
    buffers = set(dict(G.named_buffers()))
    parameters = set(dict(G.named_parameters()))
    assert any("running_mean" in k for k in buffers) and any(k.endswith("_u") for k in buffers)
    one, two, *_ = states = _checkpoints(full)
    assert [state.counters["step"] for state in states] == [1, 2, 3, 4]
    assert _difference(one.ema["generator"], one.networks["generator"], "step 1") is None
    g1, g2, ema2 = one.networks["generator"], two.networks["generator"], two.ema["generator"]
    assert set(ema2) == buffers | parameters
    statistics = {k for k in buffers if k.endswith(("running_mean", "running_var"))}
    for key in parameters | statistics:
        torch.testing.assert_close(ema2[key], g2[key].lerp(g1[key], 0.5), rtol=0, atol=1e-6)
    for key in buffers - statistics:
        assert torch.equal(ema2[key], g2[key]), key
    g4, ema4 = a.networks["generator"], a.ema["generator"]
    assert not torch.equal(g4["linear.bias"], ema4["linear.bias"])

    # Class rows: unlabelled samples go through the classes in blocks (2 per class for 20 samples), so
    # `--label 3` reproduces samples 6 and 7 exactly (same seeded noise, same class).
    rows = _sample(full, tmp_path / "rows.npy", "-n", "20")
    three = _sample(full, tmp_path / "three.npy", "-n", "20", "--label", "3")
    assert rows.shape == three.shape == (20, 1, 16, 16)
    np.testing.assert_array_equal(three[6:8], rows[6:8])
    assert not np.array_equal(three[:2], rows[:2])
    # Truncation: another sample from the same noise, reproducible; 1.0 is the default.
    truncated = _sample(full, tmp_path / "t.npy", "-n", "20", "--set", "truncation=0.5")
    assert not np.array_equal(truncated, rows)
    np.testing.assert_array_equal(truncated, _sample(full, tmp_path / "t2.npy", "-n", "20", "--set", "truncation=0.5"))
    np.testing.assert_array_equal(rows, _sample(full, tmp_path / "t1.npy", "-n", "20", "--set", "truncation=1.0"))
    # A sweep towards psi -> 0 squeezes the samples of one class together (z -> 0 for all of them).
    spread = [
        _sample(full, tmp_path / f"sweep{psi}.npy", "--label", "3", "-n", "8", "--set", f"truncation={psi}")
        .std(0)
        .mean()
        for psi in (1.0, 0.5, 0.01)
    ]
    assert spread[0] > spread[1] > spread[2] and spread[2] < 0.05 * spread[0]
    bad = run_cli("sample", str(full), "-n", "4", "-o", str(tmp_path / "bad.npy"), "--set", "truncation=2", check=False)
    assert bad.exit_code != 0 and "truncation must be in (0, 1]" in bad.output
    grid = tmp_path / "grid.png"
    run_cli("sample", str(full), "-n", "20", "-o", str(grid), "--device", "cpu")
    assert grid.stat().st_size > 0


def _write_mnist(root: Path, count: int = 40) -> None:
    """MNIST's IDX files as torchvision reads them (raw/*-ubyte), with random 28x28 images."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    labels = (np.arange(count) % 10).astype(np.uint8)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + labels.tobytes())


def _write_cifar10(root: Path, per_batch: int = 8) -> None:
    """CIFAR-10's python pickles (cifar-10-batches-py) with random 32x32 RGB images."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        entry = {
            "data": rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8),
            "labels": [int(v) for v in np.arange(per_batch) % 10],
        }
        (folder / name).write_bytes(pickle.dumps(entry))
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": classes}))


def test_mnist_from_local_files(gankit_plugin, tmp_path):
    gankit_plugin(gankit_biggan)
    _write_mnist(tmp_path / "data")
    run = _run(tmp_path, "mnist", "--data", "mnist", "--data-root", str(tmp_path / "data"), "--steps", "2")
    assert _sample(run, tmp_path / "m.npy", "-n", "4", "--label", "7").shape == (4, 1, 28, 28)


def test_cifar10_from_local_files(gankit_plugin, tmp_path, monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    gankit_plugin(gankit_biggan)
    _write_cifar10(tmp_path / "data")
    # The files are in CIFAR-10's real format but not its real content: skip torchvision's MD5 check.
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    run = _run(tmp_path, "cifar", "--data", "cifar10", "--data-root", str(tmp_path / "data"), "--steps", "2")
    state = _state(run)
    assert state.networks["generator"]["shared.weight"].shape == (10, 8)
    assert _sample(run, tmp_path / "c.npy", "-n", "4", "--label", "2").shape == (4, 3, 32, 32)


def test_cpu_preset_is_a_valid_run_config(gankit_plugin):
    gankit_plugin(gankit_biggan)
    from gankit.plugins import registry
    from gankit.resolve import resolve

    assert gankit_biggan.CPU_PRESET.is_file()
    run = resolve(registry(), {}, config_file=str(gankit_biggan.CPU_PRESET))
    cfg = run.config
    assert (cfg.arch, cfg.data, cfg.resolution, cfg.scheme, cfg.loss) == ("biggan", "digits", 16, "biggan", "hinge")
    assert (cfg.batch_size, cfg.n_critic, cfg.ema, cfg.ema_start) == (32, 2, 0.99, 200)
    assert (cfg.lr_g, cfg.lr_d, cfg.steps) == (2.5e-4, 2e-3, 3500)  # D 8x faster than G (see the preset)
    assert (cfg.amp, cfg.channels_last) == ("bf16", True)  # 1.9x the steps of float32 NCHW per CPU second
    arch = run.config_for(run.architecture)
    assert (arch.g_channels, arch.d_channels, arch.init, arch.attention) == (8, 16, "default", False)
    assert arch.augment == ("translation",)  # DiffAugment: against D learning the ~1,400 digits by heart
    # The preset changes run settings and widths only: the published defaults stay BigGAN's.
    assert (cfg.loss, cfg.z_dim, tuple(cfg.betas), cfg.regs) == ("hinge", 80, (0.5, 0.999), ("ortho",))
    assert run.config_for(run.scheme) is None


def test_a_discriminator_penalty_given_with_reg_acts_on_d(gankit_plugin, tmp_path):
    gankit_plugin(gankit_biggan)
    plain = _state(_run(tmp_path, "plain", "--steps", "1", "--reg", "ortho"))
    penalized = _state(_run(tmp_path, "r1", "--steps", "1", "--reg", "ortho", "--reg", "r1", "--set", "r1.gamma=100"))
    d_plain, d_r1 = plain.networks["discriminator"], penalized.networks["discriminator"]
    assert _difference(d_plain, d_r1, "D") is not None  # R1 on the real batch (under its labels) moved D
