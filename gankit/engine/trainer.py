"""The training loop around a scheme: build, step, log, sample, checkpoint, resume."""

from __future__ import annotations

import gc
import logging
import math
import random
import signal
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gankit import checkpoint
from gankit.components import (
    DataRequest,
    Dataset,
    Loss,
    Regularizer,
    TrackerContext,
)
from gankit.engine import generation
from gankit.engine.amp import Precision
from gankit.engine.batches import BatchStream
from gankit.engine.build import build_model
from gankit.engine.compiling import CompileReport, compile_networks
from gankit.engine.devices import (
    choose_device,
    configure_determinism,
    keep_freed_host_memory,
    rng_state,
    seed_everything,
    set_rng_state,
)
from gankit.engine.distributed import init_world
from gankit.engine.lr_schedule import lr_factor
from gankit.engine.model import expect
from gankit.engine.step import NonFiniteStep, StepContext
from gankit.engine.threads import LoadProbe, start_governor, usable_cores
from gankit.errors import GankitError
from gankit.images import save_samples
from gankit.resolve import ResolvedRun
from gankit.runs import RunFolder
from gankit.tracking import TrackerGroup

log = logging.getLogger(__name__)

#: Steps whose losses may wait on the device before the loop reads them back (see StepContext.check_finite).
_MAX_UNCHECKED = 1000

#: Fixed noise for sample grids: the same images at every step, so progress is easy to see.
SAMPLE_GRID_SIZE = 64


#: State every parameter must have once an optimizer has stepped, by optimizer type.
_STATE_KEYS = {torch.optim.Adam: {"step", "exp_avg", "exp_avg_sq"}, torch.optim.RMSprop: {"step", "square_avg"}}


def _check_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """load_state_dict checks only the structure; check what a step would trip over, before training."""
    for group in optimizer.param_groups:
        if not isinstance(group.get("lr"), (int, float)) or isinstance(group.get("lr"), bool):
            raise ValueError(f"learning rate {group.get('lr')!r} is not a number")
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            if not state:
                continue
            missing = _STATE_KEYS.get(type(optimizer), set()) - set(state)
            if missing:
                raise KeyError(f"optimizer state lacks {sorted(missing)}")
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape != param.shape:
                    raise ValueError(
                        f"optimizer state {key} is {tuple(value.shape)}, its parameter {tuple(param.shape)}"
                    )


