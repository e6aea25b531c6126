"""Every user mistake ends in exactly one ``Error:`` line and exit status 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import one_error_line

TINY = tuple("--steps 2 --batch-size 8 --z-dim 4 --set arch.g_hidden=16 --set arch.d_hidden=16 -q".split())


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--loss", "wgn"), ("unknown loss", "'wgn'", "did you mean 'wgan'?", "bce, hinge, lsgan, ragan, wgan")),
        (("--loss", "hnge"), ("did you mean 'hinge'?",)),
        (("--reg", "penalty"), ("unknown regularizer", "'penalty'", "clip, gp, r1, sn")),
        (("--reg", "gp", "--reg", "gpp"), ("did you mean 'gp'?",)),
        (("--data", "imagenet"), ("unknown data", "'imagenet'", "digits", "mnist")),
        (("--arch", "resnet"), ("unknown architecture", "'resnet'", "dcgan, mlp")),
        (("--set", "stepz=3"), ("'stepz'", "did you mean 'steps'?")),
        (("--set", "lr=0.1"), ("'lr'", "lr_d", "lr_g")),
        (("--set", "steps=abc"), ("steps", "'abc'")),
        (("--set", "arch.g_hidden=wide"), ("mlp.g_hidden", "'wide'")),
        (("--set", "gp.weight=1"), ("'gp'", "not part of this run")),
        (("--set", "justakey"), ("KEY=VALUE",)),
        (("--reg", "gp", "--reg", "gp"), ("'gp'", "twice")),
        (("--device", "nonsense"), ("--device", "'nonsense'")),
        (("--resume", "no/such/run"), ("no such run folder", "'no/such/run'")),
    ],
)
def test_bad_run_input(gankit, tmp_path, args, fragments):
    line = one_error_line(gankit("run", *TINY, *args))
    for fragment in fragments:
        assert fragment in line
    assert not (tmp_path / "runs").exists()  # nothing is created for a run that never starts


def test_malformed_toml_config(gankit, tmp_path):
    (tmp_path / "bad.toml").write_text('loss = "wgan"\nsteps = = 3\n')
    line = one_error_line(gankit("run", *TINY, "--config", "bad.toml"))
    assert "'bad.toml'" in line and "not valid TOML" in line and "line 2" in line


def test_toml_with_unknown_key(gankit, tmp_path):
    (tmp_path / "typo.toml").write_text("bach_size = 3\n")
    line = one_error_line(gankit("run", *TINY, "--config", "typo.toml"))
    assert "'bach_size'" in line and "did you mean 'batch_size'?" in line


def test_sample_missing_path(gankit):
    line = one_error_line(gankit("sample", "runs/never-trained", "-n", "4", "-o", "x.png"))
    assert "'runs/never-trained'" in line


@pytest.fixture
def trained(gankit, tmp_path) -> Path:
    result = gankit("run", *TINY, "--name", "first")
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / "first"


def test_sample_unknown_output_format(gankit, trained, tmp_path):
    line = one_error_line(gankit("sample", str(trained), "-n", "4", "-o", "out.txt"))
    assert "'.txt'" in line and "'out.txt'" in line and ".png, .npy" in line
    assert not (tmp_path / "out.txt").exists()
    line = one_error_line(gankit("sample", str(trained), "-o", "noext"))
    assert "'(none)'" in line


def test_sample_empty_run_folder(gankit, tmp_path):
    (tmp_path / "empty").mkdir()
    line = one_error_line(gankit("sample", "empty", "-o", "x.png"))
    assert "no checkpoint in 'empty'" in line


def test_existing_run_folder_is_refused_and_kept_intact(gankit, trained):
    checkpoints = trained / "checkpoints"
    before = {p.name: p.read_bytes() for p in checkpoints.iterdir()}
    config_before = (trained / "config.json").read_bytes()
    metrics_before = (trained / "metrics.jsonl").read_bytes()
    samples_before = sorted(p.name for p in (trained / "samples").iterdir())

    line = one_error_line(gankit("run", *TINY, "--name", "first"))
    assert "already holds a run" in line
    assert "--resume runs/first" in line and "--name" in line

    assert {p.name: p.read_bytes() for p in checkpoints.iterdir()} == before
    assert (trained / "config.json").read_bytes() == config_before
    assert (trained / "metrics.jsonl").read_bytes() == metrics_before
    assert sorted(p.name for p in (trained / "samples").iterdir()) == samples_before


def test_resume_with_a_changed_setting_is_refused(gankit, trained):
    before = {p.name: p.read_bytes() for p in (trained / "checkpoints").iterdir()}
    line = one_error_line(gankit("run", "--resume", str(trained), "--loss", "hinge", "--steps", "3", "-q"))
    assert "loss" in line and "'bce'" in line and "'hinge'" in line
    assert {p.name: p.read_bytes() for p in (trained / "checkpoints").iterdir()} == before


def test_list_unknown_kind(gankit):
    line = one_error_line(gankit("list", "lossez"))
    assert "'lossez'" in line


def test_help_does_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from gankit.cli import cli\n"
        "result = CliRunner().invoke(cli, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'run' in result.output and 'sample' in result.output\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_plugins_and_list_do_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from gankit.cli import cli\n"
        "for args in (['plugins'], ['list'], ['run', '--help']):\n"
        "    result = CliRunner().invoke(cli, args)\n"
        "    assert result.exit_code == 0, result.output\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_error_in_a_real_process_has_no_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "gankit", "run", "--loss", "wgn"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "Error: unknown loss (--loss) 'wgn' (did you mean 'wgan'?); choose from: bce, hinge, lsgan, ragan, wgan"
    ]


def test_misspelled_commands_and_names_in_another_case_get_a_suggestion(gankit):
    from click.testing import CliRunner

    from gankit.cli import cli

    result = CliRunner().invoke(cli, ["rnu"])
    assert result.exit_code == 2 and "did you mean 'run'?" in result.output and "Traceback" not in result.output
    line = one_error_line(gankit("run", "--arch", "MLP", "--steps", "1"))
    assert "did you mean 'mlp'?" in line


def test_options_of_a_component_left_out_say_how_to_add_it(gankit):
    line = one_error_line(gankit("run", *TINY, "--set", "gp.weight=5"))
    assert "(add it with --reg gp)" in line


def test_component_names_complete_in_the_shell(tmp_path):
    env = dict(os.environ, COMP_WORDS="gankit run --loss w", COMP_CWORD="3", _GANKIT_COMPLETE="bash_complete")
    done = subprocess.run([sys.executable, "-m", "gankit"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.split() == ["plain,wgan"]
    env |= {"COMP_WORDS": "gankit run --reg ", "COMP_CWORD": "3"}
    done = subprocess.run([sys.executable, "-m", "gankit"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert {"plain,gp", "plain,r1", "plain,sn", "plain,clip"} <= set(done.stdout.split())
