"""A griffe extension for the API pages: renders gankit's Sphinx-flavoured docstrings as Markdown.

gankit's docstrings use reStructuredText roles (:class:`gankit.Loss`), ``::`` before literal blocks,
definition lists (a ``term`` line followed by indented lines), and ``#:`` comments to document
attributes (as Sphinx autodoc does). mkdocstrings renders docstrings as Markdown, so this
extension, loaded from mkdocs.yml, turns roles into code spans, ``::`` into ``:``, definition lists
into bullet lists, and ``#:`` comments into the attributes' docstrings. It changes only what the
documentation shows, never the code.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|meth|func|attr|data|mod|obj|exc):`~?([^`]+)`")
_LITERAL_MARKER = re.compile(r"(?<=\S)::$", re.MULTILINE)
_DEFINITION = re.compile(r"^(``[^`\n]+``)\n((?:    \S.*(?:\n|$))+)", re.MULTILINE)


def _definition_item(match: re.Match[str]) -> str:
    body = " ".join(line.strip() for line in match.group(2).splitlines())
    return f"- {match.group(1)}: {body}\n"


def _markdown(text: str) -> str:
    text = _DEFINITION.sub(_definition_item, text)
    return _LITERAL_MARKER.sub(":", _ROLE.sub(r"`\1`", text))


class SphinxMarkup(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.is_attribute and obj.docstring is None:
            comment = self._comment_above(obj)
            if comment:
                obj.docstring = griffe.Docstring(comment, lineno=obj.lineno, parent=obj)
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)

    @staticmethod
    def _comment_above(obj: griffe.Object) -> str:
        """The ``#:`` comment lines right above an attribute's definition, without the markers."""
        try:
            lines = obj.lines_collection[obj.filepath]
        except (KeyError, TypeError, AttributeError):
            return ""
        if not obj.lineno:
            return ""
        found: list[str] = []
        index = obj.lineno - 2  # the line above the definition, 0-based
        while index >= 0 and lines[index].strip().startswith("#:"):
            found.insert(0, lines[index].strip()[2:].strip())
            index -= 1
        return "\n".join(found)
