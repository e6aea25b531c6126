"""Weights & Biases tracking that never stops training.

``wandb.init`` is bounded by ``init_timeout``; if it fails online, the run is recorded offline (with
a ``wandb sync`` hint), and if that fails too the engine switches this tracker off with one warning.
Without credentials the run goes offline from the start. wandb is imported only when used.

A resumed run continues the same W&B run (its id is chosen here, before ``wandb.init``, and saved
with every checkpoint). Steps a run logged after its last checkpoint, before a crash, are trained
again bit for bit on resume; W&B already has them, so the step last logged is kept in the run
folder (``.wandb.json``) and a resumed run skips up to it instead of logging them twice.
"""

from __future__ import annotations

import json
import logging
import netrc
import os
import secrets
import string
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gankit import GankitError, Tracker, TrackerContext
from gankit.safe_files import read_bounded

#: In the run folder: the W&B run id and the last step logged to it.
LOGGED_FILE = ".wandb.json"


def _has_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc().authenticators(host or "api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


#: The ``gankit`` CLI shows this logger's warnings as one ``Warning: ...`` line each.
logger = logging.getLogger(__name__)


def _warn(message: str) -> None:
    logger.warning(message)


def _new_run_id() -> str:
    # As wandb.util.generate_id makes them, without importing wandb on the training thread.
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))


def _logged_step(path: Path, run_id: str) -> int:
    """The last step logged to ``run_id`` by an earlier process of this run; -1 if none is known."""
    try:
        record = json.loads(read_bounded(path, "W&B record", 4096, follow=False))
        step = record["step"] if record.get("run_id") == run_id else -1
    except (GankitError, ValueError, AttributeError, KeyError, TypeError):
        return -1  # none yet, or not ours: log everything
    return step if isinstance(step, int) and not isinstance(step, bool) else -1


def _write_logged(path: Path, run_id: str, step: int) -> None:
    # A new file renamed over the old one (never written through a link); no fsync: it has to outlive
    # the process, not the machine, and it is written at every log step.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({"run_id": run_id, "step": step}) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class WandbTracker(Tracker):
    def __init__(self, config: Any, context: TrackerContext):
        import importlib.util

        if importlib.util.find_spec("wandb") is None:
            raise GankitError("--tracker wandb needs the wandb package: pip install 'gankit[wandb]'")
        self.config = config
        self.context = context
        self.run: Any = None
        self.offline = False
        # Chosen now, not by wandb.init: the first checkpoint may come before init returns.
        self.run_id: str = context.state.get("run_id") or _new_run_id()
        self.logged_file = Path(context.run_folder) / LOGGED_FILE
        self.logged_step = -1  # the newest step this process logged
        self.skip_to = -1  # steps up to this one are in W&B already
        self.image_names: set[str] = set()

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        import wandb

        mode = self.config.mode or os.environ.get("WANDB_MODE")
        why_offline = None
        if mode is None and not _has_credentials():
            mode, why_offline = "offline", "not logged in to W&B"
        kwargs = dict(
            project=self.config.project or os.environ.get("WANDB_PROJECT") or "gankit",
            entity=self.config.entity,
            name=self.config.name or self.context.run_name,
            tags=list(self.config.tags) or None,
            group=self.config.group,
            config=config,
            dir=os.environ.get("WANDB_DIR") or str(self.context.run_folder),
            id=self.run_id,
            resume="allow",
            settings=wandb.Settings(init_timeout=self.config.init_timeout, console="off", silent=True),
        )
        try:
            self.run = wandb.init(mode=mode, **kwargs)
        except Exception as exc:
            if mode == "offline":
                raise  # the engine reports it in one line and trains on without W&B
            why_offline = f"wandb.init failed ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
            self.run = wandb.init(mode="offline", **kwargs)
        self.offline = mode == "offline" or why_offline is not None
        if self.context.resumed:
            self.skip_to = _logged_step(self.logged_file, self.run_id)
        if why_offline:
            run_dir = Path(self.run.dir).parent
            _warn(
                f"{why_offline}; W&B records this run offline in {run_dir}; upload it later with: "
                f"wandb sync {' '.join(map(str, self._offline_parts()))}"
            )

    def _offline_parts(self) -> list[Path]:
        """Every offline folder of this W&B run (one per process that recorded it offline), oldest first."""
        here = Path(self.run.dir).parent
        parts = {p for p in here.parent.glob(f"offline-run-*-{self.run_id}") if p.is_dir()}
        if self.offline:
            parts.add(here)
        return sorted(parts, key=lambda p: p.name)

    def _log(self, step: int, values: dict[str, Any]) -> None:
        if step <= self.skip_to:
            return  # logged by the process that crashed after its last checkpoint
        self.run.log(values, step=step)
        if step > self.logged_step:
            self.logged_step = step
            _write_logged(self.logged_file, self.run_id, step)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self._log(step, metrics)

    def log_images(self, step: int, name: str, path: Path) -> None:
        import wandb

        self.image_names.add(name)
        if step > self.skip_to:
            self._log(step, {name: wandb.Image(str(path), caption=f"step {step}")})

    def log_evaluation(self, step: int, results: dict[str, float]) -> None:
        self._log(step, {f"eval/{k}": v for k, v in results.items()})

    def log_checkpoint(self, step: int, path: Path) -> None:
        if not self.config.log_checkpoints or step <= self.skip_to or not path.is_file():
            return  # logged before the crash, or already rotated away (this tracker runs behind)
        import wandb

        artifact = wandb.Artifact(f"{self.run.id}-checkpoint", type="model", metadata={"step": step})
        artifact.add_file(str(path))
        self.run.log_artifact(artifact, aliases=[f"step-{step}", "latest"])

    def state(self) -> dict[str, Any]:
        return {"run_id": self.run_id}

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        if self.run is None:
            return {}
        # A summary key that names a logged picture ("samples") would replace the picture with a path.
        self.run.summary.update(
            {
                (f"{k}_file" if k in self.image_names or k == "samples" else k): v
                for k, v in summary.items()
                if isinstance(v, (int, float, str))
            }
        )
        run_dir = str(Path(self.run.dir).parent)
        parts = " ".join(map(str, self._offline_parts()))
        self.run.finish()
        if self.offline:
            return {"wandb (offline)": run_dir, "upload with": f"wandb sync {parts}"}
        shown = {"wandb": self.run.url or run_dir}
        if parts:  # earlier processes of this run recorded offline
            shown["upload earlier offline parts with"] = f"wandb sync {parts}"
        return shown
