"""Fixtures of the bundled components' tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch):
    """Real wandb, offline, writing under the test's own folder (returned)."""
    folder = tmp_path / "wandb-dir"
    folder.mkdir()
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(folder))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return folder
