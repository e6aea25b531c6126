"""--compile: what inductor can train is compiled, a discriminator under a gradient penalty stays eager,
and a compiled run learns like an eager one."""

from __future__ import annotations

import json

import torch
from torch import nn

from gankit.engine.compiling import compile_networks


def _nets() -> dict[str, nn.Module]:
    return {"generator": nn.Linear(2, 2), "discriminator": nn.Linear(2, 1)}


def test_everything_compiles_without_penalties():
    nets, report = compile_networks(_nets(), ("discriminator",), ())
    assert report.compiled == ("generator", "discriminator") and report.eager == {}
    assert all(isinstance(net, torch._dynamo.eval_frame.OptimizedModule) for net in nets.values())
    assert report.describe() == "compiled generator, discriminator"


def test_penalized_discriminator_stays_eager_and_says_why():
    original = _nets()
    nets, report = compile_networks(original, ("discriminator",), ("gp",))
    assert nets["discriminator"] is original["discriminator"]
    assert isinstance(nets["generator"], torch._dynamo.eval_frame.OptimizedModule)
    assert report.describe() == (
        "compiled generator; eager: discriminator (gp needs double backward, which inductor cannot compile)"
    )


def test_compiled_run_trains_and_matches_eager(gankit, tmp_path):
    args = (
        "run",
        "--data",
        "ring8",
        "--loss",
        "wgan",
        "--reg",
        "gp",
        "--steps",
        "30",
        "--batch-size",
        "64",
        "--set",
        "arch.g_hidden=32,32",
        "--set",
        "arch.d_hidden=32,32",
        "--log-every",
        "10",
        "-q",
    )
    eager = gankit(*args, "--name", "eager")
    assert eager.exit_code == 0, eager.output
    compiled = gankit(*args, "--compile", "--name", "compiled")
    assert compiled.exit_code == 0, compiled.output
    assert "compiled generator; eager: discriminator (gp needs double backward" in compiled.output

    def losses(name: str) -> list[float]:
        lines = (tmp_path / "runs" / name / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line)["d_loss"] for line in lines if "d_loss" in json.loads(line)]

    # Inductor may fuse and reorder float arithmetic: the same run, up to rounding.
    for a, b in zip(losses("eager"), losses("compiled"), strict=True):
        assert abs(a - b) <= 1e-3 * max(1.0, abs(a)), (losses("eager"), losses("compiled"))
