"""Mixed precision: autocast, plus a GradScaler where the dtype needs one, with penalties that stay
correct when scaled.

``--amp on`` picks the device's fast dtype: float16 on CUDA (tensor cores; needs loss scaling) and
bfloat16 elsewhere (CPUs with AVX512-BF16 or AMX run it several times faster than float32, and its
float32-sized exponent needs no scaling). ``--amp fp16`` / ``--amp bf16`` choose explicitly.

Gradient penalties follow the PyTorch AMP recipe ("Gradient penalty"): the input gradient is taken of
the *scaled* scores, then multiplied by 1/scale, so that fp16 gradients do not underflow; the penalty
itself is computed in full precision and joins the loss before the loss is scaled for backward.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any

import torch

from gankit.errors import GankitError

MODES = ("auto", "on", "off", "fp16", "bf16")
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
_NO_AUTOCAST = contextlib.nullcontext()  # stateless and reentrant: one serves every block of every run
#: CPU flags (Linux /proc/cpuinfo) of instructions that compute in bfloat16; without them it is emulated.
BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")

log = logging.getLogger(__name__)


@functools.cache
def native_cpu_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX); None where that cannot be read."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), None)
    except OSError:
        return None
    return None if flags is None else any(flag in flags for flag in BFLOAT16_FLAGS)


class Precision:
    """Autocast + GradScaler for one run. Disabled, every method is the plain fp32 equivalent."""

    def __init__(self, device: torch.device, mode: str = "auto", dtype: torch.dtype | None = None):
        if mode not in MODES:
            raise GankitError(f"unknown --amp {mode!r}; choose from: {', '.join(MODES)}")
        self.enabled = mode in ("on", "fp16", "bf16") or (mode == "auto" and device.type == "cuda")
        default = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.dtype = dtype or _DTYPES.get(mode, default)
        self.device_type = device.type
        if self.enabled and device.type == "cpu" and self.dtype == torch.bfloat16 and native_cpu_bfloat16() is False:
            log.warning(
                "--amp %s: this CPU has no bfloat16 instructions (AVX512-BF16 or AMX), so bfloat16 is emulated "
                "and usually slower than float32 (--amp off)",
                mode,
            )
        # Only float16 can overflow or underflow where float32 would not; bfloat16 needs no scaler.
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.enabled and self.dtype == torch.float16)
        #: Whether losses are scaled (float16 only): fixed for the run, read on every optimizer step.
        self.scaled = self.scaler.is_enabled()
        self._one = torch.ones((), device=device)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.enabled:
            return _NO_AUTOCAST
        return torch.autocast(self.device_type, dtype=self.dtype)

    def input_gradients(self, scores: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """d(sum of scores)/d(inputs), keeping the graph for the penalty's backward."""
        total = scores.float().sum()
        if not self.scaled:
            (grad,) = torch.autograd.grad(total, inputs, create_graph=True)
            return grad
        # scale(ones) is the scale as a tensor: no host sync, unlike get_scale().
        scale = self.scaler.scale(self._one)
        (scaled,) = torch.autograd.grad(total * scale, inputs, create_graph=True)
        return scaled / scale

    def backward_and_step(
        self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, check_finite: bool = False
    ) -> bool:
        """Backward and step; with ``check_finite``, False when the step was refused because the loss or a
        gradient is not finite (one device-to-host read, so callers ask for it only when they must).

        With a GradScaler the scaler checks the gradients itself, on the device (it skips the step and
        lowers the scale); only a non-finite loss returns False there. The scaler is updated after every
        optimizer step rather than once per iteration: a scheme with n_critic > 1 steps the
        discriminator's optimizer several times per iteration, and GradScaler allows one step per
        optimizer between updates.
        """
        optimizer.zero_grad(set_to_none=True)
        if self.scaled:
            finite = not check_finite or bool(torch.isfinite(loss.detach()))
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
            return finite
        loss.backward()
        if check_finite and not _finite(loss, optimizer):
            optimizer.zero_grad(set_to_none=True)
            return False
        optimizer.step()
        return True

    def state_dict(self) -> dict[str, Any]:
        return self.scaler.state_dict() if self.scaled else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaled and state:
            self.scaler.load_state_dict(state)


def _finite(loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> bool:
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    total = torch.nn.utils.get_total_norm(grads) if grads else loss.new_zeros(())
    return bool(torch.isfinite(loss.detach()) & torch.isfinite(total))
