"""``gankit sample``: arrays in data units and pictures, from a run folder or a checkpoint file."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TINY = tuple("--steps 2 --batch-size 8 --z-dim 4 --set arch.g_hidden=16 --set arch.d_hidden=16 -q".split())


def _train(gankit, tmp_path: Path, name: str, *args: str) -> Path:
    result = gankit("run", *TINY, "--name", name, *args)
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / name


def _sample(gankit, *args: str):
    result = gankit("sample", *args)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("args", [(), ("--scheme", "conditional")], ids=["unconditional", "conditional"])
def test_a_run_ends_with_a_sample_command_that_works_as_printed(gankit, tmp_path, args):
    result = gankit("run", *TINY, "--name", "hint", *args)
    [hint] = [line for line in result.output.splitlines() if line.startswith("Generate more: gankit sample ")]
    assert ("--label 0" in hint) == bool(args)  # a conditional model needs a class
    _sample(gankit, *shlex.split(hint.removeprefix("Generate more: gankit sample")))
    assert (tmp_path / "samples.png").is_file()


def test_npy_holds_samples_in_data_units(gankit, tmp_path):
    run = _train(gankit, tmp_path, "digits")
    result = _sample(gankit, str(run), "-n", "10", "-o", "s.npy")
    assert "Wrote 10 samples" in result.output and "(step 2)" in result.output
    array = np.load(tmp_path / "s.npy")
    assert array.shape == (10, 1, 8, 8)
    assert array.dtype == np.float32
    assert array.min() >= 0.0 and array.max() <= 1.0  # digits' pixels, not [-1, 1]
    assert array.std() > 0


def test_png_is_a_readable_image_grid(gankit, tmp_path):
    run = _train(gankit, tmp_path, "digits")
    _sample(gankit, str(run), "-n", "9", "-o", "pictures/s.png")
    with Image.open(tmp_path / "pictures" / "s.png") as img:
        img.load()
        assert img.format == "PNG"
        # make_grid: 3 x 3 tiles of 8 px with 2 px padding (32 px), enlarged 12x with whole pixels.
        assert img.size == (32 * 12, 32 * 12)


def test_sampling_is_deterministic_for_a_seed(gankit, tmp_path):
    run = _train(gankit, tmp_path, "digits")
    _sample(gankit, str(run), "-n", "6", "-o", "a.npy", "--seed", "3")
    _sample(gankit, str(run), "-n", "6", "-o", "b.npy", "--seed", "3")
    _sample(gankit, str(run), "-n", "6", "-o", "c.npy", "--seed", "4")
    a, b, c = (np.load(tmp_path / f"{x}.npy") for x in "abc")
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    _sample(gankit, str(run), "-n", "6", "-o", "a.png", "--seed", "3")
    _sample(gankit, str(run), "-n", "6", "-o", "b.png", "--seed", "3")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_sample_from_a_checkpoint_file(gankit, tmp_path):
    run = _train(gankit, tmp_path, "digits")
    checkpoint = run / "checkpoints" / "step-000002.safetensors"
    _sample(gankit, str(checkpoint), "-n", "5", "-o", "file.npy", "--seed", "1")
    _sample(gankit, str(run), "-n", "5", "-o", "folder.npy", "--seed", "1")
    assert np.array_equal(np.load(tmp_path / "file.npy"), np.load(tmp_path / "folder.npy"))


def test_points_are_sampled_in_their_plane(gankit, tmp_path):
    run = _train(gankit, tmp_path, "ring", "--data", "ring8")
    _sample(gankit, str(run), "-n", "50", "-o", "p.npy")
    points = np.load(tmp_path / "p.npy")
    assert points.shape == (50, 2)
    assert np.abs(points).max() <= 2.5  # ring8's value range is [-2.5, 2.5]
    _sample(gankit, str(run), "-n", "50", "-o", "p.png")
    with Image.open(tmp_path / "p.png") as img:
        assert img.size == (384, 384)


def test_sample_uses_ema_weights(gankit, tmp_path):
    run = _train(gankit, tmp_path, "ema", "--ema", "0.5")
    _sample(gankit, str(run), "-n", "4", "-o", "e.npy")
    assert np.load(tmp_path / "e.npy").shape == (4, 1, 8, 8)


@pytest.mark.parametrize("count", ["0", "-3"])
def test_sample_count_must_be_positive(gankit, tmp_path, count):
    run = _train(gankit, tmp_path, "digits")
    result = gankit("sample", str(run), "-n", count, "-o", "x.npy")
    assert result.exit_code == 2
    assert not (tmp_path / "x.npy").exists()


def test_split_needs_a_translator_and_is_one_line(gankit, tmp_path):
    from tests.conftest import one_error_line

    run = _train(gankit, tmp_path, "digits")
    line = one_error_line(gankit("sample", str(run), "--split", "test", "-o", "x.npy"))
    assert line == "Error: --split needs a translating model (images from data); this one takes z"
    assert not (tmp_path / "x.npy").exists()


def test_a_trained_model_loads_from_python(gankit, tmp_path):
    import numpy as np
    import torch

    import gankit as api

    tiny = ("--steps", "3", "--batch-size", "8", "--set", "arch.g_hidden=8", "--set", "arch.d_hidden=8", "-q")
    assert gankit("run", "--scheme", "conditional", *tiny, "--name", "c").exit_code == 0
    assert gankit("sample", "runs/c", "--label", "4", "-n", "6", "-o", "fours.npy").exit_code == 0
    model = api.load(str(tmp_path / "runs" / "c"))
    samples = model.sample(6, seed=0, given={"label": 4})
    assert np.allclose(model.description.to_data_units(samples).numpy(), np.load(tmp_path / "fours.npy"), atol=1e-6)
    z = torch.randn(2, model.z_dim)
    assert model.generator(z, torch.tensor([4, 4])).shape == (2, 1, 8, 8)
    assert model.generator is model.ema["generator"].shadow  # the digits recipe keeps an EMA
