"""The BigGAN and StyleGAN2 sections of benchmarks/quality.py: the family packages' CPU presets on the
embedded digits at 16x16, scored in the digits classifier's features.

``digit-quality`` scores 8x8 images, so every image set here is taken to 8x8 the same way before the
classifier sees it (a 2x2 average pool from 16 px, the exact inverse of a 2x box upscale): the samples,
the target (the digits train split at the run's resolution, as the generator saw it) and the reference
(the held-out test split at the run's resolution). FD, classes and class KL are then the metric's own
statistics, and "2x the real test split's FD" compares like with like: the reference went through
the same resize round trip as the samples.

Section ``biggan``: the BigGAN CPU preset, then per class C the % of 1,000 samples with label C (seed 0,
what ``gankit sample RUN --label C -n 1000`` draws) that the classifier puts in C, plus FD.
Section ``stylegan2``: the StyleGAN2 CPU preset; FD, classes and class KL of 2,000 samples.
"""

from __future__ import annotations

import datetime
import math
from functools import cache
from pathlib import Path
from typing import Any

#: Samples per class (BigGAN) and in all (both) that are scored; the issue's targets.
PER_CLASS = 1000
SAMPLES = 2000
AGREEMENT_TARGET = 90.0
FD_RATIO = 2.0
KL_TARGET = 0.05
#: The CPU budget the issue gives each preset: 5 minutes of one idle CPU thread.
CPU_BUDGET_S = 300.0

FAMILIES = ("biggan", "stylegan2")


def preset(section: str) -> dict[str, Any]:
    """The run flags of a section's CPU preset, read from the TOML file its package ships."""
    import tomllib

    if section == "biggan":
        import gankit_biggan as package
    else:
        import gankit_stylegan as package
    text = tomllib.loads(package.CPU_PRESET.read_text())
    flags = {k: v for k, v in text.items() if not isinstance(v, dict)}
    for table, options in text.items():
        if isinstance(options, dict):
            flags.setdefault("options", {})[table] = options
    return flags


