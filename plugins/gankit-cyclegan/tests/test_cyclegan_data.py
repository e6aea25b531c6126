"""The data sources: the embedded digits task (two disjoint halves, a held-out split) and CycleGAN's
trainA/trainB/testA/testB folders, written here in miniature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gankit import DataRequest, GankitError
from gankit.testing import check_component, create_component

from gankit_cyclegan.data import halves

TINY = ("--arch", "cyclegan", "--set", "cyclegan.ngf=4", "--set", "cyclegan.ndf=4")


def _digits(**options):
    return create_component("data", "cyclegan-digits", options, DataRequest())


def test_digits_task_fields_streams_and_halves():
    data = _digits()
    d = data.description
    assert d.main == "b" and d.streams == (("a", "label_a"), ("b", "label_b"))
    assert d.fields["a"].shape == d.fields["b"].shape == (1, 16, 16)
    assert d.fields["label_a"].num_classes == d.fields["label_b"].num_classes == 10
    t = data.tensors
    assert len(t["a"]) + len(t["b"]) == 1437  # the builtin digits' train split (80 % of 1,797)
    # Every class in both domains, in (nearly) equal shares.
    counts_a, counts_b = torch.bincount(t["label_a"], minlength=10), torch.bincount(t["label_b"], minlength=10)
    assert bool(((counts_a - counts_b).abs() <= 1).all())
    # Thick strokes: b is brighter on average than a.
    assert float(t["b"].mean()) > float(t["a"].mean()) + 0.2


def test_the_halves_are_disjoint_and_cover_every_image():
    labels = torch.randint(10, (301,), generator=torch.Generator().manual_seed(0))
    first, second = halves(labels)
    assert set(first.tolist()).isdisjoint(second.tolist())
    assert sorted(first.tolist() + second.tolist()) == list(range(301))


def test_held_out_split_and_rotate_task():
    train, test = _digits(), _digits(split="test", task="rotate")
    assert len(test.tensors["a"]) + len(test.tensors["b"]) == 360
    assert test.description.name == "cyclegan-digits-rotate"
    # The test images are other images than the training ones (the builtin split is disjoint).
    assert not any(torch.equal(test.tensors["a"][0], x) for x in train.tensors["a"])


def test_resolution_and_its_limits():
    data = create_component("data", "cyclegan-digits", None, DataRequest(resolution=32))
    assert data.description.shape == (1, 32, 32)
    with pytest.raises(GankitError, match="--resolution 4 does not suit"):
        create_component("data", "cyclegan-digits", None, DataRequest(resolution=4))


def test_digits_task_conforms():
    check_component("data", "cyclegan-digits", run_args=TINY)


def _png(path: Path, value: int, size=(12, 10), mode="L") -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full(size[::-1] + ((3,) if mode == "RGB" else ()), value, np.uint8)
    Image.fromarray(pixels, mode).save(path)


def write_cyclegan_folder(root: Path, count: int = 3, mode: str = "RGB") -> Path:
    for split in ("train", "test"):
        for domain, base in (("A", 40), ("B", 200)):
            for i in range(count):
                _png(root / f"{split}{domain}" / f"{i}.png", base + 5 * i, mode=mode)
    return root


def test_folder_reads_the_four_folders(tmp_path):
    root = write_cyclegan_folder(tmp_path / "horse2zebra", count=3)
    _png(root / "testA" / "extra.png", 90)
    data = create_component("data", "cyclegan-folder", None, DataRequest(root=str(root), resolution=8))
    d = data.description
    assert d.main == "b" and d.streams == (("a",), ("b",)) and d.shape == (3, 8, 8)
    assert data.tensors["a"].shape == (3, 3, 8, 8) and float(data.tensors["b"].mean()) > 0.4
    test = create_component(
        "data", "cyclegan-folder", {"split": "test", "channels": 1}, DataRequest(str(root), False, 8)
    )
    assert test.tensors["a"].shape == (4, 1, 8, 8) and test.tensors["b"].shape == (3, 1, 8, 8)


@pytest.mark.parametrize(
    "setup, message",
    [
        (None, "needs --data-root DIR holding DIR/trainA"),
        ("missing", "is not a folder; cyclegan-folder expects DIR/trainA"),
        ("no_trainB", "has no folder trainB/; cyclegan-folder expects DIR/trainA"),
        ("empty_trainA", "holds no images"),
        ("broken", "cannot read image"),
    ],
)
def test_folder_errors_are_one_clear_line(tmp_path, setup, message):
    root = tmp_path / "data"
    if setup not in (None, "missing"):
        write_cyclegan_folder(root, count=1)
    if setup == "no_trainB":
        for f in (root / "trainB").iterdir():
            f.unlink()
        (root / "trainB").rmdir()
    if setup == "empty_trainA":
        for f in (root / "trainA").iterdir():
            f.unlink()
    if setup == "broken":
        (root / "trainB" / "bad.png").write_bytes(b"not a png")
    request = DataRequest(root=None if setup is None else str(root), resolution=8)
    with pytest.raises(GankitError, match=message) as error:
        create_component("data", "cyclegan-folder", None, request)
    assert "\n" not in str(error.value)
    if setup not in (None, "broken"):
        assert str(root) in str(error.value)


def test_folder_conforms_and_trains(tmp_path):
    root = write_cyclegan_folder(tmp_path / "d", count=8, mode="RGB")
    check_component("data", "cyclegan-folder", request=DataRequest(root=str(root), resolution=8), run_args=TINY)
