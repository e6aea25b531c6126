"""Generation inputs: seeded, independent of the batch size, filled from what the user gave."""

from __future__ import annotations

import re

import pytest
import torch

from gankit import Attributes, FromData, GankitError, Label, Noise, Option
from gankit.engine import generation

SPEC = {"z": Noise((4,)), "label": Label(10), "psi": Option(1.0)}


def test_noise_is_seeded_and_labels_go_through_the_classes_in_rows():
    a = generation.fill(SPEC, 30, seed=3)
    b = generation.fill(SPEC, 30, seed=3)
    assert torch.equal(a["z"], b["z"]) and not torch.equal(a["z"], generation.fill(SPEC, 30, seed=4)["z"])
    assert a["label"].tolist() == [i // 3 for i in range(30)]  # 3 columns, one row per class
    assert generation.grid_columns(SPEC, 30) == 3
    assert a["psi"] == 1.0


def test_given_values_fix_inputs():
    filled = generation.fill(SPEC, 5, seed=0, given={"label": 7, "psi": 0.5})
    assert filled["label"].tolist() == [7] * 5 and filled["psi"] == 0.5


def test_chunks_do_not_change_the_samples():
    values = generation.fill(SPEC, 10, seed=0)
    chunks = list(generation.chunks(SPEC, values, 10, batch_size=3))
    assert [len(c["z"]) for c in chunks] == [3, 3, 3, 1]
    assert torch.equal(torch.cat([c["z"] for c in chunks]), values["z"])
    assert all(c["psi"] == 1.0 for c in chunks)


def test_given_images_decide_the_count_and_data_fills_the_rest():
    spec = {"image": FromData("source"), "domains": Attributes(3)}
    images = torch.zeros(4, 1, 8, 8)
    filled = generation.fill(spec, 64, seed=0, given={"image": images})
    assert generation.count_of(spec, filled) == 4
    # Unset flags go through each attribute in blocks over the 4 samples the images make.
    assert filled["domains"].tolist() == [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0]]
    from_data = generation.fill(spec, 6, seed=0, from_data=lambda field, n: torch.ones(n, 1, 8, 8))
    assert from_data["image"].shape == (6, 1, 8, 8)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("label", "10", "class from 0 to 9"),
        ("label", "x", "class from 0 to 9"),
        ("psi", "high", "must be a float"),
        ("z", "1", "cannot be set"),
    ],
)
def test_bad_values_are_one_line_errors(name, text, message):
    with pytest.raises(GankitError, match=message):
        generation.parse_value(name, text, SPEC[name])


@pytest.mark.parametrize(
    ("text", "flags"),
    [("1,0,1", [1, 0, 1]), ("thick", [0, 0, 1]), ("dimmed+thick", [1, 0, 1]), ("framed, thick", [0, 1, 1]),
     ("Thick+DIMMED", [1, 0, 1]), ("none", [0, 0, 0]), ("0,0,0", [0, 0, 0])],
)  # fmt: skip
def test_named_attributes_are_set_by_name_or_by_flags(text, flags):
    spec = Attributes(3, names=("dimmed", "framed", "thick"))
    assert generation.parse_value("target", text, spec) == flags


@pytest.mark.parametrize("text", ["bold", "thick+bold", "1,2,0", "1,0", ""])
def test_bad_attribute_values_name_the_flags_and_the_names(text):
    spec = Attributes(3, names=("dimmed", "framed", "thick"))
    expected = "target must be 3 flags of 0 or 1 separated by commas or names joined by + (dimmed, framed, thick"
    with pytest.raises(GankitError, match=f"^{re.escape(expected)}.*got {re.escape(repr(text))}$"):
        generation.parse_value("target", text, spec)
    with pytest.raises(GankitError, match=r"^target must be 3 flags of 0 or 1 separated by commas, got 'thick'$"):
        generation.parse_value("target", "thick", Attributes(3))  # unnamed flags: no names to offer


