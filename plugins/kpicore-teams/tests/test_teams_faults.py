"""A `kpi digest send` killed by SIGKILL the moment the flow posted its card: the card is never posted
twice (the destination is `unknown`, reported, resent only with --force)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from teams_kpi import KPI, kpi_env, run_kpi
from test_teams_digest import write_config


def test_a_send_killed_mid_way_is_unknown_never_duplicated(tmp_path, demo_database, workflows):
    url = workflows.fake.add_flow("Sales")
    write_config(tmp_path, demo_database, extra="")
    (tmp_path / "kpi.toml").write_text(
        (tmp_path / "kpi.toml").read_text() + '\n[serve]\ntick = "1s"\nlease = "5s"\n'
    )
    env = kpi_env(TEAMS_WEBHOOK_SALES=url)
    process = subprocess.Popen(
        [KPI, "digest", "send", "weekly"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workflows.fake.on_post = lambda post: os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=120) == -signal.SIGKILL
    workflows.fake.on_post = None
    deadline = time.monotonic() + 30
    while "unknown" not in (listing := run_kpi(tmp_path, "digest", "deliveries", env=env).stdout):
        assert time.monotonic() < deadline, listing
    again = run_kpi(tmp_path, "digest", "send", "weekly", env=env)
    assert "outcome unknown" in again.stdout, again.stdout + again.stderr
    assert len(workflows.fake.channel_posts) == 1  # 0 duplicated
    assert url not in again.stdout + again.stderr + listing
