"""Training through the real command line: digits at 16x16, MNIST and CIFAR-10 files in their real
formats, exact resume of every network, optimizer and the path-length mean, and sampling with
truncation and the style-mixing grid."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from gankit import checkpoint
from gankit.testing import check_component, run_cli

import gankit_stylegan

#: Tiny networks and runs: what is checked is the wiring, not the quality.
TINY = (
    "--set",
    "arch.channel_base=64",
    "--set",
    "arch.channel_max=16",
    "--set",
    "arch.w_dim=16",
    "--z-dim",
    "8",
    "--batch-size",
    "8",
    "--device",
    "cpu",
    "--log-every",
    "1",
    "-q",
)


@pytest.fixture
def plugin(gankit_plugin):
    gankit_plugin(gankit_stylegan)


def _state(folder: Path):
    return checkpoint.load(checkpoint.find_checkpoint(folder))


def _differences(a, b, where=""):
    """Paths where two checkpoint parts differ (tensors bit for bit)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        same = isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
        return [] if same else [where]
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{where}: keys differ"]
        return [d for k in a for d in _differences(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{where}/{i}")]
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


def test_digits_at_16_trains_and_resumes_exactly(plugin, tmp_path):
    # Both lazy penalties fall on each side of the resume: R1 on D steps 0 and 2, pl on G steps 0 and 2.
    flags = (
        "--arch",
        "stylegan2",
        "--data",
        "digits",
        "--resolution",
        "16",
        *TINY,
        "--set",
        "r1.every=2",
        "--set",
        "pl.every=2",
        "--checkpoint-every",
        "2",
        "--out",
        str(tmp_path),
    )
    run_cli("run", *flags, "--steps", "4", "--name", "full")
    run_cli("run", *flags, "--steps", "2", "--name", "part")
    run_cli("run", "--resume", str(tmp_path / "part"), "--steps", "4", "--device", "cpu", "-q")
    full, part = _state(tmp_path / "full"), _state(tmp_path / "part")
    assert full.counters["step"] == part.counters["step"] == 4
    for what in ("networks", "ema", "optimizers", "scheme", "regularizers", "counters", "rng"):
        assert _differences(getattr(full, what), getattr(part, what), what) == []
    assert set(full.networks) == {"generator", "discriminator"}
    assert set(full.ema) == {"generator"}  # gankit's EMA of G, with StyleGAN2's ramp-up
    assert set(full.optimizers) == {"generator", "discriminator"}
    assert float(full.regularizers["pl"]["mean"]) > 0  # the running mean was updated and saved
    g, ema = full.networks["generator"], full.ema["generator"]
    assert not torch.equal(g["synthesis.const"], ema["synthesis.const"])  # a moving average, not a copy
    assert torch.equal(g["mapping.w_avg"], ema["mapping.w_avg"])  # buffers are copied
    config = full.config["run"]
    assert (config["arch"], config["scheme"], config["regs"]) == ("stylegan2", "stylegan2", ["r1", "pl"])
    assert (config["ema_rampup"], config["lazy_correction"]) == (0.05, True)
    assert (tmp_path / "full" / "samples").is_dir()


def write_mnist(root: Path, count: int = 16) -> None:
    """MNIST's IDX files, as torchvision reads them from DIR/MNIST/raw."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, count, dtype=np.uint8)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + labels.tobytes())


def write_cifar10(root: Path, per_batch: int = 4) -> None:
    """CIFAR-10's Python pickles (cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta)."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        batch = {
            "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            "labels": [(i + k) % 10 for k in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}, protocol=2))


@pytest.fixture
def no_cifar_md5(monkeypatch):
    # torchvision checks each CIFAR file against the md5 of the real download, which no file written
    # here can match; only that check is replaced (in this test), the pickles are read by torchvision.
    import torchvision.datasets.cifar as cifar

    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: Path(path).is_file())
    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)


