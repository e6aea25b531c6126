"""Real run folders for the `gankit runs` and `gankit plot` tests, made once per test module by short
real trainings (grid25, 4 steps, small networks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import FAMILY_DISTRIBUTIONS

SMALL = ("--data", "grid25", "--steps", "4", "--log-every", "2", "--batch-size", "16", "-q")
SMALL += ("--set", "arch.g_hidden=16", "--set", "arch.d_hidden=16", "--set", "modes.samples=100")


def invoke(*args: str):
    from gankit.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def make_runs(root: Path) -> Path:
    """``root/runs`` with ``a`` (bce, evaluated during training and by gankit eval), ``b`` (wgan + gp,
    another seed, never evaluated) and ``half`` (b's files, its config asking for twice the steps: a
    run that stopped half-way)."""
    runs = root / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GANKIT_DISABLE_PLUGINS", ",".join(FAMILY_DISTRIBUTIONS))
        patch.chdir(root)
        invoke("run", *SMALL, "--eval-every", "2", "--name", "a")
        eval_table = invoke("eval", "runs/a", "--set", "modes.samples=100").output
        invoke("run", *SMALL, "--loss", "wgan", "--reg", "gp", "--seed", "7", "--name", "b")
        invoke("run", *SMALL, "--loss", "wgan", "--reg", "gp", "--seed", "7", "--name", "half")
    config = json.loads((runs / "half" / "config.json").read_text())
    config["run"]["steps"] = 8
    (runs / "half" / "config.json").write_text(json.dumps(config))
    (root / "eval-table.txt").write_text(eval_table)  # what `gankit eval` printed for run a
    return runs


def last_record(run: Path, with_key: str) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if with_key in r][-1]
