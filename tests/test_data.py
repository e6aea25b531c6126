"""gankit/data.py: fields and data descriptions, as plugins declare them and runs save them."""

from __future__ import annotations

import json

import pytest

from gankit import DataDescription, Field


def test_attribute_names_are_kept_through_config_json():
    fields = {
        "x": Field((1, 8, 8), "image"),
        "domains": Field((3,), "attributes", names=["dimmed", "framed", "thick"]),
    }
    description = DataDescription.of("named", fields)
    saved = json.loads(json.dumps(description.to_dict()))  # what config.json and checkpoints hold
    assert DataDescription.from_dict(saved) == description
    assert DataDescription.from_dict(saved).fields["domains"].names == ("dimmed", "framed", "thick")


def test_descriptions_saved_before_names_existed_still_load():
    saved = DataDescription.of("old", {"x": Field((2,), "points"), "a": Field((2,), "attributes")}).to_dict()
    for field in saved["fields"].values():
        del field["names"]
    assert DataDescription.from_dict(saved).fields["a"].names == ()


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (dict(shape=(3,), kind="attributes", names=("a", "b")), "must name each class .* or each flag"),
        (dict(shape=(2,), kind="image", names=("a", "b")), "must name each class"),
        (dict(shape=(), kind="class", num_classes=3, names=("cat", "dog")), "must name each class"),
        (dict(shape=(2,), kind="attributes", names=("black hair", "b")), "without ',', '\\+' or spaces"),
        (dict(shape=(2,), kind="attributes", names=("a+b", "c")), "without"),
        (dict(shape=(2,), kind="attributes", names=("none", "c")), "not none"),
        (dict(shape=(2,), kind="attributes", names=("1", "c")), "not a number"),
        (dict(shape=(), kind="class", num_classes=2, names=("0", "cat")), "not a number"),
        (dict(shape=(), kind="class", num_classes=2, names=("cat", "")), "must be text"),
        (dict(shape=(2,), kind="attributes", names=("a", "a")), "must differ"),
        (dict(shape=(), kind="class", num_classes=2, names=("Cat", "cat")), "must differ .*case aside"),
    ],
)
def test_names_that_the_command_line_could_not_read_back_are_refused(field, message):
    with pytest.raises(ValueError, match=message):
        Field(**field)


def test_class_names_may_hold_spaces_and_slashes():
    field = Field((), "class", num_classes=2, names=("T-shirt/top", "Ankle boot"))
    assert field.names == ("T-shirt/top", "Ankle boot")  # --label "ankle boot" (any case)
