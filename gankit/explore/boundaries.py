"""Class boundaries in a layer's activations, and projecting an image into the latent space."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gankit.explore.pictures import noise_input
from gankit.inputs import Label


def class_boundaries(features: torch.Tensor, labels: torch.Tensor, classes: int, seed: int) -> dict[str, Any] | str:
    """A linear boundary per class (one against the rest, logistic regression on standardized
    ``features``) fit on 80 % of the samples; accuracies on the other 20 %."""
    count = len(features)
    validation = max(1, count // 5)
    if count - validation < 2 * classes:
        return f"{count} samples are too few to fit {classes} class boundaries; raise --samples"
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    train, valid = order[validation:], order[:validation]
    x = features.double()
    mean, scale = x[train].mean(0), x[train].std(0).clamp_min(1e-6)
    x = (x - mean) / scale
    targets = nn.functional.one_hot(labels.long(), classes).double()
    weight = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        optimizer = torch.optim.LBFGS([weight, bias], max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimizer.zero_grad()
            logits = x[train] @ weight + bias
            loss = nn.functional.binary_cross_entropy_with_logits(logits, targets[train]) + 1e-4 * weight.pow(2).sum()
            loss.backward()
            return loss

        optimizer.step(closure)
    with torch.no_grad():
        logits = x[valid] @ weight + bias
        truth = labels[valid].long()
        per_class = []
        for k in range(classes):
            positive, predicted = truth == k, logits[:, k] > 0
            tpr = (predicted & positive).sum() / positive.sum().clamp_min(1)
            tnr = (~predicted & ~positive).sum() / (~positive).sum().clamp_min(1)
            per_class.append(float((tpr + tnr) / 2))
        normals = weight.detach() / scale[:, None]  # in the layer's own units
        norms = normals.norm(dim=0).clamp_min(1e-12)
        return {
            "validation_samples": int(validation),
            "accuracy": float((logits.argmax(1) == truth).double().mean()),
            "balanced_accuracy_per_class": per_class,
            "normals": (normals / norms).T.float(),
            "offsets": ((bias.detach() - (mean / scale) @ weight.detach()) / norms).float(),
        }


def project(
    model: Any,
    target: torch.Tensor,
    seed: int,
    label: int | None = None,
    steps: int = 300,
    starts: int = 8,
    lr: float = 0.05,
) -> dict[str, Any]:
    """The latent whose sample is closest (mean squared error in ``[-1, 1]``) to ``target`` (one sample,
    ``(1, ...)``): Adam on ``starts`` latents at once (per class, for a class-conditional model without
    ``label``), the best kept."""
    name = noise_input(model)
    labels = [(n, k) for n, k in model.inputs.items() if isinstance(k, Label)]
    candidates = [label] if labels and label is not None else list(range(labels[0][1].num_classes)) if labels else [0]
    count = starts * len(candidates)
    values = model.fill_inputs(count, seed)
    if labels:
        values[labels[0][0]] = torch.tensor(candidates).repeat_interleave(starts)
    device = model.device
    values = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in values.items()}
    z = values[name].clone().requires_grad_(True)
    target = target.to(device).float()
    nets = dict(model.nets) | {n: e.shadow for n, e in model.ema.items()}
    modes = {n: net.training for n, net in nets.items()}
    for net in nets.values():
        net.eval()
    try:
        with torch.enable_grad():
            optimizer = torch.optim.Adam([z], lr=lr)
            for _ in range(steps):
                out = model.scheme.generate(nets, values | {name: z}).float()
                error = (out - target).pow(2).flatten(1).mean(1)
                # A weak pull towards the noise's typical norm keeps the latent where G was trained.
                prior = (z.flatten(1).pow(2).mean(1) - 1).pow(2)
                (grad,) = torch.autograd.grad((error + 1e-3 * prior).sum(), z)
                z.grad = grad
                optimizer.step()
        with torch.no_grad():
            out = model.scheme.generate(nets, values | {name: z}).float()
            error = (out - target).pow(2).flatten(1).mean(1)
    finally:
        for n, net in nets.items():
            net.train(modes[n])
    best = int(error.argmin())
    return {
        "mse": float(error[best]),
        "label": candidates[best // starts] if labels else None,
        "latent": z[best].detach().cpu(),
        "sample": out[best : best + 1].detach().cpu(),
        "steps": steps,
        "starts": starts,
    }
