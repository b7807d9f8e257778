"""`kpi digest list|render|send|deliveries` end to end: kpi.toml in tmp_path, the demo database as the
source, the fake Slack and the aiosmtpd server as destinations."""

from __future__ import annotations

import email
import json
from email import policy

import pytest

SLACK_KPIS = "C0KPIS0001"
SLACK_OPS = "C0OPS00002"


def write_config(
    tmp_path, demo_database, smtp_server=None, *, digest_extra="", destinations=None, metrics=None
):
    destinations = destinations or [
        "slack:#kpis",
        "email:owner@example.com,ops@example.com",
        "file:./digests",
    ]
    metrics = metrics or ["revenue", "new_customers", "nps", "csat"]
    email_table = ""
    if smtp_server is not None:
        email_table = (
            f'[email]\nhost = "{smtp_server.host}"\nport = {smtp_server.port}\nsecurity = "none"\n'
            'sender = "KPI bot <reports@example.com>"\n'
        )
    (tmp_path / "kpi.toml").write_text(
        f"""
timezone = "UTC"
currency = "USD"

[source]
url = "{demo_database}"

{email_table}
[slack]
retry_backoff = 0.01
max_retries = 1

[digests.weekly]
title = "Weekly KPIs"
metrics = {json.dumps(metrics)}
breakdowns = {{ nps = "region" }}
period = "2026-W47"
trend = 6
schedule = "0 9 * * MON"
destinations = {json.dumps(destinations)}
{digest_extra}
""",
        encoding="utf-8",
    )


@pytest.fixture
def configured(tmp_path, demo_database, smtp_server, slack):
    write_config(tmp_path, demo_database, smtp_server)
    return tmp_path


def lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


def test_send_delivers_everywhere_and_never_twice(run_kpi, configured, slack, smtp_server):
    code, out, err = run_kpi("digest", "send", "weekly")
    assert code == 0, err
    assert lines(out) == [
        "slack:#kpis: sent",
        "email:owner@example.com,ops@example.com: sent",
        "file:./digests: sent",
    ]
    assert "Digest weekly for 2026-W47" in err
    # Slack: the Block Kit message, with the nps breakdown by region, and the charts uploaded.
    (posted,) = slack.posted_to(SLACK_KPIS)
    text = json.dumps(posted["blocks"], ensure_ascii=False)
    assert "Net Promoter Score" in text and "By region" in text and "North" in text
    assert [f for f in slack.files.values() if f.get("completed")]
    # Email: one message to both recipients, HTML referencing its charts by Content-ID.
    (received,) = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["ops@example.com", "owner@example.com"]
    message = email.message_from_bytes(received.content, policy=policy.default)
    assert message["Subject"] == "Weekly KPIs — 2026-W47"
    html = message.get_body(("html",)).get_content()
    assert "cid:chart-revenue@kpicore" in html
    # File: relative to kpi.toml's folder.
    assert (configured / "digests" / "weekly-2026-W47.html").is_file()

    code, out, _ = run_kpi("digest", "send", "weekly")
    assert code == 0
    assert all("skipped, already sent for this period (use --force to resend)" in line for line in lines(out))
    assert len(slack.posted_to(SLACK_KPIS)) == 1 and len(smtp_server.messages) == 1

    code, out, _ = run_kpi("digest", "send", "weekly", "--force")
    assert code == 0 and lines(out)[0] == "slack:#kpis: sent"
    assert len(slack.posted_to(SLACK_KPIS)) == 2 and len(smtp_server.messages) == 2


def test_failed_destination_does_not_stop_others_and_is_retried_alone(
    run_kpi, tmp_path, demo_database, smtp_server, slack
):
    write_config(
        tmp_path,
        demo_database,
        smtp_server,
        destinations=["slack:#ops", "slack:#kpis", "email:owner@example.com,refused@example.com"],
    )
    slack.fail_channels.add(SLACK_OPS)
    smtp_server.handler.refuse.add("refused@example.com")
    code, out, err = run_kpi("digest", "send", "weekly")
    assert code == 1
    result = lines(out)
    assert result[0].startswith("slack:#ops: failed: ") and "internal_error" in result[0]
    assert result[1] == "slack:#kpis: sent"
    assert result[2].startswith("email:owner@example.com,refused@example.com: failed: ")
    assert "refused@example.com" in result[2]
    assert not smtp_server.messages  # all or nothing: no email to only part of a destination

    code, out, _ = run_kpi("digest", "deliveries", "weekly")
    assert code == 0
    assert lines(out)[0].split()[:5] == ["KIND", "NAME", "PERIOD", "SEGMENT", "DESTINATION"]
    rows = {line.split()[4]: line for line in lines(out)[1:]}
    assert rows["slack:#ops"].split()[:4] == ["digest", "weekly", "2026-W47", "-"]
    assert rows["slack:#ops"].split()[5:7] == ["failed", "1"] and "internal_error" in rows["slack:#ops"]
    assert rows["slack:#kpis"].split()[5:7] == ["sent", "1"]

    slack.fail_channels.clear()
    smtp_server.handler.refuse.clear()
    code, out, err = run_kpi("digest", "send", "weekly")
    assert code == 0, out + err
    assert lines(out) == [
        "slack:#ops: sent",
        "slack:#kpis: skipped, already sent for this period (use --force to resend)",
        "email:owner@example.com,refused@example.com: sent",
    ]
    assert len(slack.posted_to(SLACK_KPIS)) == 1 and len(slack.posted_to(SLACK_OPS)) == 1
    assert len(smtp_server.messages) == 1

    code, out, _ = run_kpi("digest", "list")
    assert code == 0
    assert "slack:#ops" in out and "sent 2026-W47" in out


