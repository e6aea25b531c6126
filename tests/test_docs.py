"""The documentation builds cleanly, and the hook reference covers every hook."""

from __future__ import annotations

import inspect
import re
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


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The documentation, built once for this module's tests (``mkdocs build --strict``)."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocs_click")
    folder = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_mkdocs_build_strict(site):
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


# --- What the pages say about the code, checked against the code -------------------------------------

ARCHITECTURE_PAGE = ROOT / "docs" / "architecture.md"
CLI_PAGE = ROOT / "docs" / "cli.md"


def _module_rows(table_text: str) -> set[str]:
    """The first cells (`path`) of a Markdown table's rows."""
    return set(re.findall(r"^\| `([^`]+)` \|", table_text, flags=re.MULTILINE))


def _architecture_tables() -> tuple[set[str], set[str]]:
    """The modules the page's two layout tables name: gankit's, and the bundled plugins'."""
    page = ARCHITECTURE_PAGE.read_text(encoding="utf-8")
    engine, rest = page.split("**`plugins/gankit_builtins/`", 1)
    builtins = rest.split("**`plugins/template/`**", 1)[0]
    return _module_rows(engine), _module_rows(builtins)


def _modules(package: Path) -> set[str]:
    return {p.relative_to(package).as_posix() for p in package.rglob("*.py") if "_template" not in p.parts}


def test_every_module_is_named_in_the_architecture_page():
    named_engine, named_builtins = _architecture_tables()
    for package, named in ((ROOT / "gankit", named_engine), (ROOT / "plugins" / "gankit_builtins", named_builtins)):
        modules = _modules(package)
        assert modules, f"no modules found under {package}"
        missing = sorted(modules - named)
        assert not missing, f"docs/architecture.md does not name these modules of {package.name}: {missing}"
        # And every file it names is there (a module moved or renamed shows up here).
        gone = sorted(name for name in named - modules if not (package / name).exists())
        assert not gone, f"docs/architecture.md names files that {package.name} does not have: {gone}"


def test_the_resumable_settings_listed_in_concepts_are_the_codes():
    from gankit.config import RESUMABLE_FIELDS

    page = CONCEPTS_PAGE.read_text(encoding="utf-8")
    listing = page.split("(`RESUMABLE_FIELDS` in `gankit/config.py`):", 1)[1].strip().split("\n\n", 1)[0]
    listed = re.findall(r"`([a-z_]+)`", listing)
    assert listed == sorted(listed), "keep the list sorted, so a new setting has one place to go"
    assert set(listed) == set(RESUMABLE_FIELDS), (
        f"docs/concepts.md lists {sorted(set(listed) - RESUMABLE_FIELDS)} that may not change on resume, "
        f"and misses {sorted(RESUMABLE_FIELDS - set(listed))}"
    )


def _console_blocks(page: str) -> dict[str, str]:
    """``$ command`` -> the output shown under it, for every console block of a page."""
    shown: dict[str, str] = {}
    for block in re.findall(r"```console\n(.*?)```", page, flags=re.DOTALL):
        command = None
        for line in block.splitlines():
            if line.startswith("$ "):
                command = line[2:]
                shown[command] = ""
            elif command is not None:
                shown[command] += line + "\n"
    return {command: output.strip("\n") for command, output in shown.items()}


@pytest.mark.parametrize("command", ["gankit list loss", "gankit list reg"])
def test_the_component_lists_shown_in_the_cli_page_are_what_gankit_prints(command, gankit):
    """With the family packages left out (as conftest does for the core's tests): the bundled components."""
    shown = _console_blocks(CLI_PAGE.read_text(encoding="utf-8"))[command]
    result = gankit(*command.split()[1:])
    assert result.exit_code == 0, result.output
    assert shown == result.output.strip("\n")


def test_the_plugin_table_in_the_cli_page_lists_every_bundled_plugin_as_gankit_prints_it(gankit):
    shown = _console_blocks(CLI_PAGE.read_text(encoding="utf-8"))["gankit plugins"]
    result = gankit("plugins")
    assert result.exit_code == 0, result.output

    def bundled(text: str) -> list[str]:
        return [" ".join(line.split()) for line in text.splitlines() if line.startswith("builtins.")]

    assert bundled(shown) == bundled(result.output)
    assert len(bundled(shown)) == len(_bundled_entry_points())


def _bundled_entry_points() -> list[str]:
    from importlib.metadata import entry_points

    return [ep.name for ep in entry_points(group="gankit") if ep.name.startswith("builtins.")]


def _command_paths() -> list[str]:
    """``gankit``, ``gankit run``, ..., ``gankit plugins show``: every command, as mkdocs-click titles them."""
    import click

    from gankit.cli import cli

    paths = []

    def walk(command: click.Command, path: str, parent: click.Context | None) -> None:
        paths.append(path)
        ctx = click.Context(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), f"{path} {name}", ctx)

    walk(cli, "gankit", None)
    return paths


def test_the_rendered_reference_pages_cover_the_cli_and_the_public_api(site):
    """The CLI reference (mkdocs-click) has every command, and the API pages every public name."""
    import gankit

    cli_html = (site / "cli" / "index.html").read_text(encoding="utf-8")
    commands = _command_paths()
    assert {"gankit run", "gankit eval", "gankit plugins show", "gankit install"} <= set(commands)
    missing = [path for path in commands if f'id="{path.replace(" ", "-")}"' not in cli_html]
    assert not missing, f"the CLI reference in docs/cli.md lacks {missing}"

    api_html = (site / "api" / "index.html").read_text(encoding="utf-8")
    for anchor in ("gankit.load", "gankit.engine.model.Model.sample", "gankit.engine.model.Model.generator"):
        assert f'id="{anchor}"' in api_html, f"{anchor} is missing from the Python API page"
    rendered = api_html + (site / "hooks" / "index.html").read_text(encoding="utf-8")
    unrendered = [
        name
        for name in gankit.__all__
        if name != "__version__"
        and f'id="{getattr(getattr(gankit, name), "__module__", "gankit")}.{name}"' not in rendered
        and f'id="gankit.{name}"' not in rendered
    ]
    assert not unrendered, f"public names with no reference entry (docs/api.md or docs/hooks.md): {unrendered}"
