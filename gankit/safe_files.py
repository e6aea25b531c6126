"""Reading files that a user or a run folder names: regular files only, bounded, never blocking.

A path can name a device (/dev/zero never ends), a FIFO (opening one blocks until a writer comes) or
a huge file; every read of such a path goes through :func:`read_bounded`, which refuses all of them
with one line before reading a byte.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gankit.errors import GankitError

#: Checkpoints are read whole into memory; far above any network this toolkit trains.
MAX_CHECKPOINT_BYTES = 16 * 2**30
#: config.json, --config TOML, metric files: text a person could read.
MAX_TEXT_BYTES = 64 * 2**20
#: checkpoints/latest holds one file name.
MAX_POINTER_BYTES = 4096

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symlink"),
)


def umask() -> int:
    """The process's file-creation mask (os.umask can only be read by setting it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def shown(path: str | Path, width: int = 200) -> str:
    """The path quoted for an error line; an over-long one is cut so the line stays readable."""
    text = str(path)
    return repr(text if len(text) <= width else text[: width // 2] + "..." + text[-width // 2 :])


def kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def regular_file_size(path: str | Path, what: str, limit: int, follow: bool = True) -> int:
    """The size of ``path`` if it is a regular file within ``limit`` bytes; otherwise one-line GankitError.

    ``follow=False`` for names a run folder holds: a symlink there could lead anywhere, so it is refused.
    """
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError) as exc:
        raise GankitError(f"cannot read {what} {shown(path)}: {_reason(exc)}") from None
    _check(info, path, what, limit)
    return info.st_size


def read_bounded(path: str | Path, what: str, limit: int, follow: bool = True) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes."""
    regular_file_size(path, what, limit, follow)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise GankitError(f"cannot read {what} {shown(path)}: {_reason(exc)}") from None
    try:
        # The path may have been swapped between stat and open: check what was actually opened.
        _check(os.fstat(fd), path, what, limit)
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 24, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise GankitError(f"{what} {shown(path)} grew beyond the limit of {limit:,} bytes while being read")
        return b"".join(chunks)
    except OSError as exc:
        raise GankitError(f"cannot read {what} {shown(path)}: {_reason(exc)}") from None
    finally:
        os.close(fd)


def _check(info: os.stat_result, path: str | Path, what: str, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise GankitError(f"{what} {shown(path)} is {kind(info.st_mode)}; only a regular file is read")
    if info.st_size > limit:
        raise GankitError(f"{what} {shown(path)} is {info.st_size:,} bytes, more than the limit of {limit:,} bytes")


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
