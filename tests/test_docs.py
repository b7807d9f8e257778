"""Meta-tests that keep the docs honest: every hook documented and tested, every command with help text."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click
import pytest

from kpicore import hookspecs
from kpicore.cli import cli

REPO = Path(__file__).resolve().parent.parent
PLUGINS_DOC = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
HOOKS = sorted(
    name
    for name, function in vars(hookspecs).items()
    if inspect.isfunction(function) and hasattr(function, "kpicore_spec")
)
TEST_FILES = [*REPO.glob("tests/**/*.py"), *REPO.glob("plugins/*/tests/**/*.py")]


def test_the_hooks_are_found():
    assert sorted(HOOKS) == [
        "prepare_jinja2_environment",
        "register_catalogs",
        "register_channels",
        "register_commands",
        "register_connectors",
        "register_demo_data",
        "register_dialects",
        "register_entities",
        "register_insights",
        "register_metrics",
        "register_settings",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    parameters = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = f"### {hook}({parameters})"
    assert heading in PLUGINS_DOC, f"docs/plugins.md needs a section '{heading}'"
    section = PLUGINS_DOC.split(heading, 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
    assert "@hookimpl" in section and f"def {hook}(" in section, f"{hook}: the section needs an example"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    """A test implements the hook and leaves calling it to kpicore: a test that calls the hook through
    pluggy itself (``manager.hook.NAME(...)``) would stay green with kpicore's own call deleted."""
    implementing = re.compile(rf"def {hook}\(")
    calling_directly = re.compile(rf"\.hook\.{hook}\(")
    this_file = Path(__file__).resolve()
    tests = [
        path for path in TEST_FILES if path.resolve() != this_file and implementing.search(path.read_text())
    ]
    assert tests, f"no test implements the {hook} hook"
    through_kpicore = [path for path in tests if not calling_directly.search(path.read_text())]
    assert through_kpicore, f"every test of the {hook} hook calls it through pluggy, not through kpicore"


def all_commands(group: click.Group, prefix: str = "kpi"):
    for name, command in sorted(group.commands.items()):
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix} {name}")


@pytest.mark.parametrize(("path", "command"), list(all_commands(cli)), ids=lambda value: str(value))
def test_every_command_and_option_has_help(path, command):
    assert (command.help or "").strip(), f"{path} has no help text"
    for parameter in command.params:
        if isinstance(parameter, click.Option) and not parameter.hidden:
            assert (parameter.help or "").strip(), f"{path} {parameter.opts[0]} has no help text"


def test_the_new_plugin_command_is_builtin():
    assert "new-plugin" in cli.commands


def test_docs_and_help_stand_alone():
    """The docs, READMEs and every command's help never cite a design document the repository lacks."""
    texts = {
        str(path.relative_to(REPO)): path.read_text(encoding="utf-8")
        for path in [*REPO.glob("docs/*.md"), REPO / "README.md", *REPO.glob("plugins/*/README.md")]
    }
    for path, command in all_commands(cli):
        texts[path] = " ".join([command.help or "", *(getattr(p, "help", "") or "" for p in command.params)])
    citing = [name for name, text in texts.items() if re.search(r"\bDESIGN\b|DESIGN\.md|section \d+\b", text)]
    assert citing == []
