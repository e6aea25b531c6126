"""``gankit plugin new``: a plugin project, rendered from gankit's copier template, ready to test and build."""

from __future__ import annotations

import re
from pathlib import Path

import click

from gankit.errors import GankitError, choice_error

#: ``--kind`` value -> (the template's kind, the kind in the registry). Long names work too.
TEMPLATE_KINDS = {
    "arch": ("arch", "architecture"),
    "architecture": ("arch", "architecture"),
    "loss": ("loss", "loss"),
    "reg": ("reg", "regularizer"),
    "regularizer": ("reg", "regularizer"),
    "data": ("data", "data"),
    "scheme": ("scheme", "scheme"),
    "tracker": ("tracker", "tracker"),
    "metric": ("metric", "metric"),
}
SHORT_KINDS = ["arch", "loss", "reg", "data", "scheme", "tracker", "metric"]

_DISTRIBUTION = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_COMPONENT = re.compile(r"^[a-z][a-z0-9-]*$")


def template_path() -> Path:
    """The template shipped with gankit: ``gankit/_template`` (a link to ``plugins/template`` in a checkout)."""
    import gankit

    package = Path(gankit.__file__).resolve().parent
    for candidate in (package / "_template", package.parent / "plugins" / "template"):
        if (candidate / "copier.yml").is_file():
            return candidate.resolve()
    raise GankitError(f"gankit's plugin template is missing from {str(package)!r}; reinstall gankit")


def _component_name(project: str) -> str:
    name = re.sub(r"^gankit[-_.]", "", project.lower())
    return re.sub(r"[._]+", "-", name)


@click.group()
def plugin() -> None:
    """Tools for plugin authors.

    \b
    gankit plugin new gankit-myloss --kind loss    (then: cd gankit-myloss && pip install -e . && pytest)
    """


@plugin.command("new")
@click.argument("name")
@click.option(
    "--kind", metavar="KIND", help="What the example component is: arch, loss, reg, data, scheme, tracker, metric."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False),
    default=".",
    help="Folder to create the project folder NAME in (default: the current folder).",
)
@click.option("--component", metavar="NAME", help="The component's name (default: NAME without a gankit- prefix).")
@click.option("--description", help="One line about the plugin.")
@click.option("--template", metavar="SRC", help="Another copier template (path or git URL) instead of gankit's own.")
def new(
    name: str,
    kind: str | None,
    output: str,
    component: str | None,
    description: str | None,
    template: str | None,
) -> None:
    """Create plugin project NAME (a distribution name, e.g. gankit-myloss) with an example component.

    \b
    It holds a pyproject.toml with the `gankit` entry point, the component (a hook, an attrs
    config and a lazily imported implementation), a README, and tests that use gankit.testing.
    The answers are kept in .copier-answers.yml, so `copier recopy` (or `copier update`, for a
    template from a git repository) brings the project up to date with a newer template.
    """
    if kind is None:
        raise GankitError(f"gankit plugin new needs --kind; choose from: {', '.join(SHORT_KINDS)}")
    if kind not in TEMPLATE_KINDS:
        raise choice_error("--kind", kind, SHORT_KINDS)
    template_kind, registry_kind = TEMPLATE_KINDS[kind]
    if not _DISTRIBUTION.match(name):
        raise GankitError(
            f"invalid plugin name {name!r}: a distribution name is letters, digits, '-', '_' and '.' (gankit-myloss)"
        )
    component = component or _component_name(name)
    if not _COMPONENT.match(component):
        raise GankitError(
            f"invalid component name {component!r}: start with a letter, then lowercase letters, digits and '-'"
            " (set it with --component)"
        )
    package = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not package or package[0].isdigit():
        raise GankitError(f"cannot make a Python package name from {name!r}; start the name with a letter")
    destination = Path(output) / name
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise GankitError(f"{str(destination)!r} already exists and is not empty; choose another NAME or --output")

    try:
        import copier
    except ImportError:
        raise GankitError("gankit plugin new needs copier: pip install 'gankit[plugin]'") from None
    import gankit

    answers = {
        "project_name": name,
        "kind": template_kind,
        "component": component,
        "package": package,
        "plugin_name": component,
        "gankit_version": gankit.__version__,
    }
    if description:
        answers["description"] = description
    source = template or str(template_path())
    try:
        copier.run_copy(source, str(destination), data=answers, defaults=True, quiet=True, unsafe=False)
    except Exception as exc:  # copier's own errors, a template that fails to render, a bad --template
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise GankitError(f"could not render the plugin template {source!r}: {reason}") from None

    files = sorted(p.relative_to(destination).as_posix() for p in destination.rglob("*") if p.is_file())
    click.echo(f"Created {destination}/ with the {registry_kind} {component!r}:")
    for f in files:
        click.echo(f"  {f}")
    _warn_if_taken(registry_kind, component)
    flag = {"architecture": "--arch", "regularizer": "--reg"}.get(registry_kind, f"--{registry_kind}")
    try_it = f"gankit run {flag} {component}" + (" --data ring8 --eval-every 500" if registry_kind == "metric" else "")
    click.echo(
        "Next:\n"
        f"  cd {destination}\n"
        "  pip install -e .            # gankit then lists it: gankit plugins\n"
        "  pytest                      # conformance checks from gankit.testing, and short runs\n"
        f"  {try_it}\n"
        "  python -m build             # the wheel and sdist to publish"
    )


def _warn_if_taken(kind: str, component: str) -> None:
    """Installing a second component of one name makes users qualify it; better to know now."""
    from gankit.plugins import load_plugins

    taken = [s.plugin for s in load_plugins().registry.specs(kind) if s.name == component]
    if taken:
        click.echo(
            f"Note: {kind} {component!r} is also registered by {', '.join(map(repr, taken))}; "
            f"with both installed, users must pick one as plugin:{component} (choose another with --component)",
            err=True,
        )
