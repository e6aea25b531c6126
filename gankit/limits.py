"""Upper bounds on counts a user types: a typo like ``-n 10**12`` must fail at once, not run for days."""

from __future__ import annotations

from gankit.errors import GankitError

#: Samples one command generates (sample -n, eval -n, a metric's samples): 1e6 8x8 digits are 256 MB.
MAX_SAMPLES = 1_000_000
#: Pixels per side that --resolution may ask for: four times the largest that GANs train at (1024).
MAX_RESOLUTION = 4096
#: Memory a data set decoded into one float32 tensor may take.
MAX_DATA_BYTES = 64 * 2**30
#: Seeds are int64 (torch.Generator.manual_seed).
MAX_SEED = 2**63 - 1


def check_count(value: int, what: str) -> int:
    if value > MAX_SAMPLES:
        raise GankitError(f"{what} {value} is too many samples: at most {MAX_SAMPLES:,}")
    return value


def check_seed(value: int, what: str = "--seed") -> int:
    if value > MAX_SEED:
        raise GankitError(f"{what} {value} is too large: seeds are 0 to 2**63-1 ({MAX_SEED})")
    return value


def check_data_size(count: int, channels: int, resolution: int, name: str) -> None:
    """Refuse, before allocating, a data set that would not fit in memory at ``--resolution``."""
    needed = count * channels * resolution * resolution * 4
    if needed > MAX_DATA_BYTES:
        raise GankitError(
            f"--resolution {resolution} would make {name!r} ({count:,} images) take {needed / 2**30:,.0f} GiB; "
            f"at most {MAX_DATA_BYTES // 2**30} GiB: use a smaller --resolution"
        )
