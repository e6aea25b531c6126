"""Quality of a trained cyclegan-digits run on the held-out split (not part of the test suite)::

    gankit run --data cyclegan-digits --out runs --name preset
    python benchmarks/quality.py runs/preset [--task stroke] [--resolution 16]

Reports, on the test split (images never trained on):

* domain: the share of G_ab(test a) that a logistic-regression domain classifier (trained on real
  train a vs train b) calls b, and of G_ba(test b) it calls a; its accuracy on real test images;
* digit kept: the accuracy of a digit classifier trained on real domain-b digits on G_ab(test a),
  scored against the a images' own labels (and the other way round); its accuracy on real test b;
* cycle L1: mean |G_ba(G_ab(a)) - a| in pixel units [0, 1] (and for b).

Everything goes through gankit's public API and command line (``gankit sample --input x.npy``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from gankit import DataRequest
from gankit.testing import create_component, run_cli


def _units(x) -> np.ndarray:
    return ((x.numpy() + 1) / 2).astype(np.float32)


def _translate(run: str, images: np.ndarray, direction: str, folder: Path) -> np.ndarray:
    source, out = folder / f"in-{direction}.npy", folder / f"out-{direction}.npy"
    np.save(source, images)
    n = str(len(images))
    run_cli("sample", run, "--input", str(source), "-n", n, "--set", f"direction={direction}", "-o", str(out))
    return np.load(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--task", default="stroke")
    parser.add_argument("--resolution", type=int, default=16)
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression

    request = DataRequest(resolution=args.resolution)
    train = create_component("data", "cyclegan-digits", {"split": "train", "task": args.task}, request).tensors
    test = create_component("data", "cyclegan-digits", {"split": "test", "task": args.task}, request).tensors
    flat = {k: _units(v).reshape(len(v), -1) for k, v in train.items() if v.is_floating_point()}
    domain = LogisticRegression(max_iter=2000).fit(
        np.concatenate([flat["a"], flat["b"]]), np.r_[np.zeros(len(flat["a"])), np.ones(len(flat["b"]))]
    )
    digit = {d: LogisticRegression(max_iter=2000).fit(flat[d], train[f"label_{d}"].numpy()) for d in "ab"}

    a, b = _units(test["a"]), _units(test["b"])
    la, lb = test["label_a"].numpy(), test["label_b"].numpy()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ab = _translate(args.run, a, "ab", folder)
        aba = _translate(args.run, ab, "ba", folder)
        ba = _translate(args.run, b, "ba", folder)
        bab = _translate(args.run, ba, "ab", folder)

    def flat_(x):
        return x.reshape(len(x), -1)

    results = {
        "domain_accuracy_real_test": float(
            np.mean(np.r_[domain.predict(flat_(a)) == 0, domain.predict(flat_(b)) == 1])
        ),
        "ab_called_b": float(np.mean(domain.predict(flat_(ab)) == 1)),
        "ba_called_a": float(np.mean(domain.predict(flat_(ba)) == 0)),
        "untranslated_a_called_b": float(np.mean(domain.predict(flat_(a)) == 1)),
        "digit_accuracy_real_test_b": float(np.mean(digit["b"].predict(flat_(b)) == lb)),
        "digit_kept_ab": float(np.mean(digit["b"].predict(flat_(ab)) == la)),
        "digit_kept_ba": float(np.mean(digit["a"].predict(flat_(ba)) == lb)),
        "digit_b_classifier_on_untranslated_a": float(np.mean(digit["b"].predict(flat_(a)) == la)),
        "cycle_l1_aba": float(np.abs(aba - a).mean()),
        "cycle_l1_bab": float(np.abs(bab - b).mean()),
        "test_images": [len(a), len(b)],
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