def test_invalid_token_fails_slack_only(run_kpi, configured, slack, smtp_server):
    code, out, err = run_kpi("digest", "send", "weekly", env={"SLACK_BOT_TOKEN": "xoxb-wrong-secret"})
    assert code == 1
    result = lines(out)
    assert result[0].startswith("slack:#kpis: failed:") and "invalid_auth" in result[0]
    assert "SLACK_BOT_TOKEN" in result[0] and "xoxb-wrong-secret" not in out + err
    assert result[1].endswith(": sent") and result[2].endswith(": sent")
    assert len(smtp_server.messages) == 1


def test_dry_run_sends_nothing(run_kpi, configured, slack, smtp_server):
    code, out, err = run_kpi("digest", "send", "weekly", "--dry-run")
    assert code == 0, err
    assert lines(out)[0] == "slack:#kpis: would send (slack)"
    assert not slack.messages and not smtp_server.messages
    assert not (configured / "digests").exists()
    code, out, _ = run_kpi("digest", "deliveries")
    assert out.strip() == "No deliveries recorded."


@pytest.mark.parametrize("fmt", ["text", "md", "html", "slack"])
def test_render_formats(run_kpi, configured, fmt):
    code, out, err = run_kpi("digest", "render", "weekly", "--format", fmt)
    assert code == 0, err
    assert "Net Promoter Score" in out
    if fmt == "slack":
        # One shape for every Slack document: render, the file: channel and kpi demo.
        document = json.loads(out)
        assert sorted(document) == ["digest", "generator", "messages", "period"]
        assert document["digest"] == "weekly" and document["period"] == "2026-W47"
        assert document["messages"][0]["blocks"][0]["type"] == "header"
    if fmt == "html":
        assert "cid:" not in out and "data:image/png;base64," in out  # self-contained


def test_render_out_file_and_period_override(run_kpi, configured):
    code, _, err = run_kpi(
        "digest", "render", "weekly", "--format", "html", "--period", "2026-W46", "--out", "w.html"
    )
    assert code == 0, err
    html = (configured / "w.html").read_text(encoding="utf-8").replace("\u2060", "")  # word joiners
    assert "2026-W46" in html and "data:image/png;base64," in html


def test_list_shows_definitions(run_kpi, configured):
    code, out, err = run_kpi("digest", "list")
    assert code == 0, err
    assert "weekly: Weekly KPIs" in out
    assert "nps (by region)" in out
    assert "0 9 * * MON" in out
    assert "slack:#kpis" in out and "never sent" in out
    assert not (configured / "kpi-state.db").exists()  # listing creates nothing


def test_unknown_digest_lists_the_defined_ones(run_kpi, configured):
    for command in ("send", "render"):
        code, _, err = run_kpi("digest", command, "wekly")
        assert code == 2
        assert "unknown digest 'wekly' (did you mean weekly?)" in err and "defines weekly" in err
        assert "Traceback" not in err


def test_unknown_metric_in_a_digest(run_kpi, tmp_path, demo_database):
    write_config(tmp_path, demo_database, metrics=["revenue", "csta"])
    code, _, err = run_kpi("digest", "send", "weekly")
    assert code == 2
    assert (
        err.strip()
        == "Error: kpi.toml: [digests.weekly].metrics: unknown metric 'csta' (did you mean csat, cac?)"
    )
    code, out, _ = run_kpi("digest", "list")
    assert code == 2 and "weekly: ERROR" in out and "csta" in out


def test_no_digests(run_kpi, tmp_path):
    (tmp_path / "kpi.toml").write_text('timezone = "UTC"\n', encoding="utf-8")
    code, out, _ = run_kpi("digest", "list")
    assert code == 0 and "No digests defined" in out
    code, _, err = run_kpi("digest", "send", "weekly")
    assert code == 2 and "defines no digests" in err


