"""StarGAN through the command line: training, the recipe it resolves to, exact resume, and sampling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gankit.testing import check_component, run_cli
from PIL import Image
from safetensors.torch import load_file

SMALL = ("--set", "stargan.g_conv_dim=8", "--set", "stargan.d_conv_dim=8", "--set", "stargan.g_repeat_num=1")
QUIET = ("--device", "cpu", "-q", "--log-every", "1")


def write_domains(root: Path, domains=("angry", "happy", "sad"), per_domain=4, size=(12, 10)) -> Path:
    """A tiny StarGAN folder: root/<domain>/*.png, RGB pictures of ``size`` (width, height)."""
    rng = np.random.default_rng(0)
    for d, name in enumerate(domains):
        (root / name).mkdir(parents=True)
        for i in range(per_domain):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) // (d + 1)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _final_tensors(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(sorted((run / "checkpoints").glob("step-*.safetensors"))[-1]))


@pytest.mark.parametrize("data", ["stargan-digits", "stargan-folder"])
def test_the_data_alone_brings_the_whole_recipe_and_flags_still_win(data, tmp_path):
    from gankit.plugins import registry
    from gankit.resolve import resolve

    flags = {"data": data} | ({"data_root": str(write_domains(tmp_path / "faces"))} if data == "stargan-folder" else {})
    alone, named = resolve(registry(), flags), resolve(registry(), flags | {"arch": "stargan"})
    assert (alone.config.scheme, alone.config.arch, alone.config.loss, alone.config.regs) == (
        "stargan",
        "stargan",
        "wgan",
        ("gp",),
    )
    assert alone.config == named.config and alone.component_configs == named.component_configs
    other = resolve(registry(), flags | {"scheme": "conditional"})
    assert (other.config.scheme, other.config.arch) == ("conditional", "mlp")


def test_digits_run_trains_with_the_recipe(tmp_path):
    run_cli("run", "--arch", "stargan", "--data", "stargan-digits", "--steps", "4", *SMALL, *QUIET,
            "--out", str(tmp_path), "--name", "digits")  # fmt: skip
    saved = json.loads((tmp_path / "digits" / "config.json").read_text())
    run, components = saved["run"], saved["components"]
    recipe = {k: run[k] for k in ("scheme", "loss", "regs", "n_critic", "lr_g", "lr_d", "betas", "batch_size")}
    assert recipe == {
        "scheme": "stargan", "loss": "wgan", "regs": ["gp"], "n_critic": 5,
        "lr_g": 1e-4, "lr_d": 1e-4, "betas": [0.5, 0.999], "batch_size": 16,
    }  # fmt: skip
    assert (run["lr_schedule"], run["lr_decay_start"]) == ("linear", 0.5)
    assert components["gp"]["options"]["weight"] == 10.0
    options = components["stargan"]["options"]
    assert (options["lambda_cls"], options["lambda_rec"], options["classification"], options["flip"]) == (
        1.0, 10.0, "multi", False,
    )  # fmt: skip
    # Not the recipe: the digits task suggests CycleGAN's identity weight (--lambda_identity 0.5 x --lambda_A 10).
    assert options["lambda_id"] == 5.0
    metrics = _metrics(tmp_path / "digits")
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    for m in metrics:
        assert all(np.isfinite(m[k]) for k in ("d_loss", "g_loss", "d_cls", "g_cls", "rec", "idt"))
    # Constant rates for the first half, then a linear decay towards 0 at the last step (solver.py).
    rates = [m["lr/generator"] for m in metrics]
    assert rates[:3] == [1e-4] * 3 and rates[3] == pytest.approx(0.5e-4)
    assert [m["lr/discriminator"] for m in metrics] == rates


def test_scheme_conforms_with_exact_resume_on_digits():
    report = check_component("scheme", "stargan", data="stargan-digits", run_args=["--arch", "stargan", *SMALL])
    assert any("resumes exactly" in line for line in report.passed)


@pytest.fixture(scope="module")
def folder_runs(tmp_path_factory):
    """A 3-domain folder trained 4 steps, and the same trained 2 steps then resumed to 4."""
    tmp = tmp_path_factory.mktemp("stargan")
    root = write_domains(tmp / "faces")
    common = ("--arch", "stargan", "--data", "stargan-folder", "--data-root", str(root), "--resolution", "8",
              "--batch-size", "4", "--checkpoint-every", "2", *SMALL, *QUIET, "--out", str(tmp))  # fmt: skip
    run_cli("run", *common, "--steps", "4", "--name", "full")
    run_cli("run", *common, "--steps", "2", "--name", "part")
    run_cli("run", "--resume", str(tmp / "part"), "--steps", "4", "--device", "cpu", "-q")
    return tmp


def test_folder_run_resumes_exactly(folder_runs):
    options = json.loads((folder_runs / "full" / "config.json").read_text())["components"]["stargan"]["options"]
    assert (options["classification"], options["flip"]) == ("single", True)  # suggested by stargan-folder
    assert options["lambda_id"] == 0.0  # the recipe's: only the digits task suggests an identity term
    full, part = _final_tensors(folder_runs / "full"), _final_tensors(folder_runs / "part")
    assert sorted(full) == sorted(part)
    assert any(k.startswith("net/generator/") for k in full) and any(k.startswith("net/discriminator/") for k in full)
    assert any(k.startswith("opt") for k in full)  # both Adams' moments resume too
    different = [k for k in full if not torch.equal(full[k], part[k])]
    assert not different, different[:5]
    assert [m["step"] for m in _metrics(folder_runs / "part")] == [1, 2, 3, 4]
    assert _metrics(folder_runs / "part")[3]["d_loss"] == _metrics(folder_runs / "full")[3]["d_loss"]


def test_sample_translates_a_png_a_folder_and_an_npy(folder_runs, tmp_path):
    run = str(folder_runs / "full")
    picture = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(picture)
    result = run_cli("sample", run, "--input", str(picture), "--set", "target=1,0,0", "-o", str(tmp_path / "out.png"),
                     "--device", "cpu")  # fmt: skip
    assert "Wrote 1 sample" in result.output
    with Image.open(tmp_path / "out.png") as image:
        assert image.size[0] >= 2 * 8  # the input beside its translation

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i in range(3):
        Image.open(picture).rotate(90 * i).save(inputs / f"{i}.png")
    outputs = {}
    for target in ("1,0,0", "0,1,0"):
        out = tmp_path / f"folder-{target}.npy"
        run_cli("sample", run, "--input", str(inputs), "--set", f"target={target}", "-o", str(out), "--device", "cpu")
        outputs[target] = np.load(out)
        assert outputs[target].shape == (3, 3, 8, 8)
        assert 0 <= outputs[target].min() and outputs[target].max() <= 1  # data units
    assert not np.array_equal(outputs["1,0,0"], outputs["0,1,0"])  # the target domains matter

    array = tmp_path / "x.npy"
    np.save(array, np.random.default_rng(2).random((5, 3, 8, 8), dtype=np.float32))
    out = tmp_path / "from-npy.npy"
    run_cli("sample", run, "--input", str(array), "--set", "target=0,0,1", "-o", str(out), "--device", "cpu")
    assert np.load(out).shape == (5, 3, 8, 8)

    bad = run_cli("sample", run, "--input", str(array), "--set", "target=1,0", "-o", str(out), check=False)
    assert bad.exit_code != 0 and "target must be 3 flags of 0 or 1" in bad.output


def test_sample_takes_the_domain_folders_names(folder_runs, tmp_path):
    """The folders' names stand for the flags: target=happy is 0,1,0; a wrong name lists the right ones."""
    run, array = str(folder_runs / "full"), tmp_path / "x.npy"
    np.save(array, np.random.default_rng(2).random((2, 3, 8, 8), dtype=np.float32))
    outputs = {}
    for target in ("happy", "0,1,0", "angry+sad", "1,0,1"):
        out = tmp_path / f"{target}.npy"
        run_cli("sample", run, "--input", str(array), "--set", f"target={target}", "-o", str(out), "--device", "cpu")
        outputs[target] = np.load(out)
    assert np.array_equal(outputs["happy"], outputs["0,1,0"])
    assert np.array_equal(outputs["angry+sad"], outputs["1,0,1"])
    assert not np.array_equal(outputs["happy"], outputs["angry+sad"])
    bad = run_cli("sample", run, "--input", str(array), "--set", "target=bored", "-o", str(tmp_path / "b.npy"),
                  check=False)  # fmt: skip
    assert bad.exit_code != 0 and "(angry, happy, sad; none for no flag), got 'bored'" in bad.output
    assert len(bad.output.strip().splitlines()) == 1 and not (tmp_path / "b.npy").exists()
