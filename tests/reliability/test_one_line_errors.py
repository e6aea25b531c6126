"""Inputs that used to end in a traceback, through the real commands: each is one ``Error:`` line that
names the bad value, with exit status 2 (the user's input) or 1 (the machine, or a bug).

Families: saved configurations of the wrong shape (a checkpoint's, config.json, a model folder's),
over-long paths, decompression bombs and impossible resolutions, outputs that cannot be written,
seeds beyond 64 bits, a batch that does not split over --nproc, broken plugin components and commands,
damaged MNIST files, and anything unforeseen (one line that says it is a bug and where its traceback is).

All in-process (click's CliRunner): no command here trains more than a step.
"""

from __future__ import annotations

import errno
import importlib
import json
import re
import shutil
import struct
import sys
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import load_file, save

from tests.mnist_files import write_mnist
from tests.reliability.conftest import TINY
from tests.reliability.test_confinement import CKPT, tiny_run  # noqa: F401 - the shared tiny run

LONG = "x" * 300  # longer than a file name may be (255 bytes)


def one_line(cwd: Path, *args: str, code: int | tuple[int, ...] = 2) -> str:
    """Run ``gankit ARGS`` in ``cwd``; it must end with exit ``code`` and one ``Error:`` line, no traceback."""
    from gankit.cli import cli

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        result = CliRunner().invoke(cli, list(args), catch_exceptions=True)
    shown = f"gankit {' '.join(a[:60] for a in args)}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{shown}\n{type(result.exception).__name__}: {result.exception}"
    )
    assert result.exit_code in ((code,) if isinstance(code, int) else code), shown
    assert "Traceback" not in result.output, shown
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, shown
    assert result.output.strip().splitlines()[-1] == errors[0], shown
    return errors[0]


def _copy(tiny_run: Path, where: Path) -> Path:  # noqa: F811
    run = where / "run"
    shutil.copytree(tiny_run, run)
    (run / ".lock").unlink(missing_ok=True)
    return run


def _edit_checkpoint_config(run: Path, edit) -> None:
    path = run / "checkpoints" / CKPT
    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata())
    config = json.loads(metadata["config"])
    edit(config)
    path.write_bytes(save(load_file(path), metadata=dict(metadata, config=json.dumps(config))))


def _in_run(**values):
    return lambda config: config["run"].update(values)


def _component_options(config):
    config["components"]["mlp"]["options"] = [1]


def _run_options(config):
    config["run"]["options"] = {"mlp": [32]}


# -- saved configurations of the wrong shape ---------------------------------------------------------

#: (edit of the saved config, what the error line must name)
MISTYPED = {
    "z_dim-fraction": (_in_run(z_dim=2.5), ["z_dim", "2.5"]),
    "z_dim-text": (_in_run(z_dim="many"), ["z_dim", "many"]),
    "betas-three": (_in_run(betas=[0.5, 0.9, 0.1]), ["betas", "0.5, 0.9, 0.1"]),
    "data-number": (_in_run(data=5), ["data", "5"]),
    "regs-number": (_in_run(regs=5), ["regs", "5"]),
    "trackers-nested": (_in_run(trackers=[[1]]), ["trackers", "[1]"]),
    "batch-list": (_in_run(batch_size=[16]), ["batch_size", "[16]"]),
    "component-options-list": (_component_options, ["'mlp'", "[1]"]),
    "run-options-list": (_run_options, ["options", "[32]"]),
}


@pytest.mark.parametrize("command", ["sample", "eval", "resume"])
@pytest.mark.parametrize("case", sorted(MISTYPED))
def test_checkpoint_config_of_the_wrong_shape(tmp_path, tiny_run, case, command):  # noqa: F811
    edit, named = MISTYPED[case]
    run = _copy(tiny_run, tmp_path)
    _edit_checkpoint_config(run, edit)
    if command == "sample":
        line = one_line(tmp_path, "sample", str(run), "-n", "4", "-o", "x.npy")
    elif command == "eval":
        line = one_line(tmp_path, "eval", str(run), "--metric", "digit-quality", "-n", "8")
    else:
        line = one_line(tmp_path, "run", "--resume", str(run), "-q")
    assert CKPT in line and all(token in line for token in named), line
    assert not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize(
    "text",
    [
        '{"run": ' + "[" * 100_000 + "]" * 100_000 + ', "components": {}}',  # RecursionError in json
        json.dumps({"run": [], "components": {}}),
        json.dumps({"run": {"data": 5}, "components": {}}),
        json.dumps({"run": {"data": "digits"}, "components": {"mlp": {"options": [1]}}}),
    ],
    ids=["deeply-nested", "run-list", "data-number", "options-list"],
)
def test_run_folder_config_json_of_the_wrong_shape(tmp_path, tiny_run, text):  # noqa: F811
    """A run that stopped before its first checkpoint resumes from config.json alone."""
    run = _copy(tiny_run, tmp_path)
    shutil.rmtree(run / "checkpoints")
    (run / "config.json").write_text(text)
    line = one_line(tmp_path, "run", "--resume", str(run), "-q")
    assert "config.json" in line, line


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, "deep-options"], ids=["deeply-nested", "options-list"])
def test_model_folder_config_json_of_the_wrong_shape(tmp_path, text):
    """``gankit sample`` also takes a model folder (config.json + model.safetensors)."""
    folder = tmp_path / "model"
    folder.mkdir()
    if text == "deep-options":
        from gankit.export import MODEL_FORMAT

        config = {
            "format": MODEL_FORMAT,
            "run": {"data": "digits"},
            "data_description": {},
            "components": {"mlp": {"options": [1]}},
        }
        text = json.dumps(config)
    (folder / "config.json").write_text(text)
    (folder / "model.safetensors").write_bytes(save({}))
    line = one_line(tmp_path, "sample", str(folder), "-n", "4", "-o", "x.png")
    assert "config.json" in line, line


