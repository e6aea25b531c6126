"""What a scheme's step works with: networks, optimizers, the loss and regularizers, data and noise."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from gankit.components import Loss, PenaltyInputs, Regularizer
from gankit.engine.amp import Precision
from gankit.engine.batches import Batch, BatchStream
from gankit.engine.distributed import World, no_sync


class NonFiniteStep(Exception):
    """An optimizer's loss or gradients were NaN or infinite (``--on-nan stop``)."""

    def __init__(self, optimizer: str):
        super().__init__(optimizer)
        self.optimizer = optimizer


class StepContext:
    """Handed to :meth:`gankit.Scheme.step` on every iteration.

    Attributes a scheme reads: ``nets`` (name -> network), ``loss``, ``n_critic``, ``batch_size``,
    ``z_dim``, ``device``. Methods do the rest: :meth:`next_batch`, :meth:`noise`, :meth:`autocast`,
    :meth:`discriminator_penalty`, :meth:`optimize`, :meth:`frozen`.
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
        # For each optimizer, the discriminators it steps: weight regularizers act on those after a step.
        self._stepped_discriminators = {
            opt: [nets[n] for n in names if n in discriminators] for opt, names in optimized_networks.items()
        }
        #: Discriminator steps taken so far; lazy regularizers count with it.
        self.d_steps = 0
        #: "stop" raises :class:`NonFiniteStep` on a NaN/inf loss or gradient; "skip" drops that step.
        self.on_nan = on_nan
        self.world = world
        self.skipped_steps = 0
        self._penalized = [
            r for r in regularizers if type(r).discriminator_penalty is not Regularizer.discriminator_penalty
        ]
        self._after_d = [
            r for r in regularizers if type(r).after_discriminator_step is not Regularizer.after_discriminator_step
        ]

    def next_batch(self) -> Batch:
        return self.batches.next()

    def noise(self, n: int | None = None) -> torch.Tensor:
        """Noise for ``n`` samples (default: this process's batch), the same for any number of processes."""
        n = n or self.batch_size
        return self.world.shard(torch.randn(n * self.world.size, self.z_dim, device=self.device))

    def _uniform(self, n: int, sample_shape: tuple[int, ...]) -> torch.Tensor:
        return self.world.shard(torch.rand((n * self.world.size, *sample_shape), device=self.device))

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return self.precision.autocast()

    def discriminator_penalty(
        self, real: torch.Tensor, fake: torch.Tensor, discriminator: nn.Module
    ) -> torch.Tensor | None:
        """Sum of the regularizers' penalties due on this discriminator step (``None`` if none is due)."""
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
            )
            penalty = reg.discriminator_penalty(inputs)
            if penalty is None:
                continue
            penalty = penalty * reg.every if reg.every > 1 else penalty
            total = penalty if total is None else total + penalty
        return total

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Backward ``loss`` and step optimizer ``name`` (AMP-aware); after the discriminator's step,
        regularizers that act on weights run."""
        if not self.precision.backward_and_step(loss, self.optimizers[name], check_finite=True):
            if self.on_nan == "stop":
                raise NonFiniteStep(name)
            self.skipped_steps += 1
            return
        stepped = self._stepped_discriminators[name]
        if stepped:
            self.d_steps += 1
            for reg in self._after_d:
                for network in stepped:
                    reg.after_discriminator_step(network)

    @contextlib.contextmanager
    def frozen(self, network: nn.Module) -> Iterator[None]:
        """No weight gradients for ``network`` inside the block (G's step needs D's input grads only)."""
        trainable = [p for p in network.parameters() if p.requires_grad]
        for p in trainable:
            p.requires_grad_(False)
        try:
            with no_sync(network):  # a DDP-wrapped network must not wait for gradients it will not get
                yield
        finally:
            for p in trainable:
                p.requires_grad_(True)
