"""The networks of a run: built from the resolved components, with optional EMA copies."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from gankit import checkpoint
from gankit.components import (
    Architecture,
    DataDescription,
    DataRequest,
    Dataset,
    Regularizer,
    Scheme,
    UnsupportedRequest,
    _overrides,
)
from gankit.engine import generation
from gankit.engine.ema import EMA
from gankit.errors import GankitDeprecationWarning, GankitError
from gankit.inputs import Input
from gankit.resolve import ResolvedRun


def _deprecated(spec: Any, message: str) -> None:
    warnings.warn(f"{spec.kind} {spec.name!r} (plugin {spec.plugin!r}): {message}", GankitDeprecationWarning, 2)


def _build(
    scheme: Scheme, arch: Architecture, data: DataDescription, z_dim: int, run: ResolvedRun
) -> tuple[dict[str, nn.Module], dict[str, str]]:
    """The scheme's networks, and each one's role."""
    if _overrides(scheme, "build", Scheme):  # gankit 0.1: the scheme calls arch.generator() and friends
        nets = scheme.build(arch, data, z_dim)
        return nets, {name: "discriminator" if name in scheme.discriminators else "generator" for name in nets}
    requests = scheme.networks(data, z_dim)
    nets = {}
    for name, request in requests.items():
        try:
            nets[name] = arch.build(request)
        except UnsupportedRequest as exc:
            raise GankitError(
                f"architecture {run.architecture.name!r} cannot build network {name!r} of scheme "
                f"{run.scheme.name!r}: {exc}"
            ) from None
    return nets, {name: request.role for name, request in requests.items()}


def expect(obj: Any, kind_type: type, spec: Any) -> Any:
    if not isinstance(obj, kind_type):
        raise GankitError(
            f"{spec.kind} {spec.name!r} from plugin {spec.plugin!r} built a {type(obj).__name__}, "
            f"not a gankit.{kind_type.__name__}"
        )
    return obj


class Model:
    """The networks of a run, built on a device: what :func:`gankit.load` returns, and what training,
    ``gankit sample`` and ``gankit eval`` share.

    From Python, :meth:`sample` draws samples and :attr:`generator` is the generating network;
    :attr:`inputs` says what the generator takes and :attr:`description` what the data is. The
    networks by name are in ``nets`` (and their EMA copies in ``ema``); ``scheme`` is the training
    scheme, whose ``generate`` turns filled inputs into samples.
    """

    def __init__(self, run: ResolvedRun, device: torch.device, description: DataDescription):
        cfg = run.config
        #: The data the run trained on: fields, shapes, classes; ``to_data_units(x)`` maps samples to them.
        self.description = description
        self.scheme: Scheme = expect(run.scheme.create(run.config_for(run.scheme)), Scheme, run.scheme)
        arch: Architecture = expect(
            run.architecture.create(run.config_for(run.architecture)), Architecture, run.architecture
        )
        self.regularizers: list[Regularizer] = [
            expect(spec.create(run.config_for(spec)), Regularizer, spec) for spec in run.regularizers
        ]
        nets, self.roles = _build(self.scheme, arch, description, cfg.z_dim, run)
        for name, role in self.roles.items():
            for reg in self.regularizers:
                if role in reg.targets:
                    nets[name] = reg.wrap(nets[name], role)
        #: The networks that discriminator regularizers act on.
        self.discriminators = tuple(name for name, role in self.roles.items() if role == "discriminator")
        layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.nets: dict[str, nn.Module] = {name: net.to(device, memory_format=layout) for name, net in nets.items()}
        self.ema = (
            {name: EMA(self.nets[name], cfg.ema, cfg.ema_start, cfg.ema_rampup) for name in self.scheme.ema_networks}
            if cfg.ema > 0
            else {}
        )
        self.device = device
        self.z_dim = cfg.z_dim
        #: What the scheme's generator takes (see :mod:`gankit.inputs`).
        self.inputs: dict[str, Input] = dict(self.scheme.generation_inputs(description, cfg.z_dim))
        if _overrides(self.scheme, "sample", Scheme) and not _overrides(self.scheme, "generate", Scheme):
            _deprecated(run.scheme, "Scheme.sample(nets, noise) is deprecated; implement generate(nets, inputs)")

    @property
    def generator(self) -> nn.Module:
        """The network that generates, a ``torch.nn.Module`` on the model's device.

        It is the EMA copy of the scheme's first averaged network when the run kept one, else that
        network (or the one called ``generator``). It takes the generation inputs in order (``G(z)``,
        ``G(z, label)``); :meth:`sample` fills them and calls the scheme, which is the safer way to
        generate. Changing its weights changes what :meth:`sample` returns.
        """
        name = next(iter(self.scheme.ema_networks), "generator")
        return self.ema[name].shadow if name in self.ema else self.nets[name]

    @torch.no_grad()
    def generate(self, inputs: dict[str, Any] | torch.Tensor) -> torch.Tensor:
        """Samples in ``[-1, 1]`` from filled generation inputs (or, as in gankit 0.1, from noise), using
        the EMA networks when there are any, in eval mode."""
        if isinstance(inputs, torch.Tensor):
            inputs = {"z": inputs}
        nets = dict(self.nets) | {name: ema.shadow for name, ema in self.ema.items()}
        modes = {name: net.training for name, net in nets.items()}
        for net in nets.values():
            net.eval()
        on_device = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
        try:
            return self.scheme.generate(nets, on_device).float()
        finally:
            for name, net in nets.items():
                net.train(modes[name])

    def fill_inputs(
        self,
        count: int,
        seed: int = 0,
        given: dict[str, Any] | None = None,
        from_data: Callable[[str, int], torch.Tensor] | None = None,
    ) -> dict[str, Any]:
        """The generation inputs for ``count`` samples (see :func:`gankit.engine.generation.fill`)."""
        return generation.fill(self.inputs, count, seed, given, from_data)

    def sample(
        self,
        count: int,
        seed: int = 0,
        batch_size: int = 1024,
        given: dict[str, Any] | None = None,
        from_data: Callable[[str, int], torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``count`` samples on the CPU, generated in eval mode with the EMA networks when there are any.

        The inputs are drawn from ``seed`` in fixed blocks, so sample ``i`` gets the same inputs for any
        ``count`` above ``i`` and any ``batch_size``: the same call gives the same samples every time
        (across batch sizes, the same up to float rounding).

        Args:
            count: How many samples.
            seed: Seed of the noise (and of any other input drawn at random).
            batch_size: Samples generated per forward pass; it changes memory use, not the inputs.
            given: Values of generation inputs by name, instead of drawn ones, the same for every
                sample: ``{"label": 7}`` (class 7), ``{"domains": [1, 0, 1]}`` (an ``Attributes``
                input), an ``Option``'s value (``{"truncation": 0.7}``), images for a ``FromData``
                input (a tensor in ``[-1, 1]``; they decide the count, ``count`` at most). The names
                are those of :attr:`inputs`.
            from_data: For a ``FromData`` input left out of ``given``: ``from_data(field, count)``
                returns that many samples of the data's field (``gankit sample`` takes them from the
                run's data set).

        Returns:
            A float tensor of shape ``(count, *shape)`` in ``[-1, 1]`` (images: ``(count, C, H, W)``),
            on the CPU. ``description.to_data_units`` maps it to the data's own units.

        Raises:
            GankitError: A ``given`` name or value does not fit the model's inputs (the message
                lists them).
        """
        return self.generate_all(self.fill_inputs(count, seed, given, from_data), batch_size)

    def generate_all(self, values: dict[str, Any], batch_size: int = 1024) -> torch.Tensor:
        """Samples on the CPU from filled inputs, ``batch_size`` at a time."""
        count = generation.count_of(self.inputs, values)
        parts = [self.generate(chunk).cpu() for chunk in generation.chunks(self.inputs, values, count, batch_size)]
        return torch.cat(parts)

    def load_weights(self, state: checkpoint.TrainingState, where: str) -> None:
        """Check every tensor against the built networks first, then copy: all or nothing."""
        groups = [(self.nets, state.networks, "network")] + (
            [(self._ema_nets(), state.ema, "EMA network")] if self.ema else []
        )
        for nets, saved, label in groups:
            if set(saved) != set(nets):
                raise GankitError(f"{where} holds {label}s {sorted(saved)}, but this run builds {sorted(nets)}")
            for name, net in nets.items():
                expected = net.state_dict()
                missing = sorted(set(expected) - set(saved[name]))
                extra = sorted(set(saved[name]) - set(expected))
                if missing or extra:
                    raise GankitError(
                        f"{where} does not fit {label} {name!r}: missing {missing[:3]}, unexpected {extra[:3]}"
                    )
                for key, tensor in expected.items():
                    got = saved[name][key]
                    if got.shape != tensor.shape or got.dtype != tensor.dtype:
                        raise GankitError(
                            f"{where} does not fit {label} {name!r}: {key} is {tuple(got.shape)} {got.dtype}, "
                            f"this run needs {tuple(tensor.shape)} {tensor.dtype}"
                        )
        for nets, saved, _ in groups:
            for name, net in nets.items():
                net.load_state_dict(saved[name])

    def _ema_nets(self) -> dict[str, nn.Module]:
        return {name: ema.shadow for name, ema in self.ema.items()}