def to_8px(x: Any) -> Any:
    """Images in [-1, 1] at the run's resolution, at the classifier's 8x8 (box filter for exact multiples)."""
    import torch.nn.functional as F
    from gankit_builtins.data.digits import resized

    x = x.float().clamp(-1, 1)
    size = x.shape[-1]
    if size == 8:
        return x
    return F.avg_pool2d(x, size // 8) if size % 8 == 0 else resized(x, 8)


@cache
def _real(resolution: int) -> tuple[Any, Any, Any]:
    """(classifier, target features, reference test images at 8x8) for digits at ``resolution`` px."""
    from gankit_builtins.data.digits import digits
    from gankit_builtins.metrics.digits import features, load_classifier

    from gankit import DataRequest

    class Split:
        def __init__(self, split: str):
            self.split = split

    net, _ = load_classifier()
    request = DataRequest(resolution=resolution)
    train, test = digits(Split("train"), request), digits(Split("test"), request)
    target, _ = features(net, to_8px(train.samples))
    return net, target, to_8px(test.samples)


def score(images: Any, resolution: int) -> dict[str, float]:
    """digit-quality's statistics of ``images`` (any count, at ``resolution`` px) and of the real test split."""
    from gankit_builtins.metrics.digits import class_stats, features, precision_recall
    from gankit_builtins.metrics.distances import frechet_distance

    net, target, reference = _real(resolution)
    values: dict[str, float] = {}
    for prefix, x in (("", to_8px(images)), ("real_", reference)):
        feats, predicted = features(net, x)
        classes, kl = class_stats(predicted)
        precision, recall = precision_recall(target, feats, 5)
        values |= {
            f"{prefix}classes": classes,
            f"{prefix}class_kl": kl,
            f"{prefix}fd": frechet_distance(feats, target),
            f"{prefix}precision": precision,
            f"{prefix}recall": recall,
        }
    return values


def class_agreement(model: Any, resolution: int, count: int = PER_CLASS, seed: int = 0) -> list[float]:
    """Per class C, the % of ``count`` samples with label C that the digits classifier puts in C."""
    import torch
    from gankit_builtins.metrics.digits import features

    from gankit.inputs import Label

    net = _real(resolution)[0]
    name, kind = next((n, k) for n, k in model.inputs.items() if isinstance(k, Label))
    agreement = []
    for c in range(kind.num_classes):
        _, predicted = features(net, to_8px(model.sample(count, seed, given={name: c})))
        agreement.append(100.0 * float((torch.from_numpy(predicted) == c).double().mean()))
    return agreement


def evaluate(section: str, model: Any, resolution: int) -> dict[str, Any]:
    """A trained preset's numbers: the metric's statistics of 2,000 samples (seed 0) and, for BigGAN,
    the per-class agreement."""
    values: dict[str, Any] = score(model.sample(SAMPLES, 0), resolution)
    if section == "biggan":
        agreement = class_agreement(model, resolution)
        values |= {"agreement": agreement, "mean_agreement": sum(agreement) / len(agreement)}
    return values


# -- planning and one run ---------------------------------------------------------------------------

#: Bumped when the scoring above changes, so cached results of the old scoring are redone.
EVAL_VERSION = "1"


def _preset_path(section: str) -> str:
    if section == "biggan":
        import gankit_biggan as package
    else:
        import gankit_stylegan as package
    return str(package.CPU_PRESET)


def _resolve(section: str, flags: dict[str, Any]) -> Any:
    from gankit.plugins import registry
    from gankit.resolve import resolve

    return resolve(registry(), flags, config_file=_preset_path(section))


def plan(sections: tuple[str, ...], seeds: int, steps_scale: float, fingerprint: Any) -> list[dict[str, Any]]:
    """The runs of the family sections asked for: each preset at seeds 0 .. seeds-1."""
    import hashlib

    runs = []
    for section in (s for s in FAMILIES if s in sections):
        for seed in range(seeds):
            flags: dict[str, Any] = {"seed": seed, "trackers": ("jsonl",)}
            resolved = _resolve(section, flags)
            if steps_scale != 1:
                flags["steps"] = max(1, round(resolved.config.steps * steps_scale))
                resolved = _resolve(section, flags)
            key = hashlib.sha256(f"{fingerprint(resolved)} {section} {EVAL_VERSION}".encode()).hexdigest()[:16]
            runs.append(
                {
                    "section": section,
                    "data": resolved.config.data,
                    "combo": section,
                    "seed": seed,
                    "steps": resolved.config.steps,
                    "flags": {k: list(v) if isinstance(v, tuple) else v for k, v in flags.items()},
                    "key": key,
                }
            )
    return runs


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one preset run into a temporary folder and score it; CPU seconds are this process's."""
    import os
    import tempfile
    import time
    from pathlib import Path

    import torch

    torch.set_num_threads(1)
    from gankit.engine.trainer import Trainer
    from gankit.errors import GankitError
    from gankit.runs import RunFolder

    flags = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["flags"].items()}
    result: dict[str, Any] = {k: spec[k] for k in ("key", "section", "data", "combo", "seed", "steps")}
    with tempfile.TemporaryDirectory(prefix="gankit-quality-") as tmp:
        try:
            run = _resolve(spec["section"], flags)
            trainer = Trainer(run)
            folder = RunFolder.create(Path(tmp) / "run")
            folder.write_config(trainer.describe())
            cpu = time.process_time()
            summary = trainer.fit(folder)
            cpu = time.process_time() - cpu
            values = evaluate(spec["section"], trainer.model, run.config.resolution or 8)
        except GankitError as exc:  # a training outcome (NaN weights, ...): recorded, not retried
            return result | {"error": str(exc), "seconds": None, "values": {}}
    return result | {
        "error": None,
        "seconds": summary["seconds"],
        "cpu_seconds": cpu,
        "threads": torch.get_num_threads(),
        "values": values,
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        "load": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


# -- the tables -------------------------------------------------------------------------------------


def markers(section: str) -> tuple[str, str]:
    return f"<!-- {section}:start -->", f"<!-- {section}:end -->"


def checks(section: str, v: dict[str, Any]) -> dict[str, bool]:
    """The issue's targets for one run, each on its own."""
    fd = {f"FD ≤ {FD_RATIO:g}× real": v["fd"] <= FD_RATIO * v["real_fd"]}
    if section == "biggan":
        return {f"every class ≥ {AGREEMENT_TARGET:g} %": min(v["agreement"]) >= AGREEMENT_TARGET} | fd
    return fd | {f"10 classes, KL ≤ {KL_TARGET:g}": v["classes"] == 10 and v["class_kl"] <= KL_TARGET}


def met(section: str, v: dict[str, Any]) -> bool:
    """All of the issue's targets for one run."""
    return all(checks(section, v).values())


def _mean_std(values: list[float], fmt: str) -> str:
    if not values:
        return "–"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return format(mean, fmt)
    std = math.sqrt(sum((x - mean) ** 2 for x in values) / (len(values) - 1))
    return f"{format(mean, fmt)} ± {format(std, fmt)}"


def _recipe(section: str) -> str:
    """The preset's settings as flags, from the resolved run (what was trained)."""
    run = _resolve(section, {})
    cfg = run.config
    arch = run.config_for(run.architecture)
    if section == "biggan":
        widths = f"g_channels {arch.g_channels}, d_channels {arch.d_channels}, shared_dim {arch.shared_dim}"
        widths += f", attention {str(arch.attention).lower()}, init {arch.init}"
        widths += f", augment {','.join(arch.augment) or 'none'}"
        extra = f", n_critic {cfg.n_critic}, EMA {cfg.ema:g} from step {cfg.ema_start}"
    else:
        widths = f"channel_base {arch.channel_base}, channel_max {arch.channel_max}, w_dim {arch.w_dim}"
        extra = f", R1 γ {run.config_for(run.regularizers[0]).gamma:g}, EMA ramp-up {cfg.ema_rampup:g}"
        extra += ", lazy lr/betas correction" if cfg.lazy_correction else ""
    return (
        f"`{cfg.arch}` at {cfg.resolution} px ({widths}), loss `{cfg.loss}`, regs {', '.join(cfg.regs) or 'none'},"
        f" z {cfg.z_dim}, batch {cfg.batch_size}, lr_g {cfg.lr_g:g}, lr_d {cfg.lr_d:g}, betas {tuple(cfg.betas)}"
        f"{extra}, {cfg.steps:,} steps"
        + (f", amp {cfg.amp}" if cfg.amp != "auto" else "")
        + (", channels-last" if cfg.channels_last else "")
    )


def table(section: str, runs: list[dict[str, Any]], results: dict[str, dict[str, Any]], header: list[str]) -> str:
    """One family's block: its recipe, per-seed numbers and the targets, from the results file."""
    runs = sorted((r for r in runs if r.get("section") == section), key=lambda r: r["seed"])
    records = [results[r["key"]] for r in runs if r["key"] in results]
    good = [r for r in records if not r.get("error")]
    package = "gankit-biggan" if section == "biggan" else "gankit-stylegan"
    preset_name = Path(_preset_path(section)).name
    if section == "biggan":
        what = (
            f"per class C, the % of {PER_CLASS:,} samples with label C (`gankit sample RUN --label C -n"
            f" {PER_CLASS}`, seed 0) that the digits classifier puts in C; target ≥ {AGREEMENT_TARGET:g} % for"
            f" every class, and FD ≤ {FD_RATIO:g} × the real test split's"
        )
    else:
        what = f"target FD ≤ {FD_RATIO:g} × the real test split's, all 10 classes, class KL ≤ {KL_TARGET:g}"
    lines = [
        f"{package}'s CPU preset (`{preset_name}`, `gankit run --config` it) on the embedded digits, over seeds:",
        f"{what}.",
        "",
        f"FD, classes and class KL are `digit-quality`'s, of {SAMPLES:,} samples (seed 0) taken to 8×8 by a 2×2",
        "average pool, against the train split at the run's resolution pooled the same way; the real test",
        "split at that resolution, pooled the same way, gives the reference FD. CPU s: the worker's CPU time",
        f"(one thread) for training; steps/s = steps / CPU s, the rate on an idle core. Budget: {CPU_BUDGET_S:.0f}"
        " CPU s.",
        "",
        f"- Recipe: {_recipe(section)}.",
        *header,
        "",
    ]
    if not good:
        return "\n".join([*lines, "(no finished runs)"])
    if section == "biggan":
        lines += [
            "| class | " + " | ".join(f"seed {r['seed']}" for r in good) + " | mean ± std |",
            "|---|" + "---|" * (len(good) + 1),
        ]
        for c in range(len(good[0]["values"]["agreement"])):
            cells = [r["values"]["agreement"][c] for r in good]
            lines.append(f"| {c} | " + " | ".join(f"{x:.1f}" for x in cells) + f" | {_mean_std(cells, '.1f')} |")
        for name, fn in (("**mean**", lambda v: v["mean_agreement"]), ("lowest class", lambda v: min(v["agreement"]))):
            cells = [fn(r["values"]) for r in good]
            lines.append(f"| {name} | " + " | ".join(f"{x:.1f}" for x in cells) + f" | {_mean_std(cells, '.1f')} |")
        lines.append("")
    names = list(checks(section, good[0]["values"]))
    lines += [
        "| seed | FD | real FD | FD / real | classes | class KL | precision | recall | steps | CPU s | steps/s"
        " | wall s | load | " + " | ".join(names) + " |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|" + "---|" * len(names),
    ]
    for r in good:
        v = r["values"]
        load = r.get("load")
        lines.append(
            f"| {r['seed']} | {v['fd']:.2f} | {v['real_fd']:.2f} | {v['fd'] / v['real_fd']:.2f} | {v['classes']} |"
            f" {v['class_kl']:.3f} | {v['precision']:.2f} | {v['recall']:.2f} | {r['steps']:,} |"
            f" {r['cpu_seconds']:.0f} | {r['steps'] / r['cpu_seconds']:.2f} | {r['seconds']:.0f} |"
            f" {'–' if load is None else format(load, '.2f')} | "
            + " | ".join("yes" if ok else "no" for ok in checks(section, v).values())
            + " |"
        )
    failed = len(records) - len(good)
    lines += [
        "",
        "Targets: "
        + ", ".join(f"{name} on {sum(checks(section, r['values'])[name] for r in good)}" for name in names)
        + f"; all of them on {sum(met(section, r['values']) for r in good)} of {len(good)} seeds"
        + (f" ({failed} failed)" if failed else "")
        + f"; CPU s within the {CPU_BUDGET_S:.0f} s budget on "
        f"{sum(r['cpu_seconds'] <= CPU_BUDGET_S for r in good)} of {len(good)}. Load: the machine's 1-minute load"
        " average as each run finished (2 cores shared; wall time above CPU time is waiting for a core).",
    ]
    return "\n".join(lines)
