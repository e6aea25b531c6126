"""The v2 extension surface, proven from outside: five example plugin distributions (tests/plugins/
gankit-example-*) written against gankit's public API only, installed for real into a private site
folder, and driven through the ``gankit`` command in subprocesses: train, resume bit-exactly (every
tensor of the checkpoint, scheme and regularizer state included), and sample with the generation
inputs each family takes (--label, --input, --set).

Commands that do not depend on each other run two or three at a time, so the file stays fast.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from gankit import checkpoint
from tests.conftest import install_into

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("conditional", "pix2pix", "cyclegan", "stargan", "stylegan")


@pytest.fixture(scope="session")
def family_site(tmp_path_factory) -> Path:
    """The five example distributions, installed (not editable) into one private site folder."""
    packages = [ROOT / "tests" / "plugins" / f"gankit-example-{name}" for name in FAMILIES]
    return install_into(tmp_path_factory.mktemp("family-site"), *packages)


@pytest.fixture
def family(run_gankit, family_site, tmp_path):
    """``family.run(*args)`` runs ``gankit`` with the examples installed; ``family.parallel(cmds)``
    runs several commands at once; ``family.path`` is the working folder."""

    class Family:
        path = tmp_path

        @staticmethod
        def run(*args):
            path = os.pathsep.join(filter(None, [str(family_site), os.environ.get("PYTHONPATH")]))
            return run_gankit(*map(str, args), env={"PYTHONPATH": path, "OMP_NUM_THREADS": "1"})

        @classmethod
        def parallel(cls, *commands):
            with ThreadPoolExecutor(len(commands)) as pool:
                return list(pool.map(lambda args: cls.run(*args), commands))

    return Family


def train_commands(args, steps=4, split=2, part_args=None):
    """A run of ``steps`` and a run stopped at ``split``; :func:`resume_command` continues the second."""
    common = ("run", "--device", "cpu", "--out", "runs", "--sample-every", 1000)
    return [
        (*common, *args, "--steps", steps, "--name", "full"),
        (*common, *(args if part_args is None else part_args), "--steps", split, "--name", "part"),
    ]


def resume_command(steps=4):
    return ("run", "--resume", "runs/part", "--steps", steps)


def final_states(folder: Path) -> tuple[checkpoint.TrainingState, checkpoint.TrainingState]:
    return tuple(checkpoint.load(checkpoint.find_checkpoint(str(folder / "runs" / n))) for n in ("full", "part"))


def leaves(value, prefix=""):
    """Every leaf of nested dicts and lists, by path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{prefix}/{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from leaves(item, f"{prefix}/{i}")
    else:
        yield prefix, value


def assert_same_training_state(full: checkpoint.TrainingState, resumed: checkpoint.TrainingState) -> int:
    """Every tensor and counter of the two checkpoints is identical; returns how many tensors were compared."""
    compared = 0
    for part in ("counters", "networks", "ema", "optimizers", "scaler", "rng", "scheme", "regularizers"):
        a, b = dict(leaves(getattr(full, part))), dict(leaves(getattr(resumed, part)))
        assert a.keys() == b.keys(), (part, sorted(a.keys() ^ b.keys()))
        for key, value in a.items():
            if isinstance(value, torch.Tensor):
                assert value.dtype == b[key].dtype and torch.equal(value, b[key]), f"{part}{key} differs after resume"
                compared += 1
            else:
                assert value == b[key], f"{part}{key}: {value!r} != {b[key]!r}"
    return compared


def write_png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)
    return path


def bars(count: int) -> list[np.ndarray]:
    """``count`` different 8x8 grayscale pictures (white strokes on black, like the digits)."""
    pictures = []
    for i in range(count):
        p = np.zeros((8, 8), np.uint8)
        p[1:7, 1 + i : 3 + i] = 255
        p[1 + i, 1:7] = 160
        pictures.append(p)
    return pictures


def assert_pixels(samples: np.ndarray, count: int) -> None:
    assert samples.shape == (count, 1, 8, 8)
    assert np.isfinite(samples).all() and samples.min() >= 0 and samples.max() <= 1  # data units: [0, 1]


def test_conditional_gan_with_an_outside_arch_and_relativistic_loss(family):
    args = ("--scheme", "conditional", "--arch", "cond-mlp", "--loss", "rsgan", "--data", "digits", "--batch-size", 8)
    family.parallel(*train_commands(args))
    family.parallel(
        resume_command(),
        ("sample", "runs/full", "--label", 3, "-n", 8, "-o", "three.npy"),
        ("sample", "runs/full", "--label", 3, "-n", 8, "--batch-size", 3, "-o", "three-again.npy"),
        ("sample", "runs/full", "--label", 5, "-n", 8, "-o", "five.npy"),
    )
    full, resumed = final_states(family.path)
    assert full.config["run"]["loss"] == "rsgan" and full.config["run"]["arch"] == "cond-mlp"
    assert full.ema and "embed.weight" in full.networks["discriminator"]  # the projection D was built
    assert_same_training_state(full, resumed)

    three, again, five = (np.load(family.path / f) for f in ("three.npy", "three-again.npy", "five.npy"))
    for samples in (three, again, five):
        assert_pixels(samples, 8)
    # Seeded, and independent of --batch-size (up to rounding: BLAS sums in another order per batch shape).
    assert np.allclose(three, again, rtol=0, atol=1e-5)
    assert not np.allclose(three, five)  # the label reaches G
    assert np.abs(three - three[:1]).max() > 1e-4  # the noise varies within a class


