"""Reads the records of an offline W&B run file (``run-<id>.wandb``) for the tests.

The file is W&B's 7-byte header (``:W&B``, magic, version) followed by a LevelDB-style log of
protobuf ``Record`` messages in 32 KiB blocks; wandb no longer ships a Python reader for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[object]:
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        room = BLOCK - pos % BLOCK
        if room < HEADER:
            pos += room
            continue
        length = int.from_bytes(data[pos + 4 : pos + 6], "little")
        kind = data[pos + 6]
        chunk = data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind == FULL:
            payload = chunk
        elif kind == FIRST:
            pending = chunk
            continue
        elif kind == MIDDLE:
            pending += chunk
            continue
        elif kind == LAST:
            payload, pending = pending + chunk, b""
        else:
            pos += room - HEADER - length if kind == 0 else 0
            continue
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        yield record


def summarize(path: Path) -> dict:
    """Run id, config keys, logged history rows (key -> JSON value) and image keys of one run file."""
    import json

    run_id, config, history = None, {}, []

    def merge(items) -> None:
        # wandb sends whole keys (``key``) or, for some updates, paths into nested dicts (``nested_key``).
        for item in items:
            path = [item.key] if item.key else list(item.nested_key)
            target = config
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = json.loads(item.value_json)

    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run_id = record.run.run_id
            merge(record.run.config.update)
        elif kind == "config":
            merge(record.config.update)
        elif kind == "history":
            history.append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in record.history.item})
    return {"run_id": run_id, "config": config, "history": history}


def run_files(folder: Path) -> list[Path]:
    """The offline runs' record files under a W&B folder, in name order."""
    return sorted(folder.glob("wandb/offline-run-*/run-*.wandb"))
