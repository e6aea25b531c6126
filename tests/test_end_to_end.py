"""What a new user does first, end to end through the real CLI and real entry points."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file


def _weights(run: Path) -> dict:
    latest = (run / "checkpoints" / "latest").read_text().strip()
    return load_file(run / "checkpoints" / latest)


def test_run_as_typed_writes_samples_checkpoint_and_config(gankit, tmp_path):
    result = gankit("run", "--arch", "mlp", "--loss", "wgan", "--reg", "gp", "--steps", "30", "--name", "typed")
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "typed"
    assert (run / "samples" / "step-000030.png").is_file()
    assert (run / "checkpoints" / "step-000030.safetensors").is_file()
    assert "runs/typed/checkpoints/step-000030.safetensors" in result.output
    config = json.loads((run / "config.json").read_text())
    assert config["run"]["regs"] == ["gp"] and config["run"]["n_critic"] == 5  # wgan's suggested default
    assert config["components"]["gp"]["options"]["weight"] == 10.0
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 30


@pytest.mark.parametrize(
    "args",
    [
        ("--loss", "wgan", "--reg", "gp", "--ema", "0.9"),
        ("--loss", "bce", "--reg", "r1", "--set", "r1.every=2", "--arch", "dcgan"),
        ("--loss", "hinge", "--reg", "sn", "--data", "ring8", "--batch-size", "32"),
        ("--loss", "wgan", "--set", "scheme.reuse_fakes=true", "--data", "ring8"),
        # Adam's moments come back from the checkpoint contiguous; the fused kernel must get them NHWC.
        ("--loss", "bce", "--arch", "dcgan", "--channels-last", "--ema", "0.9"),
    ],
    ids=["wgan-gp-ema", "bce-r1-dcgan", "hinge-sn-toy", "wgan-reused-fakes-toy", "bce-dcgan-channels-last"],
)
def test_resumed_run_equals_uninterrupted_run(gankit, tmp_path, args):
    common = ("--steps", "12", "--log-every", "4", "--sample-every", "100", *args)
    assert gankit("run", *common, "--name", "full").exit_code == 0
    first = gankit("run", *common, "--name", "part", "--steps", "5")
    assert first.exit_code == 0, first.output
    resumed = gankit("run", "--resume", "runs/part", "--steps", "12")
    assert resumed.exit_code == 0, resumed.output
    full, part = _weights(tmp_path / "runs" / "full"), _weights(tmp_path / "runs" / "part")
    assert full.keys() == part.keys()
    for key in full:
        if key.startswith("rng/"):
            continue
        assert full[key].equal(part[key]), key


def test_resume_refuses_a_changed_configuration(gankit, tmp_path):
    assert gankit("run", "--steps", "2", "--name", "r").exit_code == 0
    result = gankit("run", "--resume", "runs/r", "--loss", "hinge")
    assert result.exit_code == 2
    assert "loss is 'bce' in the saved run" in result.output


def test_seed_setup_on_mnist_format_files(gankit, tmp_path):
    from tests.mnist_files import write_mnist

    write_mnist(tmp_path / "mnistdata", count=200)
    result = gankit(
        "run",
        "--arch",
        "mlp",
        "--loss",
        "bce",
        "--data",
        "mnist",
        "--data-root",
        "mnistdata",
        "--batch-size",
        "100",
        "--steps",
        "4",
        "--name",
        "seed",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "runs" / "seed" / "config.json").read_text())
    assert config["data_description"]["shape"] == [1, 28, 28]


def test_third_party_distribution_is_listed_and_trains(run_gankit, plugin_site, tmp_path):
    env = {"PYTHONPATH": os.pathsep.join([str(plugin_site), os.environ.get("PYTHONPATH", "")])}
    listed = run_gankit("plugins", env=env).stdout
    line = next(line for line in listed.splitlines() if line.startswith("testplugin"))
    assert (
        "gankit-testplugin 0.3.1" in line and " ok " in line and "architecture:tiny" in line and "scheme:twin" in line
    )
    run_gankit("run", "--arch", "tiny", "--steps", "5", "--name", "tiny", "-q", env=env)
    assert (tmp_path / "runs" / "tiny" / "checkpoints" / "step-000005.safetensors").is_file()
    # Without the plugin on the path it is unknown, with a one-line error.
    missing = run_gankit("run", "--arch", "tiny", "--steps", "5", check=False)
    assert missing.returncode == 2 and "unknown architecture" in missing.stderr and "Traceback" not in missing.stderr


def test_scheme_with_two_generators_and_two_discriminators(run_gankit, plugin_site, tmp_path):
    env = {"PYTHONPATH": os.pathsep.join([str(plugin_site), os.environ.get("PYTHONPATH", "")])}
    run_gankit(
        "run",
        "--scheme",
        "twin",
        "--arch",
        "tiny",
        "--data",
        "ring8",
        "--steps",
        "20",
        "--name",
        "twin",
        "--ema",
        "0.9",
        "-q",
        env=env,
    )
    weights = _weights(tmp_path / "runs" / "twin")
    assert {k.split("/")[1] for k in weights if k.startswith("net/")} == {"g1", "g2", "d1", "d2"}
    assert {k.split("/")[1] for k in weights if k.startswith("ema/")} == {"g1", "g2"}
    run_gankit("sample", "runs/twin", "-n", "50", "-o", "twin.npy", env=env)
    assert np.load(tmp_path / "twin.npy").shape == (50, 2)


@pytest.mark.slow
def test_wgan_gp_covers_grid25_modes_within_a_fifth_of_its_default_budget(run_gankit, tmp_path):
    # grid25's defaults (15,000 steps, rates decaying over the second half) are tuned for > 95 % high-quality
    # samples; coverage comes much earlier: 25, 23 and 25 modes at 3,000 steps over seeds 0, 1, 2 (the same
    # at 4,000; 7-10 % of the samples high quality). Mode coverage over seeds: benchmarks/quality.py.
    run_gankit(
        "run", "--arch", "mlp", "--loss", "wgan", "--reg", "gp", "--data", "grid25", "--steps", "3000",
        "--name", "g25", "-q",
    )  # fmt: skip
    run_gankit("sample", "runs/g25", "-n", "2500", "-o", "s.npy")
    samples = np.load(tmp_path / "s.npy")
    ticks = np.arange(-4.0, 5.0, 2.0)
    modes = np.array([(a, b) for a in ticks for b in ticks])
    distance = np.linalg.norm(samples[:, None] - modes[None], axis=2)
    high_quality = distance.min(1) < 3 * 0.05
    covered = len(set(distance.argmin(1)[high_quality]))
    assert covered >= 20, f"{covered} modes covered, {high_quality.mean():.1%} high quality"
