"""The run folder: config.json, metrics.jsonl, samples/, checkpoints/ with a ``latest`` pointer."""

from __future__ import annotations

import datetime
import errno
import fcntl
import os
import re
import stat
import time
from pathlib import Path
from typing import IO

from gankit import checkpoint
from gankit.config import RunConfig, dumps
from gankit.errors import GankitError
from gankit.safe_files import kind, shown


def default_name(config: RunConfig) -> str:
    parts = [config.data, config.arch, config.loss, *config.regs]
    if config.scheme != "unconditional":
        parts.append(config.scheme)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts)) + "-" + stamp


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.samples = self.path / "samples"
        self.checkpoints = self.path / "checkpoints"
        self.config = self.path / "config.json"

    def lock(self) -> RunFolder:
        """Take the run folder for this process; a second gankit writing into it is refused.

        An advisory ``flock`` on the run folder itself, and one on ``.lock`` (which holds the pid, for
        the refusal's message). The kernel drops both when the holder exits, however it dies, so a
        killed run never leaves the folder locked. The folder's lock is what counts: ``.lock`` can be
        deleted while a run trains (and a new one made by the next process), the folder cannot while it
        holds the run. ``.lock`` is locked too for file systems without locks on folders, where it is
        the only lock, and gankit versions that locked only it.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.check_confined()
            folder_fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise GankitError(f"cannot create run folder {str(self.path)!r}: {exc.strerror or exc}") from None
        try:
            if not _flock(folder_fd):
                raise self._in_use(_lock_holder(self.path / ".lock"))
            handle = self._lock_file()
        except BaseException:
            os.close(folder_fd)
            raise
        self._folder_fd = folder_fd
        self._lock_handle = handle
        # Temporary files of a write that a crash interrupted: the rename never happened, so drop them.
        for stale in [*self.checkpoints.glob(".*.tmp"), *self.path.glob(".*.tmp")]:
            stale.unlink(missing_ok=True)
        return self

    def _lock_file(self) -> IO[str]:
        """Create or open ``.lock``, lock it and write this process's pid into it."""
        path = self.path / ".lock"
        # O_NOFOLLOW: a .lock symlinked elsewhere would have us truncate that file.
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        for _ in range(100):
            try:
                handle = open(os.open(path, flags, 0o666), "a+")  # noqa: SIM115 - held for the life of the run
            except OSError as exc:
                raise GankitError(f"cannot create run folder {str(self.path)!r}: {exc.strerror or exc}") from None
            if not _flock(handle.fileno()):
                holder = _lock_holder(path)
                handle.close()
                raise self._in_use(holder)
            if _same_file(handle.fileno(), path):
                handle.truncate(0)
                handle.write(f"{os.getpid()}\n")
                handle.flush()
                return handle
            # Removed by its holder between our open and our lock (where folders cannot be locked): the
            # lock we got is on a file nobody else will look at. Take the one that is there now.
            handle.close()
        raise GankitError(f"cannot lock run folder {str(self.path)!r}: its .lock keeps being replaced")

    def _in_use(self, holder: str) -> GankitError:
        return GankitError(
            f"run folder {str(self.path)!r} is in use by another gankit process (pid {holder}); "
            "wait for it to finish or pick another --name"
        )

    def keep_lock_file(self) -> None:
        """Put ``.lock`` back if someone deleted it while this process holds the folder (cheap: two stats).

        The folder's own lock already refuses other processes; this keeps the pid in their message.
        """
        handle = getattr(self, "_lock_handle", None)
        if (
            handle is None
            or getattr(self, "_folder_fd", None) is None
            or _same_file(handle.fileno(), self.path / ".lock")
        ):
            return
        try:
            fresh = self._lock_file()
        except (GankitError, OSError):
            return  # another process's file, or a full disk: keep what we hold, the folder's lock counts
        handle.close()
        self._lock_handle = fresh

    def release(self) -> None:
        """Give the folder back at the end of a run, removing ``.lock`` while still holding both locks:
        a process that wants the folder takes its lock first, and reads ``.lock`` only then."""
        handle = getattr(self, "_lock_handle", None)
        if handle is None:
            return
        path = self.path / ".lock"
        try:
            if _same_file(handle.fileno(), path):
                path.unlink()
        except OSError:
            pass  # a read-only folder, say: a stale .lock is harmless (the kernel dropped its lock)
        handle.close()
        os.close(self._folder_fd)
        self._lock_handle = self._folder_fd = None

    def check_confined(self) -> None:
        """Refuse a folder whose files lead elsewhere: writing a run follows symlinks (appending to
        metrics.jsonl, saving into checkpoints/), so a planted one would write outside the folder."""
        for path, want_dir in _CONFINED:
            where = self.path / path
            try:
                info = os.lstat(where)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise GankitError(f"cannot use run folder {shown(self.path)}: {shown(where)}: {exc.strerror}") from None
            expected = stat.S_ISDIR if want_dir else stat.S_ISREG
            if not expected(info.st_mode):
                raise GankitError(
                    f"run folder {shown(self.path)} holds {path} as {kind(info.st_mode)}, expected "
                    f"{'a folder' if want_dir else 'a regular file'}; gankit writes only inside its run folder"
                )

    def has_checkpoint(self) -> bool:
        return any(self.checkpoints.glob("step-*.safetensors"))

    @classmethod
    def create(cls, path: Path) -> RunFolder:
        """A new run folder; refuses one that already holds a run, so nothing is overwritten."""
        folder = cls(path).lock()
        # A folder with neither is a start killed before config.json was written: nothing to lose.
        if folder.config.exists() or folder.has_checkpoint() or (folder.checkpoints / "latest").exists():
            raise GankitError(
                f"run folder {str(folder.path)!r} already holds a run; continue it with --resume {folder.path} "
                "or pick another --name"
            )
        try:
            folder.samples.mkdir(parents=True, exist_ok=True)
            folder.checkpoints.mkdir(exist_ok=True)
        except OSError as exc:
            raise GankitError(f"cannot create run folder {str(folder.path)!r}: {exc.strerror or exc}") from None
        return folder

    def write_config(self, resolved: dict) -> None:
        try:
            checkpoint.write_atomic(self.config, (dumps(resolved) + "\n").encode())
        except OSError as exc:
            raise GankitError(f"cannot write {str(self.config)!r}: {exc.strerror or exc}") from None

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:06d}.safetensors"

    def sample_path(self, step: int) -> Path:
        return self.samples / f"step-{step:06d}.png"

    def save_checkpoint(self, state: checkpoint.TrainingState, step: int, keep: int) -> Path:
        """Write the checkpoint, then point ``latest`` at it, then drop the oldest beyond ``keep``."""
        self.keep_lock_file()
        path = self.checkpoint_path(step)
        checkpoint.save(state, path)
        checkpoint.write_atomic(self.checkpoints / "latest", (path.name + "\n").encode())
        for old in checkpoint.by_step(self.checkpoints.glob("step-*.safetensors"))[:-keep]:
            if old != path:
                old.unlink(missing_ok=True)
        return path


