"""The networks of a run: built from the resolved components, with optional EMA copies."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gankit import checkpoint
from gankit.components import Architecture, DataDescription, Regularizer, Scheme
from gankit.engine.ema import EMA
from gankit.errors import GankitError
from gankit.resolve import ResolvedRun


def expect(obj: Any, kind_type: type, spec: Any) -> Any:
    if not isinstance(obj, kind_type):
        raise GankitError(
            f"{spec.kind} {spec.name!r} from plugin {spec.plugin!r} built a {type(obj).__name__}, "
            f"not a gankit.{kind_type.__name__}"
        )
    return obj


class Model:
    """The networks of a resolved run, built on a device; what training and ``gankit sample`` share."""

    def __init__(self, run: ResolvedRun, device: torch.device, description: DataDescription):
        cfg = run.config
        configs = run.component_configs
        self.description = description
        self.scheme: Scheme = expect(run.scheme.create(configs[run.scheme.name]), Scheme, run.scheme)
        arch: Architecture = expect(
            run.architecture.create(configs[run.architecture.name]), Architecture, run.architecture
        )
        self.regularizers: list[Regularizer] = [
            expect(spec.create(configs[spec.name]), Regularizer, spec) for spec in run.regularizers
        ]
        nets = self.scheme.build(arch, self.description, cfg.z_dim)
        for name in self.scheme.discriminators:
            for reg in self.regularizers:
                nets[name] = reg.wrap_discriminator(nets[name])
        layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.nets: dict[str, nn.Module] = {name: net.to(device, memory_format=layout) for name, net in nets.items()}
        self.ema = {name: EMA(self.nets[name], cfg.ema) for name in self.scheme.ema_networks} if cfg.ema > 0 else {}
        self.device = device
        self.z_dim = cfg.z_dim

    @torch.no_grad()
    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        """Samples in ``[-1, 1]`` from the EMA networks when there are any, in eval mode."""
        nets = dict(self.nets) | {name: ema.shadow for name, ema in self.ema.items()}
        modes = {name: net.training for name, net in nets.items()}
        for net in nets.values():
            net.eval()
        try:
            return self.scheme.sample(nets, noise.to(self.device)).float()
        finally:
            for name, net in nets.items():
                net.train(modes[name])

    def sample(self, count: int, seed: int = 0, batch_size: int = 1024) -> torch.Tensor:
        """``count`` samples on the CPU from noise seeded by ``seed``: the same samples every time."""
        generator = torch.Generator().manual_seed(seed)
        chunks = [
            self.generate(torch.randn(min(batch_size, count - start), self.z_dim, generator=generator)).cpu()
            for start in range(0, count, batch_size)
        ]
        return torch.cat(chunks)

    def load_weights(self, state: checkpoint.TrainingState, where: str) -> None:
        """Check every tensor against the built networks first, then copy: all or nothing."""
        groups = [(self.nets, state.networks, "network")] + (
            [(self._ema_nets(), state.ema, "EMA network")] if self.ema else []
        )
        for nets, saved, label in groups:
            if set(saved) != set(nets):
                raise GankitError(f"{where} holds {label}s {sorted(saved)}, but this run builds {sorted(nets)}")
            for name, net in nets.items():
                expected = net.state_dict()
                missing = sorted(set(expected) - set(saved[name]))
                extra = sorted(set(saved[name]) - set(expected))
                if missing or extra:
                    raise GankitError(
                        f"{where} does not fit {label} {name!r}: missing {missing[:3]}, unexpected {extra[:3]}"
                    )
                for key, tensor in expected.items():
                    got = saved[name][key]
                    if got.shape != tensor.shape or got.dtype != tensor.dtype:
                        raise GankitError(
                            f"{where} does not fit {label} {name!r}: {key} is {tuple(got.shape)} {got.dtype}, "
                            f"this run needs {tuple(tensor.shape)} {tensor.dtype}"
                        )
        for nets, saved, _ in groups:
            for name, net in nets.items():
                net.load_state_dict(saved[name])

    def _ema_nets(self) -> dict[str, nn.Module]:
        return {name: ema.shadow for name, ema in self.ema.items()}
