#!/usr/bin/env python
"""Sample quality of every bundled loss x regularizer combination, over seeds, at fixed budgets.

    python benchmarks/quality.py                      # everything: about 280 runs, hours on 2 cores
    python benchmarks/quality.py --jobs 2             # two single-threaded workers side by side
    python benchmarks/quality.py --data grid25 --combos default,wgan+gp --seeds 2
    python benchmarks/quality.py --steps-scale 0.01 --dry-run
    python benchmarks/quality.py --sections conditional --seeds 3 --jobs 2

Each run trains ``gankit run --data DATA [--loss L --reg R] --seed S`` (the data set's default steps,
times ``--steps-scale``) in its own temporary run folder, in a fresh single-threaded worker process
(OMP_NUM_THREADS=1), then scores the generator with the data set's metric, as ``gankit eval`` does
(``modes`` on ring8 and grid25, ``digit-quality`` on digits). Every finished run is appended to a JSON
lines results file, keyed by a fingerprint of its resolved configuration; a rerun skips the runs it
holds, so an interrupted sweep continues where it stopped, and a change of defaults reruns only the
runs it changes. At the end the Markdown tables (mean ± std over the seeds each cell holds) replace
the text between ``<!-- quality:start -->`` and ``<!-- quality:end -->`` in docs/benchmarks.md.

Combinations: ``default`` (no --loss, no --reg: what the data set suggests), ``LOSS+REG`` for the
losses bce, wgan, hinge, lsgan and the regularizers none (explicitly no regularizer, not even one
the data set suggests), gp, r1, sn, and ``wgan+clip``.

Section ``conditional`` (part of a full sweep, or ``--sections conditional`` alone; ``--data`` and ``--combos``
do not apply to it, and narrowing the sweep with them leaves it out unless ``--sections`` names it) trains ``gankit run --scheme conditional --seed S`` on digits (what the scheme and the data set suggest)
and, besides ``digit-quality``, scores what ``gankit sample RUN --label C -n 1000`` gives for each class C:
the share of the samples that the digits classifier (the one ``digit-quality`` uses) puts in class C.
Its table goes between ``<!-- conditional:start -->`` and ``<!-- conditional:end -->``.

Sections ``biggan`` and ``stylegan2`` train the CPU preset that gankit-biggan / gankit-stylegan ships
(digits at 16x16) and score it at 8x8 after a 2x2 pool (per-class agreement for BigGAN, FD against 2x
the real test split's, classes and class KL), with each run's CPU seconds; the code is
benchmarks/quality_families.py, the tables go between ``<!-- biggan:start -->`` / ``<!-- stylegan2:start -->``
and their ``:end`` markers.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "quality-results.jsonl"
START, END = "<!-- quality:start -->", "<!-- quality:end -->"
CONDITIONAL_START, CONDITIONAL_END = "<!-- conditional:start -->", "<!-- conditional:end -->"
SECTIONS = ("combos", "conditional", "biggan", "stylegan2", "pix2pix", "cyclegan", "stargan")
#: Sections of the translation families, in benchmarks/quality_translation.py (one generated block).
TRANSLATION_SECTIONS = ("pix2pix", "cyclegan", "stargan")
#: Sections whose runs, scores and tables live in benchmarks/quality_families.py (the family packages' CPU presets).
FAMILY_SECTIONS = ("biggan", "stylegan2")

DATA = ("ring8", "grid25", "digits")
LOSSES = ("bce", "wgan", "hinge", "lsgan")
REGS = ("none", "gp", "r1", "sn")
COMBOS = ("default", *(f"{loss}+{reg}" for loss in LOSSES for reg in REGS), "wgan+clip")

#: The issue's quality targets: (data, combo) -> (what it asks, test of one run's values, seeds needed of 5).
TARGETS: dict[tuple[str, str], tuple[str, Any, int]] = {
    ("grid25", "default"): (
        "25 modes, ≥ 95 % HQ",
        lambda v: v["modes"] == 25 and v["high_quality_pct"] >= 95,
        4,
    ),
    ("ring8", "default"): ("8 modes, ≥ 97 % HQ", lambda v: v["modes"] == 8 and v["high_quality_pct"] >= 97, 4),
    ("grid25", "wgan+gp"): ("25 modes", lambda v: v["modes"] == 25, 5),
    ("digits", "default"): (
        "10 classes, class KL ≤ 0.05, FD ≤ 2 × real FD",
        lambda v: v["classes"] == 10 and v["class_kl"] <= 0.05 and v["fd"] <= 2 * v["real_fd"],
        4,
    ),
}

#: Columns of each data set's table: (metric key, header, format).
COLUMNS = {
    "modes": [
        ("modes", "modes", ".1f"),
        ("high_quality_pct", "HQ %", ".1f"),
        ("mode_kl", "KL", ".3f"),
    ],
    "digit-quality": [
        ("classes", "classes", ".1f"),
        ("class_kl", "class KL", ".3f"),
        ("fd", "FD", ".1f"),
        ("kid", "KID", ".3g"),
        ("precision", "precision", ".2f"),
        ("recall", "recall", ".2f"),
    ],
}
METRIC = {"ring8": "modes", "grid25": "modes", "digits": "digit-quality"}

#: The conditional section: samples drawn per class (``gankit sample --label C -n 1000``, seed 0), and the
#: issue's target, the classifier agreeing with the requested class on at least this share of them.
PER_CLASS_SAMPLES = 1000
AGREEMENT_TARGET = 90.0


# -- planning -------------------------------------------------------------------------------------


def combo_flags(combo: str) -> dict[str, Any]:
    """The explicit run settings (as `gankit run` flags would give them) of a combination."""
    if combo == "default":
        return {}
    loss, _, reg = combo.partition("+")
    return {"loss": loss, "regs": () if reg == "none" else (reg,)}


def plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every run asked for, with its resolved configuration's fingerprint."""
    from gankit.plugins import registry
    from gankit.resolve import resolve

    cells: list[tuple[str, str, str, dict[str, Any]]] = []  # (section, data, combo, flags)
    if "combos" in args.sections:
        cells += [("combos", data, combo, combo_flags(combo)) for data in args.data for combo in args.combos]
    if "conditional" in args.sections:
        cells.append(("conditional", "digits", "conditional", {"scheme": "conditional"}))
    runs = []
    for section, data, combo, extra in cells:
        for seed in range(args.seeds):
            flags = {"data": data, "seed": seed, "trackers": ("jsonl",)} | extra
            resolved = resolve(registry(), flags)
            if args.steps_scale != 1:  # scale the budget the run would get, whoever suggests it
                flags["steps"] = max(1, round(resolved.config.steps * args.steps_scale))
                resolved = resolve(registry(), flags)
            runs.append(
                {
                    "section": section,
                    "data": data,
                    "combo": combo,
                    "seed": seed,
                    "steps": resolved.config.steps,
                    "flags": {k: list(v) if isinstance(v, tuple) else v for k, v in flags.items()},
                    "key": fingerprint(resolved),
                }
            )
    if any(s in FAMILY_SECTIONS for s in args.sections):
        runs += _families().plan(args.sections, args.seeds, args.steps_scale, fingerprint)
    if any(s in TRANSLATION_SECTIONS for s in args.sections):
        runs += _translation().plan(args.sections, args.seeds, args.steps_scale, fingerprint)
    return runs