def _match_parameter_layouts(optimizer: torch.optim.Optimizer) -> None:
    """Give each per-element state tensor its parameter's memory layout.

    A checkpoint holds tensors contiguous, so a channels-last conv weight gets its Adam moments back in
    NCHW order; the fused Adam kernel walks parameter and moments as flat arrays and would then pair
    each weight with another weight's moments.
    """
    for group in optimizer.param_groups:
        for param in group["params"]:
            state = optimizer.state.get(param, {})
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.shape == param.shape and value.stride() != param.stride():
                    state[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


class Trainer:
    """Builds everything for a run (touching no files), then :meth:`fit` trains into a run folder."""

    def __init__(
        self, run: ResolvedRun, resume_state: checkpoint.TrainingState | None = None, resume_from: str | None = None
    ):
        cfg = run.config
        self.run = run
        load = LoadProbe(usable_cores())  # the load while the model is built picks the thread count
        self.world, device_name = init_world(cfg.device)
        self.device = choose_device(device_name)
        configure_determinism(self.device, cfg.deterministic)
        if self.device.type == "cpu":
            keep_freed_host_memory()
        seed_everything(cfg.seed)
        request = DataRequest(root=cfg.data_root, download=cfg.download, resolution=cfg.resolution)
        self.dataset: Dataset = expect(run.data.create(run.config_for(run.data), request), Dataset, run.data)
        where = f"checkpoint {resume_from!r}" if resume_from else "this configuration"
        self.model = model = build_model(run, self.device, self.dataset.description, where)
        self.loss: Loss = expect(run.loss.create(run.config_for(run.loss)), Loss, run.loss)
        self.threads = start_governor(cfg.threads, model.nets, cfg.batch_size, load, fixed=cfg.deterministic)
        self.precision = Precision(self.device, cfg.amp)
        self.batches = BatchStream(
            self.dataset, cfg.batch_size, self.device, cfg.seed, self.world, channels_last=cfg.channels_last
        )
        self.optimizers = {
            name: self._optimizer(name, [p for n in net_names for p in model.nets[n].parameters()])
            for name, net_names in model.scheme.optimizers.items()
        }
        self._base_lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in self.optimizers.items()}
        # The scheme trains DDP-wrapped (and compiled) networks; checkpoints and sampling use model.nets.
        trained = {name: self.world.wrap(net, self.device) for name, net in model.nets.items()}
        self.compiled: CompileReport | None = None
        if cfg.compile:
            penalties = tuple(
                spec.name
                for spec, reg in zip(run.regularizers, model.regularizers)
                if type(reg).discriminator_penalty is not Regularizer.discriminator_penalty
            )
            trained, self.compiled = compile_networks(trained, model.discriminators, penalties)
        self.context = StepContext(
            nets=trained,
            optimizers=self.optimizers,
            loss=self.loss,
            regularizers=model.regularizers,
            precision=self.precision,
            batches=self.batches,
            z_dim=cfg.z_dim,
            n_critic=cfg.n_critic,
            device=self.device,
            optimized_networks=model.scheme.optimizers,
            discriminators=model.discriminators,
            on_nan=cfg.on_nan,
            world=self.world,
        )
        self.total_steps = (
            self.batches.epochs_to_steps(cfg.epochs, cfg.n_critic) if cfg.epochs is not None else cfg.steps
        )
        self.step = 0
        self._penalties_checked = False
        # Fixed inputs for the sample grids: the same images at every step, so progress is easy to see.
        self.sample_columns = generation.grid_columns(model.inputs, SAMPLE_GRID_SIZE)
        self.sample_rows = generation.row_names(model.inputs)
        grid_size = SAMPLE_GRID_SIZE
        if self.sample_columns:  # whole rows, one per class
            grid_size = self.sample_columns * -(-SAMPLE_GRID_SIZE // self.sample_columns)
        self.sample_inputs = model.fill_inputs(grid_size, cfg.seed, from_data=self.data_samples)
        self.sample_real = self.data_samples(self.dataset.description.main, 1024)
        # Paired data: what each translated grid image should look like, shown beside it.
        target = generation.paired_target(model.inputs)
        self.sample_targets = self.data_samples(target, grid_size) if target else None
        self.resumed = resume_state is not None
        self.tracker_states: dict[str, dict[str, Any]] = {}
        if resume_state is not None:
            self._restore(resume_state, f"checkpoint {resume_from!r}")
            self.tracker_states = resume_state.trackers
        self._stop_requested: str | None = None
        self.folder: RunFolder | None = None
        self.trackers = TrackerGroup({})

    def data_samples(self, field: str, count: int) -> torch.Tensor:
        """The first ``count`` samples of a data field (a fixed draw for a distribution), on the CPU."""
        return self.dataset.take(field, count, self.run.config.seed + 1)

    def describe(self) -> dict[str, Any]:
        """The resolved configuration plus what the data looks like (so sampling needs no data)."""
        return self.run.describe() | {"data_description": self.model.description.to_dict()}

    def _optimizer(self, name: str, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        cfg = self.run.config
        lr = {"generator": cfg.lr_g, "discriminator": cfg.lr_d}.get(name, cfg.lr_g)
        betas = cfg.betas
        if cfg.lazy_correction:
            c = self._lazy_ratio(name)
            lr, betas = lr * c, (betas[0] ** c, betas[1] ** c)
        if cfg.optimizer == "rmsprop":
            # foreach kernels: one launch per group of tensors (RMSprop has no fused kernel).
            return torch.optim.RMSprop(params, lr=lr, foreach=True)
        # The fused kernel updates each tensor in one pass (1.2x the foreach steps/s of the seed's MLPs
        # on CPU), and under a GradScaler it skips bad steps on the device, without a host sync.
        fused = self.device.type in ("cpu", "cuda")
        return torch.optim.Adam(params, lr=lr, betas=betas, fused=fused, foreach=None if fused else True)

    def _lazy_ratio(self, optimizer: str) -> float:
        """k / (k + 1) for the laziest penalty (every k-th step) on a network this optimizer trains, else 1."""
        roles = {self.model.roles[n] for n in self.model.scheme.optimizers[optimizer]}
        intervals = [r.every for r in self.model.regularizers if r.every > 1 and roles & set(r.targets)]
        return max(intervals) / (max(intervals) + 1) if intervals else 1.0

    # -- checkpoints -------------------------------------------------------------------------------

    def state(self) -> checkpoint.TrainingState:
        streams = self.batches.state()
        # Stream 0 keeps gankit 0.1's keys ("data"); further streams (unpaired data) follow it.
        rng = rng_state() | {"data": streams[0][1]} | {f"data{i}": gen for i, (_, gen) in enumerate(streams) if i}
        counters = {"step": self.step, "d_steps": self.context.d_steps, "g_steps": self.context.g_steps}
        counters |= {"data": streams[0][0], "data_streams": [c for c, _ in streams[1:]]}
        return checkpoint.TrainingState(
            config=self.describe(),
            counters=counters,
            networks={name: net.state_dict() for name, net in self.model.nets.items()},
            ema={name: ema.shadow.state_dict() for name, ema in self.model.ema.items()},
            optimizers={name: opt.state_dict() for name, opt in self.optimizers.items()},
            scaler=self.precision.state_dict(),
            rng=rng,
            trackers=self.trackers.states(),
            scheme=self.model.scheme.state(),
            regularizers={spec.name: reg.state() for spec, reg in zip(self.run.regularizers, self.model.regularizers)},
        )

    def _restore(self, state: checkpoint.TrainingState, where: str) -> None:
        self.model.load_weights(state, where)
        if set(state.optimizers) != set(self.optimizers):
            raise GankitError(
                f"{where} holds optimizers {sorted(state.optimizers)}, this run has {sorted(self.optimizers)}"
            )
        try:
            for name, opt in self.optimizers.items():
                opt.load_state_dict(state.optimizers[name])
                _check_optimizer_state(opt)
                _match_parameter_layouts(opt)
            self.precision.load_state_dict(state.scaler)
            rng = dict(state.rng)
            generators = [rng.pop("data")] + [rng.pop(f"data{i}") for i in range(1, len(self.batches.state()))]
            counters = [state.counters.get("data", {}), *state.counters.get("data_streams", [])]
            self.batches.load_state(list(zip(counters, generators)))
            set_rng_state(rng)
            self.step = int(state.counters["step"])
            self.context.d_steps = int(state.counters.get("d_steps", 0))
            self.context.g_steps = int(state.counters.get("g_steps", 0))
            self.model.scheme.load_state(state.scheme)
            for spec, reg in zip(self.run.regularizers, self.model.regularizers):
                reg.load_state(state.regularizers.get(spec.name, {}))
        except (ValueError, KeyError, RuntimeError, TypeError, AttributeError) as exc:
            message = " ".join(str(exc).split())[:300]
            raise GankitError(f"{where} does not fit this run: {type(exc).__name__}: {message}") from None

    def _check_weights(self) -> None:
        """Raise :class:`NonFiniteStep` if an optimizer's weights or state are NaN/inf (a pass over each).

        The state too: a gradient of 1e20 makes Adam's exp_avg_sq inf while every weight stays finite,
        and from then on the update is 0, so the network is frozen without any NaN to see.
        """
        for name, optimizer in self.optimizers.items():
            params = [p.detach() for group in optimizer.param_groups for p in group["params"]]
            if params and not bool(torch.isfinite(torch.nn.utils.get_total_norm(params))):
                raise NonFiniteStep(name, self.step, what="weights")
            # Per tensor, not a norm: the norm of large but finite squares overflows.
            state = [
                torch.isfinite(v).all()
                for s in optimizer.state.values()
                for v in s.values()
                if isinstance(v, torch.Tensor) and v.is_floating_point()
            ]
            if state and not bool(torch.stack(state).all()):
                raise NonFiniteStep(name, self.step, what="optimizer state")

    def _check_divergence(self, logged: dict[str, float]) -> None:
        """Under ``--on-nan stop``, at each log step: gradients and optimizer state must be finite.
        (A GradScaler's overflowing steps are skipped by design, so their gradients are not looked at.)"""
        if not self.precision.scaled:
            for name in self.optimizers:
                if not math.isfinite(logged.get(f"grad_norm/{name}", 0.0)):
                    raise NonFiniteStep(name, self.step, what="gradients")
        self._check_weights()

    def save_checkpoint(self) -> Path:
        # Never write a checkpoint that cannot be trained on: the last good one stays `latest`.
        self._check_weights()
        try:
            path = self.folder.save_checkpoint(self.state(), self.step, self.run.config.keep_checkpoints)
        except OSError as exc:
            raise GankitError(
                f"could not write checkpoint for step {self.step} in {str(self.folder.checkpoints)!r}: "
                f"{exc.strerror or exc}; the previous checkpoint is kept"
            ) from None
        self.trackers.log_checkpoint(self.step, path)
        return path

    def save_samples(self) -> Path:
        path = self.folder.sample_path(self.step)
        try:
            shown = self.model.generate(self.sample_inputs)
            save_samples(
                shown,
                self.model.description,
                path,
                real=self.sample_real,
                columns=self.sample_columns,
                inputs=generation.image_input(self.model.inputs, self.sample_inputs),
                targets=self.sample_targets,
                caption=f"step {self.step}",
                row_labels=self.sample_rows,
            )
        except OSError as exc:
            raise GankitError(f"could not write samples {str(path)!r}: {exc.strerror or exc}") from None
        self.trackers.log_images(self.step, "samples", path)
        return path

    # -- the loop ----------------------------------------------------------------------------------

    def _request_stop(self, signum: int, frame: Any) -> None:
        self._stop_requested = signal.Signals(signum).name

    def _build_trackers(self, folder: RunFolder) -> TrackerGroup:
        built = {}
        for spec in self.run.trackers:
            context = TrackerContext(
                folder.path, folder.path.name, self.resumed, self.tracker_states.get(spec.name, {})
            )
            built[spec.name] = spec.create(self.run.config_for(spec), context)
        return TrackerGroup(built)

    def _metrics(self, metrics: dict[str, torch.Tensor], steps_per_s: float) -> dict[str, float]:
        """Everything logged at a log step; the only place the loop waits for the device."""
        values = {k: float(v) for k, v in metrics.items()}
        for name, opt in self.optimizers.items():
            grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
            if grads:
                values[f"grad_norm/{name}"] = float(torch.nn.utils.get_total_norm(grads))
            values[f"lr/{name}"] = opt.param_groups[0]["lr"]
        values["steps_per_s"] = steps_per_s
        if self.context.skipped_steps:
            values["skipped_nonfinite_steps"] = self.context.skipped_steps
        if self.device.type == "cuda":
            values["gpu_memory_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        return values

    def train_step(self) -> dict[str, torch.Tensor]:
        """One iteration: the scheme's step, then the EMA. Returns the scheme's metrics, still on the device."""
        self.context.iteration = self.step + 1
        if self.run.config.lr_schedule != "constant":
            self._schedule_learning_rates()
        metrics = self.model.scheme.step(self.context)
        if not self._penalties_checked:
            self._check_penalties_applied()
        for ema in self.model.ema.values():
            ema.update(self.step + 1)
        self.step += 1
        return metrics

    def _check_penalties_applied(self) -> None:
        """A penalty the scheme never asks for does nothing: after the first step, say so once.

        A warning, not an error: schemes written before a data set or architecture suggested a penalty
        (and third-party schemes without penalties) keep training as they did."""
        self._penalties_checked = True
        if not self.world.is_main:  # every process runs the same scheme: one of them says it
            return
        names = {id(reg): spec.name for spec, reg in zip(self.run.regularizers, self.model.regularizers)}
        for role, regs in self.context.unapplied_penalties().items():
            log.warning(
                "regularizer %s does nothing in this run: scheme %r does not apply %s penalties "
                "(leave it out of --reg, or use a scheme that applies them)",
                ", ".join(repr(names[id(r)]) for r in regs),
                self.run.scheme.name,
                role,
            )

    def _schedule_learning_rates(self) -> None:
        cfg = self.run.config
        factor = lr_factor(cfg.lr_schedule, cfg.lr_decay_start, self.step, self.total_steps)
        for name, optimizer in self.optimizers.items():
            for group, base in zip(optimizer.param_groups, self._base_lrs[name]):
                group["lr"] = base * factor

    def fit(self, folder: RunFolder) -> dict[str, Any]:
        """Train to ``total_steps`` (or a stop signal); only the main process writes files and reports."""
        cfg = self.run.config
        main = self.world.is_main
        self.folder = folder
        self.trackers = self._build_trackers(folder) if main else TrackerGroup({})
        self.trackers.start(self.describe(), self.total_steps, self.step)
        previous = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        started = last_log_time = time.perf_counter()
        first_step = last_log_step = self.step
        checkpoint_path = sample_path = None
        saved_step = self.step if self.resumed else None  # the step of the newest checkpoint on disk
        try:
            while self.step < self.total_steps and not self._stopping():
                try:
                    metrics = self.train_step()
                except NonFiniteStep as exc:
                    raise self._nonfinite_error(exc, saved_step) from None
                self.threads.tick()  # follows the load: fewer threads while other processes keep cores busy
                self.trackers.advance(self.step)
                last = self.step == self.total_steps
                # The same on every process: the finiteness check below is collective.
                due = {
                    "log": self.step % cfg.log_every == 0 or last,
                    "samples": self.step % cfg.sample_every == 0 or last,
                    "eval": bool(cfg.eval_every) and (self.step % cfg.eval_every == 0 or last),
                    "checkpoint": self.step % cfg.checkpoint_every == 0 or last,
                }
                if any(due.values()) or self.context.unchecked_steps >= _MAX_UNCHECKED:
                    # Nothing is logged, drawn or saved from a run whose losses went NaN/inf.
                    try:
                        self.context.check_finite()
                    except NonFiniteStep as exc:
                        raise self._nonfinite_error(exc, saved_step) from None
                if due["log"]:
                    now = time.perf_counter()
                    values = self._metrics(metrics, (self.step - last_log_step) / max(now - last_log_time, 1e-9))
                    last_log_time, last_log_step = now, self.step
                    self.trackers.log_metrics(self.step, self.world.mean(values, self.device))
                    if cfg.on_nan == "stop":
                        try:
                            self._check_divergence(values)
                        except NonFiniteStep as exc:
                            raise self._nonfinite_error(exc, saved_step) from None
                elif main and self.step == first_step + 1:
                    # Losses at once, not only from the first log step (one host read, this step only).
                    self.trackers.log_progress(self.step, {k: float(v) for k, v in metrics.items()})
                if main and due["samples"]:
                    sample_path = self.save_samples()
                if main and due["eval"]:
                    self.evaluate()
                if due["checkpoint"]:
                    try:
                        checkpoint_path = self.save_checkpoint() if main else None
                    except NonFiniteStep as exc:
                        raise self._nonfinite_error(exc, saved_step) from None
                    saved_step = self.step
            if self._stop_requested and saved_step != self.step:
                try:
                    self.context.check_finite()
                    if main:
                        checkpoint_path = self.save_checkpoint()
                except NonFiniteStep as exc:
                    raise self._nonfinite_error(exc, saved_step) from None
        except BaseException as exc:
            self.trackers.finish({"steps": self.step, "error": str(exc) or type(exc).__name__})
            raise
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
        elapsed = time.perf_counter() - started
        summary = {
            "steps": self.step,
            "total_steps": self.total_steps,
            "seconds": round(elapsed, 2),
            "steps_per_s": round((self.step - first_step) / max(elapsed, 1e-9), 2),
            "stopped_by": self._stop_requested,
            "run_folder": str(self.folder.path),
            "checkpoint": str(checkpoint_path) if checkpoint_path else None,
            "samples": str(sample_path) if sample_path else None,
        }
        summary["tracked"] = self.trackers.finish(summary)
        # DDP wrappers hold the process group: freed only at interpreter exit, gloo's threads abort the
        # process ("terminate called without an active exception"). Drop them before leaving the group.
        self.context.nets = dict(self.model.nets)
        gc.collect()
        self.world.close()
        return summary

    def evaluate(self) -> dict[str, Any]:
        """Run the configured metrics now and report them to the trackers."""
        from gankit.evaluation import build_metrics, evaluate, flatten

        # Metrics may draw from the global generators (sklearn, torch ops without a generator): evaluating
        # during training must not change the training's own random stream.
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, device_type=self.device.type if devices else "cuda"):
            state = random.getstate()
            try:
                results = evaluate(self.model, self.dataset, build_metrics(self.run), seed=self.run.config.seed)
            finally:
                random.setstate(state)
        self.trackers.log_evaluation(self.step, flatten(results))
        return results

    def _stopping(self) -> bool:
        """A stop signal seen by any process stops all of them at the same step."""
        if not self.world.distributed:
            return self._stop_requested is not None
        if self.world.any(self._stop_requested is not None, self.device):
            self._stop_requested = self._stop_requested or "SIGTERM"
            return True
        return False

    def _nonfinite_error(self, exc: NonFiniteStep, saved_step: int | None) -> GankitError:
        cfg = self.run.config
        components = f"loss {cfg.loss!r}" + (f", regularizers {', '.join(cfg.regs)}" if cfg.regs else "")
        kept = (
            f"the last good checkpoint (step {saved_step}) is intact" if saved_step else "no checkpoint was written yet"
        )
        return GankitError(
            f"the {exc.optimizer}'s {exc.what} became NaN/inf {'at' if exc.what == 'loss' else 'by'} step "
            f"{exc.iteration} "
            f"({components}, lr_g {cfg.lr_g}, lr_d {cfg.lr_d}); "
            f"{kept}; start again with a lower learning rate, or with --on-nan skip"
        )
