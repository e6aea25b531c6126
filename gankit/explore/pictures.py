"""What the parts share: the inputs a model takes around its noise, and pictures of samples."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gankit.errors import GankitError
from gankit.inputs import Noise, Option

# ---------------------------------------------------------------- inputs


def noise_input(model: Any) -> str:
    """The name of the model's Gaussian noise input; a :class:`GankitError` when it has none."""
    names = [name for name, kind in model.inputs.items() if isinstance(kind, Noise)]
    if not names:
        raise GankitError(
            f"gankit explore needs a generator with a Gaussian noise input; this model takes "
            f"{', '.join(f'{n} ({type(k).__name__})' for n, k in model.inputs.items()) or 'nothing'}"
        )
    return names[0]


def _repeat(model: Any, values: dict[str, Any], times: int) -> dict[str, Any]:
    """Each sample's inputs ``times`` times in a row (options as they are)."""
    return {
        name: value if isinstance(model.inputs[name], Option) else value.repeat_interleave(times, 0)
        for name, value in values.items()
    }


def _with_noise(model: Any, z: torch.Tensor, per_base: int, seed: int, from_data: Callable | None) -> dict:
    """Inputs for the latents ``z``: the other inputs filled as :meth:`Model.fill_inputs` fills them for
    ``len(z) // per_base`` samples, each repeated ``per_base`` times."""
    name = noise_input(model)
    bases = len(z) // per_base
    values = _repeat(model, model.fill_inputs(bases, seed, from_data=from_data), per_base)
    values[name] = z
    return values


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of rows ``a`` and ``b`` (``(N, ...)``) at fractions ``t`` (``(T,)``):
    ``(N, T, ...)``; ``t = 0`` gives ``a`` and ``t = 1`` gives ``b`` exactly."""
    fa, fb = a.reshape(len(a), -1).double(), b.reshape(len(b), -1).double()
    cos = (fa * fb).sum(1) / (fa.norm(dim=1) * fb.norm(dim=1)).clamp_min(1e-12)
    omega = cos.clamp(-1, 1).acos()[:, None]  # (N, 1)
    t = t.double()[None, :]  # (1, T)
    sin = omega.sin()
    near = sin.abs() < 1e-6  # parallel latents: a straight line is the same curve
    wa = torch.where(near, 1 - t, ((1 - t) * omega).sin() / sin.where(~near, torch.ones_like(sin)))
    wb = torch.where(near, t.expand_as(wa), (t * omega).sin() / sin.where(~near, torch.ones_like(sin)))
    wa = torch.where(t == 0, 1.0, torch.where(t == 1, 0.0, wa))
    wb = torch.where(t == 0, 0.0, torch.where(t == 1, 1.0, wb))
    out = wa[..., None] * fa[:, None] + wb[..., None] * fb[:, None]
    return out.to(a.dtype).reshape(len(a), t.shape[1], *a.shape[1:])


# ---------------------------------------------------------------- pictures


def render(samples: torch.Tensor, description: Any, columns: int, background: torch.Tensor | None = None):
    """A PIL image of samples in ``[-1, 1]``: an image grid ``columns`` wide, or a scatter of points."""
    from PIL import Image

    from gankit.images import scatter

    samples = samples.detach().float().cpu()
    if description.modality == "image":
        from torchvision.utils import make_grid

        grid = make_grid(samples.clamp(-1, 1), nrow=columns, normalize=True, value_range=(-1, 1), pad_value=1.0)
        picture = grid.mul(255).round().to(torch.uint8)
        factor = max(1, 384 // max(picture.shape[1:]))
        if factor > 1:
            picture = picture.repeat_interleave(factor, 1).repeat_interleave(factor, 2)
    else:
        flat = samples.reshape(len(samples), -1)[:, :2]
        picture = scatter(flat, None if background is None else background.reshape(len(background), -1)[:, :2])
    return Image.fromarray(picture.permute(1, 2, 0).contiguous().numpy())


def _save(image: Any, path: Path, **kwargs: Any) -> str:
    try:
        image.save(path, **kwargs)
    except OSError as exc:
        raise GankitError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    return path.name
