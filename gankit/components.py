"""The component types that plugins implement, and the data description they share.

This module imports no torch at run time, so that plugins can subclass these types in modules that
``gankit plugins`` loads quickly. Every tensor below is a ``torch.Tensor``; every network an
``nn.Module``.

Conventions every component can rely on:

* Data batches are float tensors scaled to ``[-1, 1]``; :attr:`DataDescription.value_range` says what
  ``-1`` and ``+1`` mean in the data's own units (pixels in ``[0, 1]``, points in their plane).
* Discriminators return raw scores (logits) of shape ``(N,)``; squashing them belongs to the loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from gankit.engine.step import StepContext


@attrs.frozen
class DataDescription:
    """What a data source yields, so that architectures can shape their networks to it."""

    name: str
    #: Shape of one sample: ``(2,)`` for points, ``(C, H, W)`` for images.
    shape: tuple[int, ...] = attrs.field(converter=tuple)

    @shape.validator
    def _positive_ints(self, attribute: Any, value: tuple) -> None:
        if not value or not all(isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 1 << 20 for d in value):
            raise ValueError(f"shape must be positive integers, got {value!r}")
        if math.prod(value) > 1 << 28:
            raise ValueError(f"shape {value!r} is too large for one sample")

    #: ``"points"`` or ``"image"``.
    modality: str
    #: The data-unit values that ``-1`` and ``+1`` stand for.
    value_range: tuple[float, float] = attrs.field(default=(-1.0, 1.0), converter=tuple)

    @value_range.validator
    def _two_numbers(self, attribute: Any, value: tuple) -> None:
        if len(value) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise ValueError(f"value_range must be two numbers, got {value!r}")

    #: Number of classes when samples carry labels, else ``None``.
    num_classes: int | None = None
    #: Number of samples for a finite data set, ``None`` for a distribution sampled on demand.
    size: int | None = None

    @property
    def channels(self) -> int:
        return self.shape[0] if self.modality == "image" else 1

    @property
    def resolution(self) -> int | None:
        return self.shape[-1] if self.modality == "image" else None

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def to_data_units(self, x: Tensor) -> Tensor:
        """Map a batch from ``[-1, 1]`` back to the data's own units."""
        lo, hi = self.value_range
        return lo + (x + 1) * ((hi - lo) / 2)


@attrs.frozen
class DataRequest:
    """Run-level options every data source receives besides its own config."""

    root: str | None = None
    download: bool = False
    resolution: int | None = None


class Dataset:
    """What a data source's factory returns: a description, and either all samples or a sampler.

    Finite data sets set ``samples`` (and optionally ``labels``): one tensor holding every sample,
    decoded once and scaled to ``[-1, 1]``. The engine moves it to the device and shuffles it per epoch.
    Distributions sampled on demand (the toy sets) leave ``samples`` as ``None`` and implement
    :meth:`sample`.
    """

    description: DataDescription
    samples: Tensor | None = None
    labels: Tensor | None = None

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """Draw ``n`` fresh samples (on the CPU) using ``generator`` as the only randomness."""
        raise NotImplementedError(f"{type(self).__name__} has neither samples nor sample()")


class TensorDataset(Dataset):
    """A finite data set held as one tensor."""

    def __init__(self, description: DataDescription, samples: Tensor, labels: Tensor | None = None):
        self.description = attrs.evolve(description, size=int(samples.shape[0]))
        self.samples = samples
        self.labels = labels


class Architecture:
    """Builds the networks a scheme asks for, shaped to the data.

    Raise :class:`gankit.GankitError` naming the data and what would work when the data cannot be
    handled (``dcgan`` on 2-D points).
    """

    def generator(self, data: DataDescription, z_dim: int) -> nn.Module:
        """A network mapping noise ``(N, z_dim)`` to samples ``(N, *data.shape)`` in ``[-1, 1]``."""
        raise NotImplementedError

    def discriminator(self, data: DataDescription) -> nn.Module:
        """A network mapping samples ``(N, *data.shape)`` to scores (logits) ``(N,)``."""
        raise NotImplementedError


class Loss:
    """Turns the discriminator's scores on real and fake samples into the two players' losses."""

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        raise NotImplementedError


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

    def uniform(self, *sample_shape: int) -> Tensor:
        """Uniform [0, 1) numbers of shape ``(N, *sample_shape)`` for this batch of ``N``.

        Drawn so that training is the same on any number of processes; prefer it to ``torch.rand``.
        """
        if self.draw_uniform is not None:
            return self.draw_uniform(self.real.shape[0], sample_shape)
        import torch

        return torch.rand((self.real.shape[0], *sample_shape), device=self.real.device)


class Regularizer:
    """Acts on the discriminator where it needs to: at build time, in its loss, or after its step.

    ``every`` > 1 makes a penalty lazy (StyleGAN2): it is computed on every ``every``-th
    discriminator step only and multiplied by ``every``, which keeps its expected strength.
    """

    every: int = 1

    def wrap_discriminator(self, discriminator: nn.Module) -> nn.Module:
        """Change the discriminator once, when it is built (spectral norm)."""
        return discriminator

    def discriminator_penalty(self, inputs: PenaltyInputs) -> Tensor | None:
        """A scalar added to the discriminator loss (gradient penalty, R1), or ``None``."""
        return None

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        """Called after each discriminator optimizer step (weight clipping)."""


class Scheme:
    """One training iteration over any number of networks and optimizers.

    The engine around a scheme owns devices, AMP, EMA, logging, sampling, checkpoints and resume; a
    scheme is only which networks exist, which optimizer trains which, and its step.
    """

    #: Optimizer name -> the networks it trains. The names ``"generator"`` and ``"discriminator"``
    #: get the run's ``lr_g`` and ``lr_d``.
    optimizers: dict[str, tuple[str, ...]] = {}
    #: Networks that regularizers act on (spectral norm, penalties, clipping).
    discriminators: tuple[str, ...] = ("discriminator",)
    #: Networks that get an exponential moving average when ``--ema`` is on, used for sampling.
    ema_networks: tuple[str, ...] = ()

    def build(self, arch: Architecture, data: DataDescription, z_dim: int) -> dict[str, nn.Module]:
        """Build every network this scheme trains."""
        raise NotImplementedError

    def step(self, t: StepContext) -> dict[str, Tensor]:
        """Run one iteration with the :class:`gankit.engine.step.StepContext` ``t``.

        Return the metrics to log as detached scalar tensors; the engine reads them only at log steps,
        so the step never waits on the device.
        """
        raise NotImplementedError

    def sample(self, nets: dict[str, nn.Module], noise: Tensor) -> Tensor:
        """Generate samples in ``[-1, 1]`` from ``noise`` of shape ``(N, z_dim)``."""
        return nets["generator"](noise)


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

    The engine isolates trackers: one that raises is switched off with a one-line warning and the
    run goes on, so a tracking service can never break training.
    """

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        """Called once before the first step with the resolved configuration (``config.json``)."""

    def advance(self, step: int) -> None:
        """Called after every step; must be cheap (no device sync, no I/O)."""

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """Scalars at each log step: losses, gradient norms, learning rates, steps/s, GPU memory."""

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


class Metric:
    """Scores a generator by its samples. Higher-is-better or not, each number is named and documented."""

    #: Bump when the numbers a metric reports change meaning; saved next to every result.
    version: str = "1"

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
