"""plugins/gankit-tensorboard, the separately published example: its wheel, installed (not editable)
into a private folder, writes TensorBoard event files during `gankit run`, and its own tests pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorboard")

PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "gankit-tensorboard"


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def tensorboard_site(tmp_path_factory) -> Path:
    """The wheel, built from a copy (no build files in the source tree), installed with pip --target."""
    root = tmp_path_factory.mktemp("tensorboard-plugin")
    source = root / "source"
    shutil.copytree(
        PACKAGE, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".*_cache")
    )
    dist = root / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)], root
    )
    (wheel,) = dist.glob("gankit_tensorboard-0.1.0-py3-none-any.whl")
    site = root / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)], root)
    assert (site / "gankit_tensorboard" / "tracker.py").is_file()
    return site


def _env(site: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p))


def test_installed_wheel_writes_event_files_during_gankit_run(tensorboard_site, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    env = _env(tensorboard_site)
    listed = _run([sys.executable, "-m", "gankit", "plugins"], tmp_path, env).stdout
    (row,) = [line for line in listed.splitlines() if line.startswith("tensorboard ")]
    assert "gankit-tensorboard 0.1.0" in row and " ok " in row and "tracker:tensorboard" in row

    args = [
        "run",
        "--tracker",
        "tensorboard",
        "--steps",
        "3",
        "--log-every",
        "1",
        "--batch-size",
        "16",
        "--name",
        "tb",
        "--data",
        "ring8",
        "--metric",
        "modes",
        "--set",
        "modes.samples=200",
        "--eval-every",
        "3",
    ]
    done = _run([sys.executable, "-m", "gankit", *args], tmp_path, env)
    assert "Warning" not in done.stderr, done.stderr
    log_dir = tmp_path / "runs" / "tb" / "tensorboard"
    assert f"tensorboard --logdir {log_dir.relative_to(tmp_path)}" in done.stdout  # the summary says where
    events = list(log_dir.glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0

    accumulator = EventAccumulator(str(events[0]), size_guidance={"scalars": 0, "images": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    assert {"d_loss", "g_loss", "grad_norm/discriminator", "grad_norm/generator", "lr/generator"} <= set(
        tags["scalars"]
    )
    assert [e.step for e in accumulator.Scalars("d_loss")] == [1, 2, 3]
    assert "samples" in tags["images"]
    assert [e.step for e in accumulator.Scalars("eval/modes/modes")] == [3]  # log_evaluation, from --eval-every


def test_its_own_tests_pass_against_the_installed_wheel(tensorboard_site, tmp_path):
    # The tests alone, away from the source: `import gankit_tensorboard` finds the installed copy.
    shutil.copytree(PACKAGE / "tests", tmp_path / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    code = "import gankit_tensorboard, sys; print(gankit_tensorboard.__file__)"
    where = _run([sys.executable, "-c", code], tmp_path, _env(tensorboard_site)).stdout
    assert where.startswith(str(tensorboard_site))
    done = _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], tmp_path, _env(tensorboard_site)
    )
    assert "5 passed" in done.stdout, done.stdout
