"""``explore()``: every part that applies to a model, its pictures and ``explore.json``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from gankit.engine.generation import parse_label
from gankit.errors import GankitError
from gankit.explore.boundaries import class_boundaries, project
from gankit.explore.directions import check_layer, ganspace, sefa
from gankit.explore.paths import across_classes, density, interpolate, traverse
from gankit.explore.pictures import _save, noise_input, render
from gankit.inputs import FromData, Label

#: The parts ``gankit explore`` can make, in order.
PARTS = ("interpolate", "sefa", "ganspace", "classes", "density")


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
    project_label: int | str | None = None,
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
        project_label = parse_label("--label", str(project_label), labels[0])
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
