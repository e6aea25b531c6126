"""Plugin loading: each plugin in isolation, through real pluggy hooks and real entry points."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

import gankit
from gankit import __version__
from gankit.plugins import PluginSet, load_plugins

BUILTIN_PLUGINS = {
    "builtins.architectures",
    "builtins.data",
    "builtins.losses",
    "builtins.regularizers",
    "builtins.schemes",
    "builtins.trackers",
    "builtins.metrics",
}


# -- plugin objects ------------------------------------------------------------------------------


def _module_plugin(module_name: str, loss_names: tuple[str, ...]) -> types.ModuleType:
    """A real module object implementing ``gankit_register_losses``, like an entry point would load."""
    module = types.ModuleType(module_name)

    @gankit.hookimpl
    def gankit_register_losses(register):
        for name in loss_names:
            register(name, "gankit_builtins.losses.adversarial:Hinge", summary=f"{name} from {module_name}")

    module.gankit_register_losses = gankit_register_losses
    return module


class GoodPlugin:
    @gankit.hookimpl
    def gankit_register_losses(self, register):
        register("goodloss", "gankit_builtins.losses.adversarial:Hinge", summary="works")

    @gankit.hookimpl
    def gankit_register_regularizers(self, register):
        register("goodreg", "gankit_builtins.regularizers.weights:Clip")


class RaisingPlugin:
    @gankit.hookimpl
    def gankit_register_losses(self, register):
        register("halfway", "gankit_builtins.losses.adversarial:Hinge")
        raise RuntimeError("registration exploded\nsecond line of detail")


class RaisingInSecondHookPlugin:
    @gankit.hookimpl
    def gankit_register_architectures(self, register):
        register("earlyarch", "gankit_builtins.architectures.mlp:MLP")

    @gankit.hookimpl
    def gankit_register_losses(self, register):
        raise KeyError("missing")


class MisspelledPlugin:
    @gankit.hookimpl
    def gankit_register_lossess(self, register):
        register("typoloss", "gankit_builtins.losses.adversarial:Hinge")


class WrongSignaturePlugin:
    @gankit.hookimpl
    def gankit_register_losses(self, register, extra_argument):
        register("sigloss", "gankit_builtins.losses.adversarial:Hinge")


# -- PluginSet in-process ------------------------------------------------------------------------


def test_module_plugin_registers():
    plugins = PluginSet()
    record = plugins.add("modplug", _module_plugin("modplug", ("modloss",)))
    assert record.status == "ok"
    assert record.error is None
    assert record.registered == ["loss:modloss"]
    spec = plugins.registry.get("loss", "modloss")
    assert spec.plugin == "modplug"
    assert spec.summary == "modloss from modplug"
    assert plugins.problems() == []


def test_raising_hook_is_recorded_and_registers_nothing_while_others_work():
    plugins = PluginSet()
    good = plugins.add("good", GoodPlugin())
    bad = plugins.add("bad", RaisingPlugin())
    after = plugins.add("after", _module_plugin("after", ("afterloss",)))

    assert bad.status == "error"
    assert bad.registered == []
    assert "gankit_register_losses" in bad.error
    assert "RuntimeError: registration exploded" in bad.error
    assert "\n" not in bad.error
    assert "second line of detail" in bad.traceback  # the full story is kept for debugging
    # What it registered before raising is gone again.
    assert "halfway" not in plugins.registry.names("loss")

    assert good.status == "ok" and after.status == "ok"
    assert plugins.registry.names("loss") == ["afterloss", "goodloss"]
    assert plugins.registry.names("regularizer") == ["goodreg"]
    assert plugins.problems() == [f"plugin 'bad' is broken ({bad.error})"]


def test_raising_second_hook_removes_what_the_first_registered():
    plugins = PluginSet()
    record = plugins.add("partial", RaisingInSecondHookPlugin())
    assert record.status == "error"
    assert record.registered == []
    assert plugins.registry.names("architecture") == []
    assert plugins.registry.names("loss") == []
    # The broken plugin is unregistered from pluggy too: a later plugin is unaffected.
    assert plugins.add("good", GoodPlugin()).status == "ok"
    assert plugins.registry.names("loss") == ["goodloss"]


def test_misspelled_hook_is_unknown_hook_and_the_rest_works():
    plugins = PluginSet()
    record = plugins.add("typo", MisspelledPlugin())
    assert record.status == "error"
    assert record.error.startswith("unknown hook")
    assert "gankit_register_lossess" in record.error
    assert record.registered == []
    assert "typoloss" not in plugins.registry.names("loss")
    # Plugins added after it still load (the misspelled one is not left pending in pluggy).
    good = plugins.add("good", GoodPlugin())
    assert good.status == "ok"
    assert plugins.registry.names("loss") == ["goodloss"]
    assert len(plugins.problems()) == 1 and "'typo'" in plugins.problems()[0]


def test_wrong_signature_is_an_invalid_hook_and_the_rest_works():
    plugins = PluginSet()
    record = plugins.add("sig", WrongSignaturePlugin())
    assert record.status == "error"
    assert record.error.startswith("invalid hook")
    assert "gankit_register_losses" in record.error
    assert record.registered == []
    assert plugins.registry.names("loss") == []
    assert plugins.add("good", GoodPlugin()).status == "ok"
    assert plugins.registry.names("loss") == ["goodloss"]


def test_wrong_signature_error_names_the_offending_argument():
    plugins = PluginSet()
    record = plugins.add("sig", WrongSignaturePlugin())
    assert "extra_argument" in record.error


def test_two_plugins_registering_one_name_appear_as_a_conflict():
    plugins = PluginSet()
    plugins.add("first", _module_plugin("first", ("twin", "onlyfirst")))
    plugins.add("second", _module_plugin("second", ("twin",)))
    problems = plugins.problems()
    assert len(problems) == 1
    line = problems[0]
    assert "'twin'" in line
    assert "'first'" in line and "'second'" in line
    assert "first:twin" in line and "second:twin" in line
    # Both records are fine on their own; only the shared name is ambiguous.
    assert plugins.records["first"].status == plugins.records["second"].status == "ok"
    with pytest.raises(gankit.GankitError, match="first:twin"):
        plugins.registry.get("loss", "twin")
    assert plugins.registry.get("loss", "second:twin").plugin == "second"
    assert plugins.registry.get("loss", "onlyfirst").plugin == "first"


def test_plugin_commands_hook():
    import click

    module = types.ModuleType("cmdplug")

    @click.command("hello")
    def hello():
        click.echo("hi")

    @gankit.hookimpl
    def gankit_register_commands(cli):
        cli.add_command(hello)

    module.gankit_register_commands = gankit_register_commands
    plugins = PluginSet()
    assert plugins.add("cmdplug", module).status == "ok"
    assert set(plugins.commands) == {"hello"}


# -- the bundled plugins through real entry points -----------------------------------------------


def test_bundled_plugins_load_through_entry_points():
    loaded = load_plugins()
    builtins = {name: record for name, record in loaded.records.items() if name.startswith("builtins.")}
    assert set(builtins) == BUILTIN_PLUGINS
    for record in builtins.values():
        assert record.status == "ok", record.error
        assert record.distribution == "gankit"
        assert record.version == gankit.__version__
        assert record.registered
    assert "loss:wgan" in builtins["builtins.losses"].registered
    assert "scheme:unconditional" in builtins["builtins.schemes"].registered


def test_plugins_command_lists_bundled_plugins(gankit):
    result = gankit("plugins")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["plugin", "distribution", "status", "registers"]
    for name in BUILTIN_PLUGINS:
        (row,) = [line for line in lines if line.startswith(name + " ")]
        assert " ok " in row
        assert f"gankit {__version__}" in row
    (losses,) = [line for line in lines if line.startswith("builtins.losses ")]
    for name in ("bce", "wgan", "hinge", "lsgan"):
        assert f"loss:{name}" in losses


def test_list_loss_shows_the_bundled_losses(gankit):
    result = gankit("list", "loss")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("loss (--loss):")
    names = [
        line.split()[0]
        for line in result.output.splitlines()
        if line.startswith("  ") and not line.startswith("      ")
    ]
    assert names == ["bce", "hinge", "lsgan", "ragan", "wgan"]
    assert "bce.variant = 'non-saturating'" in result.output
    assert "suggests: n_critic=5" in result.output
    # Only losses.
    assert "regularizer" not in result.output and "mlp" not in result.output


def test_list_unknown_kind_exits_2_with_one_line(gankit):
    result = gankit("list", "nope")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: unknown kind 'nope'")
    assert "arch, data, loss, metric, reg, scheme, tracker" in lines[0]


# -- a broken third-party distribution, in a subprocess ------------------------------------------


def _broken_distribution(root: Path) -> Path:
    site = root / "site"
    dist_info = site / "broken_plugin-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (site / "broken_plugin.py").write_text('raise RuntimeError("broken on purpose")\n')
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[gankit]\nbroken = broken_plugin\n")
    return site


def _run_module(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH", "")) if p)
    return subprocess.run(
        [sys.executable, "-m", "gankit", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_broken_entry_point_is_isolated(tmp_path):
    site = _broken_distribution(tmp_path)

    result = _run_module(["plugins"], site, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("broken ")]
    assert len(rows) == 1
    row = rows[0]
    assert "broken-plugin 0.1" in row
    assert " error " in row
    assert "import failed: RuntimeError: broken on purpose" in row
    for name in BUILTIN_PLUGINS:
        (builtin_row,) = [line for line in result.stdout.splitlines() if line.startswith(name + " ")]
        assert " ok " in builtin_row

    listed = _run_module(["list", "loss"], site, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stdout + listed.stderr
    for name in ("bce", "wgan", "hinge", "lsgan"):
        assert f"  {name} " in listed.stdout