def test_demo_writes_the_digest_and_respects_foreign_files(run_kpi, tmp_path):
    (tmp_path / "digest.txt").write_text("my own notes\n", encoding="utf-8")
    code, out, err = run_kpi("demo")
    assert code == 0, err
    assert "Weekly KPIs — " in out and "by region:" in out  # the text version, printed
    assert (tmp_path / "digest.txt").read_text(encoding="utf-8") == "my own notes\n"
    assert "digest.txt exists and was not written by kpi demo" in err
    html = (tmp_path / "digest.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "written by `kpi demo`" in html
    assert "data:image/png;base64," in html
    slack_json = json.loads((tmp_path / "digest.slack.json").read_text(encoding="utf-8"))
    assert sorted(slack_json) == ["digest", "generator", "messages", "period"]
    assert "written by `kpi demo`" in slack_json["generator"]
    assert slack_json["messages"][0]["blocks"][0]["type"] == "header"
    # Ours are overwritten on the next run; the kpi.toml it wrote defines a valid digest.
    (tmp_path / "digest.txt").unlink()
    code, _, err = run_kpi("demo")
    assert code == 0 and "written by `kpi demo`" in (tmp_path / "digest.txt").read_text(encoding="utf-8")
    code, out, _ = run_kpi("digest", "list")
    assert code == 0 and "weekly: Weekly KPIs" in out and "file:./digests" in out


def test_deliveries_of_an_unknown_digest(run_kpi, configured):
    code, _, err = run_kpi("digest", "deliveries", "monthly")
    assert code == 2 and "unknown digest 'monthly'" in err and "defines weekly" in err


def test_template_override_and_jinja_hook(run_kpi, tmp_path, demo_database):
    """A user template (by name, from templates_dir) using a filter a plugin adds through
    prepare_jinja2_environment."""
    from kpicore import hookimpl
    from kpicore.plugins import load_plugins

    class ShoutPlugin:
        @hookimpl
        def prepare_jinja2_environment(self, env, config):
            env.filters["shout"] = lambda text: f"{text.upper()}! ({config.currency})"

    loaded = load_plugins()
    plugin = ShoutPlugin()
    loaded.manager.register(plugin, name="shout")
    try:
        write_config(tmp_path, demo_database, digest_extra='template = "loud"')
        text = (tmp_path / "kpi.toml").read_text(encoding="utf-8")
        (tmp_path / "kpi.toml").write_text('templates_dir = "tpl"\n' + text, encoding="utf-8")
        (tmp_path / "tpl").mkdir()
        (tmp_path / "tpl" / "loud.txt.j2").write_text(
            "{{ title|shout }}\n{% for m in metrics %}{{ m.metric }}={{ m.value }}\n{% endfor %}",
            encoding="utf-8",
        )
        code, out, err = run_kpi("digest", "render", "weekly")
        assert code == 0, err
        assert out.splitlines()[0] == "WEEKLY KPIS! (USD)"
        assert out.splitlines()[1].startswith("revenue=$")
        code, _, err = run_kpi("digest", "render", "weekly", "--format", "md")
        assert code == 2 and "template 'loud.md.j2' not found" in err
    finally:
        loaded.manager.unregister(plugin)


def test_every_digest_command_has_help_and_docs(run_kpi):
    from pathlib import Path

    from kpicore.cli.digest import digest_group

    docs = (Path(__file__).resolve().parent.parent / "docs" / "digests.md").read_text(encoding="utf-8")
    for name, command in digest_group.commands.items():
        assert command.help, f"kpi digest {name} has no help text"
        code, out, _ = run_kpi("digest", name, "--help")
        assert code == 0 and "Usage:" in out
        assert f"kpi digest {name}" in docs, f"docs/digests.md does not show kpi digest {name}"


def test_digest_deliveries_lists_digests_only_and_alerts_have_their_own(run_kpi, configured, slack):
    """An alert named like a digest is listed by `kpi alerts deliveries`, not `kpi digest deliveries`."""
    from kpicore.channels import default_channels
    from kpicore.config import load_config
    from kpicore.delivery import Message, MessageKey, deliver
    from kpicore.delivery.store import ledger_engine

    code, _, err = run_kpi("digest", "send", "weekly")
    assert code == 0, err
    key = MessageKey("alert", "weekly", "2026-W47", "region=East")
    channels = {channel.scheme: channel for channel in default_channels()}
    engine = ledger_engine(load_config(configured / "kpi.toml"))
    (outcome,) = deliver(key, ["stdout:"], Message.plain(key, "Alert", "weekly fired"), engine, channels)
    assert outcome.status == "sent"

    code, out, _ = run_kpi("digest", "deliveries", "weekly")
    assert code == 0
    kinds = {line.split()[0] for line in lines(out)[1:]}
    assert kinds == {"digest"}, out
    code, out, _ = run_kpi("alerts", "deliveries", "weekly")
    assert code == 0
    assert [line.split()[:6] for line in lines(out)[1:]] == [
        ["alert", "weekly", "2026-W47", "region=East", "stdout:", "sent"]
    ], out
