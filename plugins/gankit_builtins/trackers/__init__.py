"""Bundled trackers: ``console`` and ``jsonl`` (on by default) and ``wandb`` (Weights & Biases)."""

from __future__ import annotations

import attrs

from gankit import hookimpl


def _tags(value: tuple[str, ...] | str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    return tuple(t.strip() for t in value if t.strip())


@attrs.frozen
class WandbConfig:
    #: W&B project; default: $WANDB_PROJECT, else "gankit".
    project: str | None = None
    #: W&B entity (user or team); default: $WANDB_ENTITY or your default entity.
    entity: str | None = None
    #: Run name; default: the run folder's name.
    name: str | None = None
    #: Comma-separated tags.
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    #: Group of related runs (e.g. the seeds of one experiment).
    group: str | None = None
    #: "online", "offline" or "disabled"; default: $WANDB_MODE, else online when logged in, else offline.
    mode: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(("online", "offline", "disabled")))
    )
    #: Upload each checkpoint as a W&B model artifact.
    log_checkpoints: bool = False
    #: Seconds wandb.init may take before the run goes on without it (then offline is tried).
    init_timeout: float = attrs.field(default=60.0, validator=attrs.validators.gt(0))


@attrs.frozen
class ConsoleConfig:
    #: Show a progress bar on a terminal (plain lines are printed otherwise).
    progress: bool = True


@hookimpl
def gankit_register_trackers(register):
    register(
        "console",
        "gankit_builtins.trackers.console:Console",
        config=ConsoleConfig,
        summary="progress bar with losses, steps/s and ETA on a terminal; a plain line per log step otherwise",
    )
    register("jsonl", "gankit_builtins.trackers.jsonl:JSONLines", summary="metrics.jsonl in the run folder")
    register(
        "wandb",
        "gankit_builtins.trackers.weights_and_biases:WandbTracker",
        config=WandbConfig,
        summary="Weights & Biases: config, metrics, sample images, checkpoints; offline when not logged in",
    )
