"""How warnings reach a ``gankit`` user: one ``Warning: <message>`` line each, on stderr.

Library code warns through :mod:`logging` (a tracker falling back to offline, say) or, for an interface
a plugin should stop using, through :mod:`warnings` with a gankit warning category. Outside the CLI those
keep Python's defaults, so an application that imports gankit decides how to show them.
"""

from __future__ import annotations

import logging
import warnings

import click

from gankit.errors import GankitDeprecationWarning

#: Loggers whose warnings the CLI shows: gankit's own and its bundled plugins'.
LOGGERS = ("gankit", "gankit_builtins")


class WarningLines(logging.Handler):
    """Writes a record as ``Warning: <message>`` (``Error: ...`` and so on by level) on one line.

    It writes to the stderr of the moment, which click's test runner replaces.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = " ".join(record.getMessage().split())
            click.echo(f"{record.levelname.capitalize()}: {message}", err=True)
        except Exception:
            self.handleError(record)


_plain_format = warnings.formatwarning


def _format_warning(message, category, filename, lineno, line=None) -> str:  # warnings.formatwarning's signature
    if issubclass(category, GankitDeprecationWarning):
        return f"Warning: {' '.join(str(message).split())}\n"
    return _plain_format(message, category, filename, lineno, line)


def show_warnings_as_lines() -> None:
    """Sets up the CLI's warning lines; calling it again (one process, many invocations) changes nothing."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(handler, WarningLines) for handler in logger.handlers):
            logger.addHandler(WarningLines(logging.WARNING))
    warnings.formatwarning = _format_warning
