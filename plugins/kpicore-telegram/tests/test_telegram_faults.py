"""A `kpi digest send` killed by SIGKILL the moment Telegram stored its first message: nothing is ever
sent twice (the destination is `unknown`, reported, resent only with --force) and nothing is lost
silently."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from telegram_kpi import KPI, kpi_env, run_kpi
from test_telegram_digest import GROUP, write_config


def test_a_send_killed_mid_way_is_unknown_never_duplicated(tmp_path, demo_database, telegram):
    write_config(tmp_path, demo_database, telegram, destinations=[f"telegram:{GROUP}"], extra="")
    config = (tmp_path / "kpi.toml").read_text() + '\n[serve]\ntick = "1s"\nlease = "5s"\n'
    (tmp_path / "kpi.toml").write_text(config)
    process = subprocess.Popen(
        [KPI, "digest", "send", "weekly"],
        cwd=tmp_path,
        env=kpi_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    telegram.fake.on_store = lambda message: os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=120) == -signal.SIGKILL
    telegram.fake.on_store = None
    assert len(telegram.fake.in_chat(GROUP)) == 1  # the first message, then the kill
    deadline = time.monotonic() + 30
    while "unknown" not in (listing := run_kpi(tmp_path, "digest", "deliveries").stdout):
        assert time.monotonic() < deadline, listing  # the dead sender's lease (1 s) runs out
    again = run_kpi(tmp_path, "digest", "send", "weekly")
    assert "outcome unknown" in again.stdout, again.stdout + again.stderr
    assert len(telegram.fake.in_chat(GROUP)) == 1  # 0 duplicated
    forced = run_kpi(tmp_path, "digest", "send", "weekly", "--force")  # a person decided
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert len([m for m in telegram.fake.in_chat(GROUP) if "text" in m]) == 2
