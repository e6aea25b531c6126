"""gankit-tensorboard: TensorBoard tracking for gankit runs (``gankit run --tracker tensorboard``).

gankit imports this module whenever it lists plugins, so it holds only the hook and the options; the
tracker itself (which imports torch and tensorboard) is named as a ``"module:attribute"`` string and
loads only when a run uses it.
"""

from __future__ import annotations

import attrs
from gankit import hookimpl


@attrs.frozen
class TensorBoardConfig:
    #: Folder inside the run folder that holds the event files (``tensorboard --logdir`` it).
    subdir: str = "tensorboard"
    #: Seconds between writes to disk; the tracker also writes everything when the run ends.
    flush_secs: int = attrs.field(default=30, validator=attrs.validators.gt(0))
    #: Log the sample pictures as images (they make event files larger).
    images: bool = True


@hookimpl
def gankit_register_trackers(register):
    register(
        "tensorboard",
        "gankit_tensorboard.tracker:TensorBoardTracker",
        config=TensorBoardConfig,
        summary="TensorBoard event files in <run>/tensorboard: metrics, sample images, evaluation results",
    )
