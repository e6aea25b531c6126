"""FID and KID in the pool3 features (2048-d) of Inception-v3, extracted by torch-fidelity's
``FeatureExtractorInceptionV3`` from a local weights file: gankit never downloads the weights.

Both sets hold ``samples`` images: real ones from the run's data set (a fixed random subset of a
finite set, the same at every evaluation; a distribution is sampled with seed 0) and generated ones.
FID and KID numbers are comparable only between evaluations with the same weights, sample count and
KID subsets, which is why the protocol records all of them (and the weights' SHA-256).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from gankit import EvalContext, GankitError, Metric
from gankit.components import Dataset
from gankit_builtins.metrics.distances import frechet_distance, kid_subsets

#: The environment variable read when the metric's ``weights`` option is not set.
WEIGHTS_ENV = "GANKIT_INCEPTION_WEIGHTS"
#: The weights file torch-fidelity itself would download (from its GitHub release v0.2.0).
WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
#: Where the one-line conversion of the published file to .safetensors is (the user runs it, once).
CONVERT = "the one-line command under 'Inception weights' in docs/concepts.md"
WHERE_TO_GET = (
    f"download {WEIGHTS_FILE} from torch-fidelity's GitHub release v0.2.0 (the file torch-fidelity "
    f"itself would fetch) and convert it once with {CONVERT}"
)

# One loaded network and one set of reference features, reused while the inputs are unchanged:
# --eval-every builds the metric anew at every evaluation, and the real images do not change.
_extractor_cache: dict[tuple, tuple[nn.Module, str]] = {}
_reference_cache: dict[tuple, np.ndarray] = {}


def weights_path(option: str | None) -> Path:
    """The weights file: the ``weights`` option, else ``$GANKIT_INCEPTION_WEIGHTS``; it must exist."""
    value = option or os.environ.get(WEIGHTS_ENV)
    if not value:
        raise GankitError(
            "metric 'inception' needs Inception-v3 weights, which gankit never downloads: name the file with "
            f"--inception-weights PATH (gankit eval), --set inception.weights=PATH or ${WEIGHTS_ENV}; " + WHERE_TO_GET
        )
    path = Path(value).expanduser()
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "not found (no such file)"
        raise GankitError(f"Inception weights {value!r} {problem}; {WHERE_TO_GET}")
    return path


def read_weights(path: Path) -> tuple[dict[str, Tensor], str]:
    """The state dict in the ``.safetensors`` file ``path``, and the file's SHA-256.

    gankit unpickles nothing, not even with torch's restricted loader: the user converts the published
    ``.pth`` weights once (docs/concepts.md).
    """
    if path.suffix != ".safetensors":
        raise GankitError(
            f"Inception weights {str(path)!r} are not a .safetensors file; gankit never unpickles, as no "
            f"pickle loads safely: convert the file once with {CONVERT}"
        )
    from gankit.safe_files import MAX_CHECKPOINT_BYTES, read_bounded

    data = read_bounded(path, "Inception weights", MAX_CHECKPOINT_BYTES)
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        state = load(data)
    except SafetensorError:
        raise GankitError(
            f"Inception weights {str(path)!r} is not a .safetensors file of plain tensors; {WHERE_TO_GET}"
        ) from None
    if not state:
        raise GankitError(f"Inception weights {str(path)!r} holds no tensors; {WHERE_TO_GET}")
    return state, hashlib.sha256(data).hexdigest()


def build_extractor(state: dict[str, Tensor]) -> nn.Module:
    """torch-fidelity's Inception-v3 feature extractor (pool3 features, ``"2048"``) with the weights ``state``.

    Raises ``RuntimeError`` (from ``load_state_dict``) when ``state`` is not Inception-v3's.
    """
    try:
        import torch_fidelity.feature_extractor_inceptionv3 as inception_module
    except ImportError:
        raise GankitError("metric 'inception' needs torch-fidelity: pip install 'gankit[inception]'") from None
    # The constructor hands `feature_extractor_weights_path` to torch's own loader (weights-only since
    # torch 2.6), which takes a file-like object as well as a path: it gets an in-memory copy of the
    # tensors read above. The only archive it reads is the one written here from those plain tensors, and
    # no file is read or fetched.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return inception_module.FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048"], feature_extractor_weights_path=buffer
    )


def load_extractor(path: Path) -> tuple[nn.Module, str]:
    """The extractor with the weights in ``path``, and the file's SHA-256 (cached while the file is unchanged)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _extractor_cache:
        state, digest = read_weights(path)
        try:
            extractor = build_extractor(state)
        except RuntimeError as exc:  # load_state_dict's many-line report: keep its first finding
            details = [line.strip() for line in str(exc).splitlines()[1:] if line.strip()]
            reason = details[0][:200] if details else "keys do not match"
            raise GankitError(
                f"Inception weights {str(path)!r} are not Inception-v3's ({reason}); {WHERE_TO_GET}"
            ) from None
        _extractor_cache.clear()
        _extractor_cache[key] = (extractor, digest)
    return _extractor_cache[key]


