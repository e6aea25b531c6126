"""``gankit explore``: pictures of what a generator learned about its Gaussian noise.

* interpolation between latents (slerp), as a grid and an animated GIF;
* SeFa (Shen & Zhou 2021): closed-form directions, the eigenvectors of ``AᵀA`` for the generator's first
  layer ``A`` acting on the noise;
* GANSpace (Härkönen et al. 2020): PCA of an intermediate layer's activations over many samples, the
  principal directions mapped back to the latent space by linear regression;
* for class-conditional models, one latent across every class;
* for 2-D points, the learned density as a histogram with the data's modes.

Each part that does not apply to a model is skipped with a line saying why; the numbers go to
``explore.json``. Everything random comes from ``seed``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.inputs import FromData, Label, Noise, Option

#: The parts ``gankit explore`` can make, in order.
PARTS = ("interpolate", "sefa", "ganspace", "classes", "density")


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


# ---------------------------------------------------------------- interpolation


def interpolate(model: Any, rows: int, steps: int, seed: int, from_data: Callable | None = None):
    """``rows`` slerp paths of ``steps`` latents between two noise draws: (samples, latents, endpoints),
    samples ``(rows * steps, ...)`` row by row, endpoints ``(start, end)`` each ``(rows, ...)``."""
    name = noise_input(model)
    z = model.fill_inputs(2 * rows, seed)[name]
    start, end = z[:rows], z[rows:]
    path = slerp(start, end, torch.linspace(0, 1, steps)).flatten(0, 1)
    values = _with_noise(model, path, steps, seed, from_data)
    return model.generate_all(values), path, (start, end)


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


# ---------------------------------------------------------------- traversals, classes, density


def traverse(model: Any, directions: torch.Tensor, distance: float, steps: int, seed: int, from_data=None):
    """One base latent moved along each direction (rows) by ``steps`` amounts in ``[-distance, distance]``."""
    name = noise_input(model)
    base = model.fill_inputs(1, seed)[name]
    alphas = torch.linspace(-distance, distance, steps)
    shape = base.shape[1:]
    z = base.reshape(1, 1, -1) + alphas[None, :, None] * directions[:, None, :]  # (rows, steps, z_numel)
    z = z.reshape(-1, *shape)
    values = _with_noise(model, z, len(z), seed, from_data)
    return model.generate_all(values)


def across_classes(model: Any, rows: int, seed: int, from_data=None) -> tuple[torch.Tensor, int] | str:
    """``rows`` latents, each generated in every class (a row per latent): (samples, classes)."""
    labels = [(n, k) for n, k in model.inputs.items() if isinstance(k, Label)]
    if not labels:
        return "the model takes no class label"
    label, kind = labels[0]
    name = noise_input(model)
    classes = kind.num_classes
    z = model.fill_inputs(rows, seed)[name].repeat_interleave(classes, 0)
    values = _with_noise(model, z, classes, seed, from_data)
    values[label] = torch.arange(classes).repeat(rows)
    return model.generate_all(values), classes


def density(samples: torch.Tensor, description: Any, modes: torch.Tensor | None, std: float | None, size: int = 384):
    """A heat map of points (data units) over the data's range, modes marked; and per-mode numbers."""
    from PIL import Image, ImageDraw

    lo, hi = description.value_range
    points = samples.reshape(len(samples), -1)[:, :2].double()
    bins = 128
    hist = torch.histogramdd(points.float(), bins=[bins, bins], range=[lo, hi, lo, hi]).hist  # (x, y)
    heat = (hist.log1p() / hist.log1p().max().clamp_min(1e-12)).T.flip(0)  # rows: y from top
    # White (no samples) to dark blue (most).
    low, high = torch.tensor([255.0, 255.0, 255.0]), torch.tensor([8.0, 48.0, 107.0])
    rgb = low + heat[..., None] * (high - low)
    picture = Image.fromarray(rgb.round().to(torch.uint8).numpy()).resize((size, size), Image.NEAREST)
    numbers: dict[str, Any] = {"bins": bins, "samples": len(points)}
    if modes is not None:
        draw = ImageDraw.Draw(picture)
        modes = modes.double().reshape(len(modes), -1)[:, :2]
        for mx, my in modes.tolist():
            px = (mx - lo) / (hi - lo) * size
            py = size - (my - lo) / (hi - lo) * size
            draw.ellipse([px - 5, py - 5, px + 5, py + 5], outline=(220, 40, 40), width=2)
        distance = torch.cdist(points, modes)
        nearest = distance.argmin(1)
        close = distance.min(1).values <= 3 * std if std else torch.ones(len(points), dtype=torch.bool)
        counts = torch.bincount(nearest[close], minlength=len(modes))
        numbers |= {
            "modes": modes.tolist(),
            "std": std,
            "per_mode_within_3_std": counts.tolist(),
            "modes_captured": int((counts > 0).sum()),
            "high_quality_fraction": float(close.double().mean()),
        }
    return picture, numbers


