"""The start banner of ``gankit run``: what was built and how it will train, before the first step.

The first line (what, how long, where to) is what scripts and the tests wait for; the lines below it
say what a user would otherwise have to dig out of config.json: the networks' sizes, the device, the
precision and the CPU threads, which decide how fast the run goes.
"""

from __future__ import annotations

from typing import Any

import torch

from gankit.data import DataDescription
from gankit.engine.amp import Precision


def headline(trainer: Any, folder: str) -> str:
    """``gankit: mlp / bce + r1 on digits, 300 steps on cpu -> runs/NAME``."""
    cfg, world = trainer.run.config, trainer.world
    return (
        f"gankit: {cfg.arch} / {cfg.loss}{''.join(' + ' + r for r in cfg.regs)}"
        + (f" / {cfg.scheme}" if cfg.scheme != "unconditional" else "")
        + f" on {cfg.data}, {trainer.total_steps} steps on {trainer.device}"
        + (f" x {world.size} processes" if world.distributed else "")
        + (f" (resuming at step {trainer.step})" if trainer.step else "")
        + f" -> {folder}"
    )


def details(trainer: Any) -> list[str]:
    """The lines under the headline: data, networks, training recipe, device."""
    cfg, model = trainer.run.config, trainer.model
    networks = f"{cfg.arch}: " + ", ".join(f"{name} {parameters(net):,} parameters" for name, net in model.nets.items())
    if model.ema:
        networks += f"; EMA of {', '.join(model.ema)} (decay {cfg.ema:g})"
    regs = ", ".join(cfg.regs) or "none"
    rates = f"lr_g {cfg.lr_g:g}, lr_d {cfg.lr_d:g}" + (f" ({cfg.lr_schedule})" if cfg.lr_schedule != "constant" else "")
    rows = [
        ("data", describe_data(cfg.data, model.description) + f", batch {cfg.batch_size}"),
        ("networks", networks),
        ("training", f"scheme {cfg.scheme}, loss {cfg.loss}, regularizers {regs}, n_critic {cfg.n_critic}"),
        ("optimizer", f"{cfg.optimizer}, {rates}"),
        ("device", describe_device(trainer.device, trainer.precision, cfg)),
        ("threads", describe_threads(trainer)),
    ]
    return [f"  {label + ':':<10} {text}" for label, text in rows]


def parameters(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def describe_data(name: str, description: DataDescription) -> str:
    shape = "x".join(str(n) for n in description.shape)
    kind = f"{shape} images" if description.modality == "image" else f"{shape}-D {description.modality}"
    size = f"{description.size:,} samples" if description.size else "drawn afresh (no fixed size)"
    classes = f", {description.num_classes} classes" if description.num_classes else ""
    return f"{name}: {kind}, {size}{classes}"


def describe_precision(precision: Precision) -> str:
    if not precision.enabled:
        return "float32"
    if precision.dtype == torch.bfloat16:
        return "bf16 autocast"
    return "fp16 AMP (loss scaling)" if precision.scaled else "fp16 autocast"


def describe_device(device: torch.device, precision: Precision, cfg: Any) -> str:
    name = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)
    parts = [name, describe_precision(precision)]
    parts += [flag for flag, on in (("deterministic", cfg.deterministic), ("channels-last", cfg.channels_last)) if on]
    return ", ".join(parts)


def describe_threads(trainer: Any) -> str:
    """The CPU threads the step runs on now, and why (the trainer's thread governor says, if it has one)."""
    governor = getattr(trainer, "threads", None)
    if governor is None:
        return str(torch.get_num_threads())
    return governor.describe().removeprefix("threads: ")
