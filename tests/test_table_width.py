"""The compute table fits the terminal: value and change always whole, the lesser columns folded away (and
what they carried that matters on a line under the table); ``--wide`` shows them all; a pipe too."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from rich.cells import cell_len

KPI = str(Path(sys.executable).with_name("kpi"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def on_terminal(columns: int, *args: str, cwd: Path) -> str:
    """What ``kpi *args`` shows on a terminal ``columns`` wide (stdout and stderr both on it)."""
    import pty

    environment = {**os.environ, "KPI_LOAD_PLUGINS": "", "TERM": "xterm"}
    for name in ("COLUMNS", "LINES", "KPI_DEBUG", "NO_COLOR"):
        environment.pop(name, None)
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [KPI, *args], cwd=cwd, env=environment, stdin=secondary, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=120)
    os.close(primary)
    screen = ANSI.sub("", seen.decode(errors="replace")).replace("\r\n", "\n")
    assert process.returncode == 0, screen
    return screen


def table_of(screen: str) -> list[str]:
    """The lines of the first table on the screen: its title to the line under its bottom rule."""
    lines = screen.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("KPIs for"))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
    return lines[start : end + 1]


def headers(table: list[str]) -> list[str]:
    return [cell.strip() for cell in table[2].strip("┃").split("┃")]


def rows(table: list[str]) -> dict[str, list[str]]:
    """Each metric's row, by its name, as cells."""
    found = {}
    for line in table:
        if line.startswith("│"):
            cells = [cell.strip() for cell in line.strip("│").split("│")]
            found[cells[0].replace(" ⚠", "")] = cells
    return found


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    subprocess.run([KPI, "demo"], cwd=folder, capture_output=True, check=True, env=_env())
    return folder


def _env() -> dict:
    environment = {**os.environ, "KPI_LOAD_PLUGINS": ""}
    environment.pop("COLUMNS", None)
    return environment


def whole_values(table: list[str]) -> None:
    """No cell is cut, every metric's value and change are there."""
    assert not any("…" in line for line in table), "\n".join(table)
    shown = headers(table)
    for name, cells in rows(table).items():
        value, change = cells[shown.index("Value")], cells[shown.index("Change")]
        assert re.search(r"\d", value), (name, cells)
        assert change == "—" or re.search(r"\d", change), (name, cells)


def test_80_columns_keep_value_and_change_and_fold_the_rest(demo_folder):
    screen = on_terminal(80, "demo", cwd=demo_folder)
    table = table_of(screen)
    assert max(cell_len(line) for line in table) <= 80, "\n".join(table)
    whole_values(table)
    shown = headers(table)
    assert shown[:2] == ["Metric", "Value"] and "Change" in shown
    assert "Trend" not in shown and "Target" not in shown, shown
    # churn is off its target (max 1.5%) in the demo: the folded target column says so under the table
    assert re.search(r"^⚠ churn_rate: target ≤ 1\.50?% ✗ [\d.]+ pts over$", screen, re.M), screen


def test_120_columns_show_more_and_a_shown_target_is_not_repeated(demo_folder):
    screen = on_terminal(120, "compute", "revenue", "churn_rate", "nps", "--trend", "4", cwd=demo_folder)
    table = table_of(screen)
    assert max(cell_len(line) for line in table) <= 120, "\n".join(table)
    whole_values(table)
    shown = headers(table)
    assert "Previous" in shown and "Target" in shown and "Trend" not in shown, shown
    assert "⚠ churn_rate: target" not in screen


def test_wide_shows_every_column_and_a_pipe_folds_like_a_terminal(demo_folder):
    wide = on_terminal(80, "compute", "revenue", "churn_rate", "--trend", "4", "--wide", cwd=demo_folder)
    assert headers(table_of(wide)) == ["Metric", "Value", "Previous", "Change", "Based on", "Trend", "Target"]
    piped = subprocess.run(
        [KPI, "compute", "revenue", "churn_rate", "--trend", "4"],
        cwd=demo_folder,
        capture_output=True,
        text=True,
        env=_env(),
    )
    table = table_of(piped.stdout)
    assert max(cell_len(line) for line in table) <= 80, piped.stdout
    whole_values(table)
    assert "Trend" not in headers(table)
