"""The paired data: the embedded digits task (fields, split, degradations) and pix2pix's aligned folders,
checked with gankit.testing and for one-line errors on bad folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gankit import DataRequest, GankitError
from gankit.testing import check_data_source, create_component, run_cli

import gankit_pix2pix

# The kit's own short runs add mlp options unless --arch is typed, but these data sets suggest the scheme
# pix2pix, which brings its architecture: they are checked with run=False and trained here instead.
TINY = (
    "--steps",
    "2",
    "--batch-size",
    "4",
    "--device",
    "cpu",
    "-q",
    "--set",
    "pix2pix.ngf=8",
    "--set",
    "pix2pix.ndf=8",
)


def test_digits_task_conforms_and_trains(gankit_plugin, tmp_path):
    gankit_plugin(gankit_pix2pix)
    check_data_source("pix2pix-digits", run=False)
    check_data_source(
        "pix2pix-digits", {"degrade": "mask", "split": "test"}, request=DataRequest(resolution=32), run=False
    )
    out = ("--out", str(tmp_path))
    run_cli("run", "--data", "pix2pix-digits", *TINY, *out, "--name", "pix2pix")  # suggests the scheme pix2pix
    # The label is a real class: the bundled class-conditional GAN trains on the targets.
    flags = ("--scheme", "conditional", "--steps", "2", "--batch-size", "4", "--device", "cpu", "-q")
    run_cli("run", "--data", "pix2pix-digits", *flags, "--set", "mlp.g_hidden=16", "--set", "mlp.d_hidden=16", *out)
    assert (tmp_path / "pix2pix" / "checkpoints").is_dir()


def _digits(config=None, resolution=None):
    return create_component("data", "pix2pix-digits", config, DataRequest(resolution=resolution)).field_tensors()


def test_digits_fields_split_and_degradations(gankit_plugin):
    gankit_plugin(gankit_pix2pix)
    train, test = _digits(), _digits({"split": "test"})
    assert train["source"].shape == train["target"].shape == (1437, 1, 16, 16)
    assert test["target"].shape == (360, 1, 16, 16) and test["label"].shape == (360,)
    # Stratified 80/20: every class keeps its share in both parts.
    counts = [torch.bincount(part["label"], minlength=10).float() for part in (train, test)]
    assert torch.all((counts[1] / (counts[0] + counts[1]) - 0.2).abs() < 0.01)
    # Fixed: the same digits every time, and the train and test parts hold different digits.
    assert torch.equal(_digits({"split": "test"})["source"], test["source"])
    flat = lambda t: {tuple(row) for row in t["target"].flatten(1).tolist()}  # noqa: E731
    assert len(flat(train) & flat(test)) < 5  # (scikit-learn's digits hold a few duplicates)
    # edges: a one-pixel outline off the strokes, in {-1, 1}; the target is the digit in [-1, 1]
    source, target = train["source"], train["target"]
    assert set(source.unique().tolist()) == {-1.0, 1.0}
    assert not torch.any((source > 0) & (target >= 0))  # the outline lies next to the ink, never on it
    assert target.min() == -1 and target.max() == 1
    masked = _digits({"degrade": "mask"}, resolution=32)
    assert masked["source"].shape == (1437, 1, 32, 32)
    erased = (masked["source"] == -1) & (masked["target"] > -1)
    assert erased.any() and torch.all(masked["source"][~erased] == masked["target"][~erased])


def test_digits_refuse_unfit_resolutions(gankit_plugin):
    gankit_plugin(gankit_pix2pix)
    with pytest.raises(GankitError, match=r"--resolution 4 .* use 8 to 128"):
        _digits(resolution=4)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


def aligned_folder(root: Path, count: int = 3, size: int = 8, rgb: bool = False) -> Path:
    """pix2pix's layout in miniature: root/train and root/test of (size x 2 size) pictures, A | B."""
    for split in ("train", "test"):
        for i in range(count):
            a = np.zeros((size, size), np.uint8)
            a[1:-1, 1 + i : 3 + i] = 255  # a bar
            b = 255 - a  # its negative
            pair = np.concatenate([a, b], axis=1)
            if rgb:
                pair = np.stack([pair, pair // 2, pair // 3], axis=-1)
            write_png(root / split / f"{i}.png", pair)
    return root


def test_folder_conforms_and_trains(gankit_plugin, tmp_path):
    gankit_plugin(gankit_pix2pix)
    root = aligned_folder(tmp_path / "pairs", count=4)
    check_data_source("pix2pix-folder", request=DataRequest(root=str(root), resolution=16), run=False)
    run_cli(
        "run", "--data", "pix2pix-folder", "--data-root", str(root), "--resolution", "16", *TINY, "--out", str(tmp_path)
    )


def test_folder_halves_direction_and_channels(gankit_plugin, tmp_path):
    gankit_plugin(gankit_pix2pix)
    root = aligned_folder(tmp_path / "pairs")
    request = DataRequest(root=str(root), resolution=8)
    data = create_component("data", "pix2pix-folder", None, request)
    tensors = data.field_tensors()
    assert data.description.main == "target" and set(tensors) == {"source", "target"}
    assert tensors["source"].shape == (3, 1, 8, 8)  # grayscale files: one channel
    assert torch.allclose(tensors["source"], -tensors["target"])  # A left, B right (its negative)
    assert tensors["source"][0, 0, 4, 1] == 1 and tensors["source"][0, 0, 4, 5] == -1
    swapped = create_component(
        "data", "pix2pix-folder", {"direction": "BtoA", "split": "test"}, request
    ).field_tensors()
    assert torch.equal(swapped["source"], tensors["target"]) and torch.equal(swapped["target"], tensors["source"])
    color = aligned_folder(tmp_path / "color", rgb=True)
    rgb = create_component("data", "pix2pix-folder", None, DataRequest(root=str(color), resolution=16))
    assert rgb.field_tensors()["source"].shape == (3, 3, 16, 16)
    gray = create_component("data", "pix2pix-folder", {"channels": 1}, DataRequest(root=str(color), resolution=16))
    assert gray.field_tensors()["source"].shape == (3, 1, 16, 16)


def _bad_folders(tmp: Path) -> dict[str, Path]:
    (tmp / "no-split").mkdir()
    (tmp / "empty" / "train").mkdir(parents=True)
    write_png(tmp / "narrow" / "train" / "0.png", np.zeros((8, 1), np.uint8))
    broken = tmp / "broken" / "train" / "0.png"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a png")
    return {
        "missing": tmp / "missing",
        "no-split": tmp / "no-split",
        "empty": tmp / "empty",
        "narrow": tmp / "narrow",
        "broken": tmp / "broken",
    }


def test_bad_folders_are_one_line_errors_naming_the_path(gankit_plugin, tmp_path):
    gankit_plugin(gankit_pix2pix)
    for why, root in _bad_folders(tmp_path).items():
        flags = ("--data", "pix2pix-folder", "--data-root", str(root), "--resolution", "8", "--steps", "1")
        result = run_cli("run", *flags, "--device", "cpu", "-q", "--out", str(tmp_path / "runs"), check=False)
        lines = result.output.strip().splitlines()
        assert result.exit_code != 0 and len(lines) == 1, (why, result.output)
        assert lines[0].startswith("Error: ") and str(root) in lines[0], (why, lines)
        expected = "A on the left" if why not in ("broken",) else "cannot read image"
        assert expected in lines[0], (why, lines)
    flags = ("--data", "pix2pix-folder", "--steps", "1", "--device", "cpu", "-q", "--out", str(tmp_path / "runs"))
    result = run_cli("run", *flags, check=False)
    assert result.exit_code != 0 and "needs --data-root DIR" in result.output
    (tmp_path / "a-file").write_text("x")  # (the CLI itself refuses a file for --data-root)
    with pytest.raises(GankitError, match="a-file' is not a folder; pix2pix-folder expects DIR/train/"):
        create_component("data", "pix2pix-folder", None, DataRequest(root=str(tmp_path / "a-file")))