# -- over-long paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("--name", LONG),
        ("--out", LONG),
        ("--data", "mnist", "--data-root", LONG),
        ("--data", "folder", "--data-root", LONG),
        ("--config", LONG + ".toml"),
        ("--resume", LONG),
    ],
    ids=["name", "out", "mnist-root", "folder-root", "config", "resume"],
)
def test_over_long_path_for_run(tmp_path, args):
    line = one_line(tmp_path, "run", *TINY, "--steps", "1", "-q", *args)
    assert "xxxxxxxxxx" in line, line  # the path, shortened or not
    assert not any(tmp_path.rglob("step-*")), "nothing trained"


@pytest.mark.parametrize(
    "args",
    [("sample", "RUN", "-o", LONG + ".png"), ("sample", LONG, "-o", "x.png"), ("eval", LONG)],
    ids=["sample-output", "sample-target", "eval-target"],
)
def test_over_long_path_for_sample_and_eval(tmp_path, tiny_run, args):  # noqa: F811
    args = [str(tiny_run) if a == "RUN" else a for a in args]
    line = one_line(tmp_path, *args, "-n", "4")
    assert "xxxxxxxxxx" in line and "too long" in line, line


# -- decompression bombs and impossible resolutions ---------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels (its data is a few bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    )


def _picture_folder(where: Path, bomb: bool) -> Path:
    from PIL import Image

    where.mkdir(parents=True)
    for i in range(4):
        Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(where / f"ok{i}.png")
    if bomb:
        (where / "bomb.png").write_bytes(_png_claiming(100_000, 100_000))
    return where


def test_folder_data_with_a_decompression_bomb(tmp_path):
    pictures = _picture_folder(tmp_path / "pictures", bomb=True)
    line = one_line(
        tmp_path,
        "run",
        "--data",
        "folder",
        "--data-root",
        str(pictures),
        "--resolution",
        "8",
        "--batch-size",
        "2",
        "--steps",
        "1",
        "-q",
    )
    assert "bomb.png" in line and "10000000000 pixels" in line, line
    assert not (tmp_path / "runs").exists()


def test_sample_input_with_a_decompression_bomb(tmp_path):
    """What ``gankit sample --input`` reads a translator's images with."""
    from gankit.data import Field
    from gankit.errors import GankitError
    from gankit.images import read_images

    (tmp_path / "bomb.png").write_bytes(_png_claiming(100_000, 100_000))
    with pytest.raises(GankitError) as info:
        read_images(tmp_path / "bomb.png", Field((3, 8, 8), "image", (0.0, 1.0)))
    assert "bomb.png" in str(info.value) and "10000000000 pixels" in str(info.value)
    with pytest.raises(GankitError) as info:
        read_images(tmp_path / LONG, Field((3, 8, 8), "image", (0.0, 1.0)))
    assert "too long" in str(info.value)


@pytest.mark.parametrize("data", ["digits", "mnist", "folder"])
def test_resolution_no_machine_can_hold(tmp_path, data):
    if data == "mnist":
        write_mnist(tmp_path / "data", count=16)
    elif data == "folder":
        _picture_folder(tmp_path / "data", bomb=False)
    line = one_line(
        tmp_path,
        "run",
        "--data",
        data,
        "--data-root",
        str(tmp_path / "data"),
        "--resolution",
        "100000",
        "--batch-size",
        "2",
        "--steps",
        "1",
        "-q",
    )
    assert "resolution" in line and "100000" in line and "4096" in line, line


def test_resolution_whose_data_would_not_fit_in_memory(tmp_path):
    write_mnist(tmp_path / "data", count=2000)
    line = one_line(
        tmp_path, "run", "--data", "mnist", "--data-root", "data", "--resolution", "4096", "--steps", "1", "-q"
    )
    assert "--resolution 4096" in line and "GiB" in line, line