def load_dataset(saved_config: dict[str, Any], split: str | None = None) -> Dataset:
    """The data set a saved run trained on (for inputs taken from data), built as the run built it; with
    ``split``, that part of it (``test``: the held-out pairs a translator never saw)."""
    from gankit.plugins import registry
    from gankit.resolve import resolve

    base = _base(saved_config)
    run = resolve(registry(), base=base if split is None else with_split(base, split))
    cfg = run.config
    request = DataRequest(root=cfg.data_root, download=False, resolution=cfg.resolution)
    return expect(run.data.create(run.config_for(run.data), request), Dataset, run.data)


def data_samples(saved_config: dict[str, Any], split: str | None = None) -> Callable[[str, int], torch.Tensor]:
    """``from_data`` for :meth:`Model.fill_inputs` (a translator's inputs left unset): the first samples
    of a field of the data set a saved run trained on (its ``split`` part when given), loaded on first use
    and then kept."""

    @functools.cache
    def dataset() -> Dataset:
        return load_dataset(saved_config, split)

    return lambda field, count: dataset().take(field, count)


def _base(saved: dict[str, Any]) -> dict[str, Any]:
    return dict(saved["run"], options={n: c["options"] for n, c in saved["components"].items()})


def with_split(base: dict[str, Any], split: str) -> dict[str, Any]:
    """A saved run's settings ``base`` reading ``split`` of its data set instead of the part it trained on
    (``--split``); the trained networks stay as they are. One line naming the data sets that have splits
    when this one has none; the data set's own option checks the split's name."""
    import attrs

    from gankit.plugins import registry

    def has_split(spec: Any) -> bool:
        return spec.config is not None and attrs.has(spec.config) and "split" in attrs.fields_dict(spec.config)

    data = registry().get("data", base["data"])
    if not has_split(data):
        with_splits = [spec.name for spec in registry().specs("data") if has_split(spec)]
        raise GankitError(
            f"--split: data set {data.name!r} has no splits; data sets with a split option: {', '.join(with_splits)}"
        )
    options = base.get("options", {})
    return dict(base, options={**options, data.name: {**options.get(data.name, {}), "split": split}})


def load_model(target: str, device: torch.device) -> tuple[Model, checkpoint.TrainingState, Any]:
    """The networks of a run folder's latest checkpoint (or of a checkpoint file, or of a model folder
    that ``gankit export`` wrote), weights loaded."""
    from gankit import export
    from gankit.plugins import registry
    from gankit.resolve import resolve

    if export.is_model_folder(target):
        return export.load_folder(target, device)
    path = checkpoint.find_checkpoint(target)
    state = checkpoint.load(path)
    saved = state.config
    if "data_description" not in saved:
        raise GankitError(f"checkpoint {str(path)!r} lacks the data description that sampling needs")
    run = resolve(registry(), base=_base(saved))
    try:
        description = DataDescription.from_dict(saved["data_description"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise GankitError(f"checkpoint {str(path)!r} has a damaged data description: {exc}") from None
    from gankit.engine.build import build_model

    model = build_model(run, device, description, f"checkpoint {str(path)!r}")
    model.load_weights(state, f"checkpoint {str(path)!r}")
    return model, state, path
