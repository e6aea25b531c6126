"""Held-out quality of pix2pix on the embedded digits task, on a CPU budget.

Trains pix2pix (GAN + 100 * L1) and an L1-only U-Net (the same networks and budget, the adversarial term
weighted 0: the paper's "L1" ablation) on the train split of ``pix2pix-digits``, translates the 360
held-out sources with ``gankit sample --input``, and reports in pixel units ([0, 1]):

* L1 to the target, for both models and for the input itself (the source's own L1 to the target);
* the accuracy of a logistic-regression digit classifier (fit on the train targets) on the outputs,
  on the inputs, and on the targets themselves (its ceiling).

    OMP_NUM_THREADS=1 .venv/bin/python plugins/gankit-pix2pix/scripts/quality.py --out /tmp/p2p-quality

Each training is ``CPU_PRESET`` plus the recipe the architecture suggests; ``--epochs`` changes the budget.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

#: A CPU preset: half-width networks (ngf = ndf = 32 instead of 64) and 20 epochs (1800 steps of 16) instead
#: of 200, the learning rate decaying linearly over the second half as in the recipe.
CPU_PRESET = ("--set", "pix2pix.ngf=32", "--set", "pix2pix.ndf=32", "--epochs", "20")


def gankit(*args: str) -> None:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], check=True, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/pix2pix-quality"))
    parser.add_argument("--degrade", default="edges", choices=("edges", "mask"))
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument("--epochs", type=float, default=None, help="override the preset's 20 epochs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from gankit import DataRequest

    from gankit_pix2pix import DigitsTaskConfig
    from gankit_pix2pix.data import digits_task

    request = DataRequest(resolution=args.resolution)
    train = digits_task(DigitsTaskConfig(degrade=args.degrade, split="train"), request).field_tensors()
    test = digits_task(DigitsTaskConfig(degrade=args.degrade, split="test"), request).field_tensors()
    units = {name: (t.numpy() + 1) / 2 for name, t in test.items() if name != "label"}
    args.out.mkdir(parents=True, exist_ok=True)
    sources = args.out / "test-sources.npy"
    np.save(sources, units["source"])

    budget = list(CPU_PRESET) + (["--epochs", str(args.epochs)] if args.epochs else [])
    common = ["--arch", "pix2pix", "--data", "pix2pix-digits", "--resolution", args.resolution, "--device", args.device]
    common += ["--set", f"pix2pix-digits.degrade={args.degrade}", "--seed", args.seed, "--out", args.out, "-q"]
    common += ["--sample-every", "100000", "--checkpoint-every", "100000", *budget]
    results = {}
    for name, extra in (("pix2pix", []), ("l1-only", ["--set", "pix2pix.gan=0"])):
        if not (args.out / name / "checkpoints").is_dir():
            gankit("run", *common, *extra, "--name", name)
        translated = args.out / f"{name}-test.npy"
        count = len(units["source"])  # -n: gankit sample translates at most -n (64 by default) of the inputs
        gankit("sample", args.out / name, "--input", sources, "-n", count, "-o", translated, "--device", args.device)
        results[name] = np.load(translated)

    from sklearn.linear_model import LogisticRegression

    classifier = LogisticRegression(max_iter=2000).fit(
        ((train["target"].numpy() + 1) / 2).reshape(len(train["target"]), -1), train["label"].numpy()
    )
    labels = test["label"].numpy()

    def accuracy(images: np.ndarray) -> float:
        return float((classifier.predict(images.reshape(len(images), -1)) == labels).mean())

    def l1(images: np.ndarray) -> float:
        return float(np.abs(images - units["target"]).mean())

    report = {
        "task": f"pix2pix-digits degrade={args.degrade} resolution={args.resolution}, 360 held-out pairs",
        "budget": " ".join(map(str, budget)),
        "l1": {"input": l1(units["source"]), **{name: l1(out) for name, out in results.items()}},
        "accuracy": {
            "target": accuracy(units["target"]),
            "input": accuracy(units["source"]),
            **{name: accuracy(out) for name, out in results.items()},
        },
    }
    (args.out / "quality.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
