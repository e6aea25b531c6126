"""The embedded attribute-digits task and the folder-per-domain data source."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from gankit import DataRequest, GankitError
from gankit.testing import check_component, create_component, run_cli
from PIL import Image

import gankit_stargan
from gankit_stargan import DIGIT_ATTRIBUTES, DigitDomainsConfig, FolderConfig
from gankit_stargan.data import apply_attributes, digit_domains, domain_folder, plain_digits, undo_attributes


def write_domains(root: Path, domains=("angry", "happy", "sad"), per_domain=3, size=(12, 10)) -> Path:
    """A tiny StarGAN folder: root/<domain>/*.png, RGB pictures of ``size`` (width, height)."""
    rng = np.random.default_rng(0)
    for d, name in enumerate(domains):
        (root / name).mkdir(parents=True)
        for i in range(per_domain):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) // (d + 1)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


def test_digits_task_fields_and_splits():
    train, test = digit_domains(DigitDomainsConfig("train")), digit_domains(DigitDomainsConfig("test"))
    everything = digit_domains(DigitDomainsConfig("all"))
    d = train.description
    assert (d.main, d.shape, list(d.fields)) == ("x", (1, 16, 16), ["x", "attributes", "label"])
    assert d.fields["attributes"].shape == (len(DIGIT_ATTRIBUTES),) and d.class_field() == "label"
    assert d.fields["attributes"].names == DIGIT_ATTRIBUTES == ("dimmed", "framed", "thick")
    assert [len(s.tensors["x"]) for s in (train, test, everything)] == [1437, 360, 1797]
    flags = everything.tensors["attributes"]
    assert set(flags.unique().tolist()) == {0.0, 1.0}
    assert len({tuple(f) for f in flags.tolist()}) == 8  # every combination of the three attributes occurs
    assert (0.4 < flags.mean(0)).all() and (flags.mean(0) < 0.6).all()
    assert set(test.tensors["label"].tolist()) == set(range(10))
    # One draw for all 1,797 digits: each test sample (image and attributes) is one of "all"'s samples.
    seen = {_key(x, a) for x, a in zip(everything.tensors["x"], everything.tensors["attributes"], strict=True)}
    assert all(_key(x, a) in seen for x, a in zip(test.tensors["x"], test.tensors["attributes"], strict=True))


def _key(x: torch.Tensor, attributes: torch.Tensor) -> tuple:
    return x.numpy().tobytes(), tuple(attributes.tolist())


def test_each_attribute_is_what_it_says_and_undoes_exactly_when_it_can():
    assert DIGIT_ATTRIBUTES == ("dimmed", "framed", "thick")
    x = torch.rand(1, 1, 16, 16) * 2 - 1

    def flags(*names):
        return torch.tensor([[float(n in names) for n in DIGIT_ATTRIBUTES]])

    def one(*names):
        return apply_attributes(x, flags(*names))

    def frame(y):
        y = y.clone()
        y[..., [0, -1], :] = 1
        y[..., :, [0, -1]] = 1
        return y

    thick = torch.nn.functional.max_pool2d(x, 3, 1, 1)
    assert torch.equal(one(), x)
    assert torch.equal(one("dimmed"), (x - 1) / 2)  # strokes at half brightness on the same black
    assert torch.equal(one("framed"), frame(x))
    assert torch.equal(one("thick"), thick)
    # Dilation first (dimmed strokes are thick too), the frame last (it stays white on dimmed digits).
    assert torch.equal(one("thick", "dimmed", "framed"), frame((thick - 1) / 2))
    assert torch.allclose(undo_attributes(one("dimmed"), flags("dimmed")), x)  # a judge reads the plain digit
    everything = one("thick", "dimmed", "framed")
    assert torch.allclose(undo_attributes(everything, flags("thick", "dimmed", "framed")), one("thick", "framed"))
    # At 32 px the frame is two pixels wide, as the strokes are twice as thick.
    big = apply_attributes(torch.full((1, 1, 32, 32), -1.0), flags("framed"))
    assert big[0, 0, 1, 5] == 1 and big[0, 0, 2, 5] == -1


def test_plain_digits_are_the_tasks_digits_before_their_attributes():
    data = digit_domains(DigitDomainsConfig("test")).tensors
    plain, labels = plain_digits("test")
    assert torch.equal(labels, data["label"])
    assert torch.equal(apply_attributes(plain, data["attributes"]), data["x"])


def test_digits_resolution_follows_the_request():
    data = digit_domains(DigitDomainsConfig("test"), DataRequest(resolution=32))
    assert data.tensors["x"].shape == (360, 1, 32, 32) and data.tensors["x"].abs().max() <= 1
    with pytest.raises(GankitError, match="at most 128"):
        digit_domains(DigitDomainsConfig(), DataRequest(resolution=256))


def test_digits_task_conforms():
    check_component("data", "stargan-digits", {"split": "test"})


def test_folder_per_domain(tmp_path):
    root = write_domains(tmp_path / "faces")
    data = domain_folder(FolderConfig(), DataRequest(root=str(root), resolution=8))
    d = data.description
    assert d.name == "stargan-folder:angry,happy,sad"  # the order of --set target=...
    assert d.shape == (3, 8, 8) and d.fields["attributes"].shape == (3,)
    assert d.fields["attributes"].names == ("angry", "happy", "sad")  # what --set target= takes
    flags = data.tensors["attributes"]
    assert flags.tolist() == [[1.0, 0.0, 0.0]] * 3 + [[0.0, 1.0, 0.0]] * 3 + [[0.0, 0.0, 1.0]] * 3
    gray = domain_folder(FolderConfig(channels=1, crop=6), DataRequest(root=str(root), resolution=4))
    assert gray.tensors["x"].shape == (9, 1, 4, 4)


def test_folder_names_that_set_cannot_split_leave_the_flags_unnamed(tmp_path):
    root = write_domains(tmp_path / "faces", domains=("black hair", "blond+hair"))
    data = domain_folder(FolderConfig(), DataRequest(root=str(root), resolution=8))
    assert data.description.fields["attributes"].names == ()  # --set target=1,0 still works
    assert data.tensors["attributes"].tolist() == [[1.0, 0.0]] * 3 + [[0.0, 1.0]] * 3


def test_folder_conforms_and_suggests_the_rafd_settings(tmp_path):
    root = write_domains(tmp_path / "faces")
    check_component("data", "stargan-folder", request=DataRequest(root=str(root), resolution=8))
    registered = {}
    gankit_stargan.gankit_register_data_sources(lambda name, factory, **kw: registered.setdefault(name, kw))
    # data_loader.py: RaFD is one domain per image (softmax classification) and trains on random flips;
    # gankit eval scores the round trips between its domains.
    assert registered["stargan-folder"]["defaults"] == {
        "scheme": "stargan", "stargan.classification": "single", "stargan.flip": True,
        "metrics": ("domain-cycle-l1",),
    }  # fmt: skip


@pytest.mark.parametrize(
    "layout, expected",
    [
        (None, "needs --data-root DIR, laid out as DIR/<domain>/\\*.png"),
        ("missing", "'{root}' is not a folder; expected DIR/<domain>/"),
        ("loose", "'{root}/a.png' lies directly in --data-root; expected DIR/<domain>/"),
        ("one", "'{root}' has only the folder 'happy'; expected DIR/<domain>/"),
        ("empty", "'{root}/sad' holds no images"),
        ("broken", "cannot read image '{root}/sad/0.png'"),
    ],
)
def test_bad_folders_are_one_line_naming_the_path(tmp_path, layout, expected):
    root = tmp_path / "faces"
    if layout in ("loose", "one", "empty", "broken"):
        (root / "happy").mkdir(parents=True)
        Image.new("RGB", (4, 4)).save(root / "happy" / "0.png")
    if layout in ("empty", "broken"):
        (root / "sad").mkdir()
    if layout == "loose":
        Image.new("RGB", (4, 4)).save(root / "a.png")
    if layout == "broken":
        (root / "sad" / "0.png").write_bytes(b"not a png")
    request = DataRequest(root=None if layout is None else str(root), resolution=8)
    with pytest.raises(GankitError) as error:
        create_component("data", "stargan-folder", None, request)
    message = str(error.value)
    assert "\n" not in message
    assert re.search(expected.format(root=root), message), message


def test_a_bad_folder_on_the_command_line(tmp_path):
    result = run_cli(
        "run", "--arch", "stargan", "--data", "stargan-folder", "--data-root", str(tmp_path / "nowhere"),
        "--out", str(tmp_path), "--device", "cpu", "-q", check=False,
    )  # fmt: skip
    assert result.exit_code != 0
    assert f"'{tmp_path / 'nowhere'}' is not a folder; expected DIR/<domain>/*.png" in result.output
    assert "Traceback" not in result.output
