"""The email channel end to end against aiosmtpd on loopback."""

from __future__ import annotations

import email
import re
from email import policy

import pytest

from kpicore.channels import EmailChannel, default_channels
from kpicore.channels.email import parse_recipients
from kpicore.delivery import MessageKey, deliver
from kpicore.delivery.ledger import list_deliveries
from kpicore.digest import render
from kpicore.digest.message import OutgoingDigest
from kpicore.errors import ConfigError, DeliveryError
from tests.digest_data import PERIOD, sample_results, sample_spec
from tests.test_digest_render import PNG_SIGNATURE, hostile_results

KEY = MessageKey("digest", "weekly", PERIOD)


def outgoing(results=None, spec=None) -> OutgoingDigest:
    results = sample_results() if results is None else results
    spec = spec or sample_spec()
    return OutgoingDigest(
        spec=spec,
        period_label=PERIOD,
        renderings=lambda fmt: render(spec, results, fmt, period_label=PERIOD, currency="EUR"),
    )


def check_structure(raw: bytes):
    """Parse a received email and check its MIME structure; returns (message, text, html, images)."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    plain, related = message.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, *image_parts = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    images = {part["Content-ID"].strip("<>"): part.get_payload(decode=True) for part in image_parts}
    assert all(part.get_content_type() == "image/png" for part in image_parts)
    referenced = re.findall(r'src(?:set)?="cid:([^"]+)"', html)  # the <img> and the phone's <source>
    assert referenced and sorted(referenced) == sorted(images), "every cid: needs exactly one image part"
    assert all(png.startswith(PNG_SIGNATURE) for png in images.values())
    return message, plain.get_content(), html, images


def test_one_email_to_all_recipients(smtp_server):
    delivery = EmailChannel().send(outgoing(), "owner@example.com, ops@example.com", smtp_server.settings())
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["owner@example.com", "ops@example.com"]
    assert received.mail_from == "reports@example.com"
    message, text, html, images = check_structure(received.content)
    assert message["Subject"] == "Weekly KPIs — 2026-W47"
    assert message["To"] == "owner@example.com, ops@example.com"
    assert message["Message-ID"].strip() == delivery.message_ids[0]
    assert "Revenue: €48,210.50" in text and "▲ +6.8% vs €45,120.00 (✓ better)" in text
    assert "<h1" in html and "Weekly KPIs" in html
    assert len(images) == 8  # four charts, each wide and for a phone


def test_hostile_data_is_not_html(smtp_server):
    EmailChannel().send(outgoing(hostile_results()), "owner@example.com", smtp_server.settings())
    message = email.message_from_bytes(smtp_server.messages[0].content, policy=policy.default)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_refused_recipient_sends_nothing(smtp_server, engine):
    smtp_server.handler.refuse.add("gone@example.com")
    with pytest.raises(DeliveryError) as caught:
        EmailChannel().send(outgoing(), "owner@example.com,gone@example.com", smtp_server.settings())
    message = str(caught.value)
    assert "email:owner@example.com,gone@example.com" in message and "gone@example.com: 550" in message
    assert smtp_server.messages == []


def test_refused_recipient_is_recorded_and_others_delivered(smtp_server, engine):
    smtp_server.handler.refuse.add("gone@example.com")
    destinations = ["email:gone@example.com", "email:owner@example.com"]
    spec = sample_spec(destinations=destinations)
    channels = {c.scheme: c for c in default_channels()}
    outcomes = deliver(
        KEY, destinations, outgoing(spec=spec), engine, channels, {"email": smtp_server.settings()}
    )
    assert [o.status for o in outcomes] == ["failed", "sent"]
    rows = {r.destination: r for r in list_deliveries(engine)}
    assert "550" in rows["email:gone@example.com"].last_error
    assert [m.rcpt_tos for m in smtp_server.messages] == [["owner@example.com"]]


def test_starttls_with_login(starttls_server, monkeypatch):
    monkeypatch.setenv("KPI_SMTP_PASSWORD", "s3cret")
    settings = starttls_server.settings(
        security="starttls", username="reports", ca_file=str(starttls_server.cert)
    )
    EmailChannel().send(outgoing(), "owner@example.com", settings)
    [received] = starttls_server.messages
    check_structure(received.content)


def test_starttls_wrong_password(starttls_server, monkeypatch):
    monkeypatch.setenv("KPI_SMTP_PASSWORD", "wrong-password-value")
    settings = starttls_server.settings(
        security="starttls", username="reports", ca_file=str(starttls_server.cert)
    )
    with pytest.raises(DeliveryError) as caught:
        EmailChannel().send(outgoing(), "owner@example.com", settings)
    assert "KPI_SMTP_PASSWORD" in str(caught.value) and "wrong-password-value" not in str(caught.value)


def test_username_without_password(smtp_server, monkeypatch):
    monkeypatch.delenv("KPI_SMTP_PASSWORD", raising=False)
    with pytest.raises(DeliveryError, match="KPI_SMTP_PASSWORD"):
        EmailChannel().send(outgoing(), "owner@example.com", smtp_server.settings(username="reports"))


def test_unreachable_server():
    from tests.conftest import free_port

    settings = {"host": "127.0.0.1", "port": free_port(), "security": "none", "sender": "r@example.com"}
    with pytest.raises(DeliveryError, match=r"email:owner@example\.com"):
        EmailChannel().send(outgoing(), "owner@example.com", settings)


def test_recipients_parsing():
    assert parse_recipients("a@x.com, Bob <b@y.com>,") == ["a@x.com", "b@y.com"]
    with pytest.raises(ConfigError, match="not an email address"):
        parse_recipients("a@x.com,nobody")
    with pytest.raises(ConfigError, match="no recipients"):
        parse_recipients(" , ")


def test_implicit_tls(smtps_server):
    settings = smtps_server.settings(security="ssl", ca_file=str(smtps_server.cert))
    EmailChannel().send(outgoing(), "owner@example.com", settings)
    [received] = smtps_server.messages
    check_structure(received.content)


def test_untrusted_certificate_is_refused(smtps_server):
    with pytest.raises(DeliveryError, match=r"email:owner@example\.com"):
        EmailChannel().send(outgoing(), "owner@example.com", smtps_server.settings(security="ssl"))
    assert smtps_server.messages == []
