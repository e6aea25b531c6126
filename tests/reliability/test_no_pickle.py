"""No code path of gankit or its bundled plugins may unpickle: CI fails on the calls that would.

Deliberately simple: a plain text search, comments and strings included, over every ``*.py`` under
gankit/ and plugins/ (and the plugin template's ``*.py.jinja``, which becomes plugin code). This
test, the hostile-file tests and the docs live outside those folders.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = [ROOT / "gankit", ROOT / "plugins"]
#: ``safetensors.torch.load(`` is the safe loader, not ``torch.load(``.
FORBIDDEN = re.compile(r"(?<!safetensors\.)torch\.load\(|pickle\.loads?\(|allow_pickle\s*=\s*True")


def _sources() -> list[Path]:
    files = set()
    for folder in SCANNED:
        for pattern in ("*.py", "*.py.jinja"):
            files.update(p.resolve() for p in folder.rglob(pattern) if "__pycache__" not in p.parts)
    return sorted(files)


def test_scanned_folders_hold_the_code():
    sources = _sources()
    assert ROOT / "gankit" / "checkpoint.py" in sources
    assert any("gankit_builtins" in p.parts for p in sources)
    assert not any(p.is_relative_to(ROOT / "tests") or p.is_relative_to(ROOT / "docs") for p in sources)


def test_no_unpickling_calls_in_gankit_or_plugins():
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert not hits, "unpickling calls (use safetensors and JSON instead):\n" + "\n".join(hits)


CAUGHT = [
    "torch.load(path)",
    "state = torch.load(p, weights_only=True)",
    "x = pickle.load(f)",
    "pickle.loads(b)",
    "np.load(p, allow_pickle=True)",
    "np.load(p, allow_pickle = True)",
    "# torch.load(  even in a comment",
]
ALLOWED = ["safetensors.torch.load(data)", "torch.save(x)", "np.load(p, allow_pickle=False)", "pickle.dumps(x)"]


def test_the_scan_catches_each_form():
    for line in CAUGHT:
        assert FORBIDDEN.search(line), line
    for line in ALLOWED:
        assert not FORBIDDEN.search(line), line
