"""Plugin isolation and controls through real entry points: broken plugins, name conflicts, plugin
commands, --disable-plugin / GANKIT_DISABLE_PLUGINS, strict mode and `gankit plugins --json`/`show`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from gankit.plugins import load_plugins
from tests.conftest import FAMILY_DISTRIBUTIONS
from tests.test_plugins import BUILTIN_PLUGINS

TINY = ("--data", "ring8", "--steps", "2", "--batch-size", "8", "-q")

#: distribution -> (module source, plugin name)
DISTRIBUTIONS = {
    "gankit-exploding": ("raise RuntimeError('exploded on import')\n", "exploding"),
    "gankit-typo": (
        """
        from gankit import hookimpl

        @hookimpl
        def gankit_register_lossess(register):
            register("typoloss", "gankit_builtins.losses.adversarial:Hinge")
        """,
        "typo",
    ),
    "gankit-alpha": (
        """
        from gankit import hookimpl

        @hookimpl
        def gankit_register_losses(register):
            register("twin", "gankit_builtins.losses.adversarial:Hinge", summary="alpha's twin")
        """,
        "alpha",
    ),
    "gankit-beta": (
        """
        from gankit import hookimpl

        @hookimpl
        def gankit_register_losses(register):
            register("twin", "gankit_builtins.losses.adversarial:LeastSquares", summary="beta's twin")
        """,
        "beta",
    ),
    "gankit-greeter": (
        """
        import click
        from gankit import hookimpl

        @click.command()
        @click.argument("who", default="world")
        def hello(who):
            \"\"\"Say hello.\"\"\"
            click.echo(f"hello {who}")

        @hookimpl
        def gankit_register_commands(cli):
            cli.add_command(hello)
        """,
        "greeter",
    ),
    "gankit-brokencmd": (
        """
        import click
        from gankit import hookimpl

        @click.command()
        def explode():
            \"\"\"Never runs.\"\"\"

        @hookimpl
        def gankit_register_commands(cli):
            cli.add_command(explode)
            raise ValueError("commands half registered")
        """,
        "brokencmd",
    ),
}


def write_site(site: Path, names: list[str] | None = None) -> Path:
    """Installed distributions, as pip leaves them: a module and a .dist-info with entry points."""
    for dist, (source, plugin) in DISTRIBUTIONS.items():
        if names is not None and plugin not in names:
            continue
        module = "kitsite_" + plugin
        (site / f"{module}.py").parent.mkdir(parents=True, exist_ok=True)
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[gankit]\n{plugin} = {module}\n")
    return site


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The distributions above on sys.path for this test, loaded afresh, and forgotten afterwards."""
    folder = write_site(tmp_path / "site")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.chdir(tmp_path)
    load_plugins.cache_clear()
    yield folder
    load_plugins.cache_clear()
    for name in [m for m in sys.modules if m.startswith("kitsite_")]:
        del sys.modules[name]


def cli(*args: str, env: dict[str, str] | None = None):
    from gankit.cli import cli as group

    return CliRunner().invoke(group, list(args), env=env, catch_exceptions=False)


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.output, result.output
    return lines[0]


# -- a broken plugin, a misspelled hook, two plugins with one name: the rest works ----------------


