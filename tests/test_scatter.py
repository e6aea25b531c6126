"""The 2-D scatter picture of training samples: points on axes in the data's units, titled with the step."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from gankit.images import _SCATTER_MARGINS, scatter


def _dark(region: np.ndarray) -> int:
    return int((region.max(-1) < 128).sum())


def test_a_trained_runs_scatter_has_axes_and_its_step(gankit, tmp_path):
    args = (
        "--data",
        "ring8",
        "--steps",
        "3",
        "--batch-size",
        "16",
        "--set",
        "arch.g_hidden=16",
        "--set",
        "arch.d_hidden=16",
    )
    assert gankit("run", *args, "-q", "--name", "r").exit_code == 0
    with Image.open(tmp_path / "runs" / "r" / "samples" / "step-000003.png") as image:
        picture = np.asarray(image.convert("RGB"))
    assert picture.shape == (384, 384, 3)
    left, top, right, bottom = _SCATTER_MARGINS
    # The caption above the frame, tick labels left of it and below it: dark text in every margin.
    assert _dark(picture[: top - 2, left:-right]) > 20
    assert _dark(picture[top:-bottom, : left - 6]) > 20
    assert _dark(picture[-bottom + 4 :, left:-right]) > 20
    # The caption is the step, and only it changes with the step.
    ring = torch.randn(64, 2) * 0.2
    at_3, at_30 = (
        scatter(ring, value_range=(-2.5, 2.5), caption=f"step {s}").permute(1, 2, 0).numpy() for s in (3, 30)
    )
    differs = (at_3 != at_30).any(-1)
    assert differs[: top - 2].any() and not differs[top - 2 :].any()
    # The tick labels are in the data's units: another range, other labels, same points.
    other = scatter(ring, value_range=(-1, 1), caption="step 3").permute(1, 2, 0).numpy()
    changed = (other != at_3).any(-1)
    assert changed[top:-bottom, : left - 6].any() and not changed[top:-bottom, left:-right].any()
