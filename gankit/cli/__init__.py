"""The ``gankit`` command line. Subcommands import lazily, so ``gankit --help`` never imports torch."""

from __future__ import annotations

import importlib
from typing import Any

import click

from gankit import __version__
from gankit.errors import GankitError

#: Built-in subcommands: name -> "module:attribute", imported only when invoked.
COMMANDS = {
    "run": "gankit.cli.run:run",
    "sample": "gankit.cli.sample:sample",
    "plugins": "gankit.cli.inspect:plugins",
    "list": "gankit.cli.inspect:list_components",
}

#: One-line help for each built-in subcommand, so listing them imports nothing.
SUMMARIES = {
    "run": "Train a GAN (or continue one with --resume).",
    "sample": "Generate samples from a run or checkpoint into a .png grid or a .npy array.",
    "plugins": "Show installed plugins, their versions, status and what they register.",
    "list": "List components (architectures, losses, ...) with their options.",
}


class UserError(click.ClickException):
    """A :class:`GankitError` on its way out: ``Error: <message>`` and exit status 2."""

    exit_code = 2


class GankitGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS) + sorted(self._plugin_commands())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module_name, _, attr = COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module_name), attr)
        return self._plugin_commands().get(name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUMMARIES[name]) for name in COMMANDS]
        rows += [(name, cmd.get_short_help_str(60)) for name, cmd in sorted(self._plugin_commands().items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _plugin_commands(self) -> dict[str, click.Command]:
        from gankit.plugins import load_plugins

        return load_plugins().commands

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GankitError as exc:
            raise UserError(str(exc)) from None


@click.group(cls=GankitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gankit")
def cli() -> None:
    """Train generative adversarial networks from plugins.

    \b
    Start with:  gankit run                  (an MLP GAN on the embedded 8x8 digits)
                 gankit run --arch mlp --loss wgan --reg gp --data grid25
                 gankit list                 (every architecture, loss, regularizer, data set)
    """


def main() -> None:
    cli(prog_name="gankit")
