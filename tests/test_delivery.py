"""The delivery ledger, deliver(), destination URIs, and the file and stdout channels."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import update

from kpicore.channels import (
    CHANNELS,
    Channel,
    Delivery,
    FileChannel,
    StdoutChannel,
    default_channels,
    parse_destination,
)
from kpicore.delivery import MessageKey, deliver, ledger
from kpicore.digest import render
from kpicore.digest.message import OutgoingDigest
from kpicore.errors import ConfigError
from tests.digest_data import PERIOD, sample_results, sample_spec

KEY = MessageKey("digest", "weekly", PERIOD)


def outgoing(spec=None) -> OutgoingDigest:
    spec = spec or sample_spec()
    return OutgoingDigest(
        spec=spec,
        period_label=PERIOD,
        renderings=lambda fmt: render(spec, sample_results(), fmt, period_label=PERIOD),
    )


class Recorder(Channel):
    """A channel that records sends, or raises what it is told to."""

    scheme = "rec"
    description = "records"

    def __init__(self, error: Exception | None = None):
        self.sent: list[str] = []
        self.error = error

    def send(self, message, target, settings):
        if self.error is not None:
            raise self.error
        self.sent.append(target)
        return Delivery(message_ids=[f"id-{target}-{len(self.sent)}"])


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("slack:#kpis", ("slack", "#kpis")),
        ("slack:C0123ABC", ("slack", "C0123ABC")),
        ("email:a@x.com,b@y.com", ("email", "a@x.com,b@y.com")),
        ("file:./digests", ("file", "./digests")),
        ("file:///tmp/digests", ("file", "/tmp/digests")),
        ("stdout:", ("stdout", "")),
    ],
)
def test_parse_destination(uri, expected):
    assert parse_destination(uri) == expected


@pytest.mark.parametrize("uri", ["", "   ", "#kpis", "owner@example.com", "Slack #kpis"])
def test_parse_destination_rejects(uri):
    with pytest.raises(ConfigError, match="Destination"):
        parse_destination(uri)


def test_builtin_channels():
    assert [c.scheme for c in CHANNELS] == ["slack", "email", "file", "stdout"]
    assert all(c.description for c in CHANNELS)


def test_claim_lifecycle(engine):
    key = (KEY, "slack:#kpis")
    assert ledger.claim(engine, *key).claimed
    second = ledger.claim(engine, *key)
    assert not second.claimed and second.status == "pending"
    ledger.mark_failed(engine, *key, "boom")
    again = ledger.claim(engine, *key)
    assert again.claimed and again.attempts == 2
    ledger.mark_sent(engine, *key, ["C1:1.2"])
    done = ledger.claim(engine, *key)
    assert not done.claimed and done.status == "sent"
    assert ledger.claim(engine, *key, force=True).claimed
    [row] = ledger.list_deliveries(engine)
    assert (row.status, row.attempts, row.last_error) == ("pending", 3, None)


def test_only_one_of_many_concurrent_claims_wins(engine):
    results = []
    barrier = threading.Barrier(8)

    def contender():
        barrier.wait()
        results.append(ledger.claim(engine, KEY, "email:a@x.com").claimed)

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_interrupted_send_is_unknown_and_never_resent_without_force(engine):
    """A claim that lapsed while ``sending`` (the message handed over, its answer never recorded) is
    unknown: never resent without a person or --force."""
    recorder = Recorder()
    spec = sample_spec(destinations=["rec:x"])
    ledger.claim(engine, KEY, "rec:x")  # a process claimed it, began handing it over, then died
    assert ledger.mark_sending(engine, KEY, "rec:x")
    table = ledger.deliveries_table(ledger._table().metadata)
    with engine.begin() as connection:
        connection.execute(
            update(table).values(lease_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    [row] = ledger.list_deliveries(engine)
    assert row.status == "unknown"
    assert [r.destination for r in ledger.unknown_deliveries(engine)] == ["rec:x"]
    [outcome] = deliver(KEY, ["rec:x"], outgoing(spec), engine, {"rec": recorder})
    assert outcome.status == "skipped" and outcome.previous_status == "unknown"
    assert "--force" in outcome.message and recorder.sent == []
    [forced] = deliver(KEY, ["rec:x"], outgoing(spec), engine, {"rec": recorder}, force=True)
    assert forced.status == "sent" and recorder.sent == ["x"]


def test_deliver_isolates_failures(engine):
    good = Recorder()
    channels = {
        "rec": good,
        "bad": Recorder(RuntimeError("plugin bug")),
        "cfg": Recorder(ConfigError("no host")),
    }
    destinations = ["bad:1", "nope:1", "not a uri", "cfg:1", "rec:1"]
    outcomes = deliver(KEY, destinations, outgoing(), engine, channels)
    assert [o.status for o in outcomes] == ["failed", "failed", "failed", "failed", "sent"]
    assert "RuntimeError: plugin bug" in outcomes[0].error
    assert "no channel plugin handles 'nope'" in outcomes[1].error and "'weekly'" in outcomes[1].error
    assert outcomes[3].error == "no host"
    assert good.sent == ["1"] and outcomes[4].message_ids == ["id-1-1"]
    rows = {r.destination: r for r in ledger.list_deliveries(engine, digest="weekly", period=PERIOD)}
    assert set(rows) == {"bad:1", "cfg:1", "rec:1"}  # invalid URIs never reach the ledger
    assert rows["rec:1"].message_ids == ["id-1-1"] and rows["bad:1"].status == "failed"


def test_file_channel_writes_every_format(tmp_path):
    target = tmp_path / "digests"
    delivery = FileChannel().send(outgoing(), str(target), {})
    names = sorted(p.name for p in target.iterdir())
    stem = f"weekly-{PERIOD}"
    assert [n for n in names if not n.endswith(".png")] == sorted(
        [f"{stem}.html", f"{stem}.slack.json", f"{stem}.txt", f"{stem}.md"]
    )
    html = (target / f"{stem}.html").read_text()
    assert "cid:" not in html and f'src="{stem}-chart-revenue.png"' in html
    assert (target / f"{stem}-chart-revenue.png").read_bytes().startswith(b"\x89PNG")
    document = json.loads((target / f"{stem}.slack.json").read_text())
    assert (document["generator"], document["digest"], document["period"]) == ("kpicore", "weekly", PERIOD)
    assert document["messages"][0]["blocks"][0]["type"] == "header"
    assert len(delivery.message_ids) == 4


def test_stdout_channel_prints_text(capsys, engine):
    spec = sample_spec(destinations=["stdout:"])
    [outcome] = deliver(KEY, ["stdout:"], outgoing(spec), engine, {c.scheme: c for c in default_channels()})
    assert outcome.status == "sent"
    assert capsys.readouterr().out.startswith("Weekly KPIs — 2026-W47")
    assert StdoutChannel.formats == ("text",)


def test_outgoing_renders_each_format_once():
    calls = []
    spec = sample_spec()

    def renderer(fmt):
        calls.append(fmt)
        return render(spec, sample_results(), fmt, period_label=PERIOD, charts=False)

    message = OutgoingDigest(spec=spec, period_label=PERIOD, renderings=renderer)
    message.rendered("text"), message.rendered("text"), message.rendered("md")
    assert calls == ["text", "md"]
    with pytest.raises(ConfigError, match="not rendered as 'html'"):
        OutgoingDigest(spec=spec, period_label=PERIOD, renderings={}).rendered("html")
