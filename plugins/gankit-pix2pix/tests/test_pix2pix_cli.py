"""pix2pix through the gankit command: train on the digits task, resume bit for bit, and translate images
given as a PNG, a folder of PNGs or a .npy with ``gankit sample --input``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gankit.testing import check_scheme, run_cli

import gankit_pix2pix

SMALL = ("--set", "pix2pix.ngf=8", "--set", "pix2pix.ndf=8")
RUN = (
    "--device",
    "cpu",
    "-q",
    "--batch-size",
    "8",
    "--log-every",
    "1",
    "--checkpoint-every",
    "2",
    "--sample-every",
    "2",
    *SMALL,
)


@pytest.fixture
def trained(gankit_plugin, tmp_path) -> Path:
    """4 steps of `gankit run --arch pix2pix --data pix2pix-digits`."""
    gankit_plugin(gankit_pix2pix)
    result = run_cli(
        "run",
        "--arch",
        "pix2pix",
        "--data",
        "pix2pix-digits",
        "--steps",
        "4",
        *RUN,
        "--out",
        str(tmp_path),
        "--name",
        "full",
    )
    # The run's last line says how to use a translator: images in, one output each.
    assert f"Translate images: gankit sample {tmp_path / 'full'} --input IMAGES -o translated.png" in result.output
    return tmp_path / "full"


def _tensors(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    [latest] = sorted((run / "checkpoints").glob("step-000004.safetensors"))
    return load_file(str(latest))


def test_trains_and_resumes_exactly(trained, tmp_path):
    metrics = (trained / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(metrics) == 4 and '"l1"' in metrics[-1]
    assert (trained / "samples" / "step-000004.png").is_file()
    run_cli(
        "run",
        "--arch",
        "pix2pix",
        "--data",
        "pix2pix-digits",
        "--steps",
        "2",
        *RUN,
        "--out",
        str(tmp_path),
        "--name",
        "part",
    )
    run_cli("run", "--resume", str(tmp_path / "part"), "--steps", "4", "--device", "cpu", "-q")
    full, resumed = _tensors(trained), _tensors(tmp_path / "part")
    assert full.keys() == resumed.keys()
    assert any(k.startswith("net/translator/") for k in full) and any(k.startswith("opt") for k in full)
    different = [k for k in full if full[k].dtype != resumed[k].dtype or not torch.equal(full[k], resumed[k])]
    assert not different, different[:5]  # networks, BatchNorm statistics, Adam moments, RNG states


def test_scheme_conforms(gankit_plugin):
    """gankit.testing's own: declarations agree; 2 steps + resume to 4 equal 4 steps (EMA on); sampling."""
    gankit_plugin(gankit_pix2pix)
    check_scheme("pix2pix", data="pix2pix-digits", run_args=("--arch", "pix2pix", *SMALL))


def write_png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


def outlines(count: int) -> list[np.ndarray]:
    """``count`` different 16x16 outlines, white on black, like the task's edge maps."""
    pictures = []
    for i in range(count):
        p = np.zeros((16, 16), np.uint8)
        p[3 : 13 - i, 4 + i] = p[3 : 13 - i, 10] = p[3, 4 + i : 11] = p[12 - i, 4 + i : 11] = 255
        pictures.append(p)
    return pictures