# -- outputs that cannot be written --------------------------------------------------------------------


@pytest.mark.parametrize(
    "output",
    [
        "FULL",
        "/proc/gankit-test.png",
        "/proc/self/gankit-test.npy",
        "/sys/gankit-test.png",
        "/sys/kernel/gankit-test.npy",
        "BELOW_A_FILE",
    ],
)
def test_sample_output_that_cannot_be_written(tmp_path, tiny_run, output):  # noqa: F811
    if output == "FULL":
        (tmp_path / "full.npy").symlink_to("/dev/full")
        output = str(tmp_path / "full.npy")
    elif output == "BELOW_A_FILE":
        output = str(tiny_run / "config.json" / "x.png")
    line = one_line(tmp_path, "sample", str(tiny_run), "-n", "4", "-o", output)
    assert repr(output) in line, line
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp.npy")]


def test_failed_sample_write_keeps_the_file_that_was_there(tmp_path, tiny_run, monkeypatch):  # noqa: F811
    import numpy as np

    before = tmp_path / "samples.npy"
    before.write_bytes(b"earlier samples")

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "save", disk_full)
    line = one_line(tmp_path, "sample", str(tiny_run), "-n", "4", "-o", "samples.npy")
    assert "No space left on device" in line and "samples.npy" in line, line
    assert before.read_bytes() == b"earlier samples"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.npy"]


# -- seeds beyond 64 bits ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_seed_beyond_64_bits(tmp_path, tiny_run, command):  # noqa: F811
    extra = ("-o", "x.npy") if command == "sample" else ()
    line = one_line(tmp_path, command, str(tiny_run), "-n", "8", "--seed", str(2**64), *extra)
    assert str(2**64) in line and "seed" in line, line


# -- a batch that does not split over the processes ----------------------------------------------------


@pytest.mark.parametrize("where", ["flag", "config"])
def test_nproc_that_does_not_divide_the_batch_is_refused_before_torchrun(tmp_path, monkeypatch, where):
    import subprocess

    def no_launch(*args, **kwargs):
        raise AssertionError(f"torchrun was started: {args}")

    monkeypatch.setattr(subprocess, "call", no_launch)
    (tmp_path / "c.toml").write_text("batch_size = 16\n")
    batch = ("--batch-size", "16") if where == "flag" else ("--config", "c.toml")
    line = one_line(tmp_path, "run", *batch, "--nproc", "3", "--steps", "1", "-q")
    assert "--batch-size 16" in line and "--nproc 3" in line, line
    assert not (tmp_path / "runs").exists()


# -- broken plugin components and commands -------------------------------------------------------------

BROKEN_PLUGIN = '''
import click
import gankit


class NotCallable:
    pass


def raises(config, *args):
    raise RuntimeError("exploded on purpose")


@gankit.hookimpl
def gankit_register_trackers(register):
    register("raises", raises, summary="raises")
    register("not-callable", NotCallable(), summary="not callable")
    register("missing-module", "gankit_no_such_module:factory", summary="names a missing module")
    register("missing-attribute", "{module}:nothing_here", summary="names a missing attribute")


@gankit.hookimpl
def gankit_register_losses(register):
    register("raising-loss", raises, summary="raises")


@gankit.hookimpl
def gankit_register_commands(cli):
    @cli.command("explode")
    def explode():
        """Raises."""
        raise ValueError("command exploded on purpose")
'''


@pytest.fixture(scope="module")
def broken_plugins(tmp_path_factory):
    """A real distribution (dist-info with an entry point) whose components and command are broken,
    loaded the way gankit loads every installed plugin."""
    from gankit.plugins import PluginSet, use_plugins

    site = tmp_path_factory.mktemp("broken-plugin-site")
    module = "gankit_broken_components_plugin"
    (site / f"{module}.py").write_text(BROKEN_PLUGIN.replace("{module}", module))
    dist_info = site / "broken_components-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-components\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[gankit]\nbroken = {module}\n")
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    try:
        plugins = PluginSet()
        plugins.load_entry_points()
        assert plugins.records["broken"].status == "ok", plugins.records["broken"]
        with use_plugins(plugins):
            yield plugins
    finally:
        sys.path.remove(str(site))
        sys.modules.pop(module, None)


def _traceback_file(line: str, expected: str) -> None:
    found = re.search(r"traceback written to (\S+)$", line)
    assert found, line
    path = Path(found.group(1))
    try:
        assert "Traceback" in path.read_text() and expected in path.read_text()
    finally:
        path.unlink()