def test_mnist_files(plugin, tmp_path):
    write_mnist(tmp_path / "data")
    common = (
        "run",
        "--arch",
        "stylegan2",
        "--data",
        "mnist",
        "--data-root",
        str(tmp_path / "data"),
        *TINY,
        "--steps",
        "2",
        "--out",
        str(tmp_path),
    )
    result = run_cli(*common, "--name", "native", check=False)  # 28x28 is not a power of two
    assert result.exit_code != 0 and "--resolution 32" in result.output
    run_cli(*common, "--resolution", "16", "--name", "m")
    assert _state(tmp_path / "m").config["data_description"]["shape"] == [1, 16, 16]


def test_cifar10_files(plugin, tmp_path, no_cifar_md5):
    write_cifar10(tmp_path / "data")
    run_cli(
        "run",
        "--arch",
        "stylegan2",
        "--data",
        "cifar10",
        "--data-root",
        str(tmp_path / "data"),
        *TINY,
        "--steps",
        "2",
        "--out",
        str(tmp_path),
        "--name",
        "c",
    )
    assert _state(tmp_path / "c").config["data_description"]["shape"] == [3, 32, 32]


def test_sampling_truncation_and_the_mixing_grid(plugin, tmp_path):
    run_cli(
        "run", "--arch", "stylegan2", "--data", "digits", *TINY, "--steps", "2", "--out", str(tmp_path), "--name", "s"
    )
    run_folder = str(tmp_path / "s")

    def sample(name, *args):
        out = tmp_path / f"{name}.npy"
        run_cli("sample", run_folder, "-o", str(out), "--device", "cpu", *args)
        return np.load(out)

    plain = sample("plain", "-n", "9")
    assert plain.shape == (9, 1, 8, 8)
    # Independent of the batch size (up to the convolution kernels' rounding).
    assert np.allclose(sample("again", "-n", "9", "--batch-size", "2"), plain, atol=1e-5)
    assert not np.array_equal(sample("psi", "-n", "9", "--set", "truncation=0.7"), plain)
    mean = sample("mean", "-n", "4", "--set", "truncation=0", "--set", "noise_mode=const")
    assert np.allclose(mean, mean[:1])

    const = sample("const", "-n", "9", "--set", "noise_mode=const")
    grid = sample("grid", "-n", "9", "--set", "mix=3", "--set", "noise_mode=const")
    assert np.allclose(grid[[1, 2, 3, 6]], const[[1, 2, 3, 6]], atol=1e-6)  # the sources: row 0 and column 0
    assert np.allclose(grid[0], mean[0], atol=1e-6)  # the corner: the mean image
    for r in (1, 2):
        for c in (1, 2):
            cell = grid[3 * r + c]
            assert not np.allclose(cell, const[3 * r]) and not np.allclose(cell, const[c])
    picture = tmp_path / "grid.png"
    run_cli("sample", run_folder, "-n", "16", "--set", "mix=4", "--set", "mix_from=2", "-o", str(picture))
    assert picture.is_file()
    result = run_cli("sample", run_folder, "-n", "10", "--set", "mix=3", "-o", str(tmp_path / "bad.png"), check=False)
    assert result.exit_code != 0 and "-n 9" in result.output


def test_another_architecture_trains_and_samples_as_g_of_z(plugin, tmp_path):
    # --arch dcgan under the scheme: G(z) without mixing or noise, averaged and sampled like stylegan2's.
    common = ("--data", "digits", "--z-dim", "8", "--batch-size", "8", "--device", "cpu", "-q")
    run_cli("run", "--scheme", "stylegan2", "--arch", "dcgan", *common, "--steps", "1", "--out", str(tmp_path))
    (folder,) = tmp_path.iterdir()
    state = _state(folder)
    assert (set(state.networks), set(state.ema)) == ({"generator", "discriminator"}, {"generator"})
    out = tmp_path / "dcgan.npy"
    run_cli("sample", str(folder), "-n", "4", "-o", str(out), "--device", "cpu")
    assert np.load(out).shape == (4, 1, 8, 8)


def test_scheme_conforms(plugin):
    report = check_component(
        "scheme", "stylegan2", {"channel_base": 64, "channel_max": 16, "w_dim": 16}, run_args=["--arch", "stylegan2"]
    )
    assert any("resumes exactly" in p for p in report.passed), report


def test_path_length_conforms(plugin):
    report = check_component("reg", "pl")
    assert any("round-trips" in p for p in report.passed), report
    assert any("survives a checkpoint" in p for p in report.passed), report
