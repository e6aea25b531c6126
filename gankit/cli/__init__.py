"""The ``gankit`` command line. Subcommands import lazily, so ``gankit --help`` never imports torch."""

from __future__ import annotations

import difflib
import importlib
import os
from typing import Any

import click

from gankit import __version__
from gankit.errors import TRACEBACK_ENV, GankitError, bug_message, machine_failure
from gankit.plugins import CLI_DISABLED_KEY, CLI_STRICT_KEY, load_plugins, split_names

#: Built-in subcommands: name -> "module:attribute", imported only when invoked.
COMMANDS = {
    "run": "gankit.cli.run:run",
    "sample": "gankit.cli.sample:sample",
    "eval": "gankit.cli.evaluate:evaluate_command",
    "runs": "gankit.cli.runs:runs_command",
    "plot": "gankit.cli.plot:plot_command",
    "export": "gankit.cli.export:export_command",
    "plugins": "gankit.cli.inspect:plugins",
    "list": "gankit.cli.inspect:list_components",
    "plugin": "gankit.cli.plugin:plugin",
    "install": "gankit.cli.install:install_command",
    "uninstall": "gankit.cli.install:uninstall_command",
    "explore": "gankit.cli.explore:explore",
}

#: One-line help for each built-in subcommand, so listing them imports nothing.
SUMMARIES = {
    "run": "Train a GAN (or continue one with --resume).",
    "sample": "Generate samples from a run or checkpoint into a .png grid or a .npy array.",
    "eval": "Score a run's samples with metrics (mode coverage, digit quality, ...); writes eval.json.",
    "runs": "List the runs in a folder: components, steps, state, last losses, eval results.",
    "plot": "Plot runs' loss curves and eval metrics (several runs overlaid) to a PNG.",
    "export": "Write a self-contained model folder (and ONNX / torch.export graphs) from a run.",
    "plugins": "Show installed plugins, their versions, status and what they register.",
    "list": "List components (architectures, losses, ...) with their options.",
    "plugin": "Write a new plugin: gankit plugin new NAME --kind loss.",
    "install": "Install plugin packages with pip into gankit's environment; shows what they register.",
    "uninstall": "Uninstall plugin packages with pip from gankit's environment.",
    "explore": "Pictures of a generator's latent space: interpolation, SeFa/GANSpace directions, classes.",
}


class _OneLine(click.ClickException):
    def show(self, file: Any = None) -> None:
        from gankit.errors import leave_rank_error

        # Under `gankit run --nproc`, only local rank 0 prints; the launcher adds what other ranks said.
        if not leave_rank_error(self.format_message()):
            super().show(file)


class UserError(_OneLine):
    """A :class:`GankitError` on its way out: ``Error: <message>`` and exit status 2."""

    exit_code = 2


class Failure(_OneLine):
    """What no check foresaw (the machine out of memory, a bug): ``Error: <one line>`` and exit status 1."""

    exit_code = 1


