"""The model card (``README.md``) of a model folder."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from gankit.export.folder import CONFIG_NAME, WEIGHTS_NAME

# --- the model card ---------------------------------------------------------------------------------------


def model_card(config: dict[str, Any], run_folder: Path | None, report: dict[str, Any], name: str) -> str:
    run = config["run"]
    lines = [
        f"# gankit model: {run.get('scheme')} {run.get('arch')} on {config['data_description'].get('name')}",
        "",
        f"Exported by gankit {config['gankit_version']} from `{config['source']}` (step {config['step']}).",
        "",
        "## How it was trained",
        "",
        f"- steps: {config['step']}, batch size {run.get('batch_size')}, z_dim {run.get('z_dim')}, seed {run.get('seed')}",
        f"- optimizer {run.get('optimizer')} (lr_g {run.get('lr_g')}, lr_d {run.get('lr_d')}, betas {run.get('betas')}), "
        f"n_critic {run.get('n_critic')}, EMA {run.get('ema')}",
        "",
        "| component | kind | plugin | options |",
        "|---|---|---|---|",
    ]
    for comp, c in sorted(config["components"].items()):
        options = ", ".join(f"{k}={v}" for k, v in sorted((c.get("options") or {}).items())) or "-"
        lines.append(f"| {comp} | {c.get('kind')} | {c.get('plugin')} | {options} |")
    if config.get("picture"):
        lines += ["", "## Samples", "", f"![64 samples, seed 0]({config['picture']})"]
    lines += ["", "## Generation inputs", ""]
    for input_name, spec in config["inputs"].items():
        fields = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "type")
        lines.append(f"- `{input_name}`: {spec['type']} ({fields})")
    lines += [
        "",
        f"Samples are in [-1, 1]; the data's own units are {config['data_value_range']} "
        "(`model.description.to_data_units(x)`).",
        "",
        "## Evaluation",
        "",
    ]
    evaluation = None
    if run_folder is not None and (run_folder / "eval.json").is_file():
        with contextlib.suppress(OSError, ValueError):
            evaluation = json.loads((run_folder / "eval.json").read_text())
    if evaluation is None:
        lines.append("No `gankit eval` results were found in the run folder.")
    else:
        lines += [
            "From the run's eval.json:",
            "",
            "```json",
            json.dumps(evaluation, indent=2, sort_keys=True)[:4000],
            "```",
        ]
    lines += ["", "## Files", ""]
    lines.append(f"- `{CONFIG_NAME}`: the run config, data description, generation inputs and plugins")
    lines.append(
        f"- `{WEIGHTS_NAME}`: networks {', '.join(config['networks'])} (EMA weights where kept, spectral norm folded)"
    )
    for fmt, file in config.get("exported", {}).items():
        check = report["checks"].get(fmt, {})
        lines.append(f"- `{file}`: {fmt}, dynamic batch axis; max abs difference to eager {check.get('max_abs_diff')}")
    lines += [
        "",
        "## How to load it",
        "",
        "```python",
        "import gankit",
        "",
        f'model = gankit.load("{name}")',
        "samples = model.sample(64, seed=0)  # in [-1, 1]",
        "```",
        "",
        f"or `gankit sample {name} -n 64 -o samples.png`. The graphs take the tensor generation inputs "
        f"({', '.join(n for n, s in config['inputs'].items() if s['type'] != 'Option')}) with any batch size; "
        "options are baked in at their defaults.",
        "",
    ]
    return "\n".join(lines)
