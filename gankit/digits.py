"""scikit-learn's 8x8 handwritten digits and their fixed train/test split, for every data source built on them.

scikit-learn ships the 1,797 digits inside its package, so nothing downloads. Importing scikit-learn
takes a second or two, though (it imports SciPy): longer than the training of a short run. So the
arrays and the split are read through scikit-learn once and kept in gankit's cache folder
(:func:`cache_dir`), named by scikit-learn's version; a missing, damaged or unwritable cache costs
that import again, nothing else. This module imports neither torch nor scikit-learn at import time.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gankit.errors import GankitError
from gankit.safe_files import regular_file_size

#: The 80/20 split, stratified by class (scikit-learn's ``train_test_split``, ``random_state=0``).
SPLITS = ("all", "train", "test")
COUNT, TEST_SIZE = 1797, 0.2
TEST_COUNT = 360  # scikit-learn rounds the test share up
MAX_CACHE_BYTES = 4 * 2**20  # the file holds about 120 kB


class Digits(NamedTuple):
    """One split of the digits, in scikit-learn's units."""

    #: ``(N, 64)`` float64 pixel values 0..16, as ``sklearn.datasets.load_digits(return_X_y=True)``.
    images: np.ndarray
    #: ``(N,)`` int64 classes 0..9.
    labels: np.ndarray
    #: ``(N,)`` int64 positions among the 1,797 digits (the split's own order, shuffled for train/test).
    index: np.ndarray


def cache_dir() -> Path:
    """Where gankit keeps what it derives once per machine: ``$GANKIT_CACHE``, else ``$XDG_CACHE_HOME/gankit``,
    else ``~/.cache/gankit``."""
    root = os.environ.get("GANKIT_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "gankit")
    return Path(root).expanduser()


def load(split: str = "all") -> Digits:
    """The digits of ``split``: ``"all"`` (1,797 in scikit-learn's order), ``"train"`` (1,437) or ``"test"`` (360).

    Every data source that splits the digits uses this split, so a digit held out by one (the builtin
    ``digits``, the translation families' tasks) is held out by all. Each call returns new arrays.
    """
    if split not in SPLITS:
        raise GankitError(f"unknown digits split {split!r}; choose one of: {', '.join(SPLITS)}")
    arrays = _arrays()
    index = np.arange(COUNT) if split == "all" else arrays[split].astype(np.int64)
    return Digits(arrays["images"][index].astype(np.float64), arrays["labels"][index].astype(np.int64), index)


@functools.cache
def _arrays() -> dict[str, np.ndarray]:
    path = cache_dir() / f"digits-sklearn-{_sklearn_version()}.npz"
    try:
        # A regular file of a sane size only: a FIFO or device left at this name must not block or flood the read.
        regular_file_size(path, "digits cache", MAX_CACHE_BYTES, follow=False)
        with np.load(path, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in ("images", "labels", "train", "test")}
        if _valid(arrays):
            return arrays
    except Exception:  # missing, or damaged in any of the ways a zip can be: derived again below
        pass
    arrays = _from_sklearn()
    _store(path, arrays)
    return arrays


def _sklearn_version() -> str:
    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        raise GankitError("the embedded digits come with scikit-learn: pip install scikit-learn") from None


def _from_sklearn() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    train, test = train_test_split(np.arange(len(labels)), test_size=TEST_SIZE, stratify=labels, random_state=0)
    # Pixel values are the integers 0..16 and classes 0..9: small integer types store them exactly.
    return {"images": images.astype(np.uint8), "labels": labels.astype(np.uint8),
            "train": np.asarray(train, np.int16), "test": np.asarray(test, np.int16)}  # fmt: skip


def _valid(arrays: dict[str, np.ndarray]) -> bool:
    images, labels, train, test = (arrays[k] for k in ("images", "labels", "train", "test"))
    return (
        images.shape == (COUNT, 64)
        and labels.shape == (COUNT,)
        and int(labels.max()) <= 9
        and len(test) == TEST_COUNT
        and np.array_equal(np.sort(np.concatenate([train, test])), np.arange(COUNT))
    )


def _store(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (two processes may derive it at once); a cache that cannot be written is skipped."""
    from gankit.checkpoint import write_atomic  # imports torch: only on the slow path, once per machine

    data = io.BytesIO()
    np.savez(data, **arrays)
    with contextlib.suppress(OSError):
        write_atomic(path, data.getvalue())
