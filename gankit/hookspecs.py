"""Every hook a gankit plugin can implement. These docstrings are the hook reference.

A plugin is a module (or any object) named by an entry point in the ``gankit`` group::

    [project.entry-points.gankit]
    myplugin = "my_package.plugin"

and implements hooks with the :data:`gankit.hookimpl` marker::

    from gankit import hookimpl

    @hookimpl
    def gankit_register_losses(register):
        register("myloss", MyLoss, config=MyLossConfig, summary="what it does, in one line")

Each registration hook receives a ``register`` callable with the signature::

    register(name, factory, *, config=None, summary="", defaults=None)

``name``
    What users type (``--loss myloss``). Unique per kind; if two plugins register one name, users pick
    one with ``plugin:name``.
``factory``
    Builds the component: ``factory(config)`` for every kind except data sources, which are called
    ``factory(config, request)`` with a :class:`gankit.DataRequest`, and trackers, called
    ``factory(config, context)`` with a :class:`gankit.TrackerContext`. It may also be a
    ``"module:attribute"`` string, imported only when the component is used, so that listing plugins
    never imports torch.
``config``
    A frozen attrs class with a default for every field: the component's options, settable with
    ``--set name.option=value`` and ``[name]`` tables in a TOML config. ``None`` when it has none.
``summary``
    One line shown by ``gankit list``.
``defaults``
    Run settings that suit this component (``{"n_critic": 5, "lr_d": 1e-4}`` for WGAN losses), and
    options of other components as ``"component.option"`` keys (``{"gp.weight": 0.1}`` from the toy
    data sets), applied only when that component is in the run. They apply when the user did not set
    them, in the order data source, architecture, loss, regularizers, scheme, trackers (later wins;
    a component that another suggests applies just before its suggester, whose recipe refines it);
    a ``--config`` file, flags and ``--set`` override them all. They may name other components
    (``{"arch": "p2p-nets", "data": "digit-pairs"}`` from a pix2pix scheme; keys ``data``, ``arch``,
    ``loss``, ``scheme``, ``regs``): a name the user did not give is taken from the suggestions, and
    the lookup repeats until the chosen components' suggestions no longer change the names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import click

hookspec = pluggy.HookspecMarker("gankit")


class Register(Protocol):
    """The ``register`` callable that each registration hook receives."""

    def __call__(
        self,
        name: str,
        factory: Any,
        *,
        config: type | None = None,
        summary: str = "",
        defaults: dict[str, Any] | None = None,
    ) -> None: ...


@hookspec
def gankit_register_architectures(register: Register) -> None:
    """Register architectures: factories of a :class:`gankit.Architecture`.

    An architecture builds the networks a scheme asks for: ``Architecture.build(request)`` receives a
    :class:`gankit.NetworkRequest` (a role, the data, named input and output fields) and returns an
    ``nn.Module`` called with the inputs in order (``G(z)``, ``G(z, label)``, ``D(x, label)``,
    ``T(source)``). It raises :class:`gankit.UnsupportedRequest` for a request or data it cannot
    take, naming what would work. gankit 0.1's ``generator(data, z_dim)`` and ``discriminator(data)``
    still work for unconditional requests.
    """


@hookspec
def gankit_register_losses(register: Register) -> None:
    """Register adversarial losses: factories of a :class:`gankit.Loss`.

    A loss maps the discriminator's raw scores to a discriminator loss and a generator loss, both
    scalars. Squashing (sigmoid) belongs here, where it can be numerically stable. A loss whose
    generator term compares with the real samples (relativistic ones, such as ``ragan``) sets
    ``needs_real_scores = True``; schemes then pass ``real_scores`` to ``generator_loss``.
    """


@hookspec
def gankit_register_regularizers(register: Register) -> None:
    """Register regularizers: factories of a :class:`gankit.Regularizer`.

    A regularizer acts on the networks whose role is in its ``targets`` (discriminators by default).
    It can ``wrap(network, role)`` a network when it is built (spectral norm), add a penalty to the
    discriminator loss (gradient penalty, R1) or to the generator loss (path length), lazily with
    ``every``, or act after each discriminator step (weight clipping). Tensors it must keep across a
    resume go through ``state()`` and ``load_state()``. Several can be combined with a repeated
    ``--reg``.
    """


@hookspec
def gankit_register_data_sources(register: Register) -> None:
    """Register data sources: factories ``factory(config, request)`` of a :class:`gankit.Dataset`.

    A data set yields named fields (:class:`gankit.Field`) that its :class:`gankit.DataDescription`
    lists: ``x`` (and ``label``) in the one-field case, ``source`` and ``target`` for pairs, or
    unpaired fields in separate streams. A finite data set is decoded once into one tensor per field
    scaled to ``[-1, 1]`` (``TensorDataset(description, samples, labels)`` or
    ``TensorDataset(description, fields={...})``); a distribution implements ``Dataset.sample``.
    Missing files are a :class:`gankit.GankitError` naming the path and the fix; nothing is
    downloaded unless ``request.download`` is true. ``request.resolution`` asks for resized images.
    """


@hookspec
def gankit_register_schemes(register: Register) -> None:
    """Register training schemes: factories of a :class:`gankit.Scheme`.

    A scheme names its networks (``networks(data, z_dim)``: name to :class:`gankit.NetworkRequest`)
    and optimizers, declares what its generator takes (``generation_inputs``, filled by
    ``gankit sample`` and the training loop) and how it generates (``generate``), implements one
    training iteration on a :class:`gankit.engine.step.StepContext`, and may keep tensors across a
    resume (``state``, ``load_state``). The engine does everything around it.
    """


@hookspec
def gankit_register_trackers(register: Register) -> None:
    """Register trackers: factories ``factory(config, context)`` of a :class:`gankit.Tracker`.

    ``context`` is a :class:`gankit.TrackerContext` (run folder, run name, whether the run resumes,
    and the tracker's own saved state). Trackers are chosen with a repeated ``--tracker``; ``console``
    and ``jsonl`` are on by default. A tracker must never block training: a failing service is a
    warning, not an error.
    """


@hookspec
def gankit_register_metrics(register: Register) -> None:
    """Register metrics: factories ``factory(config)`` of a :class:`gankit.Metric`.

    A metric scores a generator from its samples through an :class:`gankit.EvalContext` and returns
    named numbers; ``gankit eval`` saves them with the metric's :meth:`gankit.Metric.protocol` and
    version, and ``--eval-every`` sends them to the trackers during training.
    """


@hookspec
def gankit_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``gankit`` command line: ``cli.add_command(my_command)``.

    ``gankit --help`` lists them after the built-in commands, so it imports the plugin module:
    import torch inside the commands, not at the top. A name gankit already uses is ignored; one
    that two plugins add is available as ``gankit plugin:name``. The commands of a broken plugin
    are listed as broken, pointing to ``gankit plugins show NAME``, which prints its traceback.
    """