def _translation() -> Any:
    """benchmarks/quality_translation.py, imported from beside this file (pix2pix, cyclegan, stargan)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import quality_translation

    return quality_translation


def _families() -> Any:
    """benchmarks/quality_families.py, imported from beside this file (the BigGAN and StyleGAN2 sections)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import quality_families

    return quality_families


def fingerprint(resolved: Any) -> str:
    """What makes two runs the same run: gankit's version and the whole resolved configuration."""
    from gankit import __version__

    text = json.dumps([__version__, resolved.describe()], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- one run, in its own process ------------------------------------------------------------------


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one run into a temporary folder and score it, like `gankit run -q` then `gankit eval`."""
    if spec.get("section") in FAMILY_SECTIONS:
        return _families().worker(spec)
    if spec.get("section") in TRANSLATION_SECTIONS:
        return _translation().worker(spec, fingerprint)
    import torch

    torch.set_num_threads(1)
    from gankit.engine.trainer import Trainer
    from gankit.errors import GankitError
    from gankit.evaluation import build_metrics, evaluate
    from gankit.plugins import registry
    from gankit.resolve import resolve
    from gankit.runs import RunFolder

    flags = {k: tuple(v) if isinstance(v, list) else v for k, v in spec["flags"].items()}
    result: dict[str, Any] = {k: spec[k] for k in ("key", "data", "combo", "seed", "steps")}
    with tempfile.TemporaryDirectory(prefix="gankit-quality-") as tmp:
        try:
            run = resolve(registry(), flags)
            # Filed under what was trained: if the defaults changed since the plan, not under the plan's key.
            result |= {"key": fingerprint(run), "steps": run.config.steps}
            trainer = Trainer(run)
            folder = RunFolder.create(Path(tmp) / "run")
            folder.write_config(trainer.describe())
            summary = trainer.fit(folder)
            scored = evaluate(trainer.model, trainer.dataset, build_metrics(run), seed=0)
            agreement = class_agreement(trainer.model) if spec.get("section") == "conditional" else None
        except GankitError as exc:  # a training outcome (NaN weights, ...): recorded, not retried
            return result | {"error": str(exc), "seconds": None, "values": {}}
    values = {k: v for r in scored["metrics"].values() for k, v in r["values"].items()}
    if agreement is not None:
        values |= {"agreement": agreement, "mean_agreement": sum(agreement) / len(agreement)}
    return result | {
        "error": None,
        "seconds": summary["seconds"],
        "threads": torch.get_num_threads(),
        "values": values,
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        # The machine's 1-minute load average as the run finished (2 cores shared: above ~2, runs are slowed).
        "load": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def class_agreement(model: Any, count: int = PER_CLASS_SAMPLES, seed: int = 0) -> list[float]:
    """Per class C, the % of ``count`` samples with label C (what ``gankit sample --label C -n count --seed
    seed`` writes) that the digits classifier of ``digit-quality`` puts in class C."""
    import torch
    from gankit_builtins.metrics.digits import features, load_classifier

    from gankit.inputs import Label

    net, _ = load_classifier()
    name, kind = next((n, k) for n, k in model.inputs.items() if isinstance(k, Label))
    agreement = []
    for c in range(kind.num_classes):
        samples = model.sample(count, seed, given={name: c})
        _, predicted = features(net, samples.clamp(-1, 1))
        agreement.append(100.0 * float((torch.from_numpy(predicted) == c).double().mean()))
    return agreement


def launch(spec: dict[str, Any]) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU numbers: comparable from machine to machine
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


# -- the results file -----------------------------------------------------------------------------


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
                results[record["key"]] = record
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an interrupted write: that run is simply redone
    return results


def append_result(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def execute(pending: list[dict[str, Any]], jobs: int, results_path: Path, log: Any) -> int:
    """Run the pending runs, ``jobs`` at a time; returns how many failed to produce a record."""
    queue, running, crashed, done = list(pending), [], 0, 0
    while queue or running:
        while queue and len(running) < jobs:
            spec = queue.pop(0)
            running.append((spec, launch(spec), time.perf_counter()))
        time.sleep(0.2)
        for item in list(running):
            spec, proc, started = item
            if proc.poll() is None:
                continue
            running.remove(item)
            out, err = proc.communicate()
            done += 1
            name = f"{spec['data']} {spec['combo']} seed {spec['seed']}"
            try:
                record = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                crashed += 1
                tail = " | ".join(err.strip().splitlines()[-3:])
                print(f"[{done}/{len(pending)}] {name}: worker failed (exit {proc.returncode}): {tail}", file=log)
                continue
            append_result(results_path, record)
            if record["key"] != spec["key"]:
                print(f"warning: {name}: the defaults changed while it ran; rerun to train the new ones", file=log)
            took = time.perf_counter() - started
            shown = record["error"] or ", ".join(
                f"{k} {_short(v)}" for k, v in record["values"].items() if not isinstance(v, list)
            )
            print(f"[{done}/{len(pending)}] {name}: {shown} ({took:.0f} s)", file=log, flush=True)
    return crashed


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# -- the table ------------------------------------------------------------------------------------


def mean_std(values: list[float], fmt: str) -> str:
    if not values:
        return "–"
    mean = sum(values) / len(values)
    if len(values) == 1:
        return format(mean, fmt)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return f"{format(mean, fmt)} ± {format(std, fmt)}"


def machine() -> str:
    model = None
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), None
        )
    except OSError:
        pass
    return f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def table(runs: list[dict[str, Any]], results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    import torch

    from gankit import __version__

    runs = [r for r in runs if r.get("section", "combos") == "combos"]
    lines = [
        "Sample quality of each loss × regularizer combination at a fixed budget (the data set's default",
        "steps), over seeds 0 to N − 1; each cell is the mean ± standard deviation over the seeds it holds.",
        "`default` is the run with no `--loss` and no `--reg` (what the data set suggests); `none` is no",
        "regularizer at all. HQ: share of samples within 3σ of their nearest mode (2,500 samples); KL:",
        "high-quality samples over modes against uniform. Digits: `digit-quality` (2,000 samples, in a",
        "digits classifier's features). Seconds: training wall time of one single-threaded worker.",
        "",
        f"- Machine: {machine()}; torch {torch.__version__}, gankit {__version__}, CPU, one thread per run"
        f" ({args.jobs} run{'s' if args.jobs > 1 else ''} at a time).",
        f"- Budgets (the data set's suggested steps{'' if args.steps_scale == 1 else f' × {args.steps_scale:g}'}): {_budgets(runs)}.",
        f"- Command: `{command(args)}`",
        f"- Generated {datetime.date.today().isoformat()}.",
        "",
    ]
    met_lines = []
    for data in dict.fromkeys(r["data"] for r in runs):
        metric = METRIC[data]
        columns = COLUMNS[metric]
        lines += [
            f"**{data}**",
            "",
            "| combination | seeds | " + " | ".join(h for _, h, _ in columns) + " | seconds | failed |",
            "|---|---|" + "---|" * len(columns) + "---|---|",
        ]
        reference = []
        for combo in dict.fromkeys(r["combo"] for r in runs if r["data"] == data):
            cell = [r for r in runs if r["data"] == data and r["combo"] == combo]
            records = [results[r["key"]] for r in cell if r["key"] in results]
            good = [r for r in records if not r.get("error")]
            failed = len(records) - len(good)
            row = [f"`{combo}`", f"{len(records)}/{len(cell)}"]
            row += [mean_std([float(r["values"][k]) for r in good], fmt) for k, _, fmt in columns]
            row += [mean_std([float(r["seconds"]) for r in good], ".0f"), str(failed) if failed else ""]
            lines.append("| " + " | ".join(row) + " |")
            reference += [float(r["values"]["real_fd"]) for r in good if "real_fd" in r["values"]]
            target = TARGETS.get((data, combo))
            if target:
                what, test, needed = target
                met = sum(1 for r in good if test(r["values"]))
                seeds = ", ".join(
                    f"{r['seed']}: {'yes' if not r.get('error') and test(r['values']) else 'no'}"
                    for r in sorted(records, key=lambda r: r["seed"])
                )
                met_lines.append(
                    f"| {data} | `{combo}` | {what} | {met} of {len(records)} | {needed} of 5 | {seeds or '–'} |"
                )
        if reference:
            lines += ["", f"Real held-out digits, scored the same way: FD {mean_std(reference, '.2f')}."]
        lines.append("")
    if met_lines:
        lines += [
            "**Targets** (from the issue; the toy ones within 60 s of training on 2 cores, which the seconds",
            "above, one thread each, do not show directly)",
            "",
            "| data | combination | target | met on seeds run | asked | per seed |",
            "|---|---|---|---|---|---|",
            *met_lines,
            "",
        ]
    return "\n".join(lines)


def conditional_table(runs: list[dict[str, Any]], results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    """The conditional section: per class, the classifier's agreement with the requested class, per seed."""
    import torch

    from gankit import __version__
    from gankit.plugins import registry
    from gankit.resolve import resolve

    runs = sorted((r for r in runs if r.get("section") == "conditional"), key=lambda r: r["seed"])
    records = [results[r["key"]] for r in runs if r["key"] in results]
    good = [r for r in records if not r.get("error") and "agreement" in r["values"]]
    failed = [r for r in records if r.get("error")]
    recipe = resolve(registry(), {k: tuple(v) if isinstance(v, list) else v for k, v in runs[0]["flags"].items()})
    cfg, mlp = recipe.config, recipe.component_configs.get(recipe.architecture.name)
    widths = lambda w: "x".join(str(v) for v in w)  # noqa: E731
    arch = f"`{cfg.arch}`" + (
        f" (G {widths(mlp.g_hidden)}, D {widths(mlp.d_hidden)}, embed_dim {mlp.embed_dim})"
        if hasattr(mlp, "g_hidden")
        else ""
    )
    reg_options = ", ".join(
        f"{r}" + (f" γ {recipe.component_configs[r].gamma:g}" if r == "r1" else "") for r in cfg.regs
    )
    lines = [
        "Class-conditional digits: `gankit run --scheme conditional --seed S` (digits, the default data), then",
        f"for each class C what `gankit sample RUN --label C -n {PER_CLASS_SAMPLES:,}` gives (seed 0): the % of",
        "those samples that the digits classifier of `digit-quality` (held-out accuracy "
        f"{_classifier_accuracy():.1%}) puts in class C. Target: at least {AGREEMENT_TARGET:g} % for every class.",
        "",
        f"- Recipe (what digits and the scheme suggest): {arch}, loss `{cfg.loss}`"
        f"{' + ' + reg_options if reg_options else ''}, lr_g {cfg.lr_g:g}, lr_d {cfg.lr_d:g}, betas"
        f" {tuple(cfg.betas)}, EMA {cfg.ema:g}, batch {cfg.batch_size}, {cfg.steps:,} steps"
        f"{'' if args.steps_scale == 1 else f' (suggested × {args.steps_scale:g})'}.",
        f"- Machine: {machine()}; torch {torch.__version__}, gankit {__version__}, CPU, one thread per run"
        f" ({args.jobs} run{'s' if args.jobs > 1 else ''} at a time).",
        f"- Command: `{command(args)}`",
        f"- Generated {datetime.date.today().isoformat()}.",
        "",
    ]
    seeds = [f"seed {r['seed']}" for r in good]
    lines += [
        "| class | " + " | ".join(seeds) + (" | mean ± std |" if len(good) > 1 else " |"),
        "|---|" + "---|" * (len(good) + (len(good) > 1)),
    ]

    def row(name: str, values: list[float]) -> str:
        cells = [format(v, ".1f") for v in values]
        if len(values) > 1:
            cells.append(mean_std(values, ".1f"))
        return f"| {name} | " + " | ".join(cells) + " |"

    if good:
        classes = len(good[0]["values"]["agreement"])
        for c in range(classes):
            lines.append(row(str(c), [r["values"]["agreement"][c] for r in good]))
        lines.append(row("**mean**", [float(r["values"]["mean_agreement"]) for r in good]))
        lines.append(row("lowest class", [min(r["values"]["agreement"]) for r in good]))
        met = [r for r in good if min(r["values"]["agreement"]) >= AGREEMENT_TARGET]
        lines += [
            "",
            f"Every class at {AGREEMENT_TARGET:g} % or more on {len(met)} of {len(good)} seeds"
            + (f" ({len(failed)} failed)" if failed else "")
            + ".",
            "",
            "The same runs' `digit-quality` (2,000 samples, one row per class) and training time:",
            "",
            "| seed | classes | class KL | FD | precision | recall | seconds | load |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in good:
            v = r["values"]
            load = r.get("load")
            lines.append(
                f"| {r['seed']} | {v['classes']} | {v['class_kl']:.3f} | {v['fd']:.2f} | {v['precision']:.2f} |"
                f" {v['recall']:.2f} | {r['seconds']:.0f} | {'–' if load is None else format(load, '.2f')} |"
            )
        reference = [float(r["values"]["real_fd"]) for r in good if "real_fd" in r["values"]]
        if reference:
            lines += ["", f"Real held-out digits, scored the same way: FD {mean_std(reference, '.2f')}."]
        lines.append(
            "Load: the machine's 1-minute load average as each run finished (2 cores; above 2, other work slowed it)."
        )
    else:
        lines.append("| (no finished runs) |")
    return "\n".join(lines)


def family_header(args: argparse.Namespace) -> list[str]:
    """The machine, command and date lines of a family section's table."""
    import torch

    from gankit import __version__

    return [
        f"- Machine: {machine()}; torch {torch.__version__}, gankit {__version__}, CPU, one thread per run"
        f" ({args.jobs} run{'s' if args.jobs > 1 else ''} at a time).",
        f"- Command: `{command(args)}`",
        f"- Generated {datetime.date.today().isoformat()}.",
    ]


def _classifier_accuracy() -> float:
    from gankit_builtins.metrics.digits import load_classifier

    return load_classifier()[1]


def _budgets(runs: list[dict[str, Any]]) -> str:
    """``grid25 15,000 steps`` per data set, naming the combinations that train another budget."""
    parts = []
    for data in dict.fromkeys(r["data"] for r in runs):
        by_steps: dict[int, list[str]] = {}
        for r in runs:
            if r["data"] == data and r["combo"] not in by_steps.setdefault(r["steps"], []):
                by_steps[r["steps"]].append(r["combo"])
        common = max(by_steps, key=lambda s: len(by_steps[s]))
        others = "; ".join(f"{s:,} for {', '.join(c)}" for s, c in by_steps.items() if s != common)
        parts.append(f"{data} {common:,} steps" + (f" ({others})" if others else ""))
    return ", ".join(parts)


def command(args: argparse.Namespace) -> str:
    parts = ["python benchmarks/quality.py"]
    if args.seeds != 5:
        parts.append(f"--seeds {args.seeds}")
    if tuple(args.data) != DATA:
        parts.append(f"--data {','.join(args.data)}")
    if tuple(args.combos) != COMBOS:
        parts.append(f"--combos {','.join(args.combos)}")
    if args.steps_scale != 1:
        parts.append(f"--steps-scale {args.steps_scale:g}")
    if args.jobs != 1:
        parts.append(f"--jobs {args.jobs}")
    if tuple(args.sections) != default_sections(args):
        parts.append(f"--sections {','.join(args.sections)}")
    return " ".join(parts)


#: What each family section needs registered (kind, name), and the package that registers it.
SECTION_NEEDS = {
    "biggan": ("architecture", "biggan", "gankit-biggan"),
    "stylegan2": ("architecture", "stylegan2", "gankit-stylegan"),
    "pix2pix": ("data", "pix2pix-digits", "gankit-pix2pix"),
    "cyclegan": ("data", "cyclegan-digits", "gankit-cyclegan"),
    "stargan": ("data", "stargan-digits", "gankit-stargan"),
}


def default_sections(args: argparse.Namespace) -> tuple[str, ...]:
    """Every section whose package is installed (and not disabled), unless --data or --combos narrow the
    sweep to some loss x regularizer cells."""
    if tuple(args.data) != DATA or tuple(args.combos) != COMBOS:
        return ("combos",)
    missing = missing_packages(SECTIONS)
    if missing:
        print(f"Leaving out {', '.join(missing)}: their packages are not installed or are disabled", flush=True)
    return tuple(s for s in SECTIONS if s not in missing)


def missing_packages(sections: tuple[str, ...]) -> dict[str, str]:
    """The family sections among ``sections`` whose component is not registered, with their package."""
    from gankit.plugins import registry

    reg = registry()
    return {
        section: SECTION_NEEDS[section][2]
        for section in sections
        if section in SECTION_NEEDS and SECTION_NEEDS[section][1] not in reg.names(SECTION_NEEDS[section][0])
    }


def write_doc(path: Path, text: str, markers: tuple[str, str] = (START, END)) -> None:
    """Replace the text between ``markers`` (the quality table's by default) in ``path``."""
    doc = path.read_text(encoding="utf-8")
    first, last = markers
    start, end = doc.find(first), doc.find(last)
    if start < 0 or end < start:
        raise SystemExit(f"error: {path} lacks the markers {first} ... {last}")
    new = doc[: start + len(first)] + "\n" + text.rstrip() + "\n" + doc[end:]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)


# -- command line ---------------------------------------------------------------------------------


def _names(allowed: tuple[str, ...], what: str):
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        patterns = [re.compile("^" + re.escape(n).replace(r"\*", ".*") + "$") for n in names]
        chosen = tuple(a for a in allowed if any(p.match(a) for p in patterns))
        unknown = [n for n, p in zip(names, patterns) if not any(p.match(a) for a in allowed)]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}")
        return chosen

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0 .. N-1 per cell (default 5)")
    parser.add_argument(
        "--data", type=_names(DATA, "data set"), default=DATA, help="comma-separated (ring8,grid25,digits)"
    )
    parser.add_argument(
        "--combos",
        type=_names(COMBOS, "combination"),
        default=COMBOS,
        help="comma-separated, * matches anything: default,bce+r1,wgan+* (default: all)",
    )
    parser.add_argument(
        "--sections",
        type=_names(SECTIONS, "section"),
        default=None,
        help="comma-separated: combos (the loss x regularizer tables), conditional (per-class agreement of the"
        " conditional scheme on digits), biggan and stylegan2 (the family packages' CPU presets); default all, or only combos when --data or --combos narrow the sweep",
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes at a time, one thread each (default 1)")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiply every budget (0.01: a smoke run)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"JSON lines cache (default {RESULTS.relative_to(ROOT)})"
    )
    parser.add_argument(
        "--doc", type=Path, default=DOC, help=f"Markdown file with the markers (default {DOC.relative_to(ROOT)})"
    )
    parser.add_argument("--dry-run", action="store_true", help="list the runs, cached or to do, and stop")
    parser.add_argument("--no-run", action="store_true", help="only rewrite the table from the results file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    if args.sections is None:
        args.sections = default_sections(args)
    missing = missing_packages(tuple(args.sections))
    if missing:
        section, package = next(iter(missing.items()))
        parser.error(f"section {section!r} needs the {package} package (plugins/{package}; make setup installs it)")
    if args.seeds < 1 or args.jobs < 1 or args.steps_scale <= 0:
        parser.error("--seeds and --jobs must be at least 1, --steps-scale positive")

    runs = plan(args)
    results = load_results(args.results)
    pending = [r for r in runs if r["key"] not in results]
    if args.dry_run:
        for r in runs:
            state = "cached" if r["key"] in results else "to run"
            print(f"{r['data']:<7} {r['combo']:<12} seed {r['seed']}  {r['steps']:>6} steps  {r['key']}  {state}")
        print(f"{len(runs)} runs: {len(runs) - len(pending)} cached, {len(pending)} to run")
        return 0
    crashed = 0
    if pending and not args.no_run:
        print(
            f"{len(pending)} of {len(runs)} runs to do ({len(runs) - len(pending)} cached in {args.results})",
            flush=True,
        )
        crashed = execute(pending, args.jobs, args.results, sys.stdout)
        results = load_results(args.results)
    if "combos" in args.sections:
        write_doc(args.doc, table(runs, results, args))
    if "conditional" in args.sections:
        write_doc(args.doc, conditional_table(runs, results, args), (CONDITIONAL_START, CONDITIONAL_END))
    for section in (s for s in FAMILY_SECTIONS if s in args.sections):
        families = _families()
        write_doc(args.doc, families.table(section, runs, results, family_header(args)), families.markers(section))
    if any(s in TRANSLATION_SECTIONS for s in args.sections):
        translation = _translation()
        write_doc(
            args.doc, translation.tables(runs, results, family_header(args)), (translation.START, translation.END)
        )
    print(f"Wrote the table{'s' if len(args.sections) > 1 else ''} to {args.doc}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
