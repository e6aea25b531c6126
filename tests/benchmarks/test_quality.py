"""benchmarks/quality.py on a tiny budget: the table lands between its markers, finished runs are cached."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "quality.py"


def _quality():
    spec = importlib.util.spec_from_file_location("quality_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quality_table_and_cache(tmp_path, capsys):
    quality = _quality()
    doc = tmp_path / "benchmarks.md"
    original = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    doc.write_text(original, encoding="utf-8")
    results = tmp_path / "results.jsonl"
    # ring8's suggested steps times 0.002: a few dozen steps per run.
    args = ["--data", "ring8", "--combos", "default,hinge+sn", "--seeds", "1", "--steps-scale", "0.002",
            "--results", str(results), "--doc", str(doc)]  # fmt: skip

    assert quality.main(args) == 0
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(r["combo"] for r in records) == ["default", "hinge+sn"]
    assert all(r["error"] is None and r["data"] == "ring8" and r["seed"] == 0 for r in records)
    from gankit.plugins import registry

    suggested = registry().get("data", "ring8").defaults["steps"]
    assert all(r["steps"] == max(1, round(suggested * 0.002)) for r in records)
    assert all({"modes", "high_quality_pct", "mode_kl"} <= set(r["values"]) for r in records)

    text = doc.read_text(encoding="utf-8")
    before, rest = text.split(quality.START)
    table, after = rest.split(quality.END)
    # Everything outside the quality markers is untouched.
    assert before == original.split(quality.START)[0]
    assert after == original.split(quality.END)[1]
    assert "| `default` | 1/1 |" in table and "| `hinge+sn` | 1/1 |" in table
    assert "| ring8 | `default` | 8 modes, ≥ 97 % HQ | 0 of 1 | 4 of 5 | 0: no |" in table  # a few steps: not met
    assert "python benchmarks/quality.py --seeds 1 --data ring8 --combos default,hinge+sn --steps-scale 0.002" in table
    assert "torch " in table and "cores" in table

    # A rerun finds both runs cached: nothing trains, the results file is unchanged, the table is rewritten.
    cached = results.read_text()
    doc.write_text(original, encoding="utf-8")
    capsys.readouterr()
    assert quality.main(args) == 0
    assert "to do" not in capsys.readouterr().out
    assert results.read_text() == cached
    assert "| `default` | 1/1 |" in doc.read_text(encoding="utf-8")

    # One more seed: only the new runs are pending; a torn last line is ignored.
    with results.open("a") as f:
        f.write('{"key": "cut sho')
    assert quality.main([*args, "--seeds", "2", "--dry-run"]) == 0
    listing = capsys.readouterr().out
    states = [line.rsplit("  ", 1)[-1] for line in listing.splitlines() if " seed " in line]
    assert states == ["cached", "to run", "cached", "to run"]  # default 0, 1; hinge+sn 0, 1
    assert "4 runs: 2 cached, 2 to run" in listing


def test_quality_dry_run_lists_every_combination():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--seeds", "1", "--results", "/nonexistent/results.jsonl"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    quality = _quality()
    assert len(quality.COMBOS) == 1 + 4 * 4 + 1
    # Every data set x combination, and the conditional section's run.
    assert f"{3 * len(quality.COMBOS) + 1} runs: 0 cached" in result.stdout
    assert "wgan+clip" in result.stdout and "bce+none" in result.stdout
    assert "digits  conditional  seed 0" in result.stdout


def test_conditional_section_per_class_table(tmp_path, capsys):
    """The conditional section on a few steps: one agreement per class in the record, the per-class
    table between its own markers, and the quality table left alone."""
    quality = _quality()
    doc = tmp_path / "benchmarks.md"
    original = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    doc.write_text(original, encoding="utf-8")
    results = tmp_path / "results.jsonl"
    args = ["--sections", "conditional", "--seeds", "1", "--steps-scale", "0.001",
            "--results", str(results), "--doc", str(doc)]  # fmt: skip

    assert quality.main([*args, "--dry-run"]) == 0
    listing = capsys.readouterr().out
    assert "digits  conditional  seed 0" in listing and "1 runs: 0 cached, 1 to run" in listing

    assert quality.main(args) == 0
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert record["error"] is None and record["combo"] == "conditional" and record["steps"] == 5
    agreement = record["values"]["agreement"]
    assert len(agreement) == 10 and all(0 <= a <= 100 for a in agreement)
    assert record["values"]["mean_agreement"] == pytest.approx(sum(agreement) / 10)
    assert {"classes", "class_kl", "fd"} <= set(record["values"])

    text = doc.read_text(encoding="utf-8")
    assert text.split(quality.CONDITIONAL_START)[0] == original.split(quality.CONDITIONAL_START)[0]
    assert text.split(quality.CONDITIONAL_END)[1] == original.split(quality.CONDITIONAL_END)[1]
    section = text.split(quality.CONDITIONAL_START)[1].split(quality.CONDITIONAL_END)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows[0] == "| class | seed 0 |"
    assert [r.split(" | ")[0] for r in rows[1:12]] == [f"| {c}" for c in range(10)] + ["| **mean**"]
    assert f"| 7 | {agreement[7]:.1f} |" in section
    assert "python benchmarks/quality.py --seeds 1 --steps-scale 0.001 --sections conditional" in section
    assert "--scheme conditional" in section and "--label C -n 1,000" in section


def test_class_agreement_scores_what_gankit_sample_writes(tmp_path):
    """The benchmark's per-class number is about `gankit sample RUN --label C`: the same samples."""
    import numpy as np
    import torch
    from gankit_builtins.metrics.digits import features, load_classifier

    from gankit.engine.model import load_model

    quality = _quality()
    gankit = [sys.executable, "-m", "gankit"]
    subprocess.run(
        [*gankit, "run", "--scheme", "conditional", "--steps", "3", "--out", str(tmp_path), "--name", "c", "-q"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out = tmp_path / "sevens.npy"
    subprocess.run(
        [*gankit, "sample", str(tmp_path / "c"), "--label", "7", "-n", "50", "-o", str(out), "--device", "cpu"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    model, _, _ = load_model(str(tmp_path / "c"), torch.device("cpu"))
    lo, hi = model.description.field(model.description.main).value_range
    written = (torch.from_numpy(np.load(out)).float() - lo) / (hi - lo) * 2 - 1  # back to [-1, 1]
    # The benchmark draws exactly these samples for class 7 ...
    torch.testing.assert_close(model.sample(50, 0, given={"label": 7}), written, atol=1e-5, rtol=0)
    # ... and scores them with digit-quality's classifier.
    _, predicted = features(load_classifier()[0], model.sample(50, 0, given={"label": 7}).clamp(-1, 1))
    assert quality.class_agreement(model, count=50)[7] == pytest.approx(100.0 * float((predicted == 7).mean()))
