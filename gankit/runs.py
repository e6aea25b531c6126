"""The run folder: config.json, metrics.jsonl, samples/, checkpoints/ with a ``latest`` pointer."""

from __future__ import annotations

import datetime
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

        An advisory ``flock`` on ``.lock``: the kernel drops it when the holder exits, however it dies,
        so a killed run never leaves the folder locked.
        """
        import fcntl

        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.check_confined()
            # O_NOFOLLOW: a .lock symlinked elsewhere would have us truncate that file.
            flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(self.path / ".lock", flags, 0o666)
            handle = open(fd, "a+")  # noqa: SIM115 - held for the life of the run
        except OSError as exc:
            raise GankitError(f"cannot create run folder {str(self.path)!r}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(handle)
            handle.close()
            raise GankitError(
                f"run folder {str(self.path)!r} is in use by another gankit process (pid {holder}); "
                "wait for it to finish or pick another --name"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_handle = handle
        # Temporary files of a write that a crash interrupted: the rename never happened, so drop them.
        for stale in [*self.checkpoints.glob(".*.tmp"), *self.path.glob(".*.tmp")]:
            stale.unlink(missing_ok=True)
        return self

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


def _lock_holder(handle: IO[str], wait: float = 1.0) -> str:
    """The pid in a held lock file. The holder writes it just after taking the lock, so a process that
    lost a race by microseconds can find the file still empty: it looks again for up to ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        handle.seek(0)
        holder = handle.read().strip()
        if holder or time.monotonic() > deadline:
            return holder or "unknown"
        time.sleep(0.01)
