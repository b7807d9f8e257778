"""``kpi new-plugin NAME``: scaffold a ready-to-install plugin distribution."""

from __future__ import annotations

import re
from pathlib import Path

import click

from ..errors import ConfigError

_NAME = re.compile(r"^[a-z][a-z0-9]*([-_][a-z0-9]+)*$")

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{distribution}"
version = "0.1.0"
description = "{title} KPIs for kpicore."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["kpicore>={kpicore_version}"]

[project.optional-dependencies]
test = ["pytest>=8"]

# This is what makes kpicore find the plugin once it is installed.
[project.entry-points.kpicore]
{entry_point} = "{module}"

[tool.setuptools]
packages = ["{module}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

MODULE = '''\
"""{distribution}: {title} KPIs for kpicore.

kpicore loads this module through the ``{entry_point}`` entry point of the ``kpicore`` group (see
pyproject.toml) and calls the hooks below. ``kpi metrics`` lists what it registers.
"""

from __future__ import annotations

from kpicore import Measure, Metric, hookimpl, percent

__version__ = "0.1.0"


class RefundRate(Metric):
    """An example metric: share of orders in the period that are refunds. Replace it with your own."""

    name = "{metric}"
    title = "Refund rate"
    description = "100 x orders with a negative amount / orders, ordered_at in the period."
    unit = "percent"
    better = "lower"
    entity = "orders"          # a canonical entity (kpi metrics shows which exist) or one you register
    time = "ordered_at"        # the column that places a record in a period
    n = "orders"               # the measure counting the records behind the value
    measures = {{
        "refunds": Measure.count(where=lambda t: t.amount < 0),
        "orders": Measure.count(where=lambda t: t.amount.is_not(None)),
        "invalid": Measure.count(where=lambda t: t.amount.is_(None), warn="orders with no amount"),
    }}

    def value(self, m):
        return percent(m.refunds, m.orders)


@hookimpl
def register_metrics(register):
    register(RefundRate())
'''

TEST = '''\
"""Tests for {distribution}. ``kpi`` is the fixture kpicore's pytest plugin provides."""

import pytest

import {module}


def orders(*amounts):
    return [
        {{"order_id": i, "customer_id": 1, "ordered_at": f"2026-11-{{16 + i % 7:02d}} 12:00:00", "amount": amount}}
        for i, amount in enumerate(amounts)
    ]


def test_{metric}(kpi):
    kpi.register({module})
    result = kpi.compute("{metric}", "2026-W47", orders=orders(40.0, 25.0, -25.0, 10.0, None))
    assert result.value == pytest.approx(25.0)  # 1 refund in 4 orders with an amount
    assert result.n == 4
    assert [w.count for w in result.warnings] == [1]


def test_the_installed_entry_point_loads_this_plugin(kpi):
    kpi.register_entry_point("{entry_point}")
    result = kpi.compute("{metric}", "2026-W47", orders=orders(10.0, -5.0))
    assert result.value == pytest.approx(50.0)
'''

README = """\
# {distribution}

{title} KPIs for [kpicore](https://github.com/kpicore/kpicore), scaffolded by `kpi new-plugin`.

    pip install -e .            # kpicore finds the plugin through its "kpicore" entry point
    kpi metrics                 # lists {metric}, provided by {entry_point}
    kpi demo                    # sample data, if you have no source yet
    kpi compute {metric} --period last-week

## Develop

Edit `{module}/__init__.py`: each metric is a class with measures (aggregates of one entity) and a
`value()` formula over them. `kpi metrics --details {metric}` shows the SQL it runs.

    pip install -e ".[test]"
    pytest

## Publish

    python -m build             # pip install build
    python -m twine upload dist/*

Users then `pip install {distribution}`; nothing to configure. See kpicore's docs/plugins.md.
"""


def plugin_names(name: str) -> dict[str, str]:
    """The names derived from NAME: distribution, module, entry point and example metric."""
    base = name.lower().removeprefix("kpicore-").removeprefix("kpicore_")
    if not _NAME.match(base):
        raise ConfigError(
            f"plugin name {name!r}: use lower-case letters, digits and '-' or '_', starting with a letter "
            "(e.g. bakery or pet-shop)"
        )
    snake = base.replace("-", "_")
    return {
        "distribution": f"kpicore-{base.replace('_', '-')}",
        "module": f"kpicore_{snake}",
        "entry_point": snake,
        "metric": f"{snake}_refund_rate",
        "title": snake.replace("_", " ").title(),
    }


def scaffold(name: str, parent: Path) -> Path:
    """Write the plugin distribution for NAME under ``parent``; return its folder."""
    from ..version import __version__

    names = plugin_names(name)
    folder = parent / names["distribution"]
    if folder.exists():
        raise ConfigError(f"{folder} already exists: choose another name or --directory")
    values = {**names, "kpicore_version": __version__}
    files = {
        "pyproject.toml": PYPROJECT,
        f"{names['module']}/__init__.py": MODULE,
        "tests/test_metrics.py": TEST,
        "README.md": README,
    }
    for relative, template in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
    return folder


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the plugin's folder.",
)
def new_plugin_command(name, directory):
    """Scaffold a plugin distribution NAME: pyproject with the entry point, an example metric, a test, a README.

    \b
    Example:
      kpi new-plugin bakery && pip install -e kpicore-bakery && kpi compute bakery_refund_rate
    """
    folder = scaffold(name, directory)
    names = plugin_names(name)
    click.echo(f"Created {folder}/ (module {names['module']}, metric {names['metric']}).")
    click.echo("Next:")
    click.echo(f"  pip install -e {folder}")
    click.echo(
        f"  kpi compute {names['metric']} --period last-week    # after `kpi demo` if you have no source"
    )
    click.echo(f"  cd {folder} && pytest")


COMMANDS = [new_plugin_command]
