"""``gankit explore``: slerp interpolation, SeFa and GANSpace directions, classes and densities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from tests.conftest import FAMILY_DISTRIBUTIONS, one_error_line

TINY = ("--steps", "3", "--batch-size", "8", "--set", "arch.g_hidden=8", "--set", "arch.d_hidden=8", "-q")
RUNS = {
    "plain": (),
    "conditional": ("--scheme", "conditional"),
    "ring8": ("--data", "ring8"),
    "dcgan": ("--arch", "dcgan", "--set", "arch.g_channels=4", "--set", "arch.d_channels=4"),
}


def _invoke(*args: str):
    from gankit.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Tiny runs, trained once for this module."""
    root = tmp_path_factory.mktemp("explore-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANKIT_DISABLE_PLUGINS", ",".join(FAMILY_DISTRIBUTIONS))
        mp.chdir(root)
        for name, extra in RUNS.items():
            tiny = TINY if name != "dcgan" else TINY[:4] + ("-q",)
            result = _invoke("run", *tiny, *extra, "--name", name)
            assert result.exit_code == 0, result.output
    return {name: root / "runs" / name for name in RUNS}


def _explore(run: Path, *args: str) -> tuple[Path, dict]:
    result = _invoke("explore", str(run), "--samples", "300", *args)
    assert result.exit_code == 0, result.output
    out = run / "explore"
    for i, arg in enumerate(args):
        if arg in ("-o", "--output"):
            out = Path(args[i + 1])
    return out, json.loads((out / "explore.json").read_text())


def _decodes(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image.copy()


def test_explore_writes_pictures_and_numbers(runs):
    out, report = _explore(runs["plain"])
    for name in ("interpolation.png", "sefa.png", "ganspace.png"):
        assert _decodes(out / name).size[0] > 0
    with Image.open(out / "interpolation.gif") as gif:
        assert gif.n_frames > 2
    assert set(report["skipped"]) == {"classes", "boundaries", "density"}
    assert report["interpolation"]["method"] == "slerp"


def test_sefa_directions_are_orthonormal(runs):
    import gankit
    from gankit.explore import sefa

    for name in ("plain", "conditional", "dcgan"):
        model = gankit.load(str(runs[name]))
        found = sefa(model.generator, model.z_dim)
        assert not isinstance(found, str), found
        v = found["directions"].double()
        assert v.shape == (model.z_dim, model.z_dim)
        assert (v @ v.T - torch.eye(model.z_dim, dtype=torch.float64)).abs().max() < 1e-5
        eig = found["eigenvalues"]
        assert (eig[:-1] >= eig[1:]).all()
    _, report = _explore(runs["dcgan"])
    assert report["sefa"]["layer"] == "1"  # the ConvTranspose2d after the Unflatten


def test_ganspace_explained_variance_is_sorted_and_a_fraction(runs):
    for name in ("plain", "conditional", "ring8"):
        _, report = _explore(runs[name], "--components", "5")
        explained = report["ganspace"]["explained_variance"]
        assert len(explained) == min(5, report["ganspace"]["features"])
        assert all(0 < v <= 1 for v in explained)
        assert explained == sorted(explained, reverse=True)
        assert sum(explained) <= 1 + 1e-5
        directions = torch.tensor(report["ganspace"]["directions"])
        assert torch.allclose(directions.norm(dim=1), torch.ones(len(directions)), atol=1e-5)


def test_slerp_endpoints_are_the_endpoint_latents_samples(runs):
    import gankit
    from gankit.explore import interpolate, slerp

    for name in ("plain", "conditional"):
        model = gankit.load(str(runs[name]))
        samples, path, (start, end) = interpolate(model, rows=3, steps=5, seed=4)
        grid = samples.reshape(3, 5, *samples.shape[1:])
        ends = []
        for z in (start, end):
            values = model.fill_inputs(3, seed=4)
            values["z"] = z
            ends.append(model.generate_all(values))
        assert torch.allclose(grid[:, 0], ends[0], atol=1e-6)
        assert torch.allclose(grid[:, -1], ends[1], atol=1e-6)
    # Slerp keeps the norm between two latents of equal norm, unlike a straight line.
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    middle = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))[0]
    assert torch.equal(middle[0], a[0]) and torch.equal(middle[-1], b[0])
    assert abs(middle[1].norm().item() - 1.0) < 1e-6


