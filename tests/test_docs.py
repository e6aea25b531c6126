"""The documentation builds cleanly, and the hook reference covers every hook."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import gankit.hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS_PAGE = ROOT / "docs" / "hooks.md"
CONCEPTS_PAGE = ROOT / "docs" / "concepts.md"


def _hookspecs() -> dict:
    """Every hook specification: the ``gankit_*`` functions defined in gankit.hookspecs."""
    return {
        name: func
        for name, func in inspect.getmembers(gankit.hookspecs, inspect.isfunction)
        if name.startswith("gankit_") and func.__module__ == gankit.hookspecs.__name__
    }


def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hooks_html = (site / "hooks" / "index.html").read_text(encoding="utf-8")
    for name in _hookspecs():
        assert f'id="gankit.hookspecs.{name}"' in hooks_html, f"hook {name} is missing from the rendered reference"


def test_every_hookspec_is_documented():
    hooks = _hookspecs()
    assert hooks, "no hook specifications found in gankit.hookspecs"
    page = HOOKS_PAGE.read_text(encoding="utf-8")
    assert any(line.strip() == "::: gankit.hookspecs" for line in page.splitlines()), (
        "docs/hooks.md must render the hook specifications with '::: gankit.hookspecs'"
    )
    # The directive renders each hook with its docstring, so every docstring must say something.
    undocumented = [name for name, func in hooks.items() if not (inspect.getdoc(func) or "").strip()]
    assert not undocumented, f"hook specifications without a docstring: {undocumented}"


def test_the_scheme_step_shown_in_full_is_the_bundled_one():
    """concepts.md shows `unconditional`'s step "in full": its body must not drift from the source."""
    import textwrap

    from gankit_builtins.schemes.unconditional import Unconditional

    page = CONCEPTS_PAGE.read_text(encoding="utf-8")
    block = page.split("The bundled `unconditional` scheme, in full:", 1)[1]
    shown = block.split("```python\n", 1)[1].split("```", 1)[0]
    source = textwrap.dedent(inspect.getsource(Unconditional.step))
    # The page's signature leaves out the return annotation; everything after it is the same text.
    assert shown.startswith("def step(self, t):\n")
    assert shown.split("\n", 1)[1] == source.split("\n", 1)[1]
