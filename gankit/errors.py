"""The one exception type that reaches the user as a one-line message (exit code 2)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GankitError(Exception):
    """A problem the user can fix: bad input, a missing file, an incompatible combination.

    The CLI prints ``Error: <message>`` and exits with status 2, never a traceback, so the message
    must name the bad value and say what would be valid.
    """

    exit_code = 2


class GankitDeprecationWarning(DeprecationWarning):
    """A plugin uses an interface that a later gankit will drop; the one-line message says what replaces it."""


def choice_error(what: str, value: str, choices: Iterable[str], hint: str = "") -> GankitError:
    """``unknown loss 'wgn' (did you mean 'wgan'?); choose from: bce, hinge, lsgan, wgan``."""
    choices = sorted(set(choices))
    # Case first: `--arch MLP` means mlp, though the two spellings share no letter.
    close = [c for c in choices if c.lower() == value.lower()] or difflib.get_close_matches(
        value, choices, n=1, cutoff=0.5
    )
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(choices) if choices else "(none installed)"
    return GankitError(f"unknown {what} {value!r}{guess}; choose from: {listed}{hint}")
