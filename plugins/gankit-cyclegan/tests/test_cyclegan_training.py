"""Training, sampling and exact resume through the real command line, and gankit's conformance kit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gankit import DataDescription, Field, GankitError, NetworkRequest
from gankit.testing import check_component, check_plugin, run_cli

import gankit_cyclegan

TINY = ("--set", "cyclegan.ngf=4", "--set", "cyclegan.ndf=4")
RUN = ("--device", "cpu", "-q", "--log-every", "1", "--sample-every", "1000")


def test_plugin_loads_cleanly_without_importing_torch():
    record = check_plugin(gankit_cyclegan)
    assert {"architecture:cyclegan", "scheme:cyclegan", "data:cyclegan-digits", "data:cyclegan-folder"} <= set(
        record.registered
    )


def _requests() -> list[NetworkRequest]:
    requests = []
    for channels, size in ((1, 16), (3, 32)):
        image = Field((channels, size, size), "image", value_range=(0.0, 1.0))
        data = DataDescription.of(f"ab{size}", {"a": image, "b": image}, main="b", streams=(("a",), ("b",)))
        scores = {"scores": Field((), "scores")}
        requests += [
            NetworkRequest("translator", data, {"a": image}, {"b": image}),
            NetworkRequest("translator", data, {"b": image}, {"a": image}),
            NetworkRequest("discriminator", data, {"b": image}, scores),
        ]
    # Refused with a GankitError (reported as skipped): a noise generator, a class-conditional D.
    digits = DataDescription("digits", (1, 8, 8), "image", value_range=(0.0, 1.0), num_classes=10)
    requests += [
        NetworkRequest.generator(digits, 8),
        NetworkRequest.discriminator(digits, label=digits.fields["label"]),
    ]
    return requests


def test_architecture_conforms():
    report = check_component(
        "arch", "cyclegan", {"ngf": 4, "ndf": 4}, requests=_requests(), patch_scores=True, run=False
    )
    assert len(report.skipped) == 2


def test_scheme_conforms_and_resumes_exactly():
    # --arch named: the kit adds tiny-MLP options when no --arch is typed, though the data suggests cyclegan.
    options = {"ngf": 4, "ndf": 4, "pool_size": 4}
    check_component("scheme", "cyclegan", options, data="cyclegan-digits", run_args=("--arch", "cyclegan"))


def test_train_sample_both_ways_and_resume_every_tensor(tmp_path):
    """4 steps equal 2 steps + --resume to 4, tensor for tensor, with pools of 4 fakes and batches of 4:
    the pools are full after step 1, so steps 3 and 4 repeat only if the pools, their fill counts and
    Python's random all come back."""
    from gankit import checkpoint

    out = ("--out", str(tmp_path))
    args = (
        "--data",
        "cyclegan-digits",
        "--batch-size",
        "4",
        "--resolution",
        "8",
        *TINY,
        "--set",
        "cyclegan.pool_size=4",
    )
    run_cli("run", *args, *RUN, *out, "--steps", "4", "--name", "full")
    run_cli("run", *args, *RUN, *out, "--steps", "2", "--name", "part")
    run_cli("run", "--resume", str(tmp_path / "part"), "--steps", "4", "--device", "cpu", "-q")
    full, part = (checkpoint.load(checkpoint.find_checkpoint(str(tmp_path / n))) for n in ("full", "part"))
    assert part.counters["step"] == 4
    assert set(full.networks) == {"g_ab", "g_ba", "d_a", "d_b"}
    assert set(full.optimizers) == {"generator", "discriminator"}
    assert {k: tuple(v.shape) for k, v in full.scheme.items()} == {
        "pool_a_images": (4, 1, 8, 8),
        "pool_a_count": (),
        "pool_b_images": (4, 1, 8, 8),
        "pool_b_count": (),
    }
    assert int(full.scheme["pool_a_count"]) == 4
    compared = 0
    for part_name in ("networks", "optimizers", "scheme", "rng", "counters"):
        a, b = _leaves(getattr(full, part_name)), _leaves(getattr(part, part_name))
        assert a.keys() == b.keys(), part_name
        for key, value in a.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, b[key]), f"{part_name}{key} differs after resume"
                compared += 1
            else:
                assert value == b[key], f"{part_name}{key}"
    assert compared > 50

    # gankit sample: a PNG (a -> b), a folder the other way (b -> a), a .npy in data units, and data inputs.
    from PIL import Image

    pictures = tmp_path / "inputs"
    pictures.mkdir()
    for i in range(3):
        pixels = np.zeros((8, 8), np.uint8)
        pixels[1:7, 2 + i : 4 + i] = 255
        Image.fromarray(pixels).save(pictures / f"{i}.png")
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((2, 1, 8, 8), dtype=np.float32))
    run_ = str(tmp_path / "full")
    run_cli("sample", run_, "--input", str(pictures / "0.png"), "-o", str(tmp_path / "ab.png"), "--device", "cpu")
    with Image.open(tmp_path / "ab.png") as picture:
        assert picture.width > 1.5 * picture.height  # the input beside its translation
    ab = tmp_path / "ab.npy"
    ba = tmp_path / "ba.npy"
    run_cli("sample", run_, "--input", str(pictures), "-o", str(ab), "--device", "cpu")
    run_cli("sample", run_, "--input", str(pictures), "--set", "direction=ba", "-o", str(ba), "--device", "cpu")
    assert np.load(ab).shape == np.load(ba).shape == (3, 1, 8, 8)
    assert not np.allclose(np.load(ab), np.load(ba))  # g_ab and g_ba differ
    run_cli("sample", run_, "--input", str(tmp_path / "x.npy"), "-o", str(tmp_path / "x-out.npy"), "--device", "cpu")
    translated = np.load(tmp_path / "x-out.npy")
    assert translated.shape == (2, 1, 8, 8) and translated.min() >= 0 and translated.max() <= 1
    run_cli("sample", run_, "-n", "5", "-o", str(tmp_path / "data.npy"), "--device", "cpu")  # the first a's
    assert np.load(tmp_path / "data.npy").shape == (5, 1, 8, 8)
    bad = run_cli("sample", run_, "--set", "direction=up", "-o", str(tmp_path / "bad.npy"), check=False)
    assert bad.exit_code != 0 and "direction must be ab (a -> b) or ba (b -> a), got 'up'" in bad.output


def _leaves(value, prefix=""):
    out = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out |= _leaves(item, f"{prefix}/{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            out |= _leaves(item, f"{prefix}/{i}")
    else:
        out[prefix] = value
    return out


def test_other_data_is_refused_in_one_line(tmp_path):
    result = run_cli("run", "--scheme", "cyclegan", "--data", "digits", *RUN, "--out", str(tmp_path), check=False)
    assert result.exit_code != 0
    assert "scheme 'cyclegan' needs unpaired images in fields 'a' and 'b'" in result.output


def test_the_architecture_refuses_what_it_cannot_build():
    from gankit_cyclegan.networks import CycleGANNetworks

    arch = CycleGANNetworks(gankit_cyclegan.CycleGANConfig())
    image = Field((1, 10, 10), "image")
    data = DataDescription.of("odd", {"a": image, "b": image}, main="b", streams=(("a",), ("b",)))
    with pytest.raises(GankitError, match="multiple of 4"):
        arch.build(NetworkRequest("translator", data, {"a": image}, {"b": image}))