def test_sample_translates_a_png_a_folder_and_an_npy(trained, tmp_path):
    from PIL import Image

    pictures = outlines(3)
    digit = write_png(tmp_path / "digit.png", pictures[0])
    for i, p in enumerate([*pictures, pictures[0]]):
        write_png(tmp_path / "folder" / f"{i}.png", p)
    np.save(tmp_path / "x.npy", np.stack(pictures[:2])[:, None] / 255.0)  # (N, 1, H, W) in data units

    run_cli("sample", str(trained), "--input", str(digit), "-o", str(tmp_path / "out.png"), "--device", "cpu")
    with Image.open(tmp_path / "out.png") as grid:
        assert grid.width > 1.5 * grid.height  # one row: the input beside its translation
    run_cli("sample", str(trained), "--input", str(digit), "-o", str(tmp_path / "one.npy"), "--device", "cpu")
    run_cli("sample", str(trained), "--input", str(tmp_path / "folder"), "-o", str(tmp_path / "folder.npy"))
    run_cli("sample", str(trained), "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "x-out.npy"))
    run_cli("sample", str(trained), "--input", str(tmp_path / "folder"), "-o", str(tmp_path / "folder.png"))

    one, folder, from_npy = (np.load(tmp_path / f) for f in ("one.npy", "folder.npy", "x-out.npy"))
    assert one.shape == (1, 1, 16, 16) and folder.shape == (4, 1, 16, 16) and from_npy.shape == (2, 1, 16, 16)
    for out in (one, folder, from_npy):
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1  # data units: [0, 1]
    # No noise: the same input gives the same translation, however it was given.
    assert np.array_equal(folder[0], folder[3]) and not np.allclose(folder[0], folder[1])
    assert np.allclose(one[0], folder[0], atol=1e-6) and np.allclose(from_npy, folder[:2], atol=1e-6)
    # Without --input, the run's own sources (the first training pairs).
    run_cli("sample", str(trained), "-n", "5", "-o", str(tmp_path / "own.npy"))
    assert np.load(tmp_path / "own.npy").shape == (5, 1, 16, 16)
    # Every given image is translated, beyond the default -n of 64.
    np.save(tmp_path / "many.npy", np.zeros((70, 1, 16, 16)))
    run_cli("sample", str(trained), "--input", str(tmp_path / "many.npy"), "-o", str(tmp_path / "many-out.npy"))
    assert np.load(tmp_path / "many-out.npy").shape == (70, 1, 16, 16)


def test_sample_input_errors_are_one_line(trained, tmp_path):
    result = run_cli(
        "sample", str(trained), "--input", str(tmp_path / "none.png"), "-o", str(tmp_path / "o.npy"), check=False
    )
    assert result.exit_code != 0 and result.output.strip().splitlines() == [
        f"Error: --input {str(tmp_path / 'none.png')!r} is neither a file nor a folder"
    ]


def test_sample_split_test_translates_the_held_out_sources(trained, tmp_path):
    """`--split test` takes the inputs from the held-out pairs: the same as giving those sources with --input."""
    from types import SimpleNamespace

    from PIL import Image

    from gankit_pix2pix.data import digits_task

    held_out = digits_task(SimpleNamespace(split="test", degrade="edges")).take("source", 5)
    np.save(tmp_path / "held-out.npy", ((held_out + 1) / 2).numpy())  # data units: [0, 1]
    for name, args in (("split", ("--split", "test")), ("given", ("--input", str(tmp_path / "held-out.npy")))):
        run_cli("sample", str(trained), "-n", "5", *args, "-o", str(tmp_path / f"{name}.npy"), "--device", "cpu")
    run_cli("sample", str(trained), "-n", "5", "-o", str(tmp_path / "train.npy"), "--device", "cpu")
    split, given, train = (np.load(tmp_path / f"{n}.npy") for n in ("split", "given", "train"))
    assert split.shape == (5, 1, 16, 16) and np.allclose(split, given, atol=1e-6)
    assert not np.allclose(split, train)  # not the training pairs the run shows by default
    # A picture of pairs from the data shows each source, its translation and the pair's own target.
    for name, args in (("pairs", ("--split", "test")), ("inputs", ("--input", str(tmp_path / "held-out.npy")))):
        run_cli("sample", str(trained), "-n", "4", *args, "-o", str(tmp_path / f"{name}.png"), "--device", "cpu")
    with Image.open(tmp_path / "pairs.png") as pairs, Image.open(tmp_path / "inputs.png") as inputs:
        # 2 rows of 18 px images (16 + 2 of padding), 2 samples a row: source, translation and target (6
        # images) against source and translation (4).
        assert pairs.width / pairs.height == (6 * 18 + 2) / (2 * 18 + 2)
        assert inputs.width / inputs.height == (4 * 18 + 2) / (2 * 18 + 2)

    def error(*args: str) -> list[str]:
        result = run_cli("sample", str(trained), *args, "-o", str(tmp_path / "x.npy"), check=False)
        assert result.exit_code != 0 and not (tmp_path / "x.npy").exists()
        return result.output.strip().splitlines()

    assert error("--split", "val") == [
        "Error: invalid option 'split' for 'pix2pix-digits': 'split' must be in ('train', 'test') (got 'val')"
    ]
    assert error("--split", "test", "--input", str(tmp_path / "held-out.npy")) == [
        "Error: --split and --input both choose the images to translate; give one of them"
    ]