def _broken_command(name: str, why: str, plugin: str | None) -> click.Command:
    """Stands in for a plugin command that cannot run, so invoking it explains why in one line."""
    pointer = f"; see: gankit plugins show {plugin}" if plugin else "; see: gankit plugins"

    def fail() -> None:
        raise GankitError(f"command {name!r} is unavailable: {why}{pointer}")

    # Any arguments are accepted, so that every invocation ends in the one-line explanation.
    return click.Command(
        name,
        callback=fail,
        help=f"BROKEN: {why}{pointer}",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


class GankitGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # The plugin flags apply to this invocation only (see gankit.plugins.current_settings).
        ctx.meta.pop(CLI_DISABLED_KEY, None)
        ctx.meta.pop(CLI_STRICT_KEY, None)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        plugins = _plugins_or_none()
        extra = sorted(plugins.commands) + sorted(plugins.broken_commands()) if plugins else []
        return list(COMMANDS) + [name for name in extra if name not in COMMANDS]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module_name, _, attr = COMMANDS[name].partition(":")
            return getattr(importlib.import_module(module_name), attr)
        plugins = _plugins_or_none()
        if plugins is None:
            return None
        if name in plugins.commands:
            return plugins.commands[name]
        broken = plugins.broken_commands()
        if name in broken:
            return _broken_command(name, broken[name], _broken_owner(plugins, name))
        return None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUMMARIES[name]) for name in COMMANDS]
        plugins = _plugins_or_none()
        broken_plugins: list[tuple[str, str]] = []
        if plugins is not None:
            for name, cmd in sorted(plugins.commands.items()):
                origin = plugins.command_plugin(name)
                rows.append((name, f"{cmd.get_short_help_str(60)} [{origin}]"))
            for name, why in sorted(plugins.broken_commands().items()):
                owner = _broken_owner(plugins, name)
                pointer = f"gankit plugins show {owner}" if owner else "gankit plugins"
                rows.append((name, f"BROKEN ({why}); see: {pointer}"))
            # A plugin that fails before adding commands may have had some: say so, with the pointer.
            broken_plugins = [
                (r.name, f"{_shorten(r.error or '', 70)}; see: gankit plugins show {r.name}")
                for r in sorted(plugins.records.values(), key=lambda r: r.name)
                if r.status == "error" and not r.commands
            ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
        if broken_plugins:
            with formatter.section("Broken plugins (their commands, if any, are missing)"):
                formatter.write_dl(broken_plugins)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        typed = args[0] if args else ""
        if typed and not typed.startswith("-") and self.get_command(ctx, typed) is None:
            close = difflib.get_close_matches(typed, self.list_commands(ctx), n=1, cutoff=0.5)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            ctx.fail(f"no such command {typed!r}{guess}; commands: {', '.join(self.list_commands(ctx))}")
        name, command, rest = super().resolve_command(ctx, args)
        if name not in COMMANDS:
            # A plugin command: in strict mode, no plugin problem may go unnoticed. (Built-in
            # commands check when they look components up, through gankit.plugins.registry.)
            load_plugins().check()
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GankitError as exc:
            raise UserError(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            # One line for anything else too: the machine's failures are worded as such, and a bug says it
            # is one and where its traceback went (GANKIT_TRACEBACK=1 shows it here instead).
            if os.environ.get(TRACEBACK_ENV, "").strip() not in ("", "0"):
                raise
            raise Failure(machine_failure(exc) or bug_message(exc, *_where(ctx))) from None


def _where(ctx: click.Context) -> tuple[str, str]:
    """What failed and whose code it is: ``("gankit sample", "gankit")``, or a plugin's command and plugin."""
    name = ctx.invoked_subcommand or ""
    if name and name not in COMMANDS:
        plugins = _plugins_or_none()
        owner = plugins.command_plugin(name) if plugins is not None else None
        if owner:
            return f"command {name!r}", f"plugin {owner!r}"
    return f"gankit {name}".strip(), "gankit"


def _plugins_or_none() -> Any:
    """The loaded plugins, or ``None`` when even the settings are unusable (a bad environment value)."""
    try:
        return load_plugins()
    except GankitError:
        return None  # the command itself reports it


def _broken_owner(plugins: Any, command: str) -> str | None:
    """The broken plugin that adds ``command``, if it is a broken plugin's command."""
    return next((r.name for r in plugins.records.values() if command in r.commands and r.error), None)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _remember_disabled(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    names = [n for v in value for n in split_names(v)]
    if names:
        ctx.meta[CLI_DISABLED_KEY] = names


def _remember_strict(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[CLI_STRICT_KEY] = True


@click.group(cls=GankitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gankit")
# Eager, so that they already apply when --help lists plugin commands.
@click.option(
    "--disable-plugin",
    multiple=True,
    metavar="NAME",
    is_eager=True,
    expose_value=False,
    callback=_remember_disabled,
    help="Do not load plugin NAME (or every plugin of distribution NAME); repeatable, or A,B. "
    "Also: GANKIT_DISABLE_PLUGINS=A,B.",
)
@click.option(
    "--strict-plugins",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_remember_strict,
    help="Fail (exit 2) when a plugin is broken or two register one name. Also: GANKIT_STRICT_PLUGINS=1.",
)
def cli() -> None:
    """Train generative adversarial networks from plugins.

    \b
    Start with:  gankit run                  (an MLP GAN on the embedded 8x8 digits)
                 gankit run --arch mlp --loss wgan --reg gp --data grid25
                 gankit list                 (every architecture, loss, regularizer, data set)
    """
    from gankit.cli.warning_lines import show_warnings_as_lines

    show_warnings_as_lines()


def main() -> None:
    cli(prog_name="gankit")
