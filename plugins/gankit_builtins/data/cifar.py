"""CIFAR-10 from its own files, read and checked here rather than by torchvision.

torchvision's loader unpickles each batch with no restriction, and only after checking it against the
md5 of the official download, so a subset or re-packed copy in the same format is refused. gankit reads
either release of the data set:

* ``cifar-10-batches-bin/`` (the binary release): records of one label byte and 3,072 pixel bytes;
* ``cifar-10-batches-py/`` (the Python release): each batch is a Python 2 pickle of a dict. It is read
  with an unpickler that can build nothing but numpy arrays (plain data, no code), dicts, lists, strings
  and numbers: Python's documented way of restricting what a pickle may construct. Anything else in the
  file, such as a call to ``os.system``, is refused before it is built.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gankit import DataRequest, GankitError, TensorDataset
from gankit.safe_files import read_bounded, shown

from .torchvision_sets import _dataset, _root, download_failed

BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
PIXELS = 3 * 32 * 32
#: One batch of the real release is 31 MB; a file beyond this is not a CIFAR-10 batch.
MAX_BATCH_BYTES = 2**28


def _numpy_reconstruct() -> Any:
    try:
        from numpy._core.multiarray import _reconstruct  # numpy 2
    except ImportError:  # numpy 1
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """What Python 3's protocol-2 pickles of bytes call (``_codecs.encode(text, "latin1")``), and nothing else."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"it encodes with {encoding!r}, which a CIFAR-10 batch never does")
    return text.encode("latin1")


#: The only globals a CIFAR-10 batch may name: what numpy's own pickles of an array use (and the bytes of
#: a batch re-pickled by Python 3 at protocol 2).
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"): lambda: _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise pickle.UnpicklingError(f"it names {module}.{name}, which a CIFAR-10 batch never does")
        return allowed()


def _read_py_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    blob = read_bounded(path, "CIFAR-10 batch", MAX_BATCH_BYTES)
    try:
        batch = _ArraysOnly(io.BytesIO(blob), encoding="bytes").load()
    except Exception as exc:  # a corrupt or hostile file: whatever the unpickler raised, it built nothing
        reason = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise GankitError(f"{shown(path)} is not a CIFAR-10 batch ({reason}); fix --data-root") from None
    if not isinstance(batch, dict):
        raise GankitError(f"{shown(path)} is not a CIFAR-10 batch (it holds a {type(batch).__name__}, not a dict)")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        described = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise GankitError(f"{shown(path)}: 'data' must be uint8 rows of {PIXELS} pixels, got {described}")
    if not isinstance(labels, list) or not all(isinstance(v, int) and 0 <= v <= 9 for v in labels):
        raise GankitError(f"{shown(path)}: 'labels' must be a list of classes 0 to 9")
    if len(labels) != len(data):
        raise GankitError(f"{shown(path)} holds {len(data)} images but {len(labels)} labels")
    return data, np.asarray(labels, dtype=np.int64)


def _read_bin_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    blob = read_bounded(path, "CIFAR-10 batch", MAX_BATCH_BYTES)
    record = 1 + PIXELS
    if len(blob) == 0 or len(blob) % record:
        raise GankitError(
            f"{shown(path)} is truncated or corrupt: {len(blob)} bytes is not a whole number of "
            f"{record}-byte records (a label byte and {PIXELS} pixels)"
        )
    rows = np.frombuffer(blob, dtype=np.uint8).reshape(-1, record)
    if int(rows[:, 0].max()) > 9:
        raise GankitError(f"{shown(path)} holds label {int(rows[:, 0].max())}; CIFAR-10's classes are 0 to 9")
    return rows[:, 1:], rows[:, 0].astype(np.int64)


def cifar10(config: Any, request: DataRequest) -> TensorDataset:
    root = _root(request, "cifar-10-batches-py")
    split = "train" if config.split == "train" else "test"
    if (
        request.download
        and not (root / "cifar-10-batches-py").is_dir()
        and not (root / "cifar-10-batches-bin").is_dir()
    ):
        _download(root)
    layouts = [
        ("cifar-10-batches-bin", [f"{name}.bin" for name in BATCHES[split]], _read_bin_batch),
        ("cifar-10-batches-py", BATCHES[split], _read_py_batch),
    ]
    for folder, names, read in layouts:
        if (root / folder).is_dir():
            paths = [root / folder / name for name in names]
            missing = [p.name for p in paths if not p.exists()]
            if missing:
                raise GankitError(
                    f"{shown(root / folder)} lacks {', '.join(missing)} (CIFAR-10's {split} split is "
                    f"{', '.join(names)}); fix --data-root or add --download"
                )
            parts = [read(p) for p in paths]
            data = np.concatenate([d for d, _ in parts])
            labels = np.concatenate([y for _, y in parts])
            images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())
            return _dataset("cifar10", images, torch.from_numpy(labels), 10, request)
    raise GankitError(
        f"no cifar10 files under {shown(root)}: expected cifar-10-batches-py/ (the Python release) or "
        "cifar-10-batches-bin/ (the binary release); fix --data-root or add --download"
    )


def _download(root: Path) -> None:
    """Fetch and unpack the Python release with torchvision's downloader alone (it checks the archive's md5)."""
    from torchvision.datasets.utils import download_and_extract_archive

    try:
        download_and_extract_archive(
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            str(root),
            filename="cifar-10-python.tar.gz",
            md5="c58f30108f718f92721af3b95e74349a",
        )
    except (OSError, RuntimeError, ValueError) as exc:
        needs = (
            f"data_batch_1 to data_batch_5 and test_batch in {shown(root / 'cifar-10-batches-py')} "
            "(or the binary release's, in cifar-10-batches-bin)"
        )
        raise download_failed("cifar10", root, exc, needs) from None