@pytest.mark.parametrize(
    ("tracker", "named"),
    [
        ("raises", ["RuntimeError: exploded on purpose", "a bug in plugin 'broken'"]),
        ("not-callable", ["not a callable", "NotCallable"]),
        ("missing-module", ["gankit_no_such_module", "does not import"]),
        ("missing-attribute", ["nothing_here", "does not import"]),
    ],
)
def test_tracker_whose_factory_is_broken(tmp_path, broken_plugins, tracker, named):
    line = one_line(tmp_path, "run", *TINY, "--steps", "1", "--tracker", tracker, "--name", "t", "-q")
    assert f"tracker {tracker!r} (plugin 'broken')" in line and all(token in line for token in named), line
    if tracker == "raises":
        _traceback_file(line, "exploded on purpose")


def test_loss_whose_factory_raises(tmp_path, broken_plugins):
    line = one_line(tmp_path, "run", *TINY, "--steps", "1", "--loss", "raising-loss", "-q")
    assert "loss 'raising-loss' (plugin 'broken')" in line and "exploded on purpose" in line, line
    _traceback_file(line, "exploded on purpose")
    assert not (tmp_path / "runs").exists()


def test_plugin_command_that_raises(tmp_path, broken_plugins):
    line = one_line(tmp_path, "explode", code=1)
    assert "command 'explode'" in line and "a bug in plugin 'broken'" in line, line
    assert "ValueError: command exploded on purpose" in line, line
    _traceback_file(line, "command exploded on purpose")


# -- damaged MNIST files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "keep"),
    [("train-images-idx3-ubyte", 5000), ("train-labels-idx1-ubyte", 20), ("train-images-idx3-ubyte", 6)],
    ids=["images", "labels", "header"],
)
def test_truncated_mnist_file_is_named_as_truncated(tmp_path, file, keep):
    raw = write_mnist(tmp_path / "data", count=64)
    (raw / file).write_bytes((raw / file).read_bytes()[:keep])
    line = one_line(tmp_path, "run", "--data", "mnist", "--data-root", "data", "--steps", "1", "-q")
    assert file in line and "truncated" in line and "no mnist files" not in line, line
    assert str(keep) in line, line


def test_legacy_mnist_pickles_are_not_loaded(tmp_path):
    import torch

    processed = tmp_path / "data" / "MNIST" / "processed"
    processed.mkdir(parents=True)
    for name in ("training.pt", "test.pt"):
        torch.save((torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long)), processed / name)
    line = one_line(tmp_path, "run", "--data", "mnist", "--data-root", "data", "--steps", "1", "-q")
    assert "training.pt" in line and "does not load" in line, line
    assert "train-images-idx3-ubyte" in line and "train-labels-idx1-ubyte" in line, line
    assert "weights_only" not in line


# -- what no check foresaw -----------------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_that_says_it_is_a_bug(tmp_path, tiny_run, monkeypatch):  # noqa: F811
    from gankit.engine import model

    def broken(*args, **kwargs):
        raise TypeError("an internal mistake")

    monkeypatch.delenv("GANKIT_TRACEBACK", raising=False)
    monkeypatch.setattr(model, "load_model", broken)
    line = one_line(tmp_path, "sample", str(tiny_run), "-o", "x.png", code=1)
    assert "gankit sample" in line and "a bug in gankit" in line and "TypeError: an internal mistake" in line, line
    _traceback_file(line, "an internal mistake")


def test_running_out_of_memory_is_one_line(tmp_path, tiny_run, monkeypatch):  # noqa: F811
    from gankit.engine import model

    def exhausted(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(model, "load_model", exhausted)
    line = one_line(tmp_path, "sample", str(tiny_run), "-o", "x.png", code=1)
    assert line.startswith("Error: out of memory"), line


def test_the_traceback_is_shown_when_asked_for(tmp_path, tiny_run, monkeypatch):  # noqa: F811
    from gankit.cli import cli
    from gankit.engine import model

    def broken(*args, **kwargs):
        raise TypeError("an internal mistake")

    monkeypatch.setenv("GANKIT_TRACEBACK", "1")
    monkeypatch.setattr(model, "load_model", broken)
    result = CliRunner().invoke(cli, ["sample", str(tiny_run), "-o", str(tmp_path / "x.png")])
    assert isinstance(result.exception, TypeError)


def test_a_lost_training_process_is_not_called_a_bug(tmp_path, tiny_run, monkeypatch):  # noqa: F811
    """Under torchrun, a killed peer surfaces in the others as a gloo/NCCL RuntimeError."""
    from gankit.engine import model

    def peer_gone(*args, **kwargs):
        raise RuntimeError("[gloo/transport/tcp/pair.cc:545] Read error [127.0.0.1]:45467: Connection reset by peer.")

    monkeypatch.setattr(model, "load_model", peer_gone)
    line = one_line(tmp_path, "sample", str(tiny_run), "-o", "x.png", code=1)
    assert "lost contact with another training process" in line and "bug" not in line, line
