"""gankit's testing kit for plugin authors: register a plugin for one test, and check its components.

pytest finds it through gankit's ``pytest11`` entry point, so the ``gankit_plugin`` fixture needs no
import::

    import my_plugin
    from gankit.testing import check_component, check_plugin

    def test_loads_cleanly():
        check_plugin(my_plugin)          # registers without errors; importing it imports no torch

    def test_conforms(gankit_plugin):
        gankit_plugin(my_plugin)         # in the registry the CLI sees, for this test only
        check_component("loss", "myloss")

:func:`check_component` runs every conformance check for one component kind, including short
trainings through the real ``gankit`` command line (in-process, in a temporary folder). Each checks
the contracts a component declares:

* architecture: every network it builds for a :class:`gankit.NetworkRequest` (by default unconditional
  and class-conditional G and D; pass ``requests=`` for translators and other roles) takes its inputs
  in order, returns each declared output (a tuple when several) of the declared shape, samples in
  ``[-1, 1]``, scores ``(N,)``, all finite; every input changes the outputs (a conditional D must use
  the label); gradients reach G through D; requests it cannot build must be refused with a
  ``GankitError`` (``UnsupportedRequest``), and it must build G and D for some data;
* loss: both losses are finite scalars with finite gradients, also for extreme and per-patch scores;
  ``generator_loss`` gets and uses ``real_scores`` when ``needs_real_scores`` is set;
* regularizer: wrapping keeps each target network's output, penalties are finite scalars (for D and G,
  also class-conditional ones, through ``PenaltyInputs.conditions``), at weight 0 it is a no-op,
  ``targets`` name the roles it penalizes, and ``state()`` round-trips through ``load_state``;
* data: every field has its described shape and kind (samples finite in ``[-1, 1]``, class labels below
  ``num_classes``, attributes 0/1), each stream's fields one length; sampling is determined by the
  generator; it trains, class-conditionally too when it has labels;
* scheme: on data it takes, its networks, optimizers and generation inputs agree; 4 steps equal 2 steps
  + resume to 4 (networks, EMA, optimizers, scheme and regularizer state, counters, RNG states, bit for
  bit); and ``gankit sample`` generates from its generation inputs (``--label`` per class);
* tracker: every method runs, ``state()`` is JSON, and a run and its resume log without warnings;
* metric: named finite numbers, the same for the same seed, a JSON protocol, and it works during
  training (``--eval-every``) and in ``gankit eval``.

Importing this module does not import torch (pytest loads it in every session).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from gankit.plugins import PluginRecord
from gankit.testing._kit import (
    DEFAULT_DESCRIPTIONS,
    KIND_ALIASES,  # noqa: F401 - kept importable from gankit.testing
    TINY_MLP,
    TINY_RUN,
    ConformanceError,
    Report,
    _fixture_factory,
    _kind,
    check_plugin,
    create_component,
    default_plugin_name,
    penalty_inputs,
    registered_plugin,
    run_cli,
)
from gankit.testing.losses import check_loss
from gankit.testing.networks import LABELLED_DESCRIPTIONS, check_architecture, default_requests, network_inputs
from gankit.testing.regularizers import check_regularizer, generator_penalty_inputs
from gankit.testing.training import SCHEME_DATA, check_data_source, check_metric, check_scheme, check_tracker

__all__ = [
    "DEFAULT_DESCRIPTIONS",
    "LABELLED_DESCRIPTIONS",
    "SCHEME_DATA",
    "TINY_MLP",
    "TINY_RUN",
    "ConformanceError",
    "Report",
    "check_architecture",
    "check_component",
    "check_data_source",
    "check_loss",
    "check_metric",
    "check_plugin",
    "check_regularizer",
    "check_scheme",
    "check_tracker",
    "create_component",
    "default_plugin_name",
    "default_requests",
    "generator_penalty_inputs",
    "network_inputs",
    "penalty_inputs",
    "registered_plugin",
    "run_cli",
]

try:
    import pytest
except ImportError:  # the kit works without pytest; only the fixture needs it
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def gankit_plugin() -> Iterator[Callable[..., PluginRecord]]:
        """``gankit_plugin(plugin, name=None)``: register a plugin object (module) for this test.

        The CLI (``gankit.testing.run_cli``), ``gankit.plugins.registry()`` and ``resolve`` see it
        together with every installed plugin until the test ends. Returns the plugin's record; a
        plugin that does not load fails the test (``allow_errors=True`` returns the record instead).
        """
        yield from _fixture_factory()


_CHECKS: dict[str, Callable[..., Report]] = {
    "architecture": check_architecture,
    "loss": check_loss,
    "regularizer": check_regularizer,
    "data": check_data_source,
    "scheme": check_scheme,
    "tracker": check_tracker,
    "metric": check_metric,
}


def check_component(kind: str, name_or_factory: Any, config: Any = None, **options: Any) -> Report:
    """Run every conformance check for one component; raises :class:`ConformanceError` on the first failure.

    ``kind`` is arch, loss, reg, data, scheme, tracker or metric (or the long names). ``name_or_factory`` is
    a registered name (``plugin:name`` works) or the factory itself. ``config`` is ``None`` (the
    defaults), a dict of options, or an instance of the config class. ``options`` go to the kind's
    own check: ``run=False`` (no CLI runs), ``run_args=[...]`` (added to each ``gankit run``),
    ``data=`` (architecture: descriptions; scheme: a data set name; metric: data set names),
    ``requests=`` and ``patch_scores=`` (architecture), ``zero_options=`` (regularizer), ``request=``
    (data source).
    """
    return _CHECKS[_kind(kind)](name_or_factory, config, **options)