# ---------------------------------------------------------------- all of it


def explore(
    model: Any,
    out: Path,
    seed: int = 0,
    samples: int = 20_000,
    components: int = 16,
    rows: int = 8,
    steps: int = 9,
    distance: float = 3.0,
    layer: str | None = None,
    dataset: Callable[[], Any] | None = None,
    from_data: Callable | None = None,
    log: Callable[[str], None] = print,
    project_image: str | Path | None = None,
    project_label: int | None = None,
) -> dict[str, Any]:
    """Write every picture that applies into ``out`` and the numbers into ``out/explore.json``;
    returns what was written there."""
    name = noise_input(model)
    kind = model.inputs[name]
    z_dim = math.prod(kind.shape)
    if any(isinstance(k, FromData) for k in model.inputs.values()) and from_data is None:
        raise GankitError("gankit explore: this translating model needs its data set to fill its image input")
    layer = check_layer(model.generator, layer)
    target = None
    if project_image is not None:  # checked before anything is written
        from gankit.images import read_images

        if model.description.modality != "image":
            raise GankitError(f"--project needs a model of images; this one makes {model.description.modality}")
        target = read_images(project_image, model.description.field(model.description.main))[:1]
    if project_label is not None:
        labels = [k for k in model.inputs.values() if isinstance(k, Label)]
        if not labels:
            raise GankitError(f"--label needs a class-conditional model; this one takes {', '.join(model.inputs)}")
        if not 0 <= project_label < labels[0].num_classes:
            raise GankitError(f"--label must be a class from 0 to {labels[0].num_classes - 1}, got {project_label}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GankitError(f"cannot create the output folder {str(out)!r}: {exc.strerror or exc}") from None
    report: dict[str, Any] = {"seed": seed, "noise": {"name": name, "shape": list(kind.shape)}, "skipped": {}}
    description = model.description
    # Points are drawn over the model's own samples (grey), so a path or traversal shows where it goes.
    background = model.sample(2000, seed + 1) if description.modality == "points" else None

    def skip(part: str, why: str) -> None:
        report["skipped"][part] = why
        log(f"skipped {part}: {why}")

    def wrote(part: str, *files: str) -> None:
        log(f"{part}: {', '.join(str(out / f) for f in files)}")

    # 1. interpolation
    shown, path, _ = interpolate(model, rows, steps, seed, from_data)
    grid = _save(render(shown, description, steps, background), out / "interpolation.png")
    per_step = shown.reshape(rows, steps, *shown.shape[1:]).transpose(0, 1)
    frames = [render(per_step[i], description, int(math.ceil(math.sqrt(rows))), background) for i in range(steps)]
    frames = frames + frames[-2:0:-1]  # there and back
    gif = _save(frames[0], out / "interpolation.gif", save_all=True, append_images=frames[1:], duration=120, loop=0)
    report["interpolation"] = {"method": "slerp", "rows": rows, "steps": steps, "files": [grid, gif]}
    wrote("interpolation", grid, gif)

    # 2. SeFa
    found = sefa(model.generator, z_dim)
    if isinstance(found, str):
        skip("sefa", f"no closed-form directions: {found}")
    else:
        shown_k = min(rows, z_dim)
        pictures = traverse(model, found["directions"][:shown_k], distance, steps, seed, from_data)
        file = _save(render(pictures, description, steps, background), out / "sefa.png")
        eig = found["eigenvalues"]
        report["sefa"] = {
            "layer": found["layer"],
            "eigenvalues": eig.tolist(),
            "eigenvalue_share": (eig / eig.sum().clamp_min(1e-30)).tolist(),
            "directions": found["directions"][:components].tolist(),
            "distance": distance,
            "file": file,
        }
        wrote("sefa", file)

    # 3. GANSpace
    space = ganspace(model, samples, components, seed, layer, from_data=from_data)
    shown_k = min(rows, len(space["directions"]))
    pictures = traverse(model, space["directions"][:shown_k], distance, steps, seed, from_data)
    file = _save(render(pictures, description, steps, background), out / "ganspace.png")
    report["ganspace"] = {
        "layer": space["layer"],
        "features": space["features"],
        "samples": samples,
        "explained_variance": space["explained_variance"].tolist(),
        "directions": space["directions"].tolist(),
        "distance": distance,
        "file": file,
    }
    log(
        f"ganspace: {out / file} (layer {space['layer']!r}, first components explain "
        + ", ".join(f"{v:.1%}" for v in space["explained_variance"][:4].tolist())
        + ")"
    )

    # 4. classes, and a linear boundary per class at the GANSpace layer
    classes = across_classes(model, min(rows, 4), seed, from_data)
    if isinstance(classes, str):
        skip("classes", classes)
        skip("boundaries", "class boundaries need a class-conditional model")
    else:
        pictures, count = classes
        file = _save(render(pictures, description, count), out / "classes.png")
        report["classes"] = {"classes": count, "rows": min(rows, 4), "file": file}
        wrote("classes", file)
        label_name = next(n for n, k in model.inputs.items() if isinstance(k, Label))
        found = class_boundaries(space["activations"], space["inputs"][label_name], count, seed)
        if isinstance(found, str):
            skip("boundaries", found)
        else:
            report["boundaries"] = {
                "layer": space["layer"],
                "validation_samples": found["validation_samples"],
                "accuracy": found["accuracy"],
                "balanced_accuracy_per_class": found["balanced_accuracy_per_class"],
                "normals": found["normals"].tolist(),
                "offsets": found["offsets"].tolist(),
            }
            log(
                f"boundaries: {count} classes at layer {space['layer']!r}, validation accuracy "
                f"{found['accuracy']:.1%} (lowest per class {min(found['balanced_accuracy_per_class']):.1%})"
            )

    # 6. projection of a given image
    if project_image is not None:
        found = project(model, target, seed, label=project_label)
        file = _save(render(torch.cat([target, found["sample"]]), description, 2), out / "projection.png")
        report["projection"] = {
            "image": str(project_image),
            "mse": found["mse"],
            "label": found["label"],
            "latent": found["latent"].flatten().tolist(),
            "steps": found["steps"],
            "starts": found["starts"],
            "file": file,
        }
        log(f"projection: {out / file} (mean squared error {found['mse']:.4f} in [-1, 1])")

    # 5. density of points
    if description.modality != "points":
        skip("density", f"the data is {description.modality}, not 2-D points")
    else:
        data = dataset() if dataset is not None else None
        modes = getattr(data, "modes", None)
        std = getattr(data, "std", None)
        points = description.to_data_units(model.sample(samples, seed))
        picture, numbers = density(points, description, modes, std)
        file = _save(picture, out / "density.png")
        report["density"] = numbers | {"file": file}
        if modes is None:
            log(f"density: {out / file} (the data set names no modes)")
        else:
            log(f"density: {out / file} ({numbers['modes_captured']} of {len(modes)} modes)")

    text = json.dumps(report, indent=1)
    try:
        (out / "explore.json").write_text(text + "\n")
    except OSError as exc:
        raise GankitError(f"cannot write {str(out / 'explore.json')!r}: {exc.strerror or exc}") from None
    return report