def test_each_problem_is_one_line_and_everything_else_works(site, tmp_path):
    result = cli("plugins")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    rows = {
        line.split()[0]: line
        for line in result.output.splitlines()[1:]
        if line and not line.startswith(("conflict", "Details"))
    }
    assert "gankit-exploding 0.1" in rows["exploding"] and " error " in rows["exploding"]
    assert "import failed: RuntimeError: exploded on import" in rows["exploding"]
    assert "unknown hook: 'gankit_register_lossess' (did you mean 'gankit_register_losses'?)" in rows["typo"]
    assert " ok " in rows["alpha"] and " ok " in rows["beta"]
    for name in BUILTIN_PLUGINS:  # every bundled plugin loads
        assert " ok " in rows[name]
    conflicts = [line for line in result.output.splitlines() if line.startswith("conflict:")]
    assert conflicts == ["conflict: loss 'twin' is registered by 'alpha' and 'beta'; use alpha:twin or beta:twin"]
    assert "Details of a broken plugin, with its traceback: gankit plugins show NAME" in result.output

    listed = cli("list", "loss")
    assert listed.exit_code == 0 and "alpha's twin  [alpha]" in listed.output and "  bce " in listed.output
    assert "twin" in one_error_line(cli("run", "--loss", "twin", *TINY))
    trained = cli("run", "--loss", "beta:twin", *TINY, "--name", "beta")
    assert trained.exit_code == 0, trained.output
    assert (
        json.loads((tmp_path / "runs" / "beta" / "config.json").read_text())["components"]["twin"]["plugin"] == "beta"
    )


