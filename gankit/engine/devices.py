"""Device choice, seeding, and the RNG state that exact resume restores."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
import struct
import sys

import torch

from gankit.errors import GankitError


def choose_device(name: str) -> torch.device:
    """``auto`` is CUDA when present, else CPU; anything else must be a device torch can use."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise GankitError(f"unknown --device {name!r}; choose from: auto, cpu, cuda, cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GankitError(f"--device {name} asked for, but no CUDA GPU is available here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise GankitError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type not in ("cpu", "mps"):
        raise GankitError(f"unsupported --device {name!r}; choose from: auto, cpu, cuda, cuda:N")
    return device


def configure_determinism(device: torch.device, deterministic: bool) -> None:
    """Deterministic kernels when asked; otherwise let cuDNN pick the fastest convolution algorithms."""
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic; set before the first CUDA matmul.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic


# glibc's malloc hands blocks above a dynamic threshold (128 KiB at first) back to the kernel on free, so
# every step's fresh weight casts, gradients and activations of that size fault in zeroed pages again:
# about a tenth of a CPU step for the seed's MLPs. Allocators built for this (jemalloc, tcmalloc, which
# PyTorch's CPU tuning guide preloads) keep freed memory; these settings make glibc do the same.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_FREED = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 1 << 30))  # 32 MiB: glibc's maximum


def keep_freed_host_memory() -> bool:
    """Let glibc's malloc reuse freed blocks up to 32 MiB instead of returning them to the kernel;
    True when set. A no-op (False) off glibc, or with ``GANKIT_MALLOC_DEFAULTS=1``."""
    if not sys.platform.startswith("linux") or os.environ.get("GANKIT_MALLOC_DEFAULTS") == "1":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries without mallopt
        return False
    return all(mallopt(option, value) == 1 for option, value in _KEEP_FREED)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def _python_random_state() -> torch.Tensor:
    """Python's ``random`` state (Mersenne Twister words, position, cached Gaussian) as uint8 bytes."""
    version, words, gauss = random.getstate()
    packed = struct.pack(f"<B{len(words)}I?d", version, *words, gauss is not None, gauss or 0.0)
    return torch.frombuffer(bytearray(packed), dtype=torch.uint8).clone()


def _set_python_random_state(state: torch.Tensor) -> None:
    raw = bytes(state.tolist())
    count = (len(raw) - 1 - 1 - 8) // 4
    version, *rest = struct.unpack(f"<B{count}I?d", raw)
    words, has_gauss, gauss = tuple(rest[:count]), rest[count], rest[count + 1]
    random.setstate((version, words, gauss if has_gauss else None))


def rng_state() -> dict[str, torch.Tensor]:
    """Every global RNG state as uint8 tensors, for the checkpoint (Python's ``random`` too: plugins use it)."""
    state = {"torch": torch.get_rng_state(), "python": _python_random_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            state[f"cuda{i}"] = s
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(state["torch"])
    if "python" in state:  # checkpoints of gankit 0.1 lack it
        _set_python_random_state(state["python"])
    cuda = [state[k] for k in sorted(k for k in state if k.startswith("cuda"))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
