"""The bundled data sources, reading real on-disk formats written by the tests themselves."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit import DataRequest, Dataset, GankitError
from gankit.plugins import registry

torch.set_num_threads(1)


def _load(
    name: str, root: Path | str | None = None, *, resolution: int | None = None, download: bool = False, **options
) -> Dataset:
    spec = registry().get("data", name)
    dataset = spec.create(
        spec.make_config(options),
        DataRequest(root=str(root) if root else None, download=download, resolution=resolution),
    )
    assert isinstance(dataset, Dataset)
    return dataset


# -- toy sets ------------------------------------------------------------------------------------


def _toy_centers(name: str) -> torch.Tensor:
    if name == "ring8":
        angles = torch.arange(8) * (2 * np.pi / 8)
        return 2 * torch.stack([angles.cos(), angles.sin()], 1)
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(ticks, ticks)


@pytest.mark.parametrize(("name", "modes", "std"), [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_gaussian_mixtures_cover_their_modes(name, modes, std):
    dataset = _load(name)
    description = dataset.description
    assert description.shape == (2,) and description.modality == "points"
    assert dataset.samples is None and description.size is None
    x = dataset.sample(4000, torch.Generator().manual_seed(0))
    assert x.shape == (4000, 2) and x.dtype == torch.float32
    assert x.abs().max() <= 1.0
    points = description.to_data_units(x)
    centers = _toy_centers(name).float()
    assert len(centers) == modes
    distance, nearest = torch.cdist(points, centers).min(dim=1)
    assert distance.max() < 6 * std  # every sample sits on a mode
    counts = torch.bincount(nearest, minlength=modes)
    assert (counts > 4000 / modes / 2).all()  # every mode is used, roughly equally


def test_toy_std_option():
    wide = _load("ring8", std=0.3).sample(2000, torch.Generator().manual_seed(0))
    narrow = _load("ring8").sample(2000, torch.Generator().manual_seed(0))
    radius = lambda x: (x * 2.5).norm(dim=1)  # noqa: E731
    assert radius(wide).std() > 5 * radius(narrow).std()


def test_swissroll():
    dataset = _load("swissroll")
    x = dataset.sample(1000, torch.Generator().manual_seed(0))
    assert x.shape == (1000, 2)
    assert x.abs().max() <= 1.0
    assert dataset.description.shape == (2,)


@pytest.mark.parametrize("name", ["ring8", "grid25", "swissroll"])
def test_toy_sampling_is_determined_by_the_generator(name):
    dataset = _load(name)
    a = dataset.sample(64, torch.Generator().manual_seed(7))
    b = dataset.sample(64, torch.Generator().manual_seed(7))
    c = dataset.sample(64, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # The generator is the only randomness: the global RNG does not matter.
    torch.manual_seed(123)
    d = dataset.sample(64, torch.Generator().manual_seed(7))
    assert torch.equal(a, d)


def test_epochs_on_toy_data_is_an_error(gankit):
    result = gankit("run", "--data", "ring8", "--epochs", "1", "--batch-size", "8")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "--epochs" in lines[0] and "'ring8'" in lines[0] and "--steps" in lines[0]


# -- digits --------------------------------------------------------------------------------------


def test_digits_all():
    dataset = _load("digits")
    assert dataset.samples.shape == (1797, 1, 8, 8)
    assert dataset.samples.min() == -1.0 and dataset.samples.max() == 1.0
    assert dataset.labels.shape == (1797,) and set(dataset.labels.tolist()) == set(range(10))
    d = dataset.description
    assert (d.name, d.shape, d.modality, d.value_range, d.num_classes, d.size) == (
        "digits",
        (1, 8, 8),
        "image",
        (0.0, 1.0),
        10,
        1797,
    )
    assert d.to_data_units(dataset.samples).min() == 0.0 and d.to_data_units(dataset.samples).max() == 1.0


def test_digits_split():
    train, test = _load("digits", split="train"), _load("digits", split="test")
    assert len(train.samples) + len(test.samples) == 1797
    assert len(test.samples) == 360
    assert train.description.size == len(train.samples)
    # Disjoint: no test image appears in the training split.
    all_digits = _load("digits").samples.flatten(1)
    train_rows = {tuple(r.tolist()) for r in train.samples.flatten(1)}
    test_rows = {tuple(r.tolist()) for r in test.samples.flatten(1)}
    assert len(train_rows | test_rows) == len({tuple(r.tolist()) for r in all_digits})


def test_digits_bad_split():
    with pytest.raises(GankitError, match="'digits'"):
        registry().get("data", "digits").make_config({"split": "validation"})


# -- MNIST and Fashion-MNIST in the IDX format ---------------------------------------------------


def write_idx(root: Path, folder: str, count: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The four uncompressed IDX files torchvision reads from ROOT/<folder>/raw (train and t10k)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    images[0] = 0
    images[1] = 255
    labels = (np.arange(count) % 10).astype(np.uint8)
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split in ("train", "t10k"):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + labels.tobytes())
    return images, labels


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_idx_data_sets_load(tmp_path, name, folder):
    images, labels = write_idx(tmp_path, folder)
    dataset = _load(name, tmp_path)
    assert dataset.samples.shape == (64, 1, 28, 28)
    assert dataset.samples.dtype == torch.float32
    expected = torch.as_tensor(images).float().div(127.5).sub(1).unsqueeze(1)
    torch.testing.assert_close(dataset.samples, expected)
    assert dataset.samples.min() == -1.0 and dataset.samples.max() == 1.0
    assert torch.equal(dataset.labels, torch.as_tensor(labels, dtype=torch.long))
    d = dataset.description
    assert (d.name, d.shape, d.value_range, d.num_classes, d.size) == (name, (1, 28, 28), (0.0, 1.0), 10, 64)
    names = d.fields["label"].names  # MNIST's classes are their numbers
    assert names == (() if name == "mnist" else ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                                                  "Shirt", "Sneaker", "Bag", "Ankle boot"))  # fmt: skip


def test_idx_resolution(tmp_path):
    write_idx(tmp_path, "MNIST")
    dataset = _load("mnist", tmp_path, resolution=32)
    assert dataset.samples.shape == (64, 1, 32, 32)
    assert dataset.samples.min() >= -1 and dataset.samples.max() <= 1
    assert dataset.description.shape == (1, 32, 32)


def test_mnist_trains_through_the_cli(gankit, tmp_path):
    write_idx(tmp_path / "data", "MNIST")
    result = gankit(
        "run", "--data", "mnist", "--data-root", "data", "--steps", "3", "--batch-size", "16", "--name", "m", "-q"
    )
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "m"
    config = json.loads((run / "config.json").read_text())
    assert config["data_description"]["shape"] == [1, 28, 28]
    assert config["data_description"]["size"] == 64
    latest = (run / "checkpoints" / "latest").read_text().strip()
    assert (run / "checkpoints" / latest).is_file()
    assert list((run / "samples").glob("step-*.png"))


def test_explicit_steps_beat_the_data_sources_suggested_epochs(gankit, tmp_path):
    write_idx(tmp_path / "data", "MNIST")
    result = gankit(
        "run", "--data", "mnist", "--data-root", "data", "--steps", "3", "--batch-size", "16", "--name", "m", "-q"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "m" / "checkpoints" / "latest").read_text().strip() == "step-000003.safetensors"


def test_mnist_missing_root_names_path_and_fixes(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(GankitError) as info:
        _load("mnist", missing)
    message = str(info.value)
    assert str(missing) in message
    assert "--download" in message and "--data-root" in message


def test_mnist_empty_root_names_path_and_fixes(tmp_path):
    with pytest.raises(GankitError) as info:
        _load("fashion-mnist", tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message and "FashionMNIST" in message
    assert "--download" in message and "--data-root" in message
    assert "\n" not in message


def test_mnist_missing_root_through_the_cli(gankit, tmp_path):
    result = gankit("run", "--data", "mnist", "--data-root", "absent", "--steps", "2")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert "'absent'" in lines[0] and "--download" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_mnist_corrupt_file(tmp_path):
    write_idx(tmp_path, "MNIST")
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(GankitError) as info:
        _load("mnist", tmp_path)
    assert "mnist" in str(info.value) and str(tmp_path) in str(info.value)


# -- CIFAR-10 in its python-pickle format --------------------------------------------------------


def _py2_pickle(obj: dict) -> bytes:
    """Pickle like the real CIFAR files: Python 2 byte-string keys (b"data" under encoding="bytes",
    "data" under the encoding="latin1" that torchvision uses)."""
    blob = pickle.dumps(obj, protocol=2)
    for key in obj:
        encoded = key.encode()
        blob = blob.replace(b"X" + struct.pack("<I", len(encoded)) + encoded, b"U" + bytes([len(encoded)]) + encoded)
    return blob


def write_cifar10(root: Path, per_batch: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    all_data = []
    for index, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in (np.arange(per_batch) + index) % 10]
        (folder / name).write_bytes(_py2_pickle({"batch_label": f"batch {index}", "data": data, "labels": labels}))
        if name != "test_batch":
            all_data.append(data)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(
        _py2_pickle({"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072})
    )
    return np.concatenate(all_data)


def test_cifar10_loads(tmp_path):
    raw = write_cifar10(tmp_path)
    dataset = _load("cifar10", tmp_path)
    assert dataset.samples.shape == (40, 3, 32, 32)
    expected = torch.as_tensor(raw.reshape(-1, 3, 32, 32)).float().div(127.5).sub(1)
    torch.testing.assert_close(dataset.samples, expected)
    d = dataset.description
    assert (d.name, d.shape, d.value_range, d.num_classes, d.size) == ("cifar10", (3, 32, 32), (0.0, 1.0), 10, 40)
    assert d.fields["label"].names[:4] == (
        "airplane",
        "automobile",
        "bird",
        "cat",
    )  # CIFAR-10's classes, in label order
    assert dataset.labels.shape == (40,)
    test = _load("cifar10", tmp_path, split="test")
    assert test.samples.shape == (8, 3, 32, 32)


def test_cifar10_trains_through_the_cli(gankit, tmp_path):
    write_cifar10(tmp_path / "data")
    result = gankit(
        "run",
        "--data",
        "cifar10",
        "--data-root",
        "data",
        "--arch",
        "dcgan",
        "--set",
        "arch.g_channels=4",
        "--set",
        "arch.d_channels=4",
        "--epochs",
        "0.2",
        "--batch-size",
        "8",
        "--name",
        "c",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "c" / "checkpoints" / "latest").is_file()


def test_cifar10_binary_release_loads_the_same_images(tmp_path):
    raw = write_cifar10(tmp_path / "py")
    folder = tmp_path / "bin" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    py = tmp_path / "py" / "cifar-10-batches-py"
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        # The same images and labels as the Python release, as records of a label byte and 3,072 pixels.
        from gankit_builtins.data.cifar import _read_py_batch

        data, labels = _read_py_batch(py / name)
        records = np.concatenate([labels.astype(np.uint8)[:, None], data], axis=1)
        (folder / f"{name}.bin").write_bytes(records.tobytes())
    from_bin, from_py = _load("cifar10", tmp_path / "bin"), _load("cifar10", tmp_path / "py")
    assert torch.equal(from_bin.samples, from_py.samples) and torch.equal(from_bin.labels, from_py.labels)
    assert from_bin.samples.shape == (len(raw), 3, 32, 32)
    (folder / "data_batch_2.bin").write_bytes(records.tobytes()[:-5])
    with pytest.raises(GankitError, match="data_batch_2.bin' is truncated or corrupt"):
        _load("cifar10", tmp_path / "bin")


class _Planted:
    def __reduce__(self):
        import os

        return (os.system, ("touch planted",))


def test_cifar10_batch_that_would_run_code_is_refused_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_cifar10(tmp_path)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(pickle.dumps({"data": _Planted(), "labels": []}, protocol=2))
    with pytest.raises(GankitError) as info:
        _load("cifar10", tmp_path)
    assert "data_batch_3" in str(info.value) and "posix.system" in str(info.value)
    assert not (tmp_path / "planted").exists()


def test_cifar10_missing_files(tmp_path):
    with pytest.raises(GankitError) as info:
        _load("cifar10", tmp_path)
    message = str(info.value)
    assert "cifar-10-batches-py" in message and "--download" in message


# -- a folder of images --------------------------------------------------------------------------


def write_pngs(root: Path, classes=("cats", "dogs"), per_class: int = 3, size=(20, 24)) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in classes:
        folder = root / name if name else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")


def test_folder_with_class_subfolders(tmp_path):
    write_pngs(tmp_path / "pets")
    (tmp_path / "pets" / "notes.txt").write_text("not an image")
    dataset = _load("folder", tmp_path / "pets", resolution=16)
    assert dataset.samples.shape == (6, 3, 16, 16)
    assert dataset.samples.min() >= -1 and dataset.samples.max() <= 1
    assert dataset.labels.tolist() == [0, 0, 0, 1, 1, 1]
    d = dataset.description
    assert (d.name, d.shape, d.num_classes, d.value_range) == ("folder:pets", (3, 16, 16), 2, (0.0, 1.0))
    assert d.fields["label"].names == ("cats", "dogs")  # the sub-folders: gankit sample --label dogs


def test_folder_classes_named_by_numbers_keep_only_their_numbers(tmp_path):
    write_pngs(tmp_path / "digits", classes=("0", "1"), per_class=1)
    d = _load("folder", tmp_path / "digits", resolution=8).description
    assert d.num_classes == 2 and d.fields["label"].names == ()


def test_folder_grayscale_and_default_resolution(tmp_path):
    write_pngs(tmp_path, classes=("",), per_class=2)
    dataset = _load("folder", tmp_path, channels=1)
    assert dataset.samples.shape == (2, 1, 64, 64)
    assert dataset.labels is None and dataset.description.num_classes is None


def test_folder_trains_through_the_cli(gankit, tmp_path):
    write_pngs(tmp_path / "pics", per_class=4)
    result = gankit(
        "run",
        "--data",
        "folder",
        "--data-root",
        "pics",
        "--resolution",
        "16",
        "--steps",
        "2",
        "--batch-size",
        "4",
        "--set",
        "arch.g_hidden=16",
        "--set",
        "arch.d_hidden=16",
        "--name",
        "f",
        "-q",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "runs" / "f" / "config.json").read_text())
    assert config["data_description"]["shape"] == [3, 16, 16]


@pytest.mark.parametrize("case", ["no_root", "missing_root", "no_images", "unreadable"])
def test_folder_errors(tmp_path, case):
    root = tmp_path / "imgs"
    if case in ("no_images", "unreadable"):
        root.mkdir()
        (root / "readme.txt").write_text("hi")
    if case == "unreadable":
        (root / "broken.png").write_bytes(b"not a png")
    with pytest.raises(GankitError) as info:
        _load("folder", None if case == "no_root" else root)
    message = str(info.value)
    assert "\n" not in message
    if case == "no_root":
        assert "--data-root" in message
    else:
        assert str(root) in message


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_offline_download_says_where_to_put_the_files_not_to_add_download(tmp_path, monkeypatch, name):
    import urllib.error

    import torchvision.datasets
    import torchvision.datasets.utils

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", offline)
    with pytest.raises(GankitError) as info:
        _load(name, tmp_path / "data", download=True)
    message = str(info.value)
    assert "no connection to the download server" in message and "copy the files there yourself" in message
    assert "--download" not in message and ("t10k-images-idx3-ubyte" in message or "data_batch_1" in message)
