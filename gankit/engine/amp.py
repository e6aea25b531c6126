"""Mixed precision: autocast plus one GradScaler, with penalties that stay correct when scaled.

Gradient penalties follow the PyTorch AMP recipe ("Gradient penalty"): the input gradient is taken of
the *scaled* scores, then multiplied by 1/scale, so that fp16 gradients do not underflow; the penalty
itself is computed in full precision and joins the loss before the loss is scaled for backward.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from gankit.errors import GankitError


class Precision:
    """Autocast + GradScaler for one run. Disabled, every method is the plain fp32 equivalent."""

    def __init__(self, device: torch.device, mode: str = "auto", dtype: torch.dtype | None = None):
        if mode not in ("auto", "on", "off"):
            raise GankitError(f"unknown --amp {mode!r}; choose from: auto, on, off")
        self.enabled = mode == "on" or (mode == "auto" and device.type == "cuda")
        # bfloat16 on CPU: it is what CPU autocast runs fast; float16 where GPUs have tensor cores.
        self.dtype = dtype or (torch.float16 if device.type == "cuda" else torch.bfloat16)
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.enabled)
        self._one = torch.ones((), device=device)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def input_gradients(self, scores: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """d(sum of scores)/d(inputs), keeping the graph for the penalty's backward."""
        total = scores.float().sum()
        if not self.enabled:
            (grad,) = torch.autograd.grad(total, inputs, create_graph=True)
            return grad
        # scale(ones) is the scale as a tensor: no host sync, unlike get_scale().
        scale = self.scaler.scale(self._one)
        (scaled,) = torch.autograd.grad(total * scale, inputs, create_graph=True)
        return scaled / scale

    def backward_and_step(
        self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, check_finite: bool = True
    ) -> bool:
        """Backward and step; False when the step was refused because the loss or a gradient is not finite.

        Under AMP the GradScaler checks the gradients itself (it skips the step and lowers the scale,
        which counts as handled); only a non-finite loss returns False there. The scaler is updated after every optimizer step rather than once per
        iteration: a scheme with n_critic > 1 steps the discriminator's optimizer several times per
        iteration, and GradScaler allows one step per optimizer between updates.
        """
        optimizer.zero_grad(set_to_none=True)
        if self.enabled:
            # GradScaler skips steps with inf/NaN gradients and lowers its scale. A non-finite *loss*
            # is reported too: it means the weights or activations are already broken (Adam's state
            # overflowed, say), and skipping forever would hide that.
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
        return self.scaler.state_dict() if self.enabled else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.enabled and state:
            self.scaler.load_state_dict(state)


def _finite(loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> bool:
    """One device-to-host read per optimizer step: the same price GradScaler pays under AMP."""
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    total = torch.nn.utils.get_total_norm(grads) if grads else loss.new_zeros(())
    return bool(torch.isfinite(loss.detach()) & torch.isfinite(total))
