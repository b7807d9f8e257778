"""The delivery core: claim before compute, compute failures in the ledger (secrets redacted), leases,
channels that read their own settings, and what `kpi check` says about delivery settings."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from kpicore.channels import Channel, Delivery
from kpicore.config import parse_config
from kpicore.delivery import Message, MessageKey, deliver, ledger, redact
from kpicore.delivery.check import channel_setting_problems
from kpicore.delivery.destinations import channel_settings
from kpicore.errors import SourceError
from kpicore.hookspecs import hookimpl
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry

KEY = MessageKey("digest", "weekly", "2026-W47")


class Recorder(Channel):
    scheme = "rec"
    description = "records"

    def __init__(self):
        self.sent: list[str] = []

    def send(self, message, target, settings):
        self.sent.append(target)
        return Delivery(message_ids=[f"{target}-{len(self.sent)}"])


def message() -> Message:
    return Message(key=KEY, title="Weekly", renderings={})


def test_nothing_due_means_nothing_computed(engine):
    """A peer holds the claim: this process neither computes nor sends."""
    computed = []
    assert ledger.claim(engine, KEY, "rec:a", owner="peer").claimed
    recorder = Recorder()
    [outcome] = deliver(KEY, ["rec:a"], lambda: computed.append(1) or message(), engine, {"rec": recorder})
    assert (outcome.status, outcome.previous_status) == ("skipped", "pending")
    assert computed == [] and recorder.sent == []


def test_compute_runs_once_for_the_due_destinations(engine):
    computed = []
    recorder = Recorder()
    deliver(KEY, ["rec:a"], message(), engine, {"rec": recorder})
    outcomes = deliver(
        KEY, ["rec:a", "rec:b"], lambda: computed.append(1) or message(), engine, {"rec": recorder}
    )
    assert [o.status for o in outcomes] == ["skipped", "sent"] and computed == [1]
    assert recorder.sent == ["a", "b"]


def test_compute_failure_is_recorded_against_the_due_destinations_with_secrets_redacted(engine, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-token-123")

    def broken():
        raise SourceError("source postgresql://kpi:hunter2@db/shop refused; token xoxb-secret-token-123")

    recorder = Recorder()
    deliver(KEY, ["rec:done"], message(), engine, {"rec": recorder})
    with pytest.raises(SourceError):
        deliver(KEY, ["rec:done", "rec:a"], broken, engine, {"rec": recorder})
    rows = {row.destination: row for row in ledger.list_deliveries(engine)}
    assert rows["rec:done"].status == "sent"
    assert rows["rec:a"].status == "failed" and rows["rec:a"].last_error.startswith("compute failed: ")
    assert "hunter2" not in rows["rec:a"].last_error and "secret-token" not in rows["rec:a"].last_error
    assert "postgresql://kpi:***@db/shop" in rows["rec:a"].last_error
    # The failed destination is due again: the next run computes and sends it.
    assert [o.status for o in deliver(KEY, ["rec:done", "rec:a"], message(), engine, {"rec": recorder})] == [
        "skipped",
        "sent",
    ]


def test_redact_masks_environment_secrets_url_passwords_and_slack_tokens(monkeypatch):
    monkeypatch.setenv("KPI_SMTP_PASSWORD", "pa55word")
    text = redact("login pa55word failed for mysql://u:p%40ss@h/db with xoxp-1-abc")
    assert text == "login *** failed for mysql://u:***@h/db with xox?-***"


def _eventually(read, wanted, timeout: float = 10.0) -> bool:
    """Whether ``read()`` gives ``wanted`` within ``timeout`` (the ledger's state, polled)."""
    deadline = time.monotonic() + timeout
    while read() != wanted:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_dead_claim_lapses_once_its_lease_runs_out_and_a_live_one_is_renewed(engine):
    short = dt.timedelta(seconds=0.3)
    assert ledger.claim(engine, KEY, "rec:a", owner="dead", lease=short).claimed
    assert ledger.list_deliveries(engine)[0].status == "pending"
    # Nothing was handed over (no `sending`): once the lease runs out the claim shows lapsed, and the
    # next sender takes it over.
    assert _eventually(lambda: ledger.list_deliveries(engine)[0].status, "lapsed")
    assert ledger.unknown_deliveries(engine) == []
    ticket = ledger.claim(engine, KEY, "rec:a", take_over_dead=True, owner="alive", lease=short)
    assert ticket.claimed and ticket.resumed
    assert not ledger.claim(engine, KEY, "rec:a", take_over_dead=True, owner="third").claimed
    assert not ledger.mark_sending(engine, KEY, "rec:a", owner="dead")  # the claim is no longer its
    for _ in range(3):
        time.sleep(0.2)
        assert ledger.renew(engine, [(KEY, "rec:a")], owner="alive", lease=short) == 1
    assert ledger.renew(engine, [(KEY, "rec:a")], owner="dead", lease=short) == 0
    assert ledger.list_deliveries(engine)[0].status == "pending"


def test_the_lease_keeper_renews_while_a_slow_compute_runs(engine):
    short = dt.timedelta(seconds=0.3)
    seen = []

    def slow():
        time.sleep(0.8)
        seen.append(ledger.list_deliveries(engine)[0].status)
        return message()

    deliver(KEY, ["rec:a"], slow, engine, {"rec": Recorder()}, lease=short)
    assert seen == ["pending"]  # not unknown: the living sender kept renewing


class Pigeon(Channel):
    scheme = "pigeon"
    description = "carrier pigeon"
    setting_keys = ("loft",)


class PigeonPlugin:
    @hookimpl
    def register_channels(self, register):
        register(Pigeon())


def pigeon_registry():
    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(PigeonPlugin(), name="pigeons")
    return build_registry(loaded)


def test_channels_read_their_own_settings_tables(tmp_path):
    config = parse_config(
        {
            "email": {"host": "smtp.example.com"},
            "slack": {"charts": "off"},
            "channels": {"pigeon": {"loft": "roof"}},
        },
        tmp_path / "kpi.toml",
    )
    settings = channel_settings(config, pigeon_registry())
    assert settings["email"] == {"host": "smtp.example.com"} and settings["slack"] == {"charts": "off"}
    assert settings["pigeon"] == {"loft": "roof"} and settings["file"] == {"base_dir": str(tmp_path)}


def test_unknown_channel_setting_keys_are_named_with_the_closest_one(tmp_path):
    config = parse_config(
        {
            "email": {"smtp_host": "x", "securty": "ssl"},
            "slack": {"chart": "off"},
            "channels": {"pigeon": {"lofts": 1}, "owl": {}},
        },
        tmp_path / "kpi.toml",
    )
    problems = channel_setting_problems(config, pigeon_registry())
    assert len(problems) == 4
    assert problems[0].endswith("kpi.toml: [email]: unknown key 'smtp_host' (did you mean 'host'?)")
    assert "[channels.pigeon]: unknown key 'lofts' (did you mean 'loft'?)" in problems[1]
    assert "[slack]: unknown key 'chart' (did you mean 'charts'?)" in problems[2]
    assert "[channels.owl]: no channel plugin handles 'owl:'" in problems[3]


@pytest.mark.parametrize(
    "digest, expected",
    [
        ({"destinations": ["slak:#kpis"]}, "'slak:#kpis': no channel handles 'slak:' (did you mean slack:?)"),
        ({"schedule": "0 9 * *"}, "schedule: '0 9 * *' has 4 field(s): a cron schedule has 5"),
        ({"destinations": ["email:not-an-address"]}, "'not-an-address' is not an email address"),
    ],
)
def test_kpi_check_rejects_bad_delivery_settings(run_kpi, demo_database, tmp_path, digest, expected):
    import tomllib  # noqa: F401 - the file below must be valid TOML

    lines = [
        f'[source]\nurl = "{demo_database}"\n[email]\nsmtp_host = "x"\n[digests.weekly]\nmetrics = ["revenue"]'
    ]
    for key, value in digest.items():
        lines.append(f"{key} = {value!r}".replace("'", '"'))
    (tmp_path / "kpi.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run_kpi("check")
    assert code == 2, out
    assert "[email]: unknown key 'smtp_host'" in err
    assert expected in err


def test_a_lapsed_claim_is_sent_by_the_next_sender_and_a_lapsed_sending_one_stays_unknown(engine):
    """Without a lookup, the `sending` rule: sent by whoever takes over unless the hand-over began."""
    short = dt.timedelta(seconds=0.2)
    recorder = Recorder()
    assert ledger.claim(engine, KEY, "rec:a", owner="dead", lease=short).claimed
    assert ledger.claim(engine, KEY, "rec:b", owner="dead", lease=short).claimed
    assert ledger.mark_sending(engine, KEY, "rec:b", owner="dead")
    assert _eventually(lambda: {r.status for r in ledger.list_deliveries(engine)}, {"lapsed", "unknown"})
    lapsed, unknown = deliver(KEY, ["rec:a", "rec:b"], message(), engine, {"rec": recorder})
    assert lapsed.status == "sent" and recorder.sent == ["a"]
    assert unknown.status == "skipped" and unknown.previous_status == "unknown"
    rows = {row.destination: row.status for row in ledger.list_deliveries(engine)}
    assert rows == {"rec:a": "sent", "rec:b": "unknown"}
    assert ledger.settle_unknown(engine, KEY, "rec:a", arrived=True) == "sent"  # only unknown is settled
    assert ledger.settle_unknown(engine, KEY, "rec:b", arrived=False) == "unknown"
    [row] = [row for row in ledger.list_deliveries(engine) if row.destination == "rec:b"]
    assert row.status == "failed" and "resend requested by a person" in row.last_error
