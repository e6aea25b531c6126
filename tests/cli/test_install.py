"""``gankit install`` / ``gankit uninstall``: a real plugin distribution, installed and removed with pip.

The distribution is made here with a name of its own, and goes into a throwaway environment that sees
the test environment's packages (gankit included) through a ``.pth`` file: pip installs into and
uninstalls from that environment only, so the shared one, and the tests running beside this one, never
see the plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest

from gankit.cli import cli


def _plugin_project(folder: Path, tag: str) -> Path:
    project = folder / f"gankit-throwaway-{tag}"
    package = project / f"gankit_throwaway_{tag}"
    package.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "gankit-throwaway-{tag}"
version = "1.0"

[project.entry-points.gankit]
throwaway_{tag} = "gankit_throwaway_{tag}"

[tool.setuptools]
packages = ["gankit_throwaway_{tag}"]
"""
    )
    (package / "__init__.py").write_text(
        f"""from gankit import hookimpl


@hookimpl
def gankit_register_losses(register):
    register("throwaway-{tag}", "gankit_throwaway_{tag}.loss:Loss", summary="a loss from a throwaway plugin")
"""
    )
    return project


def _environment(folder: Path) -> Path:
    """A new environment whose site folder also loads this one's (its .pth files included)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shared = sysconfig.get_path("purelib")
    (Path(site) / "shared-site.pth").write_text(f"import site; site.addsitedir({shared!r})\n")
    return python


def _gankit(python: Path, *args: str) -> subprocess.CompletedProcess:
    # No index and no build isolation: the project builds with the setuptools already installed.
    env = os.environ | {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run([str(python), "-m", "gankit", *args], capture_output=True, text=True, env=env)


@pytest.mark.skipif(sys.platform == "win32", reason="the throwaway environment's layout is POSIX")
def test_install_reports_what_the_plugin_registers_and_uninstall_removes_it(tmp_path):
    tag = uuid.uuid4().hex[:8]
    project = _plugin_project(tmp_path / "src", tag)
    python = _environment(tmp_path / "env")

    installed = _gankit(python, "install", "--no-deps", str(project))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert f"throwaway_{tag}: loss:throwaway-{tag}" in installed.stdout
    listed = _gankit(python, "list", "loss")
    assert f"throwaway-{tag}" in listed.stdout, listed.stdout + listed.stderr
    # Only the throwaway environment has it.
    assert (
        f"throwaway-{tag}"
        not in subprocess.run([sys.executable, "-m", "gankit", "list", "loss"], capture_output=True, text=True).stdout
    )

    removed = _gankit(python, "uninstall", "-y", f"gankit-throwaway-{tag}")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert f"Removed plugin throwaway_{tag} (gankit-throwaway-{tag})" in removed.stdout
    after = json.loads(_gankit(python, "plugins", "--json").stdout)
    assert f"throwaway_{tag}" not in {p["name"] for p in after["plugins"]}


@pytest.mark.parametrize("name", ["gankit", "GanKit", "GANKIT"])
def test_uninstall_refuses_gankit_itself_in_one_line(name):
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["uninstall", "-y", "gankit-tensorboard", name])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: gankit uninstall removes plugin packages, not gankit")


def test_install_without_a_package_is_a_usage_error():
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["install"])
    assert result.exit_code == 2 and "name a package to install" in result.output