def test_classes_grid_for_a_conditional_model(runs):
    out, report = _explore(runs["conditional"], "--rows", "2")
    assert report["classes"]["classes"] == 10
    assert "classes" not in report["skipped"]
    assert _decodes(out / "classes.png").size[0] > 0


def test_density_of_points_with_modes(runs, tmp_path):
    out, report = _explore(runs["ring8"], "-o", str(tmp_path / "ring"))
    assert _decodes(out / "density.png").size == (384, 384)
    assert len(report["density"]["modes"]) == 8
    assert 0 <= report["density"]["high_quality_fraction"] <= 1
    assert "density" not in report["skipped"]


def test_explore_is_reproducible(runs, tmp_path):
    _, first = _explore(runs["plain"], "--seed", "3", "-o", str(tmp_path / "a"))
    _, second = _explore(runs["plain"], "--seed", "3", "-o", str(tmp_path / "b"))
    assert first == second
    assert (tmp_path / "a" / "sefa.png").read_bytes() == (tmp_path / "b" / "sefa.png").read_bytes()


def test_bad_layer_is_one_line_naming_the_valid_ones(runs, tmp_path):
    result = _invoke("explore", str(runs["plain"]), "--layer", "nope", "-o", str(tmp_path / "x"))
    line = one_error_line(result)
    assert "'nope'" in line and "its layers: 0, 1" in line
    assert not (tmp_path / "x").exists()


def test_missing_run_is_one_line(tmp_path):
    one_error_line(_invoke("explore", str(tmp_path / "absent")))


def test_class_boundaries_of_a_conditional_model(runs):
    _, report = _explore(runs["conditional"])
    found = report["boundaries"]
    assert 0 <= found["accuracy"] <= 1
    assert len(found["balanced_accuracy_per_class"]) == 10
    assert len(found["normals"]) == 10 and len(found["offsets"]) == 10
    _, plain = _explore(runs["plain"])
    assert "boundaries" in plain["skipped"]


def test_projection_finds_a_closer_latent(runs, tmp_path):
    import numpy as np

    import gankit
    from gankit.explore import project

    model = gankit.load(str(runs["conditional"]))
    target = model.sample(1, seed=7, given={"label": 3})
    start = model.sample(1, seed=0, given={"label": 0})
    found = project(model, target, seed=0, steps=30, starts=2)
    assert found["label"] in range(10)
    assert found["mse"] <= (start - target).pow(2).mean().item() + 1e-6
    # From the command line: a .npy in data units, and the picture beside the numbers.
    image = tmp_path / "target.npy"
    np.save(image, model.description.to_data_units(target).numpy())
    out, report = _explore(runs["conditional"], "--project", str(image), "--label", "3", "-o", str(tmp_path / "p"))
    assert report["projection"]["label"] == 3 and report["projection"]["mse"] >= 0
    assert _decodes(out / "projection.png").size[0] > 0


def test_projection_needs_images_and_a_valid_label(runs, tmp_path):
    image = tmp_path / "x.npy"
    import numpy as np

    np.save(image, np.zeros((1, 1, 8, 8), dtype=np.float32))
    line = one_error_line(_invoke("explore", str(runs["ring8"]), "--project", str(image)))
    assert "--project needs a model of images" in line
    line = one_error_line(_invoke("explore", str(runs["conditional"]), "--project", str(image), "--label", "12"))
    assert "from 0 to 9" in line


def test_explore_takes_an_exported_model_folder(runs, tmp_path):
    result = _invoke("export", str(runs["conditional"]), "-o", str(tmp_path / "folder"))
    assert result.exit_code == 0, result.output
    out, report = _explore(tmp_path / "folder")
    assert out == tmp_path / "folder" / "explore"
    assert report["classes"]["classes"] == 10
