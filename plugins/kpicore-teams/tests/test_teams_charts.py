"""Teams chart links against real processes: with ``[serve] public_url`` the card `kpi digest send`
posts carries each chart as an Image whose URL a real `kpi serve` answers with the PNG (the link is in
the state database, so the process that sent is not the one that serves); after ``[serve] chart_ttl``
or for an unknown token it is 404, and nothing lists the charts. `kpi check` reads both keys."""

from __future__ import annotations

import datetime as dt

from teams_kpi import kpi_env, run_kpi
from test_teams_digest import write_config

from tests.conftest import free_port
from tests.faults.test_clock import FakeClock
from tests.test_serve import Serve


def test_a_card_shows_each_chart_from_kpi_serve_until_the_link_expires(
    tmp_path, demo_database, workflows, servers
):
    port = free_port()
    write_config(tmp_path, demo_database, extra="")
    config = (tmp_path / "kpi.toml").read_text()
    serve_table = f'[serve]\npublic_url = "http://127.0.0.1:{port}/"\nchart_ttl = "30d"\n'
    (tmp_path / "kpi.toml").write_text(config.replace("[source]", serve_table + "[source]", 1))
    url = workflows.fake.add_flow("Sales")
    clock = FakeClock(tmp_path / "clock")
    clock.set(dt.datetime.now(dt.UTC))
    serve = Serve(tmp_path, kpi_env(TEAMS_WEBHOOK_SALES=url), "--port", str(port), clock=clock.path)
    servers.append(serve)
    serve.started()
    assert serve.port == port

    sent = run_kpi(tmp_path, "digest", "send", "weekly", env=kpi_env(TEAMS_WEBHOOK_SALES=url))
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert workflows.fake.failed_runs == []  # a valid Adaptive Card 1.5 with its Image elements
    (post,) = workflows.fake.posts("Sales")
    shown = workflows.fake.shown_images(post)
    assert len(shown) == 3  # revenue, nps and csat, each under its own metric
    for image in shown:
        assert image["url"].startswith(f"http://127.0.0.1:{port}/charts/") and image["url"].endswith(".png")
        assert len(image["url"].rsplit("/", 1)[1]) == len("x" * 43 + ".png")  # 256 random bits
        assert image["status"] == 200 and image["type"] == "image/png"
        assert image["body"].startswith(b"\x89PNG\r\n\x1a\n")
    assert len({image["url"] for image in shown}) == 3
    body = str(post["card"])
    assert not any(bar in body for bar in "▁▂▃▄▅▆▇█")  # the chart replaces the text sparkline

    token = shown[0]["url"].rsplit("/", 1)[1]
    for path in (
        "/charts/",
        "/charts",
        f"/charts/{token[:-5]}x.png",
        f"/charts/{token[:-4]}",
        "/charts/..%2F",
    ):
        assert serve.get(path)[0] == 404, path
    clock.set(dt.datetime.now(dt.UTC) + dt.timedelta(days=30, minutes=1))
    assert [image["status"] for image in workflows.fake.shown_images(post)] == [404, 404, 404]


def test_without_public_url_nothing_is_served_and_check_reads_both_keys(
    tmp_path, demo_database, workflows, servers
):
    url = workflows.fake.add_flow("Sales")
    write_config(tmp_path, demo_database)
    config = (tmp_path / "kpi.toml").read_text()
    bad = '[serve]\npublic_url = "http://kpi.example.com"\nchart_ttl = 90\n'
    (tmp_path / "kpi.toml").write_text(config.replace("[source]", bad + "[source]", 1))
    result = run_kpi(tmp_path, "check", env=kpi_env(TEAMS_WEBHOOK_SALES=url))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "[serve].public_url: 'http://kpi.example.com': use the https://" in output
    assert '[serve].chart_ttl: 90 has no unit: write "90s"' in output
    good = '[serve]\npublic_url = "https://kpi.example.com/kpi"\nchart_ttl = "90d"\n'
    (tmp_path / "kpi.toml").write_text(config.replace("[source]", good + "[source]", 1))
    result = run_kpi(tmp_path, "check", env=kpi_env(TEAMS_WEBHOOK_SALES=url))
    assert "[serve]" not in result.stdout + result.stderr, result.stdout + result.stderr
    (tmp_path / "kpi.toml").write_text(config)
    serve = Serve(tmp_path, kpi_env(TEAMS_WEBHOOK_SALES=url))
    servers.append(serve)
    serve.started()
    assert serve.get("/charts/" + "A" * 43 + ".png")[0] == 404