#: What gankit writes into a run folder, and whether it is a folder.
_CONFINED = (
    (".lock", False),
    ("config.json", False),
    ("metrics.jsonl", False),
    ("eval.json", False),
    ("samples", True),
    ("checkpoints", True),
    ("checkpoints/latest", False),
)


def _flock(fd: int) -> bool:
    """An exclusive lock on ``fd`` without waiting: ``False`` when another process holds it.

    A file system that cannot lock a folder (NFS turns ``flock`` into a POSIX lock, which needs a file
    open for writing) counts as locked by us: ``.lock`` is then the lock, as it was before folders were.
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return True
        raise
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd``."""
    try:
        there = os.lstat(path)
    except OSError:
        return False
    here = os.fstat(fd)
    return (here.st_ino, here.st_dev) == (there.st_ino, there.st_dev)


def _lock_holder(path: Path, wait: float = 1.0) -> str:
    """The pid in a held lock's ``.lock``. The holder writes it just after taking the lock, so a process
    that lost a race by microseconds can find the file missing or empty: it looks again for up to ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                holder = (
                    os.read(fd, 64).decode("ascii", "replace").strip() if stat.S_ISREG(os.fstat(fd).st_mode) else ""
                )
            finally:
                os.close(fd)
        except OSError:
            holder = ""
        if holder.isdigit() or time.monotonic() > deadline:
            return holder if holder.isdigit() else "unknown"
        time.sleep(0.01)
