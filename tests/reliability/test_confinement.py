"""A run folder from a stranger cannot reach outside itself: not through ``checkpoints/latest``, nor
through symlinks planted as its checkpoints, its checkpoints folder, metrics.jsonl or .lock.

Each attack points into a *victim* run beside it (or at a system file); every command that reads
the folder (``sample``, ``eval``, ``run --resume``) must refuse it with one ``Error:`` line and leave
the victim byte for byte as it was. The rule is stated in docs/security.md.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.reliability.conftest import TINY, assert_one_error_line

CKPT = "step-000002.safetensors"


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    from gankit.cli import cli

    where = tmp_path_factory.mktemp("confinement-source")
    result = CliRunner().invoke(
        cli, ["run", *TINY, "--steps", "2", "--out", str(where), "--name", "src", "-q"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return where / "src"


def _snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` with a digest of its bytes (or where a link points)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            found[key] = "link:" + os.readlink(path)
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[key] = "dir"
    return found


def _pointer(text: str) -> Callable[[Path, Path], None]:
    def plant(evil: Path, victim: Path) -> None:
        (evil / "checkpoints" / "latest").write_text(text.format(victim=victim) + "\n")

    return plant


def _symlink(name: str, target: str) -> Callable[[Path, Path], None]:
    def plant(evil: Path, victim: Path) -> None:
        where = evil / name
        if where.is_dir() and not where.is_symlink():
            shutil.rmtree(where)
        else:
            where.unlink(missing_ok=True)
        where.symlink_to(target.format(victim=victim))

    return plant


def _newer_step_links_to_victim(evil: Path, victim: Path) -> None:
    """No pointer; the newest step file is a symlink into the victim's run."""
    (evil / "checkpoints" / "latest").unlink()
    (evil / "checkpoints" / "step-000009.safetensors").symlink_to(victim / "checkpoints" / CKPT)


#: Attacks on a copy of a good run; the victim is another good run beside it.
ATTACKS: dict[str, Callable[[Path, Path], None]] = {
    "latest_relative_into_victim": _pointer(f"../../victim/checkpoints/{CKPT}"),
    "latest_absolute_into_victim": _pointer(f"{{victim}}/checkpoints/{CKPT}"),
    "latest_etc_passwd": _pointer("/etc/passwd"),
    "latest_dotdot_inside_name": _pointer(f"step-000002.safetensors/../{CKPT}"),
    "latest_subfolder": _pointer(f"sub/{CKPT}"),
    "latest_dot_dot": _pointer(".."),
    "latest_nul_byte": _pointer(f"{CKPT}\0x"),
    "latest_is_symlink_to_victims_latest": _symlink("checkpoints/latest", "{victim}/checkpoints/latest"),
    "latest_is_symlink_to_dev_zero": _symlink("checkpoints/latest", "/dev/zero"),
    "named_checkpoint_is_symlink_to_victim": _symlink(f"checkpoints/{CKPT}", f"{{victim}}/checkpoints/{CKPT}"),
    "newest_step_is_symlink_to_victim": _newer_step_links_to_victim,
    "checkpoints_folder_is_symlink_to_victims": _symlink("checkpoints", "{victim}/checkpoints"),
}

#: Planted files a resume would write through (appending, truncating); sample/eval never touch them.
WRITE_ATTACKS: dict[str, Callable[[Path, Path], None]] = {
    "metrics_jsonl_symlink_to_victim": _symlink("metrics.jsonl", "{victim}/metrics.jsonl"),
    "config_json_symlink_to_victim": _symlink("config.json", "{victim}/config.json"),
    "lock_symlink_to_victim_config": _symlink(".lock", "{victim}/config.json"),
    "samples_folder_symlink_to_victims": _symlink("samples", "{victim}/samples"),
}


@pytest.fixture
def arena(tmp_path, tiny_run) -> tuple[Path, Path]:
    evil, victim = tmp_path / "runs" / "evil", tmp_path / "runs" / "victim"
    shutil.copytree(tiny_run, victim)
    shutil.copytree(tiny_run, evil)
    for folder in (evil, victim):
        (folder / ".lock").unlink(missing_ok=True)
    return evil, victim


def _invoke(gankit, command: str, evil: Path):
    if command == "sample":
        return gankit("sample", str(evil), "-n", "4", "-o", "out.npy")
    if command == "eval":
        return gankit("eval", str(evil), "--metric", "digit-quality", "-n", "8", "-o", "eval-out.json")
    return gankit("run", "--resume", str(evil), "--steps", "4", "-q")


@pytest.mark.parametrize("command", ["sample", "eval", "resume"])
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_run_folder_cannot_reach_outside(gankit, tmp_path, arena, attack, command):
    evil, victim = arena
    ATTACKS[attack](evil, victim)
    before = _snapshot(victim)
    result = _invoke(gankit, command, evil)
    assert result.exit_code == 2, result.output
    line = assert_one_error_line(result.output)
    assert "evil" in line, line
    assert "root:" not in line  # nothing of a file outside is echoed
    assert _snapshot(victim) == before
    assert not (tmp_path / "out.npy").exists() and not (tmp_path / "eval-out.json").exists()


@pytest.mark.parametrize("attack", list(WRITE_ATTACKS))
def test_resume_never_writes_through_a_planted_symlink(gankit, arena, attack):
    evil, victim = arena
    WRITE_ATTACKS[attack](evil, victim)
    before = _snapshot(victim)
    result = gankit("run", "--resume", str(evil), "--steps", "4", "-q")
    assert result.exit_code == 2, result.output
    assert "gankit writes only inside its run folder" in assert_one_error_line(result.output)
    assert _snapshot(victim) == before


def test_eval_replaces_a_planted_eval_json_symlink_instead_of_writing_through_it(gankit, arena):
    evil, victim = arena
    (evil / "eval.json").symlink_to(victim / "config.json")
    before = _snapshot(victim)
    result = gankit("eval", str(evil), "--metric", "digit-quality", "-n", "8")
    assert result.exit_code == 0, result.output
    assert _snapshot(victim) == before
    assert not (evil / "eval.json").is_symlink()


def test_a_good_pointer_still_works(gankit, arena):
    """The rule refuses only what leaves the folder: the pointer gankit writes resumes as before."""
    evil, _ = arena
    assert (evil / "checkpoints" / "latest").read_text() == CKPT + "\n"
    result = gankit("run", "--resume", str(evil), "--steps", "3", "-q")
    assert result.exit_code == 0, result.output
    assert (evil / "checkpoints" / "latest").read_text() == "step-000003.safetensors\n"
