"""The TensorBoard tracker: one ``SummaryWriter`` per run (and per resumed part) in the run folder."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from gankit import GankitError, Tracker, TrackerContext


class TensorBoardTracker(Tracker):
    def __init__(self, config: Any, context: TrackerContext):
        # Fail before training starts, in one line, rather than as a warning halfway.
        if importlib.util.find_spec("tensorboard") is None:
            raise GankitError("--tracker tensorboard needs the tensorboard package: pip install tensorboard")
        self.config = config
        self.log_dir = Path(context.run_folder) / config.subdir
        self.resumed = context.resumed
        self.writer: Any = None

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # A resumed run restarts at its last checkpoint; whatever an interrupted process logged after
        # that step is replayed, so TensorBoard is told to drop it (purge_step) and curves never
        # double back.
        self.writer = SummaryWriter(
            str(self.log_dir),
            purge_step=first_step + 1 if self.resumed else None,
            flush_secs=self.config.flush_secs,
        )
        text = json.dumps(config, indent=2, default=str)
        self.writer.add_text("config", "```json\n" + text + "\n```", first_step)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)

    def log_images(self, step: int, name: str, path: Path) -> None:
        if not self.config.images:
            return
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        self.writer.add_image(name, pixels, step, dataformats="HWC")

    def log_evaluation(self, step: int, results: dict[str, float]) -> None:
        for tag, value in results.items():
            self.writer.add_scalar(f"eval/{tag}", value, step)

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        if self.writer is None:
            return {}
        self.writer.close()  # flushes
        return {"tensorboard": str(self.log_dir), "view with": f"tensorboard --logdir {self.log_dir}"}
