"""The run folder: config.json, metrics.jsonl, samples/, checkpoints/ with a ``latest`` pointer."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from gankit import checkpoint
from gankit.config import RunConfig, dumps
from gankit.errors import GankitError


def default_name(config: RunConfig) -> str:
    parts = [config.data, config.arch, config.loss, *config.regs]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts)) + "-" + stamp


class RunFolder:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.samples = self.path / "samples"
        self.checkpoints = self.path / "checkpoints"
        self.metrics = self.path / "metrics.jsonl"
        self.config = self.path / "config.json"

    @classmethod
    def create(cls, path: Path) -> RunFolder:
        """A new run folder; refuses one that already holds a run, so nothing is overwritten."""
        folder = cls(path)
        if folder.config.exists() or folder.checkpoints.exists():
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
        checkpoint.write_atomic(self.config, (dumps(resolved) + "\n").encode())

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:06d}.safetensors"

    def sample_path(self, step: int) -> Path:
        return self.samples / f"step-{step:06d}.png"

    def save_checkpoint(self, state: checkpoint.TrainingState, step: int, keep: int) -> Path:
        """Write the checkpoint, then point ``latest`` at it, then drop the oldest beyond ``keep``."""
        path = self.checkpoint_path(step)
        checkpoint.save(state, path)
        checkpoint.write_atomic(self.checkpoints / "latest", (path.name + "\n").encode())
        for old in sorted(self.checkpoints.glob("step-*.safetensors"))[:-keep]:
            if old != path:
                old.unlink(missing_ok=True)
        return path
