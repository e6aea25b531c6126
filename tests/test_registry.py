"""Component lookup: unknown names, names registered by two plugins, and ``plugin:name``."""

from __future__ import annotations

import pytest

from gankit import GankitError
from gankit.plugins import registry
from gankit.registry import ComponentSpec, Registry


class _LossA:
    def __init__(self, config=None):
        self.origin = "a"


class _LossB:
    def __init__(self, config=None):
        self.origin = "b"


def _two_plugin_registry() -> Registry:
    reg = Registry()
    reg.add(ComponentSpec("loss", "shared", "alpha", _LossA, summary="from alpha"))
    reg.add(ComponentSpec("loss", "shared", "beta", _LossB, summary="from beta"))
    reg.add(ComponentSpec("loss", "solo", "alpha", _LossA))
    return reg


def test_unknown_name_lists_valid_names_and_closest_match():
    with pytest.raises(GankitError) as info:
        registry().get("loss", "wgn")
    message = str(info.value)
    assert "'wgn'" in message
    assert "did you mean 'wgan'?" in message
    for name in ("bce", "hinge", "lsgan", "wgan"):
        assert name in message
    assert "--loss" in message
    assert "\n" not in message


def test_unknown_name_without_close_match_has_no_guess():
    with pytest.raises(GankitError) as info:
        registry().get("regularizer", "zzzzzzzz")
    message = str(info.value)
    assert "did you mean" not in message
    assert "clip, gp, r1, sn" in message


@pytest.mark.parametrize(
    ("kind", "typo", "guess"),
    [("regularizer", "gpp", "gp"), ("data", "mnst", "mnist"), ("architecture", "dcgna", "dcgan")],
)
def test_close_match_for_every_kind(kind, typo, guess):
    with pytest.raises(GankitError, match=f"did you mean '{guess}'"):
        registry().get(kind, typo)


def test_known_name_resolves_to_its_plugin():
    spec = registry().get("loss", "hinge")
    assert spec.kind == "loss"
    assert spec.name == "hinge"
    assert spec.plugin == "builtins.losses"
    assert spec.qualified_name == "builtins.losses:hinge"


def test_same_name_from_two_plugins_names_both_and_suggests_qualified_names():
    reg = _two_plugin_registry()
    with pytest.raises(GankitError) as info:
        reg.get("loss", "shared")
    message = str(info.value)
    assert "'alpha'" in message and "'beta'" in message
    assert "--loss alpha:shared" in message
    assert "--loss beta:shared" in message
    assert "\n" not in message


def test_conflicts_reports_the_group():
    reg = _two_plugin_registry()
    conflicts = reg.conflicts()
    assert len(conflicts) == 1
    assert sorted(s.plugin for s in conflicts[0]) == ["alpha", "beta"]
    # A name only one plugin registers is not a conflict, and is found unqualified.
    assert reg.get("loss", "solo").plugin == "alpha"


def test_qualified_name_picks_one_plugin():
    reg = _two_plugin_registry()
    a = reg.get("loss", "alpha:shared")
    b = reg.get("loss", "beta:shared")
    assert (a.plugin, b.plugin) == ("alpha", "beta")
    assert a.create(None).origin == "a"
    assert b.create(None).origin == "b"


def test_qualified_name_with_unknown_plugin_errors():
    reg = _two_plugin_registry()
    with pytest.raises(GankitError) as info:
        reg.get("loss", "gamma:shared")
    message = str(info.value)
    assert "'gamma:shared'" in message
    assert "alpha:shared" in message and "beta:shared" in message


def test_qualified_name_of_real_plugin():
    assert registry().get("loss", "builtins.losses:bce").name == "bce"
    with pytest.raises(GankitError) as info:
        registry().get("loss", "nosuchplugin:bce")
    message = str(info.value)
    assert "'nosuchplugin:bce'" in message
    assert "builtins.losses:bce" in message  # the qualified names that would work


def test_qualified_unknown_component_in_known_plugin_errors():
    with pytest.raises(GankitError, match="did you mean 'builtins.losses:wgan'"):
        registry().get("loss", "builtins.losses:wgn")


def test_remove_plugin_drops_only_its_components():
    reg = _two_plugin_registry()
    reg.remove_plugin("alpha")
    assert reg.names("loss") == ["shared"]
    assert reg.get("loss", "shared").plugin == "beta"
    assert reg.conflicts() == []


@pytest.mark.parametrize("bad", ["", "a:b"])
def test_invalid_names_are_refused(bad):
    with pytest.raises(ValueError):
        Registry().add(ComponentSpec("loss", bad, "p", _LossA))


def test_config_must_be_attrs_class():
    class NotAttrs:
        pass

    with pytest.raises(TypeError):
        Registry().add(ComponentSpec("loss", "x", "p", _LossA, config=NotAttrs))


def test_string_factory_is_imported_lazily():
    spec = ComponentSpec("loss", "x", "p", "gankit_builtins.losses.adversarial:Hinge")
    factory = spec.resolve_factory()
    from gankit_builtins.losses.adversarial import Hinge

    assert factory is Hinge
    assert isinstance(spec.create(None), Hinge)


def test_a_suggested_setting_that_is_no_setting_is_refused_at_registration():
    from gankit.registry import ComponentSpec, Registry

    registry = Registry()
    registry.add(ComponentSpec("loss", "ok", "p", object, defaults={"lr_g": 1e-4, "gp.weight": 1.0, "scheme": "x"}))
    with pytest.raises(ValueError, match="suggests unknown run setting 'lr'"):
        registry.add(ComponentSpec("loss", "typo", "p", object, defaults={"lr": 1e-4}))
