"""The bundled `conditional` scheme with class-conditional `mlp` and `dcgan`, and the `ragan` loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import DataDescription, GankitError, NetworkRequest
from gankit.checkpoint import find_checkpoint, load
from gankit.plugins import registry
from tests.conftest import one_error_line

DIGITS16 = DataDescription("digits", (1, 16, 16), "image", value_range=(0.0, 1.0), num_classes=10)


def _arch(name):
    spec = registry().get("architecture", name)
    return spec.create(spec.make_config({}))


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_conditional_networks_use_the_label(arch):
    label = {"label": DIGITS16.fields["label"]}
    G = _arch(arch).build(NetworkRequest.generator(DIGITS16, 8, **label))
    D = _arch(arch).build(NetworkRequest.discriminator(DIGITS16, **label))
    z = torch.randn(4, 8)
    G.eval()
    a, b = G(z, torch.zeros(4, dtype=torch.long)), G(z, torch.full((4,), 3))
    assert a.shape == (4, 1, 16, 16) and not torch.allclose(a, b)
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    scores = D(x, torch.zeros(4, dtype=torch.long))
    assert scores.shape == (4,) and not torch.allclose(scores, D(x, torch.full((4,), 3)))


def test_architectures_refuse_requests_they_cannot_build_with_one_line(gankit):
    result = gankit("run", "--scheme", "conditional", "--data", "ring8", "--steps", "1")
    line = one_error_line(result)
    assert "conditional" in line and "class labels" in line and "ring8" in line


def test_ragan_generator_loss_needs_the_real_scores():
    spec = registry().get("loss", "ragan")
    loss = spec.create(spec.make_config({}))
    assert loss.needs_real_scores
    real, fake = torch.tensor([2.0, 3.0]), torch.tensor([-1.0, 0.0])
    # D wins when the reals beat the average fake: its loss is lower than with the roles swapped.
    assert loss.discriminator_loss(real, fake) < loss.discriminator_loss(fake, real)
    assert loss.generator_loss(fake, real) > loss.generator_loss(real, fake)
    with pytest.raises(GankitError, match="needs the real samples' scores"):
        loss.generator_loss(fake)


def test_conditional_run_samples_rows_and_labels(gankit, tmp_path):
    args = ("--scheme", "conditional", "--steps", "6", "--batch-size", "16", "--set", "arch.g_hidden=16")
    assert gankit("run", *args, "--set", "arch.d_hidden=16", "--loss", "ragan", "--name", "c", "-q").exit_code == 0
    assert gankit("sample", "runs/c", "--label", "7", "-n", "5", "-o", "sevens.npy").exit_code == 0
    assert gankit("sample", "runs/c", "--label", "7", "-n", "5", "-o", "again.npy", "--batch-size", "2").exit_code == 0
    sevens, again = np.load(tmp_path / "sevens.npy"), np.load(tmp_path / "again.npy")
    assert sevens.shape == (5, 1, 8, 8) and np.allclose(sevens, again, atol=1e-5)  # independent of --batch-size
    assert gankit("sample", "runs/c", "--label", "2", "-n", "5", "-o", "twos.npy").exit_code == 0
    assert not np.array_equal(sevens, np.load(tmp_path / "twos.npy"))
    assert gankit("sample", "runs/c", "-n", "20", "-o", "rows.png").exit_code == 0
    line = one_error_line(gankit("sample", "runs/c", "--label", "12", "-o", "x.npy"))
    assert "class from 0 to 9" in line
    line = one_error_line(gankit("sample", "runs/c", "--set", "truncation=0.5", "-o", "x.npy"))
    assert "truncation" in line and "z, label" in line
    state = load(find_checkpoint(tmp_path / "runs" / "c"))
    assert state.counters["g_steps"] == 6 and "python" in state.rng


def test_classes_named_by_the_data_are_sampled_by_name(gankit, tmp_path):
    """A folder of class sub-folders: `--label dogs` is `--label 1`; a wrong name lists the classes."""
    from tests.builtins.test_data import write_pngs

    write_pngs(tmp_path / "pets", per_class=4)
    args = ("--scheme", "conditional", "--data", "folder", "--data-root", "pets", "--resolution", "8")
    tiny = ("--set", "arch.g_hidden=8", "--set", "arch.d_hidden=8", "--steps", "2", "--batch-size", "4")
    assert gankit("run", *args, *tiny, "--name", "pets", "-q").exit_code == 0
    for label in ("dogs", "DOGS", "1", "cats"):
        assert gankit("sample", "runs/pets", "--label", label, "-n", "3", "-o", f"{label}.npy").exit_code == 0
    dogs = np.load(tmp_path / "dogs.npy")
    assert np.array_equal(dogs, np.load(tmp_path / "1.npy")) and np.array_equal(dogs, np.load(tmp_path / "DOGS.npy"))
    assert not np.array_equal(dogs, np.load(tmp_path / "cats.npy"))
    line = one_error_line(gankit("sample", "runs/pets", "--label", "fish", "-o", "fish.npy"))
    assert line.endswith("--label must be a class from 0 to 1 or its name (cats, dogs), got 'fish'")
    assert not (tmp_path / "fish.npy").exists()
    # A grid with a class per row names its rows in a margin; one class for all samples has no rows to name.
    for args in (("-o", "rows.png"), ("--label", "dogs", "-o", "dogs.png")):
        assert gankit("sample", "runs/pets", "-n", "4", *args).exit_code == 0
    with Image.open(tmp_path / "rows.png") as rows, Image.open(tmp_path / "dogs.png") as dogs:
        assert rows.width > rows.height and dogs.width == dogs.height  # 2 x 2 samples, square without names
    # The training's grid too: two rows of 8 x 8 images, 2 px apart, and the names' margin left of them.
    from gankit.engine.trainer import SAMPLE_GRID_SIZE

    width = -(-SAMPLE_GRID_SIZE // 2) * 10 + 2
    factor = max(1, 384 // width)
    with Image.open(tmp_path / "runs" / "pets" / "samples" / "step-000002.png") as grid:
        assert grid.height == 22 * factor and grid.width > width * factor


def test_label_on_an_unconditional_model_is_one_line(gankit):
    gankit(
        "run",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--set",
        "arch.g_hidden=8",
        "--set",
        "arch.d_hidden=8",
        "--name",
        "u",
        "-q",
    )
    line = one_error_line(gankit("sample", "runs/u", "--label", "1", "-o", "x.npy"))
    assert "class-conditional" in line
    line = one_error_line(gankit("sample", "runs/u", "--input", "x.png", "-o", "x.npy"))
    assert "translating" in line