def test_pix2pix_paired_translation(family):
    explicit = ("--scheme", "pix2pix", "--arch", "p2p", "--data", "digits-pairs", "--batch-size", 8)
    # The second run names only its scheme: the scheme's suggestions pick the same arch and data.
    family.parallel(*train_commands(explicit, part_args=("--scheme", "pix2pix", "--batch-size", 8)))
    pictures = bars(3)
    for i, p in enumerate([*pictures, pictures[0]]):
        write_png(family.path / "folder" / f"{i}.png", p)
    family.parallel(
        resume_command(),
        ("sample", "runs/full", "--input", "folder", "-o", "folder.npy"),
        ("sample", "runs/full", "-n", 5, "-o", "from-data.png"),
    )
    full, resumed = final_states(family.path)
    assert resumed.config["run"]["arch"] == "p2p" and resumed.config["run"]["data"] == "digits-pairs"
    assert full.networks["translator"] and full.networks["discriminator"]
    assert_same_training_state(full, resumed)

    folder = np.load(family.path / "folder.npy")
    assert_pixels(folder, 4)  # one translation per input image (-n 64 asks for more than there are)
    assert np.array_equal(folder[0], folder[3])  # a translator has no noise: same input, same output
    assert not np.allclose(folder[0], folder[1])
    assert (family.path / "from-data.png").stat().st_size > 0  # unset --input: the data's own sources


def test_cyclegan_unpaired_streams_and_image_pool_resume(family):
    args = ("--scheme", "cyclegan", "--arch", "cycle", "--data", "digits-unpaired", "--loss", "lsgan")
    # A pool as large as a batch is full after step 1; from then on Python's random picks which fakes
    # D sees, so the resumed steps 3 and 4 match only if the pool and random are both restored.
    args += ("--batch-size", 4, "--set", "cyclegan.pool=4")
    family.parallel(*train_commands(args))
    write_png(family.path / "a.png", bars(1)[0])
    np.save(family.path / "a.npy", np.stack(bars(2)).astype(np.float32)[:, None] / 255.0)
    family.parallel(
        resume_command(),
        ("sample", "runs/full", "--input", "a.png", "-o", "pair.png"),
        ("sample", "runs/full", "--input", "a.npy", "-o", "b.npy"),
    )
    full, resumed = final_states(family.path)
    assert set(full.networks) == {"g_ab", "g_ba", "d_a", "d_b"}
    assert {k: tuple(v.shape) for k, v in full.scheme.items()} == {"pool_a": (4, 1, 8, 8), "pool_b": (4, 1, 8, 8)}
    assert "data1" in full.rng and full.counters["data_streams"]  # the second stream has its own state
    assert "python" in full.rng
    assert_same_training_state(full, resumed)

    from PIL import Image

    with Image.open(family.path / "pair.png") as picture:
        width, height = picture.size
    assert width > 1.5 * height  # one row: the input beside its translation
    translated = np.load(family.path / "b.npy")
    assert_pixels(translated, 2)
    assert not np.allclose(translated[0], translated[1])


def test_stargan_attribute_domains_and_two_headed_discriminator(family):
    # r1 penalizes D's first output (its scores) through PenaltyInputs.scores, on every D step.
    args = ("--scheme", "stargan", "--arch", "star", "--data", "digits-domains", "--batch-size", 8)
    args += ("--reg", "r1", "--set", "r1.every=1")
    family.parallel(*train_commands(args))
    for i, p in enumerate(bars(2)):
        write_png(family.path / "digits" / f"{i}.png", p)
    family.parallel(
        resume_command(),
        ("sample", "runs/full", "--set", "domains=1,0", "-n", 4, "-o", "mirrored.npy"),
        ("sample", "runs/full", "--input", "digits", "--set", "domains=0,1", "-n", 4, "-o", "inverted.npy"),
    )
    full, resumed = final_states(family.path)
    assert full.networks["discriminator"]["attributes.weight"].shape[0] == 2  # the attribute head
    assert_same_training_state(full, resumed)

    mirrored, inverted = np.load(family.path / "mirrored.npy"), np.load(family.path / "inverted.npy")
    assert_pixels(mirrored, 4)  # the data set's first images (no --input), translated to the domains given
    assert_pixels(inverted, 2)  # the two given images, translated
    assert not np.allclose(mirrored[:2], inverted)


def test_stylegan_truncation_and_path_length_regularizer_state(family):
    args = (
        "--scheme",
        "stylegan",
        "--arch",
        "style",
        "--data",
        "digits",
        "--batch-size",
        8,
        "--reg",
        "pl",
        "--reg",
        "r1",
    )
    # pl is lazy (every 4 G steps): it runs on G steps 0 and 4, i.e. iterations 1 and 5. Stopping at 3
    # puts iteration 5 after the resume, where it must start from the saved running mean.
    family.parallel(*train_commands(args, steps=6, split=3))
    family.parallel(
        resume_command(steps=6),
        ("sample", "runs/full", "-n", 6, "--set", "truncation=0.5", "-o", "psi05.npy"),
        ("sample", "runs/full", "-n", 6, "--set", "truncation=0", "-o", "psi0.npy"),
    )
    full, resumed = final_states(family.path)
    assert set(full.regularizers) == {"pl"}  # r1 keeps no state
    mean = full.regularizers["pl"]["mean"]
    assert mean.shape == () and float(mean) > 0  # the running mean of path lengths is in the checkpoint
    assert full.counters["g_steps"] == 6
    assert "w_avg" in full.networks["generator"] and "mapping.1.weight" in full.networks["generator"]
    assert_same_training_state(full, resumed)

    psi05, psi0 = np.load(family.path / "psi05.npy"), np.load(family.path / "psi0.npy")
    assert_pixels(psi05, 6)
    assert_pixels(psi0, 6)
    assert np.abs(psi0 - psi0[:1]).max() < 1e-6  # psi 0: every sample is the average w's image
    assert np.abs(psi05 - psi05[:1]).max() > 1e-4  # psi 0.5: still a distribution
