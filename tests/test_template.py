"""The plugin template: `gankit plugin new` renders it, and what it renders builds, installs, tests and trains."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("copier")

ROOT = Path(__file__).resolve().parents[1]
OTHER_KINDS = ("arch", "reg", "data", "scheme", "tracker", "metric")


def _env(*paths: Path) -> dict[str, str]:
    entries = [str(p) for p in paths] + [p for p in [os.environ.get("PYTHONPATH", "")] if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(entries))


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 300):
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _pytest(*args: str) -> list[str]:
    # No cache folders in the rendered projects, and no settings from this repository's pyproject.
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


def test_loss_plugin_from_template_to_wheel_to_training(gankit, tmp_path):
    """The issue's "must show": new -> build -> install (not editable) -> its own tests -> gankit run."""
    made = gankit("plugin", "new", "gankit-myloss", "--kind", "loss")
    project = tmp_path / "gankit-myloss"
    assert "Created gankit-myloss/ with the loss 'myloss'" in made.output
    assert {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()} == {
        ".copier-answers.yml",
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "gankit_myloss/__init__.py",
        "gankit_myloss/loss.py",
        "tests/test_gankit_myloss.py",
    }
    pyproject = (project / "pyproject.toml").read_text()
    assert '[project.entry-points.gankit]\nmyloss = "gankit_myloss"' in pyproject

    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(project)],
        tmp_path,
    )
    (wheel,) = dist.glob("gankit_myloss-0.1.0-py3-none-any.whl")
    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)], tmp_path)
    assert (site / "gankit_myloss" / "loss.py").is_file()
    env = _env(site)

    tested = _run(_pytest(), cwd=project, env=env)
    assert "4 passed" in tested.stdout, tested.stdout

    work = tmp_path / "work"  # away from the project folder: only the installed wheel provides the plugin
    work.mkdir()
    listed = _run([sys.executable, "-m", "gankit", "plugins"], cwd=work, env=env).stdout
    (row,) = [line for line in listed.splitlines() if line.startswith("myloss ")]
    assert "gankit-myloss 0.1.0" in row and " ok " in row and "loss:myloss" in row
    trained = _run(
        [
            sys.executable,
            "-m",
            "gankit",
            "run",
            "--loss",
            "myloss",
            "--steps",
            "3",
            "--batch-size",
            "16",
            "--name",
            "mine",
            "-q",
        ],
        cwd=work,
        env=env,
    )
    assert "Finished 3 steps" in trained.stdout
    assert (work / "runs" / "mine" / "checkpoints" / "step-000003.safetensors").is_file()


def test_every_other_kind_renders_and_its_generated_tests_pass(gankit, tmp_path):
    projects = []
    for kind in OTHER_KINDS:
        result = gankit("plugin", "new", f"gankit-my{kind}", "--kind", kind, "--output", "made")
        assert result.exit_code == 0, result.output
        projects.append(tmp_path / "made" / f"gankit-my{kind}")
    for project in projects:
        for source in project.rglob("*.py"):
            compile(source.read_text(), str(source), "exec")  # renders to valid Python
    modules = {p.name for project in projects for p in (project / project.name.replace("-", "_")).glob("*.py")}
    assert modules == {
        "__init__.py",
        "architecture.py",
        "regularizer.py",
        "data.py",
        "scheme.py",
        "tracker.py",
        "metric.py",
    }
    # One pytest process for all of them: each project's package comes from its own folder.
    (tmp_path / "empty.ini").write_text("[pytest]\n")
    tested = _run(
        _pytest("-c", str(tmp_path / "empty.ini"), "--rootdir", str(tmp_path), *[str(p / "tests") for p in projects]),
        cwd=tmp_path,
        env=_env(*projects),
    )
    assert "19 passed" in tested.stdout, tested.stdout


