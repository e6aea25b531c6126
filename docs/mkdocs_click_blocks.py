"""An mkdocs hook for the CLI reference: click's ``\\b`` paragraphs stay as written, in a text block.

click prints a paragraph that starts with a ``\\b`` line exactly as written (the examples in a
command's help); mkdocs-click drops the marker and lets Markdown join the lines into one. This hook,
loaded from mkdocs.yml, renders such a paragraph as a ``text`` code block instead, as ``--help`` shows
it. It changes only what the documentation shows; with another mkdocs-click it leaves it alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import mkdocs_click._docs as click_docs

_original = getattr(click_docs, "_make_description", None)


def _make_description(ctx: Any, remove_ascii_art: bool = False) -> Iterator[str]:
    text = ctx.command.help or ctx.command.short_help
    if not text or "\b" not in text or remove_ascii_art:
        yield from _original(ctx, remove_ascii_art)
        return
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines = paragraph.splitlines()
        if lines and lines[0].strip() == "\b":
            yield from ["```text", *lines[1:], "```"]
        else:
            yield from lines
        yield ""


if _original is not None:
    click_docs._make_description = _make_description
