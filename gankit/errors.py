"""The one exception type that reaches the user as a one-line message (exit code 2)."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from pathlib import Path


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


# -- failures that are not the user's: the machine's, or a bug ------------------------------------------

#: Set to 1 to let an unexpected exception end the command with its full traceback (for debugging).
TRACEBACK_ENV = "GANKIT_TRACEBACK"

#: How allocators word "out of memory" (PyTorch's CPU and CUDA allocators, NumPy).
_ALLOCATOR_WORDS = ("can't allocate memory", "out of memory", "Unable to allocate", "not enough memory")
#: How gloo and NCCL word the end of another training process (torchrun restarts or ends the group).
_PEER_WORDS = ("Connection reset by peer", "Connection closed by peer", "Broken pipe")


def first_line(exc: BaseException, width: int = 300) -> str:
    """The exception's message on one line, cut to ``width`` characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= width else text[: width - 3] + "..."


def machine_failure(exc: BaseException) -> str | None:
    """One line for a failure of the machine rather than of gankit (memory, the file system), else None.

    These end a command the same way whichever code met them, so one place words them for every command.
    """
    if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and any(w in str(exc) for w in _ALLOCATOR_WORDS)):
        return f"out of memory: {first_line(exc, 200)}"
    if isinstance(exc, RuntimeError) and any(w in str(exc) for w in _PEER_WORDS):
        return f"lost contact with another training process (it ended or was killed): {first_line(exc, 200)}"
    if isinstance(exc, OSError) and exc.strerror:
        from gankit.safe_files import shown

        names = [shown(n) for n in (exc.filename, exc.filename2) if n is not None]
        return f"{exc.strerror} ({type(exc).__name__}, errno {exc.errno})" + (
            f": {' -> '.join(names)}" if names else ""
        )
    return None


def write_traceback(exc: BaseException) -> str | None:
    """Write ``exc``'s traceback to a new file in the temporary folder; its path, or None if that fails."""
    import tempfile
    import traceback

    try:
        fd, path = tempfile.mkstemp(prefix="gankit-traceback-", suffix=".txt")
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write("".join(traceback.format_exception(exc)))
    except OSError:
        return None
    return path


def bug_message(exc: BaseException, where: str, whose: str = "gankit") -> str:
    """``WHERE failed unexpectedly (a bug in WHOSE, please report it): TypeError: ...; traceback written to ...``.

    Only for exceptions no code expected: the line says it is a bug and keeps the traceback (in a file,
    so the terminal shows one line), instead of passing it off as the user's mistake.
    """
    path = write_traceback(exc)
    kept = f"; traceback written to {path}" if path else f"; run again with {TRACEBACK_ENV}=1 to see the traceback"
    return f"{where} failed unexpectedly (a bug in {whose}, please report it): {type(exc).__name__}: {first_line(exc)}{kept}"


#: A private folder where each process of a ``gankit run --nproc`` launch leaves its ``Error:`` line.
RANK_ERRORS_ENV = "GANKIT_RANK_ERRORS"


def leave_rank_error(message: str) -> bool:
    """Under a ``gankit run --nproc`` launch, keep this process's error line for the launcher; True when
    the console should not show it (every local rank but 0)."""
    folder, rank = os.environ.get(RANK_ERRORS_ENV), os.environ.get("LOCAL_RANK")
    if not folder or rank is None or not rank.isdigit():
        return False
    try:
        (Path(folder) / f"rank-{int(rank)}.txt").write_text(message)
    except OSError:
        return False
    return rank != "0"
