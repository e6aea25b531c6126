"""Weights & Biases tracking that never stops training.

``wandb.init`` is bounded by ``init_timeout``; if it fails online, the run is recorded offline (with
a ``wandb sync`` hint), and if that fails too the engine switches this tracker off with one warning.
Without credentials the run goes offline from the start. wandb is imported only when used.
"""

from __future__ import annotations

import logging
import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gankit import GankitError, Tracker, TrackerContext


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


class WandbTracker(Tracker):
    def __init__(self, config: Any, context: TrackerContext):
        import importlib.util

        if importlib.util.find_spec("wandb") is None:
            raise GankitError("--tracker wandb needs the wandb package: pip install 'gankit[wandb]'")
        self.config = config
        self.context = context
        self.run: Any = None
        self.offline = False

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        import wandb

        mode = self.config.mode or os.environ.get("WANDB_MODE")
        why_offline = None
        if mode is None and not _has_credentials():
            mode, why_offline = "offline", "not logged in to W&B"
        run_id = self.context.state.get("run_id")
        kwargs = dict(
            project=self.config.project or os.environ.get("WANDB_PROJECT") or "gankit",
            entity=self.config.entity,
            name=self.config.name or self.context.run_name,
            tags=list(self.config.tags) or None,
            group=self.config.group,
            config=config,
            dir=os.environ.get("WANDB_DIR") or str(self.context.run_folder),
            id=run_id,
            resume="allow" if run_id else None,
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
        if why_offline:
            run_dir = Path(self.run.dir).parent
            _warn(
                f"{why_offline}; W&B records this run offline in {run_dir}; upload it later with: wandb sync {run_dir}"
            )

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self.run.log(metrics, step=step)

    def log_images(self, step: int, name: str, path: Path) -> None:
        import wandb

        self.run.log({name: wandb.Image(str(path), caption=f"step {step}")}, step=step)

    def log_evaluation(self, step: int, results: dict[str, float]) -> None:
        self.run.log({f"eval/{k}": v for k, v in results.items()}, step=step)

    def log_checkpoint(self, step: int, path: Path) -> None:
        if not self.config.log_checkpoints:
            return
        import wandb

        artifact = wandb.Artifact(f"{self.run.id}-checkpoint", type="model", metadata={"step": step})
        artifact.add_file(str(path))
        self.run.log_artifact(artifact, aliases=[f"step-{step}", "latest"])

    def state(self) -> dict[str, Any]:
        return {"run_id": self.run.id} if self.run is not None else {}

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        if self.run is None:
            return {}
        self.run.summary.update({k: v for k, v in summary.items() if isinstance(v, (int, float, str))})
        run_dir = str(Path(self.run.dir).parent)
        self.run.finish()
        if self.offline:
            return {"wandb (offline)": run_dir, "upload with": f"wandb sync {run_dir}"}
        return {"wandb": self.run.url or run_dir}
