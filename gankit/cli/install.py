"""``gankit install`` and ``gankit uninstall``: plugin packages, with pip, in gankit's own environment.

As ``llm install`` does, they run ``python -m pip`` with the interpreter that runs gankit, so a plugin
lands where gankit finds it whichever ``pip`` is first on the PATH. After an install, a fresh process
lists the plugins (entry points are read once per process), and gankit says what each new one registers.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from gankit.errors import GankitError

#: Distributions that ``gankit uninstall`` refuses: gankit itself (``pip uninstall gankit`` does that).
PROTECTED = {"gankit"}


def _canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``Gankit_TensorBoard`` is ``gankit-tensorboard``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _need_pip() -> None:
    if importlib.util.find_spec("pip") is None:
        raise GankitError(
            f"gankit install needs pip in gankit's environment ({sys.prefix}); add it with: {sys.executable} -m ensurepip"
        )


def _pip(*args: str) -> int:
    """Runs pip in this interpreter's environment, its output going straight to the user."""
    return subprocess.run([sys.executable, "-m", "pip", *args]).returncode


def _plugins_in_fresh_process() -> list[dict[str, Any]]:
    """``gankit plugins --json`` in a new interpreter, which reads the entry points as installed now."""
    done = subprocess.run(
        [sys.executable, "-m", "gankit", "plugins", "--json"], capture_output=True, text=True, check=False
    )
    try:
        return json.loads(done.stdout)["plugins"]
    except (ValueError, KeyError, TypeError):
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise GankitError(f"installed, but listing the plugins failed: {detail}; see: gankit plugins") from None


def _describe(plugin: dict[str, Any]) -> str:
    what = ", ".join(plugin["registered"] + [f"command:{c}" for c in plugin.get("commands", [])]) or "nothing"
    if plugin["status"] == "error":
        return f"{plugin['name']} (BROKEN: {plugin['error']}; see: gankit plugins show {plugin['name']})"
    return f"{plugin['name']}: {what}"


@click.command("install")
@click.argument("packages", nargs=-1, metavar="PACKAGE...")
@click.option(
    "-e",
    "--editable",
    "editables",
    multiple=True,
    metavar="PATH",
    help="Install the project at PATH in editable mode (pip install -e PATH); repeatable.",
)
@click.option(
    "-U", "--upgrade", is_flag=True, help="Upgrade the packages (and what they need) to their newest versions."
)
@click.option("--force-reinstall", is_flag=True, help="Reinstall the packages even when they are up to date.")
@click.option("--no-deps", is_flag=True, help="Do not install what the packages depend on.")
def install_command(
    packages: tuple[str, ...], editables: tuple[str, ...], upgrade: bool, force_reinstall: bool, no_deps: bool
) -> None:
    """Install plugin packages with pip into gankit's environment, then show what they register.

    PACKAGE is anything pip takes: a name (gankit-tensorboard), a requirement ('gankit-stylegan>=0.1'),
    a path to a project or a wheel, a URL. pip's own settings (an index, a proxy) apply as usual.

    \b
    gankit install gankit-tensorboard
    gankit install -e ./gankit-myloss      (a plugin you are writing)
    gankit install --upgrade gankit-stylegan
    """
    if not packages and not editables:
        raise click.UsageError("name a package to install: gankit install PACKAGE (or -e PATH)")
    _need_pip()
    args = ["install", *packages, *(a for path in editables for a in ("-e", path))]
    args += [
        flag
        for flag, on in (("--upgrade", upgrade), ("--force-reinstall", force_reinstall), ("--no-deps", no_deps))
        if on
    ]
    with tempfile.TemporaryDirectory(prefix="gankit-install-") as tmp:
        report = Path(tmp) / "report.json"
        status = _pip(*args, "--report", str(report))
        if status != 0:
            raise GankitError(f"pip install failed (exit status {status}); see pip's messages above")
        installed = _installed(report)
    plugins = [p for p in _plugins_in_fresh_process() if _canonical(p["distribution"] or "") in installed]
    if plugins:
        click.echo("gankit plugins installed:")
        for plugin in plugins:
            click.echo(f"  {_describe(plugin)}")
    elif installed:
        listed = ", ".join(sorted(installed.values()))
        click.echo(
            f"Note: {listed} registers no gankit plugin (no 'gankit' entry point); see: gankit plugins", err=True
        )
    else:
        click.echo("Nothing new was installed; see: gankit plugins")


def _installed(report: Path) -> dict[str, str]:
    """Canonical name -> ``name version`` of each distribution that pip's ``--report`` says it installed."""
    try:
        entries = json.loads(report.read_text(encoding="utf-8")).get("install", [])
        metadata = [entry["metadata"] for entry in entries]
        return {_canonical(m["name"]): f"{m['name']} {m['version']}" for m in metadata}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}  # an older pip without --report's format: the plugin list still shows everything


@click.command("uninstall")
@click.argument("packages", nargs=-1, required=True, metavar="PACKAGE...")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before removing each package.")
def uninstall_command(packages: tuple[str, ...], yes: bool) -> None:
    """Uninstall plugin packages (distribution names) with pip from gankit's environment.

    \b
    gankit uninstall gankit-tensorboard
    gankit uninstall -y gankit-biggan gankit-stylegan
    """
    for name in packages:
        if _canonical(name) in PROTECTED:
            raise GankitError(
                f"gankit uninstall removes plugin packages, not gankit itself ({name!r}); to remove gankit: "
                f"{Path(sys.executable).name} -m pip uninstall gankit"
            )
    _need_pip()
    from gankit.plugins import load_plugins

    wanted = {_canonical(name) for name in packages}
    leaving = [r for r in load_plugins().records.values() if r.distribution and _canonical(r.distribution) in wanted]
    status = _pip("uninstall", *(["--yes"] if yes else []), *packages)
    if status != 0:
        raise GankitError(f"pip uninstall failed (exit status {status}); see pip's messages above")
    for record in sorted(leaving, key=lambda r: r.name):
        click.echo(f"Removed plugin {record.name} ({record.distribution})")
