"""benchmarks/quality.py on a tiny budget: the table lands between its markers, finished runs are cached."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

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
    assert f"{3 * len(quality.COMBOS)} runs: 0 cached" in result.stdout
    assert "wgan+clip" in result.stdout and "bce+none" in result.stdout
