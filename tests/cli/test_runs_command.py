"""``gankit runs`` on real run folders (and broken, hostile ones), and the eval table's directions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from gankit.components import Metric
from tests.cli.run_folders import last_record, make_runs
from tests.conftest import one_error_line


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("listed"))


def _rows(output: str) -> dict[str, str]:
    lines = output.splitlines()
    assert lines[0].split() == ["RUN", "COMPONENTS", "STEPS", "STATE", "LOSSES", "EVAL"]
    return {line.split()[0]: line for line in lines[1:]}


def test_table_shows_components_steps_state_losses_and_eval(gankit, runs):
    result = gankit("runs", str(runs))
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert set(rows) == {"a", "b", "half"}
    last = last_record(runs / "a", "d_loss")
    assert "grid25 mlp bce+r1" in rows["a"] and " 4/4 " in rows["a"] and "finished" in rows["a"]
    assert f"d_loss {last['d_loss']:.4g} g_loss {last['g_loss']:.4g}" in rows["a"]
    # gankit eval's results, with their directions; the reference count has none, so it is left out.
    saved = json.loads((runs / "a" / "eval.json").read_text())["metrics"]["modes"]["values"]
    assert f"@4 modes/high_quality_pct ↑ {saved['high_quality_pct']:.4g}" in rows["a"]
    assert f"modes/mode_kl ↓ {saved['mode_kl']:.4g}" in rows["a"] and "modes_total" not in rows["a"]
    assert "grid25 mlp wgan+gp" in rows["b"] and "finished" in rows["b"] and "modes" not in rows["b"]
    assert " 4/8 " in rows["half"] and "stopped" in rows["half"]


def test_json_listing_carries_the_numbers_of_the_files(gankit, runs):
    result = gankit("runs", str(runs), "--json")
    assert result.exit_code == 0, result.output
    listed = {row["name"]: row for row in json.loads(result.output)}
    a = listed["a"]
    assert (a["data"], a["arch"], a["loss"], a["regs"], a["scheme"]) == (
        "grid25",
        "mlp",
        "bce",
        ["r1"],
        "unconditional",
    )
    assert (a["step"], a["total_steps"], a["state"]) == (4, 4, "finished")
    last = last_record(runs / "a", "d_loss")
    assert a["losses"] == {"d_loss": last["d_loss"], "g_loss": last["g_loss"]}
    saved = json.loads((runs / "a" / "eval.json").read_text())["metrics"]["modes"]
    assert a["eval"]["source"] == "eval.json"
    assert a["eval"]["values"] == {f"modes/{k}": v for k, v in saved["values"].items()}
    assert a["eval"]["higher_is_better"] == {
        "modes/modes": True,
        "modes/high_quality_pct": True,
        "modes/mode_kl": False,
    }
    assert listed["b"]["eval"] is None
    assert (listed["half"]["state"], listed["half"]["step"], listed["half"]["total_steps"]) == ("stopped", 4, 8)


def test_a_training_evaluation_newer_than_eval_json_is_shown(gankit, runs, tmp_path):
    run = tmp_path / "later"
    shutil.copytree(runs / "a", run)
    with open(run / "metrics.jsonl", "a") as metrics:
        metrics.write(
            json.dumps({"step": 9, "time": 0, "eval/modes/modes": 3.0, "eval/modes/modes_total": 25.0}) + "\n"
        )
    [row] = json.loads(gankit("runs", str(run), "--json").output)  # a run folder lists itself
    assert row["eval"] == {
        "step": 9,
        "values": {"modes/modes": 3.0, "modes/modes_total": 25.0},
        "higher_is_better": {"modes/modes": True},  # as eval.json recorded for the same numbers
        "split": None,
        "source": "metrics.jsonl",
    }


def test_an_evaluation_of_another_split_says_so(gankit, tmp_path):
    tiny = ("--steps", "2", "--batch-size", "8", "--set", "arch.g_hidden=8", "--set", "arch.d_hidden=8", "-q")
    assert gankit("run", *tiny, "--name", "d").exit_code == 0  # digits: trained on split "all"
    assert gankit("eval", "runs/d", "--split", "test", "--set", "digit-quality.samples=50").exit_code == 0
    [row] = json.loads(gankit("runs", "--json").output)
    assert row["eval"]["split"] == "test" and "@2 (test split) digit-quality/" in gankit("runs").output
    # Evaluated again on the run's own data: nothing to point out.
    assert gankit("eval", "runs/d", "--set", "digit-quality.samples=50").exit_code == 0
    [row] = json.loads(gankit("runs", "--json").output)
    assert row["eval"]["split"] is None and "split)" not in gankit("runs").output


def test_a_run_whose_folder_is_held_is_running(gankit, runs, tmp_path):
    from gankit.runs import RunFolder

    live = tmp_path / "runs" / "live"
    shutil.copytree(runs / "half", live)
    folder = RunFolder(live).lock()
    try:
        [row] = json.loads(gankit("runs", "--json").output)  # the default folder: runs
        assert (row["state"], row["pid"]) == ("running", str(os.getpid()))
        assert f"running (pid {os.getpid()})" in gankit("runs").output
        # The folder's own lock counts, not the file that names the pid.
        (live / ".lock").unlink()
        [row] = json.loads(gankit("runs", "--json").output)
        assert (row["state"], row["pid"]) == ("running", "unknown")
    finally:
        folder.release()
    assert json.loads(gankit("runs", "--json").output)[0]["state"] == "stopped"
    # A .lock left by a process that died names a pid, but nobody holds it.
    (live / ".lock").write_text("4242\n")
    [row] = json.loads(gankit("runs", "--json").output)
    assert row["state"] == "stopped" and "pid" not in row


def test_broken_and_hostile_folders_become_rows_that_say_why(gankit, runs, tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(runs / "a", root / "good")
    (root / "empty").mkdir()
    shutil.copytree(runs / "b", root / "fifo")
    (root / "fifo" / "metrics.jsonl").unlink()
    os.mkfifo(root / "fifo" / "metrics.jsonl")  # opening it to read would block forever
    (root / "garbled").mkdir()
    (root / "garbled" / "config.json").write_text("{not json")
    shutil.copytree(runs / "b", root / "huge")
    with open(root / "huge" / "metrics.jsonl", "r+b") as big:
        big.truncate(65 * 2**20)  # sparse: beyond the text limit without writing it
    shutil.copytree(runs / "b", root / "linked-lock")
    (root / "linked-lock" / ".lock").unlink(missing_ok=True)
    (root / "linked-lock" / ".lock").symlink_to("/dev/zero")
    shutil.copytree(runs / "b", root / "junk-lines")
    with open(root / "junk-lines" / "metrics.jsonl", "a") as metrics:
        metrics.write('[1, 2]\n{"step": "x"}\n\x00\x01\n{"step": 99, "d_loss": NaN, "g_loss": 1e999}\n{"step": 10')
    shutil.copytree(runs / "a", root / "odd-config")
    config = json.loads((root / "odd-config" / "config.json").read_text())
    config["components"], config["run"]["data"] = [1, 2], ["grid25"]  # shapes gankit never writes
    (root / "odd-config" / "config.json").write_text(json.dumps(config))
    (root / "link").symlink_to(runs / "a")
    (root / "escape\x1b[2Jname").mkdir()
    (root / "a-file.txt").write_text("not a run")

    result = gankit("runs")
    assert result.exit_code == 0, result.output
    rows = _rows(result.output)
    assert "finished" in rows["good"] and rows["empty"].split()[1] == "empty"
    assert "unreadable: metrics.jsonl is a FIFO; only a regular file is read" in rows["fifo"]
    assert "unreadable: config.json is not valid JSON" in rows["garbled"]
    assert "unreadable: metrics.jsonl is 68,157,440 bytes, more than the limit" in rows["huge"]
    assert "unreadable: .lock is a symlink" in rows["linked-lock"]
    assert "unreadable: a symlink, not a run folder" in rows["link"]
    assert "finished" in rows["odd-config"] and "@4 modes/high_quality_pct" in rows["odd-config"]
    # Whole records only; non-finite numbers are shown as nan, not trusted.
    assert "d_loss nan g_loss nan" in rows["junk-lines"] and "stopped" not in rows["junk-lines"]
    assert "\x1b" not in result.output and "escape\\x1b[2Jname" in rows
    assert "a-file.txt" not in rows
    listed = {row["name"]: row for row in json.loads(gankit("runs", "--json").output)}
    assert listed["fifo"] == {
        "name": "fifo",
        "path": "runs/fifo",
        "state": "unreadable",
        "reason": "metrics.jsonl is a FIFO; only a regular file is read",
    }


def test_no_runs_yet(gankit, tmp_path):
    (tmp_path / "runs").mkdir()
    result = gankit("runs")
    assert result.exit_code == 0 and result.output.strip() == "No runs in 'runs'; train one with: gankit run"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "no folder 'nowhere'; train a run first"),
        (lambda p: (p / "nowhere").write_text("x"), "'nowhere' is not a folder"),
    ],
)
def test_a_bad_folder_is_one_line(gankit, tmp_path, make, expected):
    make(tmp_path)
    line = one_error_line(gankit("runs", "nowhere"))
    assert expected in line


def test_runs_imports_neither_torch_nor_matplotlib(runs, tmp_path):
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from gankit.cli import cli\n"
        f"result = CliRunner().invoke(cli, ['runs', {str(runs)!r}])\n"
        "assert result.exit_code == 0 and 'finished' in result.output, result.output\n"
        "print('torch' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False False"


def test_eval_table_and_eval_json_say_which_direction_is_better(runs):
    table = (runs.parent / "eval-table.txt").read_text()
    marked = {line.split()[0]: line.split()[1] for line in table.splitlines() if line.startswith("  modes/")}
    assert marked["modes/modes"] == "↑" and marked["modes/high_quality_pct"] == "↑"
    assert marked["modes/mode_kl"] == "↓"
    assert marked["modes/modes_total"] == "25"  # a reference count: no direction, the number follows
    assert "↑ higher is better, ↓ lower is better" in table
    saved = json.loads((runs / "a" / "eval.json").read_text())["metrics"]["modes"]
    assert saved["higher_is_better"] == {"modes": True, "high_quality_pct": True, "mode_kl": False}


def test_a_metric_declares_no_direction_unless_it_says_so():
    from gankit.cli.evaluate import _directions

    class Plain(Metric):
        pass

    class Declared(Metric):
        higher_is_better = {"score": True, "error": False, "junk": "yes"}

    values = {"score": 1.0, "error": 0.5, "junk": 2.0, "count": 3}
    assert _directions(Plain(), values) == {}
    assert _directions(Declared(), values) == {"score": True, "error": False}  # "yes" is not a direction


def test_directions_recorded_by_one_runs_eval_mark_anothers_training_evaluations(gankit, runs, tmp_path):
    shutil.copytree(runs / "a", tmp_path / "runs" / "a")
    shutil.copytree(runs / "a", tmp_path / "runs" / "trained-only")
    (tmp_path / "runs" / "trained-only" / "eval.json").unlink()
    listed = {row["name"]: row for row in json.loads(gankit("runs", "--json").output)}
    trained = listed["trained-only"]["eval"]
    assert trained["source"] == "metrics.jsonl" and trained["step"] == 4
    assert trained["higher_is_better"] == {"modes/modes": True, "modes/high_quality_pct": True, "modes/mode_kl": False}
    # Alone, nothing says which way its numbers are better: all of them are shown, unmarked.
    (tmp_path / "runs" / "a" / "eval.json").unlink()
    alone = json.loads(gankit("runs", "--json").output)[1]["eval"]
    assert alone["higher_is_better"] == {} and "modes/modes_total" in alone["values"]
    assert "modes/modes_total 25" in _rows(gankit("runs").output)["trained-only"]
