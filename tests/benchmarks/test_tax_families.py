"""The family packages' tax rows (benchmarks/tax_families.py): each plain loop is gankit's algorithm, and the
rows print. No timing is asserted: the ratios are for quiet machines, not CI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import tax_families  # noqa: E402

FAMILIES = list(tax_families.FAMILIES)


@pytest.fixture
def with_families(monkeypatch):
    # The core's tests leave the family packages out (tests/conftest.py); these rows need them (make setup).
    monkeypatch.delenv("GANKIT_DISABLE_PLUGINS", raising=False)


@pytest.mark.parametrize("family", FAMILIES)
def test_plain_loop_reaches_gankits_losses_and_weights(family, with_families):
    """Two steps from one seed: the same losses each step (asserted inside) and the same weights and EMA."""
    assert tax_families.check_equivalence(family, steps=2) < 1e-6


def test_a_plain_loop_that_skips_a_penalty_is_caught(with_families, monkeypatch):
    """The check can fail: StyleGAN2's plain loop without its lazy R1 and path length is not the algorithm."""
    # The CPU preset trains with R1 only (cifar's pl_weight = 0); R1 alone moves no first Adam step
    # (beta1 = 0: the step is the gradient's sign), so the path length is put back for this check.
    flags, preset = tax_families.FAMILIES["stylegan2"]
    monkeypatch.setitem(tax_families.FAMILIES, "stylegan2", (flags | {"regs": ("r1", "pl")}, preset))
    built = tax_families.PlainStyleGAN2.__init__

    def without_penalties(self, trainer):
        built(self, trainer)
        self.regs = ()

    monkeypatch.setattr(tax_families.PlainStyleGAN2, "__init__", without_penalties)
    with pytest.raises(AssertionError, match="stylegan2 d_loss step 1"):
        tax_families.check_equivalence("stylegan2", steps=2)


def run_tax(*args: str, disable: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("GANKIT_DISABLE_PLUGINS", None)
    if disable:
        env["GANKIT_DISABLE_PLUGINS"] = disable
    command = [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--only", "tax", "--quick", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_quick_family_row_prints():
    result = run_tax("--tax-schemes", "pix2pix")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tax pix2pix: weights after 2 steps of gankit and the plain loop differ by 0.0e+00" in result.stdout
    assert "| pix2pix | pix2pix | bce | none |" in result.stdout
    assert "| unconditional |" not in result.stdout  # only the rows asked for


def test_unknown_tax_scheme_is_one_line():
    result = run_tax("--tax-schemes", "bigan")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "unknown --tax-schemes entry 'bigan'; choose from: unconditional, conditional, biggan, stylegan2, "
            "pix2pix, cyclegan, stargan"
        )
    )


def test_a_family_asked_for_but_not_installed_is_one_line():
    result = run_tax("--tax-schemes", "cyclegan", disable="gankit-cyclegan")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("tax cyclegan: ") and "make setup" in result.stderr