def test_in_a_real_process_too(tmp_path):
    """Entry points as the installed `gankit` command sees them; --help lists plugin commands without torch."""
    folder = write_site(tmp_path / "site")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run(
        [sys.executable, "-m", "gankit", "plugins"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "Traceback" not in done.stdout + done.stderr, done.stderr
    assert "import failed: RuntimeError: exploded on import" in done.stdout
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom gankit.cli import cli\n"
        "out = CliRunner().invoke(cli, ['--help']).output\nprint('torch' in sys.modules)\nprint(out)\n"
    )
    helped = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert helped.returncode == 0, helped.stderr
    first, _, text = helped.stdout.partition("\n")
    assert first == "False"
    assert "hello" in text and "BROKEN" in text


# -- plugin commands -----------------------------------------------------------------------------


def test_help_lists_plugin_commands_and_marks_broken_ones(site):
    text = cli("--help").output
    lines = text.splitlines()
    (hello,) = [line for line in lines if line.strip().startswith("hello ")]
    assert "Say hello. [greeter]" in hello
    explode = " ".join(lines[lines.index(next(line for line in lines if line.strip().startswith("explode "))) :][:3])
    assert "BROKEN (plugin 'brokencmd' is broken)" in explode and "gankit plugins show brokencmd" in " ".join(
        explode.split()
    )
    broken_section = text[text.index("Broken plugins") :]
    assert "exploding" in broken_section and "gankit plugins show exploding" in " ".join(broken_section.split())
    assert "typo" in broken_section
    assert "brokencmd" not in broken_section  # its command already points to it


def test_plugin_command_runs_and_broken_one_explains(site):
    assert cli("hello", "gankit").output == "hello gankit\n"
    line = one_error_line(cli("explode", "--anything"))
    assert "command 'explode' is unavailable: plugin 'brokencmd' is broken" in line
    assert "see: gankit plugins show brokencmd" in line


def test_plugins_show_prints_the_traceback(site):
    result = cli("plugins", "show", "exploding")
    assert result.exit_code == 0, result.output
    assert "distribution: gankit-exploding 0.1" in result.output
    assert "entry point:  exploding = kitsite_exploding" in result.output
    assert "error:        import failed: RuntimeError: exploded on import" in result.output
    assert "Traceback (most recent call last)" in result.output and "kitsite_exploding.py" in result.output
    shown = cli("plugins", "show", "brokencmd").output
    assert "commands:     gankit explode (broken)" in shown and "ValueError: commands half registered" in shown
    assert "registers:    loss:twin" in cli("plugins", "show", "gankit-alpha").output  # a distribution name works
    assert "did you mean 'typo'?" in one_error_line(cli("plugins", "show", "typoo"))


def test_plugins_json(site):
    result = cli("plugins", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["exploding"]["status"] == "error" and "Traceback" in by_name["exploding"]["traceback"]
    assert by_name["greeter"]["registered"] == ["command:hello"] and by_name["greeter"]["commands"] == ["hello"]
    assert by_name["builtins.losses"]["entry_point"] == "builtins.losses = gankit_builtins.losses"
    assert {"kind": "loss", "name": "twin", "plugins": ["alpha", "beta"]} in data["conflicts"]
    assert len(data["problems"]) == 4  # exploding, typo, brokencmd, the twin conflict
    # Nothing disabled but the family packages, which the core's tests leave out (tests/conftest.py).
    assert data["strict"] is False and sorted(data["disabled"]) == sorted(FAMILY_DISTRIBUTIONS)


# -- disabling -----------------------------------------------------------------------------------


def test_disabled_plugins_show_as_disabled_and_stay_out(site):
    result = cli("--disable-plugin", "exploding", "--disable-plugin", "gankit-beta,typo", "plugins")
    assert result.exit_code == 0
    rows = {line.split()[0]: line for line in result.output.splitlines()[1:] if line}
    for name in ("exploding", "beta", "typo"):
        assert " disabled " in rows[name] and "(disabled by --disable-plugin)" in rows[name]
    assert "conflict:" not in result.output
    env_result = cli("plugins", "--json", env={"GANKIT_DISABLE_PLUGINS": "alpha, greeter"})
    by_name = {p["name"]: p for p in json.loads(env_result.output)["plugins"]}
    assert by_name["alpha"]["status"] == by_name["greeter"]["status"] == "disabled"
    assert "hello" not in cli("--help", env={"GANKIT_DISABLE_PLUGINS": "greeter"}).output
    # Flags apply to one invocation only.
    assert " error " in next(line for line in cli("plugins").output.splitlines() if line.startswith("exploding"))


def test_a_disabled_conflict_makes_the_name_usable(site, tmp_path):
    result = cli("--disable-plugin", "beta", "run", "--loss", "twin", *TINY, "--name", "alpha")
    assert result.exit_code == 0, result.output
    assert (
        json.loads((tmp_path / "runs" / "alpha" / "config.json").read_text())["components"]["twin"]["plugin"] == "alpha"
    )


def test_an_unknown_disabled_name_is_noted(site):
    output = cli("--disable-plugin", "exploding,nosuchplugin", "plugins").output
    assert "note: unknown plugin to disable 'nosuchplugin'" in output


# -- strict mode ---------------------------------------------------------------------------------


def test_strict_mode_turns_problems_into_one_line_errors(site, tmp_path):
    line = one_error_line(cli("--strict-plugins", "run", *TINY))
    assert line.startswith("Error: strict plugin mode: ")
    assert "plugin 'exploding' is broken (import failed: RuntimeError: exploded on import)" in line
    assert "loss 'twin' is registered by 'alpha' and 'beta'" in line and "--disable-plugin" in line
    assert not (tmp_path / "runs").exists()
    one_error_line(cli("list", env={"GANKIT_STRICT_PLUGINS": "1"}))
    one_error_line(cli("--strict-plugins", "hello"))  # plugin commands too
    table = cli("--strict-plugins", "plugins")  # the table still shows what to fix, then the error
    assert table.exit_code == 2 and "exploding" in table.output
    assert table.output.strip().splitlines()[-1].startswith("Error: strict plugin mode")


def test_strict_mode_passes_once_the_problems_are_disabled(site, tmp_path):
    clean = "exploding,typo,beta,brokencmd"
    result = cli("--strict-plugins", "--disable-plugin", clean, "run", "--loss", "twin", *TINY, "--name", "ok")
    assert result.exit_code == 0, result.output
    assert cli("hello", env={"GANKIT_STRICT_PLUGINS": "yes", "GANKIT_DISABLE_PLUGINS": clean}).output == "hello world\n"


def test_a_bad_strict_setting_is_one_line():
    line = one_error_line(cli("plugins", env={"GANKIT_STRICT_PLUGINS": "maybe"}))
    assert "GANKIT_STRICT_PLUGINS='maybe'" in line
