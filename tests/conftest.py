"""Shared fixtures: a CLI runner, and the test plugin distribution installed for this session only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
TEST_PLUGIN = ROOT / "tests" / "plugins" / "gankit-testplugin"


#: The GAN family packages that `make setup` installs from plugins/. The core's tests run with them left
#: out (as a user who has not installed them), so what they say about the bundled components (the names
#: in an error's list of choices, `gankit list`) holds with or without the families; the families are
#: tested by their own tests in plugins/<name>/tests.
FAMILY_DISTRIBUTIONS = ("gankit-biggan", "gankit-stylegan", "gankit-pix2pix", "gankit-cyclegan", "gankit-stargan")


@pytest.fixture(autouse=True)
def _without_family_packages(monkeypatch):
    monkeypatch.setenv("GANKIT_DISABLE_PLUGINS", ",".join(FAMILY_DISTRIBUTIONS))


@pytest.fixture
def gankit(tmp_path, monkeypatch):
    """Invoke the CLI in-process inside ``tmp_path``: ``gankit("run", "--steps", "5")`` -> click Result."""
    from gankit.cli import cli

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory) -> Path:
    """A real, non-editable install of tests/plugins/gankit-testplugin into a private site folder.

    Only processes given this folder on PYTHONPATH see the plugin, so the rest of the suite (and the
    user's environment) never does.
    """
    return install_into(tmp_path_factory.mktemp("plugin-site"), TEST_PLUGIN)


def install_into(site: Path, *packages: Path) -> Path:
    """pip-install ``packages`` (project folders), without their dependencies, into the folder ``site``."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target"]
    subprocess.run([*pip, str(site), *map(str, packages)], check=True)
    return site


@pytest.fixture
def run_gankit(tmp_path):
    """Run the installed ``gankit`` command in a subprocess in ``tmp_path``; returns CompletedProcess."""

    def run(*args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 600):
        full_env = dict(os.environ, **(env or {}))
        result = subprocess.run(
            [sys.executable, "-m", "gankit", *args],
            cwd=tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"gankit {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run


def one_error_line(result) -> str:
    """A click result that failed with exit 2 and printed exactly one ``Error: ...`` line, no traceback."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]
