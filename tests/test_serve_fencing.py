"""Fenced claims with two real `kpi serve` processes on one PostgreSQL state database: the sender is
frozen (SIGSTOP) right after posting its first part, its lease runs out, the peer takes over and finishes;
on SIGCONT the first process finds its claim gone and stops: no part posted twice, no chart uploaded
twice, the peer's ledger row not overwritten."""

from __future__ import annotations

import signal

from tests.chat_support import wait_for
from tests.test_serve import (
    SLACK_KPIS,
    Serve,
    deliveries,
    environment,
    kpicore_parts,
    pg_state_url,
    wait_until_sent,
    write_config,
)

__all__ = ["pg_state_url"]  # the fixture, imported for this test

KEY = "digest|weekly|2026-W47||slack:#kpis"


def test_a_sender_paused_past_its_lease_stops_and_the_holder_keeps_its_row(
    tmp_path, demo_database, slack_server, servers, pg_state_url
):
    slack = slack_server.fake
    write_config(tmp_path, demo_database, state_url=pg_state_url, serve='tick = "1s"\nlease = "5s"')
    env = environment(slack_server)
    frozen = Serve(tmp_path, env, name="frozen")
    servers.append(frozen)
    slack.stop_on_post = frozen.process.pid  # frozen right after Slack stored its first part
    wait_for(lambda: slack.stop_on_post is None, 60)
    assert kpicore_parts(slack) == [(KEY, 1)]
    try:
        peer = Serve(tmp_path, env, name="peer")
        servers.append(peer)
        peer.started()
        wait_until_sent(pg_state_url, "slack:#kpis", timeout=90)
        [(kind, name, period, destination, status, attempts)] = deliveries(pg_state_url)
        assert (status, attempts) == ("sent", 2)  # the peer took the claim over (a second generation)
        charts = [f for f in slack.files.values() if f.get("completed")]
        assert len(charts) == 2
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    frozen.wait_for(r"stopped: digest weekly 2026-W47 to slack:#kpis: the claim was taken over", 60)
    assert peer.stop() == 0 and frozen.stop() == 0
    assert kpicore_parts(slack) == [(KEY, 1)]  # one copy of the part, found by the peer
    assert len([f for f in slack.files.values() if f.get("completed")]) == 2  # no chart uploaded again
    assert deliveries(pg_state_url) == [(kind, name, period, destination, "sent", 2)]
    assert frozen.text().count("the claim was taken over") == 1


def test_a_sender_paused_during_its_chart_upload_never_shares_it(
    tmp_path, demo_database, slack_server, servers, pg_state_url
):
    """Frozen as Slack stores the bytes of its first chart (after files.getUploadURLExternal and the
    POST, before files.completeUploadExternal): the peer takes over and shares both charts; on SIGCONT
    the first process proves its claim before the share, finds it gone, and never shares its copies (it
    deletes them instead)."""
    slack = slack_server.fake
    write_config(tmp_path, demo_database, state_url=pg_state_url, serve='tick = "1s"\nlease = "5s"')
    env = environment(slack_server)
    frozen = Serve(tmp_path, env, name="frozen")
    servers.append(frozen)
    slack.stop_on_upload = frozen.process.pid
    wait_for(lambda: slack.stop_on_upload is None, 60)
    frozen_uploads = set(slack.files)  # uploaded, not shared: Slack keeps the file private until then
    assert len(frozen_uploads) == 1 and not slack.shared_files()
    try:
        peer = Serve(tmp_path, env, name="peer")
        servers.append(peer)
        peer.started()
        wait_until_sent(pg_state_url, "slack:#kpis", timeout=90)
        peer_charts = {id for id, f in slack.files.items() if f.get("completed")}
        assert len(peer_charts) == 2
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    frozen.wait_for(r"stopped: digest weekly 2026-W47 to slack:#kpis: the claim was taken over", 60)
    assert peer.stop() == 0 and frozen.stop() == 0
    shared = {id for id, f in slack.files.items() if f.get("completed")}
    assert shared == peer_charts  # the frozen sender shared nothing
    assert frozen_uploads <= set(slack.deleted_files)  # and left no private copy behind
    assert kpicore_parts(slack) == [(KEY, 1)]
    [(*_, status, attempts)] = deliveries(pg_state_url)
    assert (status, attempts) == ("sent", 2)


def test_a_sender_paused_between_its_last_check_and_the_share_withdraws_its_late_charts(
    tmp_path, demo_database, slack_server, servers, pg_state_url
):
    """Frozen as its files.completeUploadExternal reaches Slack (it proved its claim just before), the
    share held until the peer has taken over and finished: the late share lands after the holder's
    clean-up, so the first process, proving its claim after its last post, finds it gone and deletes
    its own copies of the charts (the holder's are older). Each chart stays once in the thread."""
    slack = slack_server.fake
    write_config(tmp_path, demo_database, state_url=pg_state_url, serve='tick = "1s"\nlease = "5s"')
    env = environment(slack_server)
    frozen = Serve(tmp_path, env, name="frozen")
    servers.append(frozen)
    slack.stop_on_share = frozen.process.pid
    wait_for(lambda: slack.stop_on_share is None, 60)
    frozen_uploads = set(slack.files)
    try:
        peer = Serve(tmp_path, env, name="peer")
        servers.append(peer)
        peer.started()
        wait_until_sent(pg_state_url, "slack:#kpis", timeout=90)
        peer_charts = {id for id, f in slack.files.items() if f.get("completed")}
        assert len(peer_charts) == 2 and not peer_charts & frozen_uploads
    finally:
        frozen.process.send_signal(signal.SIGCONT)
        slack.release_share.set()
    frozen.wait_for(r"stopped: digest weekly 2026-W47 to slack:#kpis: the claim was taken over", 60)
    assert peer.stop() == 0 and frozen.stop() == 0
    assert {id for id, f in slack.deleted_files.items() if f.get("completed")} == frozen_uploads
    shared = slack.shared_files(SLACK_KPIS)
    assert {id for id, f in slack.files.items() if f.get("completed")} == peer_charts
    assert len({f["title"] for f in shared}) == len(shared) == 2
    assert kpicore_parts(slack) == [(KEY, 1)]
    assert frozen.text().count("withdrew 2 late copies") == 1
