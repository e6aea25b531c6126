"""Shell completion of component names (``gankit run --loss <TAB>``), from the installed plugins.

Enable it as click documents: ``eval "$(_GANKIT_COMPLETE=bash_source gankit)"`` in ~/.bashrc
(``zsh_source`` / ``fish_source`` for zsh and fish).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def complete(kind: str) -> Callable[[Any, Any, str], list[Any]]:
    """A click ``shell_complete`` callback offering the names of ``kind`` with their summaries."""

    def names(ctx: Any, param: Any, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        from gankit.plugins import load_plugins

        specs = load_plugins().registry.specs(kind)
        return [CompletionItem(s.name, help=s.summary) for s in specs if s.name.startswith(incomplete)]

    return names
