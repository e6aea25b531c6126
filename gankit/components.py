"""The component types that plugins implement.

This module imports no torch at run time, so that plugins can subclass these types in modules that
``gankit plugins`` loads quickly. Every tensor below is a ``torch.Tensor``; every network an
``nn.Module``.

Conventions every component can rely on:

* Data batches are float tensors scaled to ``[-1, 1]``; :attr:`DataDescription.value_range` says what
  ``-1`` and ``+1`` mean in the data's own units (pixels in ``[0, 1]``, points in their plane).
* Discriminators return raw scores (logits) of shape ``(N,)`` (or ``(N, ...)``, per patch); squashing
  them belongs to the loss.

The data types (:class:`DataDescription`, :class:`Field`, :class:`Dataset`) live in :mod:`gankit.data`
and the generation inputs in :mod:`gankit.inputs`; both are re-exported here and from ``gankit``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gankit.data import DataDescription, DataRequest, Dataset, Field, TensorDataset  # noqa: F401 - re-exported
from gankit.errors import GankitError
from gankit.inputs import Input, Noise

if TYPE_CHECKING:
    from torch import Tensor, nn

    from gankit.engine.step import StepContext


@attrs.frozen
class NetworkRequest:
    """What a scheme asks an architecture for: a network in a ``role`` with named inputs and outputs.

    The network is called with its inputs positionally, in the order of :attr:`inputs`
    (``G(z, label)``, ``D(x, label)``); it returns its single output as a tensor, or several outputs as
    a tuple in the order of :attr:`outputs` (``scores, attribute_logits = D(x)``). Scores are raw
    logits of shape ``(N,)`` or ``(N, ...)`` (PatchGAN's per-patch scores).
    """

    #: ``"generator"``, ``"discriminator"``, ``"translator"`` (image to image), or any role a scheme
    #: and its architectures agree on (``"mapping"``, ``"encoder"``).
    role: str
    #: The run's data, for networks that shape themselves to it.
    data: DataDescription
    inputs: dict[str, Field] = attrs.field(converter=dict)
    outputs: dict[str, Field] = attrs.field(converter=dict)

    @classmethod
    def generator(cls, data: DataDescription, z_dim: int, **conditions: Field) -> NetworkRequest:
        """Noise ``(N, z_dim)`` (and conditions such as a class label) to samples of the main field."""
        inputs = {"z": Field((z_dim,), "noise"), **conditions}
        return cls("generator", data, inputs, {data.main: data.fields[data.main]})

    @classmethod
    def discriminator(cls, data: DataDescription, **conditions: Field) -> NetworkRequest:
        """Samples of the main field (and conditions) to scores ``(N,)``."""
        inputs = {data.main: data.fields[data.main], **conditions}
        return cls("discriminator", data, inputs, {"scores": Field((), "scores")})

    @property
    def z_dim(self) -> int | None:
        """The length of the first noise input (``G(z)``'s ``z``); ``None`` when the network takes no noise."""
        noise = [f for f in self.inputs.values() if f.kind == "noise"]
        return noise[0].shape[0] if noise else None

    def describe(self) -> str:
        """``discriminator(x: image 1x8x8, label: class) -> scores``, for error messages."""

        def one(name: str, f: Field) -> str:
            shape = "x".join(map(str, f.shape))
            return f"{name}: {f.kind}" + (f" {shape}" if shape else "")

        ins = ", ".join(one(n, f) for n, f in self.inputs.items())
        return f"{self.role}({ins}) -> {', '.join(self.outputs)}"


class UnsupportedRequest(GankitError):
    """An architecture cannot build what a scheme asked for; the engine names both in the message."""


class Architecture:
    """Builds the networks a scheme asks for, shaped to the data.

    Implement :meth:`build` for any role and inputs; the one-field case may implement
    :meth:`generator` and :meth:`discriminator` instead (gankit 0.1's interface), which :meth:`build`
    calls for an unconditional generator or discriminator. Raise :class:`UnsupportedRequest` (a
    :class:`gankit.GankitError`) naming what would work when a request or the data cannot be handled
    (``dcgan`` on 2-D points).
    """

    def build(self, request: NetworkRequest) -> nn.Module:
        """The network for ``request``."""
        data, names = request.data, tuple(request.inputs)
        if request.role == "generator" and names == ("z",) and _overrides(self, "generator", Architecture):
            return self.generator(data, request.z_dim)
        plain_d = request.role == "discriminator" and names == (data.main,) and len(request.outputs) == 1
        if plain_d and _overrides(self, "discriminator", Architecture):
            return self.discriminator(data)
        raise UnsupportedRequest(
            f"it builds unconditional generators and discriminators only, not {request.describe()}"
        )

    def generator(self, data: DataDescription, z_dim: int) -> nn.Module:
        """A network mapping noise ``(N, z_dim)`` to samples ``(N, *data.shape)`` in ``[-1, 1]``."""
        if _overrides(self, "build", Architecture):
            return self.build(NetworkRequest.generator(data, z_dim))
        raise NotImplementedError

    def discriminator(self, data: DataDescription) -> nn.Module:
        """A network mapping samples ``(N, *data.shape)`` to scores (logits) ``(N,)``."""
        if _overrides(self, "build", Architecture):
            return self.build(NetworkRequest.discriminator(data))
        raise NotImplementedError


def _overrides(obj: Any, method: str, base: type) -> bool:
    return getattr(type(obj), method) is not getattr(base, method)


class Loss:
    """Turns the discriminator's scores on real and fake samples into the two players' losses.

    A loss that compares fakes with reals in G's step too (the relativistic ones) sets
    :attr:`needs_real_scores`; schemes then pass ``real_scores`` to :meth:`generator_loss`.
    """

    #: Whether :meth:`generator_loss` needs the scores of real samples.
    needs_real_scores: bool = False

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """D's loss (a scalar) from its scores (logits, ``(N,)``) on real and on fake samples."""
        raise NotImplementedError

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        """G's loss (a scalar) from D's scores on fake samples (and on real ones, given when
        :attr:`needs_real_scores` is set)."""
        raise NotImplementedError


def _scores(output: Any) -> Tensor:
    """A discriminator's scores: its output, or the first of several."""
    return output[0] if isinstance(output, (tuple, list)) else output


@attrs.define
class PenaltyInputs:
    """What a discriminator penalty sees on each discriminator step."""

    real: Tensor
    fake: Tensor
    discriminator: nn.Module
    #: ``input_gradients(scores, inputs)``: d(sum of scores)/d(inputs), graph kept for the double
    #: backward, correct under AMP (the engine scales and unscales around the gradient).
    input_gradients: Callable[[Tensor, Tensor], Tensor]
    #: Enter to run the discriminator under the run's autocast setting.
    autocast: Callable[[], AbstractContextManager[Any]]
    #: ``draw_uniform(n, sample_shape)``: the engine's source of uniform numbers; use :meth:`uniform`.
    draw_uniform: Callable[[int, tuple[int, ...]], Tensor] | None = None
    #: The discriminator's further inputs after the sample (a class label), the same for real and fake.
    conditions: tuple[Tensor, ...] = ()

    def scores(self, x: Tensor) -> Tensor:
        """The discriminator's scores on ``x`` under its conditions: penalize this, not ``discriminator(x)``."""
        return _scores(self.discriminator(x, *self.conditions))

    def uniform(self, *sample_shape: int) -> Tensor:
        """Uniform [0, 1) numbers of shape ``(N, *sample_shape)`` for this batch of ``N``.

        Drawn so that training is the same on any number of processes; prefer it to ``torch.rand``.
        """
        if self.draw_uniform is not None:
            return self.draw_uniform(self.real.shape[0], sample_shape)
        import torch

        return torch.rand((self.real.shape[0], *sample_shape), device=self.real.device)


@attrs.define
class GeneratorPenaltyInputs:
    """What a generator penalty sees on each generator step."""

    generator: nn.Module
    #: The generation inputs of this step (``{"z": ..., "label": ...}``), as the scheme passed them.
    inputs: dict[str, Any]
    input_gradients: Callable[[Tensor, Tensor], Tensor]
    autocast: Callable[[], AbstractContextManager[Any]]
    #: ``draw_normal(shape)``: Gaussian numbers, the same on any number of processes; use :meth:`normal`.
    draw_normal: Callable[[tuple[int, ...]], Tensor]

    def normal(self, *shape: int) -> Tensor:
        """Gaussian numbers of ``shape`` (the first dimension is this process's batch)."""
        return self.draw_normal(shape)

    def samples(self) -> Tensor:
        """The generator's output on :attr:`inputs` (passed in their order, as the scheme declared them)."""
        return _scores(self.generator(*self.inputs.values()))


class Regularizer:
    """Acts on networks where it needs to: at build time, in a loss, or after an optimizer step.

    :attr:`targets` names the network roles it acts on: discriminators by default; generators for a
    path-length or orthogonal penalty, both for spectral norm on G and D. ``every`` > 1 makes a penalty
    lazy (StyleGAN2): it is computed on every ``every``-th step of its network only and multiplied by
    ``every``, which keeps its expected strength. State that must survive a resume (a running mean)
    goes through :meth:`state` and :meth:`load_state`.
    """

    every: int = 1
    #: Roles of the networks this regularizer acts on (see :class:`NetworkRequest`).
    targets: tuple[str, ...] = ("discriminator",)

    def wrap(self, network: nn.Module, role: str) -> nn.Module:
        """Change a network in one of :attr:`targets` once, when it is built (spectral norm)."""
        return self.wrap_discriminator(network) if role == "discriminator" else network

    def wrap_discriminator(self, discriminator: nn.Module) -> nn.Module:
        """Change the discriminator once, when it is built (gankit 0.1's form of :meth:`wrap`)."""
        return discriminator

    def discriminator_penalty(self, inputs: PenaltyInputs) -> Tensor | None:
        """A scalar added to the discriminator loss (gradient penalty, R1), or ``None``."""
        return None

    def generator_penalty(self, inputs: GeneratorPenaltyInputs) -> Tensor | None:
        """A scalar added to the generator loss (path length, orthogonality), or ``None``."""
        return None

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Called after each discriminator optimizer step (weight clipping)."""

    def state(self) -> dict[str, Tensor]:
        """Tensors saved in each checkpoint (a running mean); handed back to :meth:`load_state`."""
        return {}

    def load_state(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`state` returned."""


class Scheme:
    """One training iteration over any number of networks and optimizers.

    The engine around a scheme owns devices, AMP, EMA, logging, sampling, checkpoints and resume; a
    scheme is only which networks exist (:meth:`networks`), which optimizer trains which, what its
    generator takes (:meth:`generation_inputs`), its step, and how it generates (:meth:`generate`).
    """

    #: Optimizer name -> the networks it trains. The names ``"generator"`` and ``"discriminator"``
    #: get the run's ``lr_g`` and ``lr_d``.
    optimizers: dict[str, tuple[str, ...]] = {}
    #: Networks that discriminator regularizers act on (spectral norm, penalties, clipping); schemes
    #: that implement :meth:`networks` may leave it: the requests' roles say it.
    discriminators: tuple[str, ...] = ("discriminator",)
    #: Networks that get an exponential moving average when ``--ema`` is on, used for generating.
    ema_networks: tuple[str, ...] = ()

    def networks(self, data: DataDescription, z_dim: int) -> dict[str, NetworkRequest]:
        """Network name -> what to ask the run's architecture for."""
        raise NotImplementedError(f"{type(self).__name__} implements neither networks() nor build()")

    def build(self, arch: Architecture, data: DataDescription, z_dim: int) -> dict[str, nn.Module]:
        """Build every network this scheme trains (gankit 0.1's interface; implement :meth:`networks`)."""
        return {name: arch.build(request) for name, request in self.networks(data, z_dim).items()}

    def generation_inputs(self, data: DataDescription, z_dim: int) -> dict[str, Input]:
        """What :meth:`generate` takes: name -> :class:`gankit.Noise`, :class:`gankit.Label`,
        :class:`gankit.FromData`, :class:`gankit.Attributes` or :class:`gankit.Option`."""
        return {"z": Noise((z_dim,))}

    def generate(self, nets: dict[str, nn.Module], inputs: dict[str, Any]) -> Tensor:
        """Samples in ``[-1, 1]`` from filled :meth:`generation_inputs` (tensors, options as values)."""
        return self.sample(nets, inputs["z"])

    def sample(self, nets: dict[str, nn.Module], noise: Tensor) -> Tensor:
        """Deprecated (gankit 0.1): implement :meth:`generate`."""
        return nets["generator"](noise)

    def step(self, t: StepContext) -> dict[str, Tensor]:
        """Run one iteration with the :class:`gankit.engine.step.StepContext` ``t``.

        Return the metrics to log as detached scalar tensors; the engine reads them only at log steps,
        so the step never waits on the device.
        """
        raise NotImplementedError

    def state(self) -> dict[str, Tensor]:
        """Tensors saved in each checkpoint (an image pool); handed back to :meth:`load_state`."""
        return {}

    def load_state(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`state` returned."""


@attrs.frozen
class TrackerContext:
    """What a tracker's factory receives besides its config: ``factory(config, context)``."""

    #: The run folder, for trackers that write files.
    run_folder: Path
    #: The run folder's name, a natural run name for services.
    run_name: str
    #: True when this run continues an earlier one from a checkpoint.
    resumed: bool = False
    #: What this tracker's :meth:`Tracker.state` returned when that checkpoint was written (a W&B
    #: run id, say), so a resumed run continues the same record. Empty on a fresh run.
    state: dict[str, Any] = attrs.Factory(dict)


class Tracker:
    """Receives what a run reports. Every method is optional; none may slow the training step.

    The engine isolates trackers: each runs on a thread of its own, fed through a bounded queue (a
    tracker that falls behind loses records, with one warning, and never slows the step), and one that
    raises is switched off with a one-line warning and the run goes on, so a tracking service can
    never stall or break training.
    """

    #: Call this tracker on the training thread, in step with it, instead of on a thread of its own:
    #: for fast, local records that must be written before the checkpoint of their step (metrics.jsonl).
    inline: bool = False

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        """Called once before the first step with the resolved configuration (``config.json``)."""

    def advance(self, step: int) -> None:
        """Called after every step; must be cheap (no device sync, no I/O)."""

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """Scalars at each log step: losses, gradient norms, learning rates, steps/s, GPU memory."""

    def log_progress(self, step: int, metrics: dict[str, float]) -> None:
        """The scheme's losses at the first step of a run (or of a resumed run's session) when it is no
        log step: for a live display, so losses show at once. Not a record: keep only ``log_metrics``."""

    def log_images(self, step: int, name: str, path: Path) -> None:
        """A picture of samples (a grid, or a scatter plot for points) saved at ``path``."""

    def log_evaluation(self, step: int, results: dict[str, float]) -> None:
        """Results of evaluation metrics."""

    def log_checkpoint(self, step: int, path: Path) -> None:
        """A checkpoint was written to ``path``."""

    def state(self) -> dict[str, Any]:
        """JSON-able state saved with each checkpoint and handed back on resume."""
        return {}

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        """Called once at the end; returns what to show in the final summary (label -> location)."""
        return {}


@attrs.frozen
class EvalContext:
    """What a metric receives: the run's data for reference, and a way to draw generated samples."""

    #: The run's data set (finite sets hold every real sample; toy sets know their modes).
    dataset: Dataset
    description: DataDescription
    #: ``generate(n)``: ``n`` samples in ``[-1, 1]`` from the generator (its EMA when there is one),
    #: with noise from a generator seeded by :attr:`seed`, so an evaluation is reproducible.
    generate: Callable[[int], Tensor]
    device: Any
    seed: int = 0
    #: ``sample(n, given)``: like :attr:`generate`, with some generation inputs given by name instead of
    #: drawn, as :meth:`gankit.Model.sample`'s ``given``: images for a ``FromData`` input (they decide the
    #: count, ``n`` at most), an ``Option``'s value, a class. What a metric needs beyond samples of the
    #: data's inputs: a translator's outputs for images it chose, or its other direction
    #: (``sample(n, {"image": fakes, "direction": "ba"})``). ``None`` where there is no model to ask.
    sample: Callable[[int, dict[str, Any]], Tensor] | None = None


class Metric:
    """Scores a generator by its samples. Higher-is-better or not, each number is named and documented."""

    #: Bump when the numbers a metric reports change meaning; saved next to every result.
    version: str = "1"

    #: Which way each reported number is better: its key -> ``True`` when higher is better, ``False``
    #: when lower is. Keys left out (a reference count, a spread, the real data's own score) have no
    #: better direction: tables show them without an arrow.
    higher_is_better: dict[str, bool] = {}

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        """Compute the metric; raise :class:`gankit.GankitError` for data it cannot score."""
        raise NotImplementedError

    def protocol(self) -> dict[str, Any]:
        """How the numbers were made (sample counts, thresholds, reference split), saved with them."""
        return {}


#: Component kinds, in the order they are resolved, with the CLI flag that names each.
KINDS: dict[str, str] = {
    "data": "--data",
    "architecture": "--arch",
    "loss": "--loss",
    "regularizer": "--reg",
    "scheme": "--scheme",
    "tracker": "--tracker",
    "metric": "--metric",
}
