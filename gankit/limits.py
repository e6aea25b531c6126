"""Upper bounds on counts a user types: a typo like ``-n 10**12`` must fail at once, not run for days."""

from __future__ import annotations

from gankit.errors import GankitError

#: Samples one command generates (sample -n, eval -n, a metric's samples): 1e6 8x8 digits are 256 MB.
MAX_SAMPLES = 1_000_000
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