def to_uint8_rgb(images: Tensor) -> Tensor:
    """Images in ``[-1, 1]`` with 1 or 3 channels as the uint8 RGB (0..255) that the extractor takes."""
    pixels = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return pixels.expand(-1, 3, -1, -1) if pixels.shape[1] == 1 else pixels


def features(extractor: nn.Module, images: Tensor, batch_size: int, device: Any) -> np.ndarray:
    """Pool3 features ``(N, 2048)`` as float64 of uint8 RGB ``images`` (resized to 299 px by the extractor)."""
    chunks = []
    extractor.to(device)
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            (batch,) = extractor(images[start : start + batch_size].to(device))
            chunks.append(batch.double().cpu())
    return torch.cat(chunks).numpy()


def reference_images(dataset: Dataset, count: int) -> Tensor:
    """``count`` real samples (fewer when the set is smaller), the same ones at every evaluation."""
    generator = torch.Generator().manual_seed(0)
    if dataset.samples is not None:
        return dataset.samples[torch.randperm(len(dataset.samples), generator=generator)[:count]].cpu()
    return dataset.sample(count, generator).cpu()


class InceptionMetric(Metric):
    """``fid``, ``kid`` (the mean over subsets) and ``kid_std``, in Inception-v3 pool3 features."""

    version = "1"
    higher_is_better = {"fid": False, "kid": False}  # kid_std is a spread: no direction

    def __init__(self, config: Any):
        self.config = config
        self.used: dict[str, Any] = {}

    def protocol(self) -> dict[str, Any]:
        return {
            "samples": self.config.samples,
            "reference": "the run's data set: a fixed random subset (seed 0) of a finite set, or draws with seed 0",
            "features": "Inception-v3 pool3 (2048-d), torch-fidelity FeatureExtractorInceptionV3",
            "kid_subsets": self.config.kid_subsets,
            "kid_subset_size": self.config.kid_subset_size,
            "kid_kernel": "(x.y / 2048 + 1)^3, unbiased MMD^2",
        } | self.used

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        data = context.description
        if data.modality != "image" or data.channels not in (1, 3):
            shown = f"{data.modality} of shape {tuple(data.shape)}"
            raise GankitError(
                f"metric 'inception' scores images with 1 or 3 channels; data {data.name!r} yields {shown}"
            )
        path = weights_path(self.config.weights)
        extractor, digest = load_extractor(path)
        real = to_uint8_rgb(reference_images(context.dataset, self.config.samples))
        if len(real) < 2:  # covariances and KID's unbiased estimate need two samples
            raise GankitError(f"metric 'inception' needs at least 2 real images; data {data.name!r} has {len(real)}")
        key = (digest, hashlib.sha256(real.contiguous().numpy().tobytes()).hexdigest(), str(context.device))
        if key not in _reference_cache:
            _reference_cache.clear()
            _reference_cache[key] = features(extractor, real, self.config.batch_size, context.device)
        real_features = _reference_cache[key]
        count = len(real_features)
        fake_features = features(
            extractor, to_uint8_rgb(context.generate(count).cpu()), self.config.batch_size, context.device
        )
        size = min(self.config.kid_subset_size, count)
        kid = kid_subsets(fake_features, real_features, self.config.kid_subsets, size)
        from torch_fidelity import __version__ as fidelity_version

        self.used = {
            "samples": count,
            "kid_subset_size": size,
            "weights": path.name,
            "weights_sha256": digest,
            "torch_fidelity": fidelity_version,
        }
        return {
            "fid": frechet_distance(fake_features, real_features),
            "kid": float(kid.mean()),
            "kid_std": float(kid.std()),
        }
