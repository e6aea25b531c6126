"""The repository passes the ruff settings of its pyproject.toml (lint and format), as a plugin rendered from
the template passes the template's (tests/test_template.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_the_repository_passes_its_ruff_settings(command):
    # This environment's ruff first: the version pyproject.toml pins, not whichever is first on PATH.
    ruff = Path(sys.executable).with_name("ruff")
    ruff = str(ruff) if ruff.is_file() else shutil.which("ruff") or str(ruff)
    if not Path(ruff).is_file():
        pytest.skip("ruff is not installed (it comes with the dev extra: pip install -e '.[dev]')")
    result = subprocess.run([ruff, *command], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff {' '.join(command)}:\n{result.stdout}{result.stderr}"
