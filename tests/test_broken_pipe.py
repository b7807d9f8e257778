"""Every command stops quietly when its reader goes away (``kpi demo | head``): exit 0, nothing on stderr
about the closed pipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KPI = str(Path(sys.executable).with_name("kpi"))


def with_the_reader_gone(*args: str, cwd: Path) -> tuple[int, str]:
    """Run ``kpi *args`` with stdout on a pipe whose reader has gone before the first line (as ``| head``
    gone early); return its exit code and stderr."""
    environment = {**os.environ, "KPI_LOAD_PLUGINS": ""}
    environment.pop("KPI_DEBUG", None)
    reader, writer = os.pipe()
    process = subprocess.Popen([KPI, *args], cwd=cwd, env=environment, stdout=writer, stderr=subprocess.PIPE)
    os.close(writer)
    os.close(reader)  # every write of the command now meets a closed pipe
    stderr = process.communicate(timeout=120)[1].decode()
    return process.returncode, stderr


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipe")
    environment = {**os.environ, "KPI_LOAD_PLUGINS": ""}
    subprocess.run([KPI, "demo"], cwd=folder, capture_output=True, check=True, env=environment)
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ["demo"],
        ["insights"],
        ["metrics", "--details", "revenue"],
        ["metrics"],
        ["compute", "all", "--by", "region", "--format", "csv"],
        ["--help"],
    ],
    ids=" ".join,
)
def test_a_reader_going_away_stops_the_command_quietly(demo_folder, args):
    code, stderr = with_the_reader_gone(*args, cwd=demo_folder)
    assert code == 0, stderr
    assert "BrokenPipe" not in stderr and "Error" not in stderr and "Traceback" not in stderr, stderr
