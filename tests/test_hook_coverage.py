"""Every hook specification is documented, rendered in the hook reference, wired into the loader, and
exercised by at least one test. A new hook in gankit/hookspecs.py fails here until it is all four."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import gankit.hookspecs
from gankit.plugins import COMMANDS_HOOK, REGISTRATION_HOOKS

ROOT = Path(__file__).resolve().parents[1]


def hook_names() -> list[str]:
    """The hook specifications: functions in gankit.hookspecs carrying pluggy's ``gankit`` spec marker."""
    return sorted(
        name
        for name, func in inspect.getmembers(gankit.hookspecs, inspect.isfunction)
        if hasattr(func, "gankit_spec") and func.__module__ == gankit.hookspecs.__name__
    )


def test_hooks_are_found():
    assert "gankit_register_losses" in hook_names() and COMMANDS_HOOK in hook_names()


@pytest.mark.parametrize("name", hook_names())
def test_hook_has_a_docstring(name):
    doc = inspect.getdoc(getattr(gankit.hookspecs, name)) or ""
    assert len(doc.split()) >= 5, f"hook {name} needs a docstring saying what to register and how"


def test_every_hook_is_wired_into_the_plugin_loader():
    assert set(hook_names()) == set(REGISTRATION_HOOKS) | {COMMANDS_HOOK}, (
        "gankit.plugins must call every hook (REGISTRATION_HOOKS or the commands hook)"
    )


def test_every_hook_is_in_the_reference_page_and_its_rendering(tmp_path):
    page = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    missing_rows = [name for name in hook_names() if f"`{name}(" not in page]
    assert not missing_rows, f"docs/hooks.md's table lacks {missing_rows}"
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    html = (site / "hooks" / "index.html").read_text(encoding="utf-8")
    unrendered = [name for name in hook_names() if f'id="gankit.hookspecs.{name}"' not in html]
    assert not unrendered, f"the hook reference does not render {unrendered}"


def test_every_hook_is_exercised_by_a_test():
    this = Path(__file__).resolve()
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py") if p.resolve() != this]
    untested = [name for name in hook_names() if not any(name in text for text in sources)]
    assert not untested, f"no test implements or mentions {untested}"
