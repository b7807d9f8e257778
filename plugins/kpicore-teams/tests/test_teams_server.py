"""The loopback Workflows webhook behaves as Microsoft documents: 202 before the flow runs, the flow
posts only valid Adaptive Cards 1.5 within 28 KB into a channel that is not private; the outgoing
webhook's HMAC is SHA-256 of the body with the base64-decoded key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.error
import urllib.request

from kpicore_teams import card
from teams_server import card_problems, sign


def post(url: str, document) -> int:
    body = document if isinstance(document, bytes) else json.dumps(document, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def a_card(*texts: str, **options):
    return card.payload(card.card([card.rich(card.run(text)) for text in texts], **options))


def test_a_valid_card_is_accepted_with_202_and_posted(workflows):
    url = workflows.fake.add_flow("Sales")
    assert post(url, a_card("hello", rtl=True)) == 202
    assert [p["card"]["body"][0]["inlines"][0]["text"] for p in workflows.fake.posts("Sales")] == ["hello"]
    assert workflows.fake.failed_runs == []


def test_a_wrong_signature_is_401_and_runs_nothing(workflows):
    url = workflows.fake.add_flow("Sales")
    assert post(url.replace("sig=", "sig=x"), a_card("hello")) == 401
    assert workflows.fake.channel_posts == []


def test_what_the_flow_cannot_post_is_still_202_and_fails_the_run_silently(workflows):
    url = workflows.fake.add_flow("Sales")
    too_big = a_card(*["x" * 1000] * 29)
    assert len(json.dumps(too_big)) > 28 * 1024
    invalid = a_card("hello")
    invalid["attachments"][0]["content"]["body"][0]["markdown"] = True
    newer = a_card("hello")
    newer["attachments"][0]["content"]["version"] = "1.6"
    for document in (too_big, invalid, newer):
        assert post(url, document) == 202
    private = workflows.fake.add_flow("Board", private=True)
    assert post(private, a_card("hello")) == 202
    reasons = [run["reason"] for run in workflows.fake.failed_runs]
    assert reasons[0].startswith("RequestEntityTooLarge")
    assert "invalid Adaptive Card" in reasons[1] and "markdown" in reasons[1]
    assert "invalid Adaptive Card" in reasons[2] and "1.6" in reasons[2]
    assert "private channel" in reasons[3]
    assert workflows.fake.channel_posts == []
    assert post(url, b"not json") == 400


def test_throttling_and_server_errors_are_answered_before_any_run(workflows):
    url = workflows.fake.add_flow("Sales")
    workflows.fake.rate_limit_next, workflows.fake.fail_next = 1, 1
    assert post(url, a_card("a")) == 429
    assert post(url, a_card("a")) == 502
    assert post(url, a_card("a")) == 202 and len(workflows.fake.channel_posts) == 1


def test_the_schema_knows_the_elements_and_their_properties():
    assert card_problems(a_card("x")["attachments"][0]["content"]) == []
    assert card_problems({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "Carousel"}]})
    assert card_problems({"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock"}]})


def test_the_outgoing_webhook_signature_is_hmac_sha256_of_the_body_with_the_decoded_key():
    key = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    body = b'{"type":"message","text":"<at>KPI</at> nps"}'
    expected = base64.b64encode(hmac.new(b"0123456789abcdef0123456789abcdef", body, hashlib.sha256).digest())
    assert sign(key, body) == "HMAC " + expected.decode()
