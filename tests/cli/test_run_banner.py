"""`gankit run` says at its start what it built: each network's parameter count, the data and its size,
the recipe, the device, the precision and the CPU threads; --quiet keeps only the headline."""

from __future__ import annotations

import math
import re

import pytest
import torch
from safetensors import safe_open

from gankit.cli.banner import describe_precision, describe_threads
from gankit.engine.amp import Precision

TINY = ("--steps", "3", "--batch-size", "8", "--z-dim", "4", "--set", "arch.g_hidden=16", "--set", "arch.d_hidden=8,8")


def saved_parameters(checkpoint, network: str) -> int:
    """Parameters of a network as its checkpoint holds them: counted without the code that printed them."""
    with safe_open(str(checkpoint), "pt") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys() if k.startswith(f"net/{network}/"))


def test_the_banner_names_what_was_built_before_the_first_step(gankit, tmp_path):
    result = gankit("run", *TINY, "--data", "ring8", "--loss", "wgan", "--reg", "gp", "--ema", "0", "--name", "b")
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    assert err[0].startswith("gankit: mlp / wgan + gp on ring8, 3 steps on cpu -> ") and err[0].endswith("b")
    banner = dict(line.strip().split(":", 1) for line in err[1:7])
    checkpoint = tmp_path / "runs" / "b" / "checkpoints" / "step-000003.safetensors"
    g, d = saved_parameters(checkpoint, "generator"), saved_parameters(checkpoint, "discriminator")
    assert g > 0 and d > 0
    assert banner["networks"].strip() == f"mlp: generator {g:,} parameters, discriminator {d:,} parameters"
    assert banner["data"].strip() == "ring8: 2-D points, drawn afresh (no fixed size), batch 8"
    assert "loss wgan" in banner["training"] and "regularizers gp" in banner["training"]
    assert banner["device"].strip() == "cpu, float32"
    threads = re.fullmatch(r"(\d+)(?: \((.+)\))?", banner["threads"].strip())  # the count, and why
    assert threads and int(threads.group(1)) >= 1, banner["threads"]
    # All of it before the first step's progress line.
    assert err.index(next(line for line in err if line.startswith("step 1/3"))) == 7


def test_a_finite_data_set_shows_its_size_and_classes_and_bf16_its_precision(gankit):
    result = gankit("run", *TINY, "--amp", "bf16", "--ema", "0.9", "--name", "digits")
    assert result.exit_code == 0, result.output
    assert "  data:      digits: 1x8x8 images, 1,797 samples, 10 classes, batch 8" in result.stderr
    assert "; EMA of generator (decay 0.9)" in result.stderr
    assert "  device:    cpu, bf16 autocast\n" in result.stderr


def test_quiet_keeps_the_headline_only(gankit):
    result = gankit("run", *TINY, "--data", "ring8", "-q", "--name", "q")
    assert result.exit_code == 0, result.output
    err = result.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("gankit: mlp / ") and err[0].endswith("q")


@pytest.mark.parametrize(
    ("mode", "shown"), [("off", "float32"), ("bf16", "bf16 autocast"), ("fp16", "fp16 AMP (loss scaling)")]
)
def test_precision_names(mode, shown):
    assert describe_precision(Precision(torch.device("cpu"), mode)) == shown


def test_threads_are_torchs_count_when_no_governor_chose_them():
    class Bare:  # a trainer without a thread governor
        pass

    assert describe_threads(Bare()) == str(torch.get_num_threads())
