"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision, decoded once into one tensor."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit import DataDescription, DataRequest, GankitError, TensorDataset

DEFAULT_ROOT = "data"


def _resize(x: torch.Tensor, resolution: int | None) -> torch.Tensor:
    if resolution is None or resolution == x.shape[-1]:
        return x
    return torch.nn.functional.interpolate(
        x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
    ).clamp(-1, 1)


def _load(name: str, dataset_class_name: str, folder: str, config, request: DataRequest) -> TensorDataset:
    import torchvision.datasets

    root = Path(request.root or DEFAULT_ROOT)
    if not request.download and not root.is_dir():
        raise GankitError(
            f"--data-root {str(root)!r} does not exist; point it at the folder holding {folder}/, or add --download"
        )
    dataset_class = getattr(torchvision.datasets, dataset_class_name)
    try:
        dataset = dataset_class(str(root), train=config.split == "train", download=request.download)
    except RuntimeError as exc:
        raise GankitError(
            f"no {name} files under {str(root)!r} (expected {str(root / folder)}/...): {exc}; "
            "fix --data-root or add --download"
        ) from None
    except Exception as exc:  # torchvision reports corrupt files with assorted error types
        raise GankitError(f"cannot read {name} from {str(root)!r}: {type(exc).__name__}: {exc}") from None
    data = torch.as_tensor(dataset.data)
    if data.dim() == 3:  # (N, H, W) grayscale
        data = data.unsqueeze(1)
    else:  # CIFAR: (N, H, W, C)
        data = data.permute(0, 3, 1, 2)
    x = _resize(data.float().div(127.5).sub(1.0), request.resolution)
    labels = torch.as_tensor(dataset.targets, dtype=torch.long)
    classes = len(getattr(dataset, "classes", [])) or int(labels.max()) + 1
    description = DataDescription(name, tuple(x.shape[1:]), "image", value_range=(0.0, 1.0), num_classes=classes)
    return TensorDataset(description, x.contiguous(), labels)


def mnist(config, request: DataRequest) -> TensorDataset:
    return _load("mnist", "MNIST", "MNIST", config, request)


def fashion_mnist(config, request: DataRequest) -> TensorDataset:
    return _load("fashion-mnist", "FashionMNIST", "FashionMNIST", config, request)


def cifar10(config, request: DataRequest) -> TensorDataset:
    return _load("cifar10", "CIFAR10", "cifar-10-batches-py", config, request)
