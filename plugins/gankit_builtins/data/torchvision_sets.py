"""MNIST and Fashion-MNIST from their IDX files (CIFAR-10: cifar.py); decoded once into one tensor."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit import DataDescription, DataRequest, Field, GankitError, TensorDataset
from gankit.limits import check_data_size
from gankit.safe_files import read_bounded, shown

DEFAULT_ROOT = "data"


def _resize(x: torch.Tensor, resolution: int | None) -> torch.Tensor:
    if resolution is None or resolution == x.shape[-1]:
        return x
    return torch.nn.functional.interpolate(
        x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
    ).clamp(-1, 1)


def _root(request: DataRequest, folder: str) -> Path:
    root = Path(request.root or DEFAULT_ROOT)
    try:
        exists = root.is_dir()
    except OSError as exc:  # a name too long for the file system
        raise GankitError(f"--data-root {shown(root)} cannot be used: {exc.strerror or exc}") from None
    if not request.download and not exists:
        raise GankitError(
            f"--data-root {shown(root)} does not exist; point it at the folder holding {folder}/, or add --download"
        )
    return root


#: The classes' names, in label order, of the sets whose classes are not their numbers (as torchvision
#: and the data sets' own metadata give them): ``gankit sample --label cat``.
CLASS_NAMES = {
    "fashion-mnist": (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
}


def _dataset(name: str, data: torch.Tensor, labels: torch.Tensor, classes: int, request: DataRequest) -> TensorDataset:
    if request.resolution is not None:
        check_data_size(len(data), data.shape[1], request.resolution, name)
    x = _resize(data.float().div(127.5).sub(1.0), request.resolution)
    fields = {
        "x": Field(tuple(x.shape[1:]), "image", value_range=(0.0, 1.0)),
        "label": Field((), "class", num_classes=classes, names=CLASS_NAMES.get(name, ())),
    }
    return TensorDataset(DataDescription.of(name, fields, main="x"), x.contiguous(), labels)


#: The four files of MNIST and Fashion-MNIST in ROOT/<folder>/raw (as torchvision downloads them).
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: IDX magic numbers: unsigned bytes (0x08) in 3 dimensions (images) or 1 (labels).
_IDX_MAGIC = {3: 0x0803, 1: 0x0801}
#: The largest IDX file read: MNIST's training images are 47 MB.
MAX_IDX_BYTES = 2**30


def _load_idx(name: str, dataset_class_name: str, folder: str, config, request: DataRequest) -> TensorDataset:
    """MNIST-format data from its raw IDX files, read and checked here: never torchvision's legacy
    ``processed/*.pt`` pickles, and a truncated file is named as truncated, not as missing."""
    root = _root(request, folder)
    raw = root / folder / "raw"
    image_name, label_name = IDX_FILES["train" if config.split == "train" else "test"]
    wanted = [raw / n for n in (*IDX_FILES["train"], *IDX_FILES["test"])]
    if request.download and not all(p.is_file() for p in wanted):
        _download(dataset_class_name, root, name)
    missing = [p.name for p in (raw / image_name, raw / label_name) if not (p.is_file() or p.is_symlink())]
    if missing:
        legacy = sorted(p.name for p in (root / folder / "processed").glob("*.pt")) if root.is_dir() else []
        needs = f"{', '.join(missing)} in {shown(raw)}"
        if legacy:
            raise GankitError(
                f"{shown(root / folder / 'processed')} holds only torchvision's legacy pickles ({', '.join(legacy)}), "
                f"which gankit does not load; it needs the raw IDX files: {needs} (add --download to fetch them)"
            )
        raise GankitError(f"no {name} files under {shown(root)}: expected {needs}; fix --data-root or add --download")
    images = _read_idx(raw / image_name, 3)
    labels = _read_idx(raw / label_name, 1).long()
    if len(images) != len(labels):
        raise GankitError(
            f"{shown(raw / image_name)} holds {len(images)} images but {shown(raw / label_name)} "
            f"{len(labels)} labels; download them again (--download) or fix --data-root"
        )
    if len(labels) and int(labels.max()) > 9:
        raise GankitError(f"{shown(raw / label_name)} holds label {int(labels.max())}; digits are 0 to 9")
    return _dataset(name, images.unsqueeze(1), labels, 10, request)


def _read_idx(path: Path, dims: int) -> torch.Tensor:
    """An IDX file of unsigned bytes with ``dims`` dimensions, its header checked against its size."""
    import numpy as np

    data = read_bounded(path, "IDX data file", MAX_IDX_BYTES)
    header = 4 + 4 * dims
    fix = "download it again (--download) or fix --data-root"
    if len(data) < header:
        raise GankitError(
            f"{shown(path)} is truncated: {len(data)} bytes, shorter than its {header}-byte header; {fix}"
        )
    magic = int.from_bytes(data[:4], "big")
    if magic != _IDX_MAGIC[dims]:
        raise GankitError(
            f"{shown(path)} is not an IDX file of {dims}-D unsigned bytes: magic number {magic:#010x}, "
            f"expected {_IDX_MAGIC[dims]:#010x}; {fix}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    size = header + int(np.prod(shape, dtype=object))
    if len(data) != size:
        state = "truncated" if len(data) < size else "corrupt"
        raise GankitError(
            f"{shown(path)} is {state}: its header promises {' x '.join(map(str, shape))} bytes of data "
            f"({size} bytes in all) but the file has {len(data)}; {fix}"
        )
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).reshape(shape)


def _download(dataset_class_name: str, root: Path, name: str) -> None:
    """Fetch the raw files with torchvision's downloader alone (its dataset class would load legacy pickles)."""
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, dataset_class_name)
    downloader = dataset_class.__new__(dataset_class)
    downloader.root = str(root)
    try:
        downloader.download()
    except (OSError, RuntimeError, ValueError) as exc:
        files = ", ".join(n for pair in IDX_FILES.values() for n in pair)
        raise download_failed(name, root, exc, f"{files} in {shown(Path(downloader.raw_folder))}") from None


def download_failed(name: str, root: Path, exc: BaseException, needs: str) -> GankitError:
    """One line for a failed --download: why (offline, in a few words), and the files to put there by hand."""
    text = " ".join(str(exc).split())
    offline = any(
        s in text
        for s in (
            "Name or service not known",
            "urlopen error",
            "Network is unreachable",
            "Temporary failure in name resolution",
            "timed out",
        )
    )
    why = "no connection to the download server" if offline else f"{type(exc).__name__}: {text[:160]}"
    return GankitError(f"cannot download {name} into {shown(root)} ({why}); copy the files there yourself: {needs}")


def mnist(config, request: DataRequest) -> TensorDataset:
    return _load_idx("mnist", "MNIST", "MNIST", config, request)


def fashion_mnist(config, request: DataRequest) -> TensorDataset:
    return _load_idx("fashion-mnist", "FashionMNIST", "FashionMNIST", config, request)
