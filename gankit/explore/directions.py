"""Directions in the latent space: SeFa (closed form, from the first layer) and GANSpace (PCA of a layer's
activations, mapped back to the noise)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.explore.pictures import noise_input

# ---------------------------------------------------------------- SeFa


def first_layer(generator: nn.Module, z_dim: int) -> tuple[str, torch.Tensor] | str:
    """(module name, ``A``): the first layer's weight acting on the noise as a matrix ``(outputs,
    z_dim)``; or why there is none."""
    offset_note = ""
    net = generator
    # The bundled class-conditional wrapper: net([z, embed(y)]), so the noise is the first z_dim inputs.
    if hasattr(generator, "embed") and hasattr(generator, "net") and isinstance(generator.net, nn.Module):
        net, offset_note = generator.net, "net."
    for name, module in net.named_modules():
        if isinstance(module, nn.Linear):
            weight = module.weight.detach()  # (out, in)
            matrix = weight
        elif isinstance(module, nn.ConvTranspose2d):
            # On the 1x1 noise "image" each weight slice W[i, :, :, :] is the output for input i.
            weight = module.weight.detach()  # (in, out / groups, kH, kW)
            if module.groups != 1:
                return f"its first layer {offset_note + name!r} is a grouped transposed convolution"
            matrix = weight.reshape(weight.shape[0], -1).T
        elif isinstance(module, (nn.Conv2d, nn.Conv1d, nn.Embedding, nn.RNNBase)):
            return f"its first layer {offset_note + name!r} is a {type(module).__name__}, not a linear map of the noise"
        else:
            continue
        if matrix.shape[1] < z_dim or (not offset_note and matrix.shape[1] != z_dim):
            return (
                f"its first layer {offset_note + name!r} takes {matrix.shape[1]} inputs, not the {z_dim} of the noise"
            )
        return offset_note + name, matrix[:, :z_dim].double()
    return "it has no Linear or ConvTranspose2d layer"


def sefa(generator: nn.Module, z_dim: int) -> dict[str, Any] | str:
    """SeFa: the eigenvectors of ``AᵀA`` (rows of ``directions``, unit length, orthogonal), by
    decreasing eigenvalue; or why it does not apply."""
    found = first_layer(generator, z_dim)
    if isinstance(found, str):
        return found
    layer, matrix = found
    values, vectors = torch.linalg.eigh(matrix.T @ matrix)
    order = values.argsort(descending=True)
    return {"layer": layer, "eigenvalues": values[order].float(), "directions": vectors[:, order].T.float()}


# ---------------------------------------------------------------- GANSpace


def default_layer(generator: nn.Module) -> str:
    """The output of the first nonlinearity after the first weight layer (a layer that is not yet a
    linear map of the noise), else the first weight layer's."""
    seen_weight = None
    for name, module in generator.named_modules():
        if isinstance(module, (nn.Linear, nn.ConvTranspose2d, nn.Conv2d)):
            if seen_weight is not None:
                return seen_weight
            seen_weight = name
        elif seen_weight is not None and isinstance(
            module, (nn.ReLU, nn.LeakyReLU, nn.SiLU, nn.GELU, nn.Tanh, nn.ELU, nn.Softplus)
        ):
            return name
    if seen_weight is None:
        raise GankitError("gankit explore: the generator has no Linear or convolutional layer for GANSpace")
    return seen_weight


def check_layer(generator: nn.Module, layer: str | None) -> str:
    """``layer`` (default :func:`default_layer`) if it names a module of ``generator``."""
    modules = dict(generator.named_modules())
    layer = layer or default_layer(generator)
    if layer not in modules or not layer:
        valid = ", ".join(n for n, m in modules.items() if n and not list(m.children()))
        raise GankitError(f"--layer {layer!r} names no layer of this generator; its layers: {valid}")
    return layer


def ganspace(
    model: Any,
    samples: int,
    components: int,
    seed: int,
    layer: str | None = None,
    batch_size: int = 1024,
    from_data: Callable | None = None,
) -> dict[str, Any]:
    """GANSpace: PCA of ``layer``'s activations over ``samples`` samples, and per principal component the
    unit latent direction that linear regression from principal coordinates to noise gives."""
    generator = model.generator
    modules = dict(generator.named_modules())
    layer = check_layer(generator, layer)
    name = noise_input(model)
    values = model.fill_inputs(samples, seed, from_data=from_data)
    captured: list[torch.Tensor] = []
    hook = modules[layer].register_forward_hook(
        lambda module, args, output: captured.append(output.detach().float().flatten(1).cpu().clone())
    )
    try:
        model.generate_all(values, batch_size)
    finally:
        hook.remove()
    features = torch.cat(captured)
    z = values[name].reshape(samples, -1).double()
    mean = features.mean(0)
    centred = features - mean
    total = centred.pow(2).sum(dtype=torch.float64)
    if total <= 0:
        raise GankitError(f"--layer {layer!r}: its activations do not vary over {samples} samples; choose another")
    k = max(1, min(components, features.shape[1], samples - 1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        q = min(k + 10, features.shape[1], samples)
        _, singular, basis = torch.pca_lowrank(centred, q=q, center=False, niter=4)
    order = singular.argsort(descending=True)[:k]
    singular, basis = singular[order], basis[:, order]
    explained = (singular.double().pow(2) / total).clamp(max=1.0)
    coords = (centred @ basis).double()  # principal coordinates (samples, k)
    regression = torch.linalg.lstsq(coords, z).solution  # (k, z_dim): z ≈ coords @ regression
    directions = regression / regression.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return {
        "layer": layer,
        "features": int(features.shape[1]),
        "samples": samples,
        "explained_variance": explained.float(),
        "directions": directions.float(),
        "activations": features,
        "inputs": values,
    }
