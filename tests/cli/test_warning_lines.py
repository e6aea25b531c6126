"""The CLI shows library warnings as one ``Warning: ...`` line each, however often it is invoked."""

from __future__ import annotations

import logging
import warnings

from gankit.cli.warning_lines import show_warnings_as_lines
from gankit.errors import GankitDeprecationWarning


def test_a_logged_warning_is_one_line_once_however_often_the_cli_sets_up(capsys):
    show_warnings_as_lines()
    show_warnings_as_lines()  # a second invocation in one process (click's test runner, a notebook)
    logging.getLogger("gankit_builtins.trackers.weights_and_biases").warning("W&B is offline;\n  sync it later")
    logging.getLogger("gankit_builtins.trackers").info("not shown: below the warning level")
    assert capsys.readouterr().err == "Warning: W&B is offline; sync it later\n"


def test_a_cli_invocation_shows_logged_warnings_of_its_commands(gankit, monkeypatch):
    import gankit.cli.inspect as inspect_module

    real = inspect_module.list_components.callback

    def listing_with_a_warning(*args, **kwargs):
        logging.getLogger("gankit.example").warning("something to know")
        return real(*args, **kwargs)

    monkeypatch.setattr(inspect_module.list_components, "callback", listing_with_a_warning)
    result = gankit("list", "loss")
    assert result.exit_code == 0
    assert [line for line in result.output.splitlines() if line.startswith("Warning")] == ["Warning: something to know"]


def test_a_gankit_deprecation_warning_prints_as_one_line():
    show_warnings_as_lines()
    shown = warnings.formatwarning("scheme 'twin': Scheme.sample is deprecated", GankitDeprecationWarning, "x.py", 3)
    assert shown == "Warning: scheme 'twin': Scheme.sample is deprecated\n"
    other = warnings.formatwarning("plain", UserWarning, "x.py", 3)
    assert "UserWarning" in other  # others keep Python's format