def test_unknown_inputs_and_huge_counts_are_refused():
    with pytest.raises(GankitError, match="takes no input 'label2'"):
        generation.fill(SPEC, 4, seed=0, given={"label2": 1})
    with pytest.raises(GankitError, match="at most"):
        generation.fill(SPEC, generation.MAX_COUNT + 1, seed=0)


def test_sample_i_gets_the_same_noise_for_any_count():
    spec = {"z": Noise((2,))}
    few, many = generation.fill(spec, 3, seed=5), generation.fill(spec, 40, seed=5)
    assert torch.equal(few["z"], many["z"][:3])


def test_translations_are_pictured_beside_their_inputs_and_targets(tmp_path):
    from PIL import Image

    from gankit import DataDescription
    from gankit.images import save_samples

    spec = {"source": FromData("source", target="target")}
    assert generation.paired_target(spec) == "target" and generation.paired_target({"z": Noise((2,))}) is None
    data = DataDescription("pairs", (1, 64, 64), "image")  # large enough not to be enlarged
    out, ones = torch.zeros(4, 1, 64, 64), torch.ones(4, 1, 64, 64)
    save_samples(out, data, tmp_path / "two.png", columns=2, inputs=-ones)
    save_samples(out, data, tmp_path / "three.png", columns=2, inputs=-ones, targets=ones)
    two, three = (Image.open(tmp_path / f"{n}.png").size for n in ("two", "three"))
    assert (two, three) == ((4 * 66 + 2, 2 * 66 + 2), (6 * 66 + 2, 2 * 66 + 2))  # 2 px padding per image


def test_rows_of_named_classes_are_labelled_left_of_the_grid(tmp_path):
    import numpy as np
    from PIL import Image

    from gankit import DataDescription
    from gankit.images import save_samples

    spec = {"z": Noise((2,)), "label": Label(2, names=("cats", "dogs"))}
    assert generation.row_names(spec) == ("cats", "dogs")
    assert generation.row_names(spec, {"label": 1}) == ()  # one class for every sample: rows are not classes
    assert generation.row_names({"label": Label(2)}) == () and generation.row_names({"z": Noise((2,))}) == ()
    assert generation.row_names({"t": Attributes(2, names=("dimmed", "thick"))}) == ("dimmed", "thick")

    data = DataDescription("pets", (1, 128, 128), "image")  # large enough not to be enlarged
    samples = torch.ones(4, 1, 128, 128)  # white: only the labels are dark
    save_samples(samples, data, tmp_path / "plain.png", columns=2)
    save_samples(samples, data, tmp_path / "named.png", columns=2, row_labels=("cats", "dogs"))
    save_samples(samples, data, tmp_path / "miscounted.png", columns=2, row_labels=("cats",))
    plain, named, miscounted = (np.asarray(Image.open(tmp_path / f"{n}.png")) for n in ("plain", "named", "miscounted"))
    assert plain.shape == miscounted.shape == (2 * 130 + 2, 2 * 130 + 2, 3)
    margin = named.shape[1] - plain.shape[1]
    assert named.shape[0] == plain.shape[0] and margin > 0
    assert np.array_equal(named[:, margin:], plain)  # the grid itself is untouched
    dark_rows = np.flatnonzero((named[:, :margin].max(-1) < 128).any(1))
    # Dark lines about each row's middle (2 + 64 and 132 + 64), nothing elsewhere.
    assert any(abs(r - 66) <= 3 for r in dark_rows) and any(abs(r - 196) <= 3 for r in dark_rows)
    assert all(abs(r - 66) <= 10 or abs(r - 196) <= 10 for r in dark_rows)
    # A long name (a folder's, say) is cut to 24 characters, so it cannot push the grid off the picture.
    save_samples(samples, data, tmp_path / "long.png", columns=2, row_labels=("c" * 60, "dogs"))
    save_samples(samples, data, tmp_path / "cut.png", columns=2, row_labels=("c" * 21 + "...", "dogs"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "long.png")), np.asarray(Image.open(tmp_path / "cut.png")))
