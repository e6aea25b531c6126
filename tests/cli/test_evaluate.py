"""``gankit eval --split``: metrics read another split of the run's data set; the networks stay as trained."""

from __future__ import annotations

import json

import gankit
from gankit import EvalContext, Metric
from tests.conftest import one_error_line

TINY = tuple("--steps 2 --batch-size 8 --z-dim 4 --set arch.g_hidden=16 --set arch.d_hidden=16 -q".split())


class DataSize(Metric):
    """Reports how many real samples the metric was handed, and the generator's output on fixed noise."""

    def __init__(self, config):
        pass

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        return {"real": len(context.dataset.field_tensors()["x"]), "first": float(context.generate(1).sum())}


class DataSizePlugin:
    @gankit.hookimpl
    def gankit_register_metrics(self, register):
        register("data-size", DataSize, summary="real samples handed to metrics (test)")


def test_split_chooses_the_data_the_metrics_read(gankit, gankit_plugin, tmp_path):
    gankit_plugin(DataSizePlugin(), name="datasize")
    assert gankit("run", *TINY, "--name", "d").exit_code == 0
    reports = {}
    for split in ("train", "test", None):
        out = f"{split}.json"
        result = gankit("eval", "runs/d", "--metric", "data-size", *(("--split", split) if split else ()), "-o", out)
        assert result.exit_code == 0, result.output
        reports[split] = json.loads((tmp_path / out).read_text())
        # The header names the split the numbers come from; the default is the one the run trained on.
        assert result.output.startswith(f"digits ({split or 'all'} split) at step 2 ")
    sizes = {split: report["metrics"]["data-size"]["values"]["real"] for split, report in reports.items()}
    assert sizes == {"train": 1437, "test": 360, None: 1797}  # gankit's 80/20 split of the 1,797 digits
    assert [r["split"] for r in reports.values()] == ["train", "test", "all"]
    # Only the data changes: the same generator, the same samples.
    assert len({r["metrics"]["data-size"]["values"]["first"] for r in reports.values()}) == 1


def test_split_errors_are_one_line(gankit):
    assert gankit("run", *TINY, "--data", "grid25", "--name", "g").exit_code == 0
    line = one_error_line(gankit("eval", "runs/g", "--split", "test"))
    assert line.startswith("Error: --split: data set 'grid25' has no splits; data sets with a split option: ")
    assert "digits" in line and "mnist" in line
    assert gankit("run", *TINY, "--name", "d").exit_code == 0
    line = one_error_line(gankit("eval", "runs/d", "--split", "validation"))
    assert "'validation'" in line and "('all', 'train', 'test')" in line
