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
from typing import Any

import torch

from gankit.errors import GankitError

MODES = ("auto", "on", "off", "fp16", "bf16")
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
_NO_AUTOCAST = contextlib.nullcontext()  # stateless and reentrant: one serves every block of every run


class Precision:
    """Autocast + GradScaler for one run. Disabled, every method is the plain fp32 equivalent."""

    def __init__(self, device: torch.device, mode: str = "auto", dtype: torch.dtype | None = None):
        if mode not in MODES:
            raise GankitError(f"unknown --amp {mode!r}; choose from: {', '.join(MODES)}")
        self.enabled = mode in ("on", "fp16", "bf16") or (mode == "auto" and device.type == "cuda")
        default = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.dtype = dtype or _DTYPES.get(mode, default)
        self.device_type = device.type
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
