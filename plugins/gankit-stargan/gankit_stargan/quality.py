"""How well a StarGAN run on ``stargan-digits`` translates the held-out split::

    python -m gankit_stargan.quality RUN_OR_CHECKPOINT [--device cpu]

A small CNN learns the four attributes and the digit from the real training split; then every
held-out digit is translated (through ``gankit sample --input ... --set target=...``) to each of the
16 attribute vectors, and the CNN judges the translations:

* ``target_exact``: all four attributes of the translation are the target's;
* ``target_attribute``: the share of single attributes that are the target's;
* ``digit_kept``: the translation still shows the input's digit;

overall, for the single-attribute changes (solver.py's test protocol for CelebA flips one attribute
at a time) and for target == source. The CNN's accuracy on the real held-out images is the ceiling,
and "unchanged" (the input itself, judged against the target) the floor.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from gankit import DataRequest
from torch import nn

from . import DIGIT_ATTRIBUTES, DigitDomainsConfig
from .data import digit_domains


def classifier(size: int) -> nn.Module:
    """Attribute logits (4) and digit logits (10) from a digit image."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * (size // 4) ** 2, 128),
        nn.ReLU(),
        nn.Linear(128, len(DIGIT_ATTRIBUTES) + 10),
    )


def train_classifier(x: torch.Tensor, flags: torch.Tensor, labels: torch.Tensor, epochs: int = 30) -> nn.Module:
    torch.manual_seed(0)
    net = classifier(x.shape[-1])
    optimizer = torch.optim.Adam(net.parameters(), 1e-3)
    k = len(DIGIT_ATTRIBUTES)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            out = net(x[batch])
            loss = nn.functional.binary_cross_entropy_with_logits(out[:, :k], flags[batch])
            loss = loss + nn.functional.cross_entropy(out[:, k:], labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return net.eval()


@torch.no_grad()
def judge(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = net(x)
    k = len(DIGIT_ATTRIBUTES)
    return (out[:, :k] > 0).float(), out[:, k:].argmax(1)


def scores(attributes: torch.Tensor, digits: torch.Tensor, target: torch.Tensor, labels: torch.Tensor) -> dict:
    return {
        "target_exact": float((attributes == target).all(1).float().mean()),
        "target_attribute": float((attributes == target).float().mean()),
        "digit_kept": float((digits == labels).float().mean()),
    }


def translate(run: Path, images: np.ndarray, target: tuple[int, ...], device: str, folder: Path) -> torch.Tensor:
    source, out = folder / "inputs.npy", folder / "out.npy"
    np.save(source, images)
    flags = ",".join(map(str, target))
    command = [sys.executable, "-m", "gankit", "sample", str(run), "--input", str(source), "-n", str(len(images))]
    command += ["--set", f"target={flags}", "-o", str(out), "--device", device]
    subprocess.run(command, check=True, capture_output=True)
    return torch.as_tensor(np.load(out)) * 2 - 1


def evaluate(run: Path, device: str = "cpu") -> dict:
    folder = run.parent.parent if run.is_file() else run  # RUN/checkpoints/step-N.safetensors
    saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    request = DataRequest(resolution=saved["run"].get("resolution"))
    train = digit_domains(DigitDomainsConfig("train"), request).tensors
    test = digit_domains(DigitDomainsConfig("test"), request).tensors
    net = train_classifier(train["x"], train["attributes"], train["label"])
    x, flags, labels = test["x"], test["attributes"], test["label"]
    results = {"real": scores(*judge(net, x), flags, labels)}
    groups: dict[str, list[tuple[torch.Tensor, ...]]] = {"all": [], "one_changed": [], "unchanged_target": []}
    floor: list[tuple[torch.Tensor, ...]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for target in itertools.product((0, 1), repeat=len(DIGIT_ATTRIBUTES)):
            wanted = torch.tensor(target, dtype=torch.float32).expand_as(flags)
            fake = translate(run, ((x + 1) / 2).numpy(), target, device, Path(tmp))
            attributes, digits = judge(net, fake)
            changed = (wanted != flags).sum(1)
            for name, keep in (
                ("all", torch.ones_like(changed, dtype=torch.bool)),
                ("one_changed", changed == 1),
                ("unchanged_target", changed == 0),
            ):
                groups[name].append((attributes[keep], digits[keep], wanted[keep], labels[keep]))
            floor.append((*judge(net, x), wanted, labels))
    for name, parts in groups.items():
        results[name] = scores(*(torch.cat(p) for p in zip(*parts, strict=True)))
    results["unchanged_input"] = scores(*(torch.cat(p) for p in zip(*floor, strict=True)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run folder of --data stargan-digits, or one of its checkpoints")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    results = evaluate(args.run, args.device)
    for name, values in results.items():
        print(f"{name:18s} " + "  ".join(f"{k} {v:.3f}" for k, v in values.items()))


if __name__ == "__main__":
    main()
