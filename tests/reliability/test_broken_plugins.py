"""A plugin that calls ``sys.exit()`` (SystemExit) at import or in a hook is recorded as broken, like
one that raises; it never takes down the commands that do not use it, ``--help`` included."""

from __future__ import annotations

import types

import pytest

import gankit
from gankit.plugins import PluginSet
from tests.test_plugins import _run_module


def test_system_exit_at_import_is_recorded_as_broken(tmp_path):
    site = tmp_path / "site"
    dist_info = site / "exiting_plugin-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (site / "exiting_plugin.py").write_text("import sys\nsys.exit(3)\n")
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: exiting-plugin\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text("[gankit]\nexiting = exiting_plugin\n")

    for args in (["--help"], ["plugins"], ["list", "loss"]):
        done = _run_module(args, site, tmp_path)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stdout + done.stderr
    listed = _run_module(["plugins"], site, tmp_path).stdout
    (row,) = [line for line in listed.splitlines() if line.startswith("exiting ")]
    assert "import failed: SystemExit: 3" in row, row


@pytest.mark.parametrize("hook", ["gankit_register_losses", "gankit_register_commands"])
def test_system_exit_in_a_hook_is_recorded_as_broken(hook):
    module = types.ModuleType("exits_in_hook")

    if hook == "gankit_register_losses":

        @gankit.hookimpl
        def gankit_register_losses(register):
            raise SystemExit("bye")

        module.gankit_register_losses = gankit_register_losses
    else:

        @gankit.hookimpl
        def gankit_register_commands(cli):
            raise SystemExit("bye")

        module.gankit_register_commands = gankit_register_commands
    plugins = PluginSet()
    record = plugins.add("exits", module)
    plugins.commands  # noqa: B018 - commands are collected lazily in some versions
    assert record.status == "error", record
    assert "SystemExit: bye" in record.error
