"""Host-memory settings for CPU runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = "from gankit.engine.devices import keep_freed_host_memory; print(keep_freed_host_memory())"


def _probe(**env: str) -> str:
    # In a child process: mallopt changes the process for good.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=dict(os.environ, **env)
    )
    return result.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_cpu_runs_keep_freed_memory_unless_told_not_to():
    assert _probe() == "True"  # glibc accepted both settings
    assert _probe(GANKIT_MALLOC_DEFAULTS="1") == "False"
