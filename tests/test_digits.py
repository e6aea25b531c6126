"""gankit.digits: scikit-learn's digits and split, read through scikit-learn once and then from the cache."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from gankit import GankitError
from gankit import digits as embedded_digits

#: Loads the test split in a fresh process and says whether scikit-learn had to be imported for it.
PROBE = "import sys; from gankit import digits; d = digits.load('test'); print(len(d.labels), 'sklearn' in sys.modules)"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    embedded_digits._arrays.cache_clear()
    yield tmp_path / "cache"
    embedded_digits._arrays.cache_clear()


def _probe(cache_folder) -> tuple[int, bool]:
    env = {"GANKIT_CACHE": str(cache_folder), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    count, imported = done.stdout.split()
    return int(count), imported == "True"


def test_the_digits_and_split_are_scikit_learns(cache):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    train, test = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=0)
    for split, index in (("all", np.arange(len(labels))), ("train", train), ("test", test)):
        got = embedded_digits.load(split)
        assert np.array_equal(got.index, index)  # the same digits in the same order
        assert got.images.dtype == np.float64 and np.array_equal(got.images, images[index])
        assert got.labels.dtype == np.int64 and np.array_equal(got.labels, labels[index])
    assert (len(train), len(test)) == (1437, 360)


def test_a_second_process_reads_the_cache_without_importing_scikit_learn(cache):
    assert _probe(cache) == (360, True)  # derived once
    assert [p.name for p in cache.iterdir()][0].startswith("digits-sklearn-")
    assert _probe(cache) == (360, False)


def test_a_damaged_cache_is_derived_again_and_replaced(cache):
    _probe(cache)
    (stored,) = cache.iterdir()
    stored.write_bytes(stored.read_bytes()[:500])  # a torn file
    assert _probe(cache) == (360, True)
    assert _probe(cache) == (360, False)


def test_a_fifo_at_the_cache_name_neither_blocks_nor_stays(cache):
    _probe(cache)
    (stored,) = cache.iterdir()
    stored.unlink()
    os.mkfifo(stored)  # opening it for reading would wait for a writer forever
    assert _probe(cache) == (360, True)
    assert stored.is_file() and _probe(cache) == (360, False)


def test_a_cache_that_cannot_be_written_costs_only_the_import(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _probe(blocker / "cache") == (360, True)
    assert _probe(blocker / "cache") == (360, True)


def test_each_call_returns_arrays_of_its_own(cache):
    first = embedded_digits.load("train")
    first.images[:] = -1
    assert embedded_digits.load("train").images.min() == 0


def test_an_unknown_split_names_the_choices(cache):
    with pytest.raises(GankitError, match=r"unknown digits split 'val'; choose one of: all, train, test"):
        embedded_digits.load("val")