def test_rendered_code_is_lint_clean(gankit, tmp_path):
    """What plugin authors start from passes the ruff settings the template gives them."""
    # This environment's ruff first: the version pyproject.toml pins, not whichever is first on PATH.
    ruff = Path(sys.executable).with_name("ruff")
    ruff = str(ruff) if ruff.is_file() else shutil.which("ruff") or str(ruff)
    if not Path(ruff).is_file():
        pytest.skip("ruff is not installed")
    for kind in ("loss", *OTHER_KINDS):
        assert gankit("plugin", "new", f"gankit-lint{kind}", "--kind", kind).exit_code == 0
        project = tmp_path / f"gankit-lint{kind}"
        for command in ([ruff, "check", "."], [ruff, "format", "--check", "."]):
            done = subprocess.run(command, cwd=project, capture_output=True, text=True)
            assert done.returncode == 0, f"{kind}: {' '.join(command[1:])}\n{done.stdout}{done.stderr}"


def test_answers_are_recorded_for_copier_updates(gankit, tmp_path):
    from gankit.cli.plugin import template_path

    result = gankit(
        "plugin",
        "new",
        "gankit-nice-data",
        "--kind",
        "data",
        "--component",
        "spiral",
        "--description",
        "A spiral of points",
    )
    assert result.exit_code == 0, result.output
    import yaml

    from gankit import __version__ as gankit_version

    answers = yaml.safe_load((tmp_path / "gankit-nice-data" / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(template_path())
    assert answers | {"_src_path": None} == {
        "_src_path": None,
        "project_name": "gankit-nice-data",
        "kind": "data",
        "component": "spiral",
        "package": "gankit_nice_data",
        "plugin_name": "spiral",
        "description": "A spiral of points",
        "gankit_version": gankit_version,
    }
    init = (tmp_path / "gankit-nice-data" / "gankit_nice_data" / "__init__.py").read_text()
    assert '"spiral",\n        "gankit_nice_data.data:Spiral",' in init


def test_template_ships_inside_the_gankit_wheel(tmp_path):
    """A built wheel carries the template as gankit/_template, and `gankit plugin new` finds it there."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".*_cache")
    shutil.copytree(ROOT / "gankit", source / "gankit", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "plugins" / "gankit_builtins", source / "plugins" / "gankit_builtins", ignore=ignore)
    shutil.copytree(ROOT / "plugins" / "template", source / "plugins" / "template", ignore=ignore)
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        tmp_path,
    )
    (wheel,) = dist.glob("gankit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"gankit/_template/copier.yml", "gankit/_template/project/pyproject.toml.jinja"}
    assert expected <= names

    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)], tmp_path)
    code = "from gankit.cli.plugin import template_path; print(template_path())"
    where = _run([sys.executable, "-c", code], cwd=tmp_path, env=_env(site)).stdout.strip()
    assert where == str((site / "gankit" / "_template").resolve())
    _run(
        [sys.executable, "-m", "gankit", "plugin", "new", "gankit-fromwheel", "--kind", "scheme"], tmp_path, _env(site)
    )
    assert (tmp_path / "gankit-fromwheel" / "gankit_fromwheel" / "scheme.py").is_file()


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("gankit-x", "--kind", "los"), ("unknown --kind 'los'", "did you mean 'loss'?")),
        (("gankit-x",), ("needs --kind", "arch, loss, reg, data, scheme, tracker, metric")),
        (("gankit x!", "--kind", "loss"), ("invalid plugin name 'gankit x!'",)),
        (("gankit-9lives", "--kind", "loss"), ("invalid component name '9lives'", "--component")),
    ],
)
def test_plugin_new_errors_are_one_line(gankit, tmp_path, args, fragments):
    line = _one_error_line(gankit("plugin", "new", *args))
    for fragment in fragments:
        assert fragment in line
    assert list(tmp_path.iterdir()) == []  # nothing is written


def test_plugin_new_refuses_a_non_empty_folder(gankit, tmp_path):
    (tmp_path / "gankit-taken").mkdir()
    (tmp_path / "gankit-taken" / "keep.txt").write_text("mine")
    line = _one_error_line(gankit("plugin", "new", "gankit-taken", "--kind", "loss"))
    assert "already exists and is not empty" in line
    assert [p.name for p in (tmp_path / "gankit-taken").iterdir()] == ["keep.txt"]


def test_plugin_new_warns_about_a_name_that_is_taken(gankit, tmp_path):
    result = gankit("plugin", "new", "gankit-hinge", "--kind", "loss")
    assert result.exit_code == 0, result.output
    assert "loss 'hinge' is also registered by 'builtins.losses'" in result.output
