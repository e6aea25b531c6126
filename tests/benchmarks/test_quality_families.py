"""benchmarks/quality.py's biggan and stylegan2 sections (benchmarks/quality_families.py) on a tiny budget."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import FAMILY_DISTRIBUTIONS

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "quality.py"

pytest.importorskip("gankit_biggan")
pytest.importorskip("gankit_stylegan")


def _quality():
    spec = importlib.util.spec_from_file_location("quality_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _families():
    sys.path.insert(0, str(SCRIPT.parent))
    import quality_families

    return quality_families


def test_scoring_puts_samples_and_references_through_one_resize():
    import torch
    from gankit_builtins.data.digits import digits

    from gankit import DataRequest

    families = _families()

    class Split:
        split = "train"

    train = digits(Split(), DataRequest(resolution=16)).samples
    assert train.shape[-1] == 16
    # The train split at 16 px is the target itself: FD ~ 0. The test split is the floor, above it.
    same = families.score(train, 16)
    assert same["fd"] < 1e-6 < same["real_fd"] < 5
    assert same["classes"] == 10 and same["class_kl"] < 0.01
    # Noise is far from digits.
    noise = families.score(torch.rand(500, 1, 16, 16) * 2 - 1, 16)
    assert noise["fd"] > 20 * noise["real_fd"]


def test_family_sections_table_and_cache(tmp_path, monkeypatch):
    # The core's tests leave the family packages out; these sections need BigGAN and StyleGAN2 (workers too).
    others = [name for name in FAMILY_DISTRIBUTIONS if name not in ("gankit-biggan", "gankit-stylegan")]
    monkeypatch.setenv("GANKIT_DISABLE_PLUGINS", ",".join(others))
    quality = _quality()
    doc = tmp_path / "benchmarks.md"
    original = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    doc.write_text(original, encoding="utf-8")
    results = tmp_path / "results.jsonl"
    args = ["--sections", "biggan,stylegan2", "--seeds", "1", "--steps-scale", "0.002",
            "--results", str(results), "--doc", str(doc)]  # fmt: skip

    assert quality.main(args) == 0
    records = {r["section"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert set(records) == {"biggan", "stylegan2"}
    assert all(r["error"] is None and r["cpu_seconds"] > 0 for r in records.values())
    agreement = records["biggan"]["values"]["agreement"]
    assert len(agreement) == 10 and all(0 <= a <= 100 for a in agreement)
    assert {"fd", "real_fd", "classes", "class_kl"} <= set(records["stylegan2"]["values"])

    text = doc.read_text(encoding="utf-8")
    for section in ("biggan", "stylegan2"):
        start, end = _families().markers(section)
        block = text.split(start)[1].split(end)[0]
        assert "| 0 |" in block and "FD ≤ 2× real" in block and "steps/s" in block
        assert "--sections biggan,stylegan2" in block
    assert "lowest class" in text.split("<!-- biggan:start -->")[1].split("<!-- biggan:end -->")[0]
    # Everything outside the family blocks is untouched.
    assert text.split("<!-- biggan:start -->")[0] == original.split("<!-- biggan:start -->")[0]
    assert text.split("<!-- stylegan2:end -->")[1] == original.split("<!-- stylegan2:end -->")[1]

    # Cached: a rerun trains nothing and leaves the results file as it was.
    cached = results.read_text()
    assert quality.main(args) == 0
    assert results.read_text() == cached
