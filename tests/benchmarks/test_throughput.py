"""The benchmark scripts run and write what they promise (their numbers are for quiet machines, not CI)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import throughput  # noqa: E402


def test_plain_loop_is_the_identical_algorithm():
    """The tax baseline computes what gankit's step computes: same start, same batches, same weights after."""
    import torch

    torch.manual_seed(0)
    trainer = throughput.build_trainer("mlp", "hinge", "sn", 16)
    plain = throughput.PlainLoop(trainer, "hinge", "sn")
    for net in (plain.G, plain.D):
        net.train()
    # Same data order and noise: replay gankit's batches and noise into the plain loop.
    from gankit.engine.batches import BatchStream

    stream = BatchStream(trainer.dataset, 16, trainer.device, trainer.run.config.seed)
    plain.next_real = lambda: stream.next().x
    torch.manual_seed(1)
    trainer.train_step()
    torch.manual_seed(1)
    plain.step()
    for a, b in zip(trainer.model.nets["generator"].parameters(), plain.G.parameters()):
        torch.testing.assert_close(a, b)
    for a, b in zip(trainer.model.nets["discriminator"].parameters(), plain.D.parameters()):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("reg", [None, "r1"])
def test_plain_conditional_loop_is_the_identical_algorithm(reg):
    """The conditional tax row's baseline: the same G(z, y), projection D(x, y), labels and updates."""
    import torch

    torch.manual_seed(0)
    trainer = throughput.build_trainer("mlp", "bce", reg, 16, scheme="conditional")
    plain = throughput.PlainConditionalLoop(trainer, "bce", reg)
    assert type(plain.D).__name__ == "ProjectionDiscriminator" and type(plain.G).__name__ == "EmbeddedGenerator"
    from gankit.engine.batches import BatchStream

    stream = BatchStream(trainer.dataset, 16, trainer.device, trainer.run.config.seed)
    plain.next_real = lambda: tuple(stream.next())
    for _ in range(2):
        torch.manual_seed(1)
        trainer.train_step()
        torch.manual_seed(1)
        plain.step()
    for name, net in (("generator", plain.G), ("discriminator", plain.D)):
        for a, b in zip(trainer.model.nets[name].parameters(), net.parameters(), strict=True):
            torch.testing.assert_close(a, b)
    for a, b in zip(trainer.model.ema["generator"].shadow.parameters(), plain.G_ema.parameters(), strict=True):
        torch.testing.assert_close(a, b)


def test_quick_run_writes_the_docs_section(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# B\n\n<!-- throughput:start -->\nold\n<!-- throughput:end -->\n\n<!-- quality:start -->\nkeep\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--only", "tax,startup", "--quick",
         "--write-docs", "--docs", str(docs)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    text = docs.read_text()
    assert "old" not in text and "keep" in text
    assert "### Framework tax" in text and "| mlp | bce | none |" in text
    assert "| conditional | mlp | bce | r1 |" in text
    assert "`gankit --help`" in text and "machine:" in result.stdout


@pytest.mark.parametrize(
    ("plain", "reused", "verdict"), [(140.0, 160.0, "Met: 3.20×"), (120.0, 130.0, "Not met: 2.60×")]
)
def test_seed_section_states_the_target_verdict(monkeypatch, tmp_path, plain, reused, verdict):
    """The seed section's loops stubbed with fixed rates: the table and the verdict line follow from them."""
    monkeypatch.setattr(throughput, "write_mnist_idx", lambda root, count: root)
    monkeypatch.setattr(throughput, "seed_loop", lambda root, steps: 50.0)
    monkeypatch.setattr(throughput, "resident_loop", lambda root, steps: 60.0)
    rates = {(): 70.0, ("--amp", "on"): plain, ("--amp", "on", "--set", "scheme.reuse_fakes=true"): reused}
    monkeypatch.setattr(throughput, "gankit_run", lambda root, steps, *flags: rates[flags])
    text = throughput.section_seed(argparse.Namespace(quick=True), tmp_path)
    assert f"| `gankit run --amp on` (bfloat16 autocast) | {plain:.1f} | {plain / 50:.2f} |" in text
    assert f"Target: at least 3.0× the seed's loop. {verdict}" in text


def test_unknown_section_is_one_line():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--only", "speed"], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "unknown section 'speed'; choose from: seed, tax, startup, growth, compile" in result.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="bash script")
def test_gpu_script_runs_its_cpu_smoke(tmp_path):
    assert subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / "gpu.sh")]).returncode == 0
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--smoke"], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "### DCGAN 16 px, batch 8" in out and "| AMP + channels_last |" in out
    assert "### Seed workload" in out and "| gankit, AMP, reuse_fakes |" in out and "AMP ÷ fp32:" in out
