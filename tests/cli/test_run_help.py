"""`gankit run --help` lists its options in sections (data, model, training, output, tracking,
performance, ...), and every option belongs to one."""

from __future__ import annotations

import re

import click

from gankit.cli.help import UNGROUPED, GroupedCommand
from gankit.cli.run import SECTIONS, run

EXPECTED = ["Data", "Model", "Training", "Output", "Tracking", "Performance", "Configuration and resume", "Other"]


def sections_of(text: str) -> dict[str, list[str]]:
    """Heading -> the options listed under it, read from the help text as a user sees it."""
    found: dict[str, list[str]] = {}
    heading = None
    for line in text.splitlines():
        if re.fullmatch(r"[A-Z][\w ]*:", line):
            heading = line[:-1]
            found[heading] = []
        elif heading and (match := re.match(r"  (?:-\w, )?(--[\w-]+)", line)):
            found[heading].append(match.group(1))
    return found


def test_every_option_of_gankit_run_belongs_to_exactly_one_section():
    ctx = click.Context(run)
    names = [GroupedCommand.name_of(p, run.get_help_option(ctx)) for p in run.get_params(ctx)]
    assert [n for n in names if run.section_of(n) == UNGROUPED] == []
    listed = [n for members in SECTIONS.values() for n in members]
    assert len(listed) == len(set(listed)), "an option is in two sections"


def test_run_help_shows_the_sections_in_order_with_their_options(gankit):
    result = gankit("run", "--help")
    assert result.exit_code == 0
    shown = sections_of(result.output)
    assert list(shown) == EXPECTED
    assert UNGROUPED not in result.output and "\nOptions:" not in result.output
    assert shown["Data"] == ["--data", "--data-root", "--download", "--resolution"]
    assert {"--arch", "--loss", "--reg", "--scheme"} <= set(shown["Model"])
    assert {"--steps", "--batch-size", "--lr", "--n-critic"} <= set(shown["Training"])
    assert {"--out", "--name", "--quiet"} <= set(shown["Output"])
    assert {"--tracker", "--wandb-project", "--eval-every"} <= set(shown["Tracking"])
    assert {"--device", "--amp", "--compile", "--nproc"} <= set(shown["Performance"])
    assert shown["Other"] == ["--help"]
    every = [option for options in shown.values() for option in options]
    assert len(every) == len(set(every)) == len(run.params) + 1  # each once, and --help


def test_the_help_texts_start_in_one_column_in_every_section(gankit):
    text = gankit("run", "--help").output
    # An option's line: the option, two or more spaces, its help text.
    starts = {len(m.group(1)) for m in re.finditer(r"^(  (?:-\w, )?--\S.*?\S {2,})\S", text, re.M)}
    assert len(starts) == 1, starts


def test_an_option_without_a_section_is_listed_under_other_options():
    @click.command(cls=GroupedCommand, sections={"Data": ("data",)})
    @click.option("--data")
    @click.option("--stray")
    def command(data, stray):
        pass

    text = command.get_help(click.Context(command))
    assert sections_of(text) == {"Data": ["--data"], UNGROUPED: ["--stray", "--help"]}
