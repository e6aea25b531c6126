"""``--help`` in sections: a click command whose options are listed under headings, not in one long list."""

from __future__ import annotations

from typing import Any

import click

#: The heading of options that no section names (a test keeps ``gankit run``'s list empty).
UNGROUPED = "Other options"

#: The widest option column; click's default.
COLUMN_MAX = 30


class GroupedCommand(click.Command):
    """A :class:`click.Command` that lists its options in ``sections``: heading -> parameter names.

    Membership is declared by the parameter's name (its ``dest``, as the callback receives it), so an
    option added anywhere in the decorator stack only needs its name added to a section.
    """

    def __init__(self, *args: Any, sections: dict[str, tuple[str, ...]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.sections = sections

    def section_of(self, name: str) -> str:
        return next((title for title, names in self.sections.items() if name in names), UNGROUPED)

    @staticmethod
    def name_of(param: click.Parameter, help_option: click.Option | None) -> str:
        """The name a section lists: ``help`` for the help option (click names it internally)."""
        return "help" if param is help_option else param.name or ""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: dict[str, list[tuple[str, str]]] = {title: [] for title in (*self.sections, UNGROUPED)}
        help_option = self.get_help_option(ctx)
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None:
                rows[self.section_of(self.name_of(param, help_option))].append(record)
        # One first-column width for every section (click sizes each list on its own), so that the help
        # texts line up from section to section. Longer terms get a line of their own, as click does.
        width = min(max((len(term) for records in rows.values() for term, _ in records), default=0), COLUMN_MAX)
        for title, records in rows.items():
            if records:
                with formatter.section(title):
                    formatter.write_dl([(term.ljust(width), text) for term, text in records], col_max=COLUMN_MAX)
