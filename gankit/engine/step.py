"""What a scheme's step works with: networks, optimizers, the loss and regularizers, data and noise."""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import torch
from torch import nn

from gankit.components import GeneratorPenaltyInputs, Loss, PenaltyInputs, Regularizer
from gankit.engine.amp import Precision
from gankit.engine.batches import Batch, BatchStream
from gankit.engine.distributed import World, no_sync
from gankit.engine.per_sample import refuse_stacking, scores_each_sample_alone


class NonFiniteStep(Exception):
    """An optimizer's loss (or, with ``--on-nan skip``, a gradient) was NaN or infinite."""

    def __init__(self, optimizer: str, iteration: int, what: str = "loss"):
        super().__init__(optimizer, iteration, what)
        self.optimizer = optimizer
        self.iteration = iteration
        #: "loss", or "weights" when a gradient broke the weights while the loss was still finite.
        self.what = what


class StepContext:
    """Handed to :meth:`gankit.Scheme.step` on every iteration.

    Attributes a scheme reads: ``nets`` (name -> network), ``loss``, ``n_critic``, ``batch_size``,
    ``z_dim``, ``device``, ``data`` (the :class:`gankit.DataDescription`). Methods do the rest:
    :meth:`next_batch`; random numbers that are the same on any number of processes (:meth:`noise`,
    :meth:`labels`, :meth:`normal`, :meth:`uniform`); :meth:`autocast`; :meth:`score` (a discriminator on real
    and fake batches at once); :meth:`generator_loss`;
    :meth:`discriminator_penalty` and :meth:`generator_penalty`; :meth:`optimize`; :meth:`frozen`.
    """

    def __init__(
        self,
        *,
        nets: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        loss: Loss,
        regularizers: list[Regularizer],
        precision: Precision,
        batches: BatchStream,
        z_dim: int,
        n_critic: int,
        device: torch.device,
        optimized_networks: dict[str, tuple[str, ...]],
        discriminators: tuple[str, ...],
        on_nan: str = "stop",
        world: World = World(),
    ):
        self.nets = nets
        self.optimizers = optimizers
        self.loss = loss
        self.regularizers = regularizers
        self.precision = precision
        self.batches = batches
        self.z_dim = z_dim
        self.n_critic = n_critic
        self.device = device
        self.batch_size = batches.batch_size
        self.data = batches.description
        # For each optimizer, the discriminators it steps: weight regularizers act on those after a step.
        self._stepped_discriminators = {
            opt: [nets[n] for n in names if n in discriminators] for opt, names in optimized_networks.items()
        }
        self._stepped_generators = {
            opt for opt, names in optimized_networks.items() if any(n not in discriminators for n in names)
        }
        #: Discriminator and generator steps taken so far; lazy regularizers count with them.
        self.d_steps = 0
        self.g_steps = 0
        #: "stop": :meth:`check_finite` raises :class:`NonFiniteStep` for the first NaN/inf loss since the
        #: last check; "skip": every step reads back its loss and gradients and drops a bad one.
        self.on_nan = on_nan
        self.world = world
        self.skipped_steps = 0
        #: The iteration being computed (1-based); set by the training loop.
        self.iteration = 0
        # Losses since the last check, kept on the device: checking them every step would make the
        # host wait for the device every step. A loss stays finite until the weights go bad, so the
        # first non-finite loss names the iteration where training broke.
        self._unchecked: list[tuple[int, str, torch.Tensor]] = []
        # A penalty acts on the roles its regularizer targets, whatever methods it implements.
        self._penalized = [
            r
            for r in regularizers
            if "discriminator" in r.targets and type(r).discriminator_penalty is not Regularizer.discriminator_penalty
        ]
        self._g_penalized = [
            r
            for r in regularizers
            if set(r.targets) - {"discriminator"} and type(r).generator_penalty is not Regularizer.generator_penalty
        ]
        # Weak keys: a block made for a network that a scheme later drops goes with the network.
        self._frozen: weakref.WeakKeyDictionary[nn.Module, _Frozen] = weakref.WeakKeyDictionary()
        self._after_d = [
            r for r in regularizers if type(r).after_discriminator_step is not Regularizer.after_discriminator_step
        ]
        #: The roles whose penalties the scheme asked for ("discriminator", "generator"), for
        #: :meth:`unapplied_penalties`.
        self._asked: set[str] = set()

    def next_batch(self) -> Batch:
        return self.batches.next()

    def noise(self, n: int | None = None) -> torch.Tensor:
        """Noise for ``n`` samples (default: this process's batch), the same for any number of processes."""
        n = n or self.batch_size
        return self.world.shard(torch.randn(n * self.world.size, self.z_dim, device=self.device))

    def _uniform(self, n: int, sample_shape: tuple[int, ...]) -> torch.Tensor:
        return self.world.shard(torch.rand((n * self.world.size, *sample_shape), device=self.device))

    def uniform(self, *sample_shape: int, n: int | None = None) -> torch.Tensor:
        """Uniform [0, 1) numbers of shape ``(n, *sample_shape)`` (default: this process's batch)."""
        return self._uniform(n or self.batch_size, sample_shape)

    def normal(self, *sample_shape: int, n: int | None = None) -> torch.Tensor:
        """Gaussian numbers of shape ``(n, *sample_shape)`` (default: this process's batch)."""
        n = n or self.batch_size
        return self.world.shard(torch.randn((n * self.world.size, *sample_shape), device=self.device))

    def labels(self, num_classes: int, n: int | None = None) -> torch.Tensor:
        """Random class labels for fakes (``(n,)`` integers below ``num_classes``), the same on any
        number of processes."""
        n = n or self.batch_size
        return self.world.shard(torch.randint(num_classes, (n * self.world.size,), device=self.device))

    def generator_loss(self, fake_scores: torch.Tensor, real_scores: torch.Tensor | None = None) -> torch.Tensor:
        """The loss's generator term; ``real_scores`` reach it only when it asks for them
        (``loss.needs_real_scores``), so losses written for gankit 0.1 keep working."""
        if self.loss.needs_real_scores:
            return self.loss.generator_loss(fake_scores, real_scores)
        return self.loss.generator_loss(fake_scores)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return self.precision.autocast()

    def score(self, network: nn.Module, *batches: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``network`` on each batch, as ``tuple(network(b) for b in batches)`` computes it.

        When the network scores each sample on its own (only torch.nn layers that do; see
        :mod:`gankit.engine.per_sample`), the batches go through in one call, stacked: the same values,
        from matrix products twice as tall, which run faster. Otherwise (batch norm, dropout, custom
        layers), one call per batch; also from the second call on when the first stacked call's output
        was not one tensor with a row per sample."""
        if len(batches) > 1 and scores_each_sample_alone(network):
            scores = network(torch.cat(batches))
            if isinstance(scores, torch.Tensor) and scores.shape[:1] == (sum(len(b) for b in batches),):
                return scores.split([len(b) for b in batches])
            refuse_stacking(network)
        return tuple(network(b) for b in batches)

    def discriminator_penalty(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        discriminator: nn.Module,
        conditions: tuple[torch.Tensor, ...] = (),
    ) -> torch.Tensor | None:
        """Sum of the regularizers' penalties due on this discriminator step (``None`` if none is due).

        ``conditions`` are the discriminator's inputs after the sample (a class label), so a penalty
        differentiates the very function the loss sees."""
        self._asked.add("discriminator")
        total = None
        for reg in self._penalized:
            if self.d_steps % reg.every:
                continue
            inputs = PenaltyInputs(
                real,
                fake.detach().to(real.dtype),
                discriminator,
                self.precision.input_gradients,
                self.autocast,
                self._uniform,
                tuple(conditions),
            )
            total = _add(total, reg.discriminator_penalty(inputs), reg.every)
        return total

    def generator_penalty(self, generator: nn.Module, inputs: dict[str, Any]) -> torch.Tensor | None:
        """Sum of the generator penalties due on this generator step (``None`` if none is due);
        ``inputs`` are the generation inputs the step used (``{"z": ..., "label": ...}``)."""
        self._asked.add("generator")
        total = None
        for reg in self._g_penalized:
            if self.g_steps % reg.every:
                continue
            penalty_inputs = GeneratorPenaltyInputs(
                generator,
                inputs,
                self.precision.input_gradients,
                self.autocast,
                lambda shape: self.world.shard(
                    torch.randn((shape[0] * self.world.size, *shape[1:]), device=self.device)
                ),
            )
            total = _add(total, reg.generator_penalty(penalty_inputs), reg.every)
        return total

    def unapplied_penalties(self) -> dict[str, list[Regularizer]]:
        """After a step: the penalty regularizers of each role whose penalties the scheme never asked for
        (it never called :meth:`discriminator_penalty` / :meth:`generator_penalty`), so they did nothing."""
        roles = {"discriminator": self._penalized, "generator": self._g_penalized}
        return {role: regs for role, regs in roles.items() if regs and role not in self._asked}

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Backward ``loss`` and step optimizer ``name`` (AMP-aware); after the discriminator's step,
        regularizers that act on weights run."""
        skipping = self.on_nan == "skip"
        if not skipping:
            self._unchecked.append((self.iteration, name, loss.detach()))
        if not self.precision.backward_and_step(loss, self.optimizers[name], check_finite=skipping):
            self.skipped_steps += 1
            return
        if name in self._stepped_generators:
            self.g_steps += 1
        stepped = self._stepped_discriminators[name]
        if stepped:
            self.d_steps += 1
            for reg in self._after_d:
                for network in stepped:
                    reg.after_discriminator_step(network)

    @property
    def unchecked_steps(self) -> int:
        return len(self._unchecked)

    def check_finite(self) -> None:
        """Raise :class:`NonFiniteStep` for the first non-finite loss since the last check (one host read)."""
        if not self._unchecked:
            return
        unchecked, self._unchecked = self._unchecked, []
        finite = torch.isfinite(torch.stack([loss.float() for _, _, loss in unchecked])).tolist()
        bad = next(((iteration, name) for ok, (iteration, name, _) in zip(finite, unchecked) if not ok), None)
        # Every process stops together: one going on alone would wait forever in the next all-reduce.
        if self.world.distributed and self.world.any(bad is not None, self.device) and bad is None:
            bad = unchecked[-1][:2]
        if bad is not None:
            raise NonFiniteStep(bad[1], bad[0])

    def frozen(self, network: nn.Module) -> contextlib.AbstractContextManager[None]:
        """No weight gradients for ``network`` inside the block (G's step needs D's input grads only)."""
        frozen = self._frozen.get(network)
        if frozen is None:
            frozen = self._frozen[network] = _Frozen(network)
        return frozen


def _add(total: torch.Tensor | None, penalty: torch.Tensor | None, every: int) -> torch.Tensor | None:
    """``total + penalty * every`` (a lazy penalty keeps its expected strength), skipping ``None``."""
    if penalty is None:
        return total
    penalty = penalty * every if every > 1 else penalty
    return penalty if total is None else total + penalty


class _Frozen:
    """:meth:`StepContext.frozen`: one per network, its parameters listed once, since it is entered on every
    iteration. Which of them are trainable is read on entry, and a stack makes nested blocks safe."""

    def __init__(self, network: nn.Module):
        self.network = weakref.ref(network)  # held weakly: StepContext keys these blocks by the network
        self.parameters = list(network.parameters())
        self._entered: list[tuple[list[nn.Parameter], contextlib.AbstractContextManager[object]]] = []

    def __enter__(self) -> None:
        sync = no_sync(self.network())  # a DDP-wrapped network must not wait for gradients it will not get
        sync.__enter__()
        trainable = [p for p in self.parameters if p.requires_grad]
        for p in trainable:
            p.requires_grad_(False)
        self._entered.append((trainable, sync))

    def __exit__(self, *exc: object) -> None:
        trainable, sync = self._entered.pop()
        try:
            sync.__exit__(*exc)
        finally:
            for p in trainable:
                p.requires_grad_(True)
