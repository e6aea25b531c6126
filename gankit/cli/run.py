"""``gankit run``: resolve the configuration, build, train, and say where everything went."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import click

from gankit.cli.completion import complete
from gankit.cli.help import GroupedCommand
from gankit.config import AMP_CHOICES, ON_NAN_CHOICES, OPTIMIZER_CHOICES
from gankit.engine.lr_schedule import LR_SCHEDULES
from gankit.errors import GankitError


def _threads(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    """``--threads auto|N``; a bad value is one ``Error:`` line (a GankitError), not click's usage text."""
    from gankit.engine.threads import parse_threads

    if value is None:
        return None
    try:
        return parse_threads(value)
    except GankitError:
        raise GankitError(f"--threads must be auto or a positive whole number, got {value!r}") from None


class Betas(click.ParamType):
    name = "B1,B2"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[float, float]:
        if isinstance(value, tuple):
            return value
        try:
            b1, b2 = (float(v) for v in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is not two comma-separated numbers like 0.5,0.999", param, ctx)
        return (b1, b2)


#: ``gankit run --help`` sections: heading -> option names (as the callback receives them). Every option
#: belongs to one (tests/cli/test_run_help.py); an option left out would be listed under "Other options".
SECTIONS: dict[str, tuple[str, ...]] = {
    "Data": ("data", "data_root", "download", "resolution"),
    "Model": ("arch", "loss", "reg", "scheme", "z_dim", "ema"),
    "Training": (
        "steps",
        "epochs",
        "batch_size",
        "lr_both",
        "lr_g",
        "lr_d",
        "betas",
        "lr_schedule",
        "lr_decay_start",
        "optimizer",
        "n_critic",
        "seed",
        "on_nan",
    ),
    "Output": ("out", "name", "sample_every", "checkpoint_every", "quiet"),
    "Tracking": (
        "add_trackers",
        "log_every",
        "metrics",
        "eval_every",
        "wandb_project",
        "wandb_entity",
        "wandb_name",
        "wandb_tags",
        "wandb_group",
        "wandb_log_checkpoints",
    ),
    "Performance": ("device", "amp", "compile", "channels_last", "deterministic", "threads", "nproc"),
    "Configuration and resume": ("resume", "config_file", "set_items"),
    "Other": ("help",),
}


@click.command(cls=GroupedCommand, sections=SECTIONS, context_settings={"show_default": False})
@click.option(
    "--arch",
    metavar="NAME",
    shell_complete=complete("architecture"),
    help="Architecture (default mlp). See: gankit list arch",
)
@click.option(
    "--loss",
    metavar="NAME",
    shell_complete=complete("loss"),
    help="Adversarial loss (default bce). See: gankit list loss",
)
@click.option(
    "--reg",
    multiple=True,
    metavar="NAME",
    shell_complete=complete("regularizer"),
    help="Regularizer; repeat to combine (gp, r1, sn, clip).",
)
@click.option(
    "--data",
    metavar="NAME",
    shell_complete=complete("data"),
    help="Data source (default digits, embedded). See: gankit list data",
)
@click.option(
    "--scheme", metavar="NAME", shell_complete=complete("scheme"), help="Training scheme (default unconditional)."
)
@click.option(
    "--data-root", type=click.Path(file_okay=False), help="Folder holding on-disk data sets (mnist, cifar10, folder)."
)
@click.option("--download", is_flag=True, default=None, help="Let torchvision download a missing data set.")
@click.option("--resolution", type=click.IntRange(min=1), help="Resize images to this many pixels per side.")
@click.option("--steps", type=click.IntRange(min=1), help="Training iterations (n_critic D steps + 1 G step each).")
@click.option(
    "--epochs", type=click.FloatRange(min=0, min_open=True), help="Passes over a finite data set (instead of --steps)."
)
@click.option("--batch-size", type=click.IntRange(min=1), help="Batch size.")
@click.option("--lr", "lr_both", type=click.FloatRange(min=0, min_open=True), help="Learning rate of both G and D.")
@click.option("--lr-g", type=click.FloatRange(min=0, min_open=True), help="Generator learning rate.")
@click.option("--lr-d", type=click.FloatRange(min=0, min_open=True), help="Discriminator learning rate.")
@click.option("--betas", type=Betas(), help="Adam betas, e.g. 0.5,0.999.")
@click.option(
    "--lr-schedule",
    type=click.Choice(LR_SCHEDULES),
    help="Decay both learning rates towards 0 at the last step: constant (default), linear, cosine.",
)
@click.option(
    "--lr-decay-start",
    type=click.FloatRange(0, 1, max_open=True),
    help="Fraction of the run after which the decay starts (default 0).",
)
@click.option(
    "--optimizer", type=click.Choice(OPTIMIZER_CHOICES), help="Optimizer (default adam; clip suggests rmsprop)."
)
@click.option("--n-critic", type=click.IntRange(min=1), help="Discriminator steps per generator step.")
@click.option("--z-dim", type=click.IntRange(min=1), help="Noise dimension (default 64).")
@click.option("--seed", type=click.IntRange(min=0), help="Random seed (default 0).")
@click.option("--device", metavar="DEVICE", help="auto (default: CUDA when present), cpu, cuda, cuda:N.")
@click.option(
    "--deterministic",
    is_flag=True,
    default=None,
    help="Use deterministic kernels only (reproducible CUDA runs, slower).",
)
@click.option(
    "--amp",
    type=click.Choice(AMP_CHOICES),
    help="Mixed precision: auto (on for CUDA), on (fp16 on CUDA, bf16 elsewhere), off, fp16, bf16.",
)
@click.option(
    "--compile",
    is_flag=True,
    default=None,
    help="torch.compile the networks (slow start, faster steps; D stays eager under gp/r1).",
)
@click.option(
    "--channels-last",
    is_flag=True,
    default=None,
    help="Channels-last (NHWC) images and conv weights: faster convolutions under CUDA AMP.",
)
@click.option(
    "--threads",
    metavar="N|auto",
    callback=_threads,
    help="CPU threads per process (default auto: from the model's size and the free cores, following the load).",
)
@click.option(
    "--on-nan",
    type=click.Choice(ON_NAN_CHOICES),
    help="On a NaN/inf loss or gradient: stop (default; the last checkpoint is kept) or skip that step.",
)
@click.option(
    "--ema", type=click.FloatRange(0, 1, max_open=True), help="EMA decay for G's weights (e.g. 0.999); 0 is off."
)
@click.option("--log-every", type=click.IntRange(min=1), help="Log metrics every N steps.")
@click.option("--sample-every", type=click.IntRange(min=1), help="Save a sample picture every N steps.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), help="Save a checkpoint every N steps.")
@click.option(
    "--out", type=click.Path(file_okay=False), default="runs", show_default=True, help="Folder for run folders."
)
@click.option("--name", help="Run folder name (default: data-arch-loss-regs-timestamp).")
@click.option("--resume", metavar="RUN_OR_CHECKPOINT", help="Continue a run from its latest (or the given) checkpoint.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="TOML file of settings and [component] option tables.",
)
@click.option(
    "--set",
    "set_items",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a run setting (steps=500) or a component option (gp.weight=5, arch.g_hidden=128,128).",
)
@click.option(
    "--tracker",
    "add_trackers",
    multiple=True,
    metavar="NAME",
    shell_complete=complete("tracker"),
    help="Add a tracker (wandb, ...); console and jsonl are on by default.",
)
@click.option("--wandb-project", help="W&B project (implies --tracker wandb; default $WANDB_PROJECT or gankit).")
@click.option("--wandb-entity", help="W&B entity (user or team).")
@click.option("--wandb-name", help="W&B run name (default: the run folder's name).")
@click.option("--wandb-tags", metavar="A,B", help="Comma-separated W&B tags.")
@click.option("--wandb-group", help="W&B group.")
@click.option(
    "--wandb-log-checkpoints", is_flag=True, default=None, help="Upload checkpoints to W&B as model artifacts."
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME",
    shell_complete=complete("metric"),
    help="Metric for --eval-every (default: the data's).",
)
@click.option("--eval-every", type=click.IntRange(min=1), help="Evaluate the metrics every N steps, for the trackers.")
@click.option(
    "--nproc", type=click.IntRange(min=1), help="Train on N processes (torchrun, one per GPU or gloo on CPU)."
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress output (drops the console tracker); the final summary only."
)
def run(
    add_trackers: tuple[str, ...],
    out: str,
    name: str | None,
    resume: str | None,
    config_file: str | None,
    set_items: tuple[str, ...],
    quiet: bool,
    nproc: int | None,
    lr_both: float | None,
    **flags: Any,
) -> None:
    """Train a GAN. With no options: an MLP GAN on scikit-learn's embedded 8x8 digits.

    \b
    Examples:
      gankit run --arch mlp --loss wgan --reg gp
      gankit run --data grid25 --loss wgan --reg gp --steps 2000
      gankit run --data mnist --data-root ~/data --batch-size 100
      gankit run --resume runs/NAME --steps 6000
    """
    wandb_options = {k[len("wandb_") :]: flags.pop(k) for k in list(flags) if k.startswith("wandb_")}
    wandb_sets = tuple(f"wandb.{k}={v}" for k, v in wandb_options.items() if v is not None)
    if wandb_sets:
        add_trackers += ("wandb",)
        set_items = wandb_sets + set_items
    explicit = {("regs" if k == "reg" else k): v for k, v in flags.items() if v is not None and v != ()}
    if lr_both is not None:
        explicit.setdefault("lr_g", lr_both)
        explicit.setdefault("lr_d", lr_both)

    from gankit.engine.distributed import current_world
    from gankit.engine.trainer import Trainer
    from gankit.plugins import registry
    from gankit.runs import RunFolder, default_name

    def choose(base: tuple[str, ...]) -> dict[str, Any]:
        return _with_trackers(explicit, base, add_trackers, quiet)

    if nproc is not None and nproc > 1 and not current_world().distributed:
        _check_before_launch(nproc, resume, choose, set_items, config_file)
        _launch_torchrun(nproc)
    world = current_world()

    if resume is None and int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0:
        # torchrun restarted the group after a failure: continue the run instead of starting anew.
        if name is None:
            raise GankitError("with torchrun --max-restarts, give the run a --name so a restart can resume it")
        if (Path(out) / name / "config.json").is_file():
            resume, name = str(Path(out) / name), None

    if resume is not None:
        from gankit.resume import prepare_resume

        resumed = prepare_resume(registry(), resume, choose, set_items, config_file, lock=world.is_main)
        if name is not None and Path(out, name).resolve() != resumed.folder.path.resolve():
            raise GankitError(f"--resume continues {str(resumed.folder.path)!r}; drop --name {name}")
        resolved, folder = resumed.run, resumed.folder
        trainer = Trainer(resolved, resume_state=resumed.state, resume_from=resumed.source)
    else:
        from gankit.config import RUN_FIELDS
        from gankit.resolve import resolve

        resolved = resolve(registry(), choose(RUN_FIELDS["trackers"].default), set_items, config_file)
        trainer = Trainer(resolved)  # builds everything before any file is written
        path = Path(out) / trainer.world.broadcast_text(name or default_name(resolved.config), trainer.device)
        folder = RunFolder.create(path) if world.is_main else RunFolder(path)
    if not world.is_main:
        trainer.fit(folder)
        return
    folder.write_config(trainer.describe())
    from gankit.cli.banner import details, headline

    # The headline says where the run goes, even under --quiet; the details only without it.
    click.echo(headline(trainer, str(folder.path)), err=True)
    if not quiet:
        click.echo("\n".join(details(trainer)), err=True)  # the thread count and its reason included
    if trainer.compiled is not None:
        click.echo(f"gankit: {trainer.compiled.describe()}", err=True)
    try:
        summary = trainer.fit(folder)
    finally:
        folder.release()  # the run is over: leave no stale .lock in its folder
    _report(summary, trainer.model.inputs)
    if summary["stopped_by"]:
        raise SystemExit(128 + signal.Signals[summary["stopped_by"]].value)


def _check_before_launch(
    nproc: int, resume: str | None, choose: Any, set_items: tuple[str, ...], config_file: str | None
) -> None:
    """What every worker would refuse alike is refused here, in one line, before torchrun starts them."""
    from gankit.engine.distributed import check_split
    from gankit.plugins import registry

    if resume is not None:
        from gankit.resume import prepare_resume

        resolved = prepare_resume(registry(), resume, choose, set_items, config_file, lock=False).run
    else:
        from gankit.config import RUN_FIELDS
        from gankit.resolve import resolve

        resolved = resolve(registry(), choose(RUN_FIELDS["trackers"].default), set_items, config_file)
    check_split(resolved.config.batch_size, nproc)


def _launch_torchrun(nproc: int) -> None:
    """``gankit run --nproc N ...`` is ``torchrun --standalone --nproc-per-node N -m gankit run ...``."""
    import subprocess
    import sys

    argv = sys.argv[sys.argv.index("run") + 1 :] if "run" in sys.argv else []
    args, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            args.append(arg)
    launcher = "import sys; from gankit.engine.distributed import launch; sys.exit(launch(sys.argv[1:]))"
    command = [sys.executable, "-c", launcher, "--standalone", f"--nproc-per-node={nproc}"]
    # Global options (before `run`) reach the workers through their environment variables.
    from gankit.plugins import CLI_DISABLED_KEY, CLI_STRICT_KEY, DISABLE_ENV, STRICT_ENV

    meta = click.get_current_context().meta
    env = dict(os.environ)
    disabled = [n for n in env.get(DISABLE_ENV, "").split(",") if n] + list(meta.get(CLI_DISABLED_KEY, []))
    if disabled:
        env[DISABLE_ENV] = ",".join(disabled)
    if meta.get(CLI_STRICT_KEY):
        env[STRICT_ENV] = "1"
    if "OMP_NUM_THREADS" not in env:
        # torchrun would set it to 1 with a warning; gankit's thread policy chooses per process instead.
        from gankit.engine.distributed import OMP_SET_BY_LAUNCHER

        env["OMP_NUM_THREADS"], env[OMP_SET_BY_LAUNCHER] = "1", "1"
    raise SystemExit(subprocess.call([*command, "-m", "gankit", "run", *args], env=env))


def _with_trackers(explicit: dict[str, Any], base: tuple[str, ...], added: tuple[str, ...], quiet: bool) -> dict:
    """``--tracker`` adds to the default (or saved) trackers; ``--quiet`` drops the console."""
    if not added and not quiet:
        return explicit
    names = list(dict.fromkeys([*explicit.get("trackers", base), *added]))
    return explicit | {"trackers": tuple(n for n in names if not (quiet and n == "console"))}


def _sample_hint(folder: str, inputs: dict[str, Any]) -> str:
    """The `gankit sample` command that suits this model: a translator takes images (one output each), a
    conditional model a class."""
    from gankit.inputs import FromData, Label

    kinds = {type(kind) for kind in inputs.values()}
    label = " --label 0" if Label in kinds else ""
    if FromData in kinds:
        return f"Translate images: gankit sample {folder}{label} --input IMAGES -o translated.png"
    return f"Generate more: gankit sample {folder}{label} -n 64 -o samples.png"


def _report(summary: dict[str, Any], inputs: dict[str, Any]) -> None:
    folder = summary["run_folder"]
    lines = []
    if summary["stopped_by"]:
        lines.append(f"Stopped by {summary['stopped_by']} at step {summary['steps']}/{summary['total_steps']}.")
        lines.append(f"Continue with: gankit run --resume {folder}")
    else:
        lines.append(
            f"Finished {summary['steps']} steps in {summary['seconds']:.1f} s ({summary['steps_per_s']:.1f} steps/s)."
        )
    lines += [
        f"  run folder:  {folder}",
        f"  samples:     {summary['samples'] or '(none yet)'}",
        f"  checkpoint:  {summary['checkpoint']}",
    ]
    lines += [f"  {label + ':':<12} {where}" for label, where in summary.get("tracked", {}).items()]
    lines.append(_sample_hint(folder, inputs))
    click.echo("\n".join(lines))
