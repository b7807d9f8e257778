"""``/kpi`` on Teams through outgoing webhooks: ``POST /teams/messages`` inside `kpi serve`.

Teams signs each request with ``Authorization: HMAC <base64>``: HMAC-SHA256 of the raw body with the
base64 key it showed when the webhook was made (``[channels.teams.outgoing] NAME =
"${TEAMS_OUTGOING_NAME}"``, one per webhook). The HMAC covers no timestamp, so each activity id is
answered once (claimed in the state database); a repeat is refused like a bad signature. Teams waits
about 5 seconds and nothing can be posted afterwards: the answer is the card in the HTTP response,
read from stored values or computed within the budget, else a message that it is too slow. ``/kpi
follow`` is not offered here. Permissions are keyed ``teams:TEAM_ID/CHANNEL_ID``; a channel with no
entry of its own that is refused is told its ids, so the owner can allow it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import logging
import re
from typing import Any

from kpicore import i18n
from kpicore.chat.answers import Answerer, Asker
from kpicore.chat.blocks import NO_FOLLOW, NOT_ALLOWED_HERE, TOO_SLOW
from kpicore.chat.plain import reply_lines
from kpicore.chat.webhooks import Refused, first_time, read_body, single_header
from kpicore.config import expand_environment
from kpicore.delivery.redact import add_secrets
from kpicore.errors import ConfigError
from kpicore.i18n import _
from kpicore_teams import card

log = logging.getLogger("kpicore.teams")

MESSAGES_PATH = "/teams/messages"
#: Teams gives up on an outgoing webhook after about 5 s: answer well inside it.
ANSWER_WITHIN = 4.0
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_FOLLOW = re.compile(r"^\s*(/kpi\s+)?(follow|unfollow|following)\b", re.IGNORECASE)
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def outgoing_keys(settings: dict[str, Any]) -> dict[str, bytes]:
    """``[channels.teams.outgoing]``: NAME -> the decoded HMAC key from its environment variable."""
    keys = {}
    for name, value in (settings.get("outgoing") or {}).items():
        match = _REFERENCE.match(str(value))
        where = f"[channels.teams.outgoing] {name}"
        if match is None:
            raise ConfigError(
                f'{where}: the key is a secret: write {name} = "${{TEAMS_OUTGOING_{name.upper()}}}"'
            )
        add_secrets(env=(match.group(1),))
        try:
            keys[name] = base64.b64decode(expand_environment(value, where).strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{where}: ${match.group(1)} is not the base64 key Teams showed") from None
    return keys


def verify(keys: dict[str, bytes], body: bytes, authorization: str | None) -> str | None:
    """The name of the webhook whose key signed ``body``, None when none did."""
    if not authorization or not authorization.startswith("HMAC "):
        return None
    given = authorization[5:].strip().encode()
    for name, key in keys.items():
        expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
        if hmac.compare_digest(given, expected):
            return name
    return None


def command_of(activity: dict[str, Any]) -> str:
    """The text after the bot's mention: ``<at>KPI</at> nps last-week`` -> ``nps last-week``."""
    text = _MENTION.sub(" ", str(activity.get("text") or ""))
    text = html.unescape(_TAG.sub(" ", text)).replace("\xa0", " ")
    text = " ".join(text.split())
    return text[4:].strip() if text.lower().startswith("/kpi") else text


class TeamsOutgoing:
    """Answers outgoing-webhook activities synchronously with an Adaptive Card."""

    def __init__(self, config, keys: dict[str, bytes], engine) -> None:
        self.config, self.keys, self.engine = config, keys, engine
        self.answerer = Answerer(config)

    def answer(self, activity: dict[str, Any]) -> list[str]:
        """The lines of the answer to one activity."""
        data = activity.get("channelData") or {}
        team = (data.get("team") or {}).get("id") or data.get("teamsTeamId") or ""
        channel = (data.get("channel") or {}).get("id") or data.get("teamsChannelId") or ""
        where = f"teams:{team}/{channel}"
        text = command_of(activity)
        with i18n.using(self.config.locale, self.config.digits, self.config.calendar):
            if _FOLLOW.match(text):  # an outgoing webhook answers at once and can never post later
                return [_(NO_FOLLOW)]
            sender = (activity.get("from") or {}).get("id", "")
            asker = Asker(f"teams:{sender}", where, "", shared=True, can_follow=False)
            reply = self.answerer.reply(text, asker)
            if reply.later is not None:
                try:
                    reply = reply.later.result(timeout=ANSWER_WITHIN - self.answerer.settings.budget)
                except Exception:
                    return [_(TOO_SLOW)]
            lines = reply_lines(reply.message)
            allow = self.answerer.settings.allow
            if reply.how == "error" and allow is not None and where not in allow:
                lines.append(_(NOT_ALLOWED_HERE) % {"where": where})
        return lines

    def routes(self) -> list:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse, Response
        from starlette.routing import Route

        async def messages(request):
            try:
                authorization = single_header(request, "authorization")
                body = await read_body(request)
                if verify(self.keys, body, authorization) is None:
                    raise Refused(401, "signature does not match any [channels.teams.outgoing] key")
                activity = json.loads(body)
                if not isinstance(activity, dict) or not activity.get("id"):
                    raise Refused(400, "not an activity")
                if not await run_in_threadpool(first_time, self.engine, "teams", str(activity["id"])):
                    raise Refused(401, "activity already answered (a replay)")
            except Refused as refused:
                log.warning("teams: refused a request to %s: %s", MESSAGES_PATH, refused)
                return Response(status_code=refused.status)
            except ValueError:
                return Response(status_code=400)
            lines = await run_in_threadpool(self.answer, activity)
            text = "\n".join(lines)
            body_elements = [card.rich(card.run(lines[0], weight="Bolder"))] + [
                card.rich(card.run(line)) for line in lines[1:]
            ]
            content = card.card(body_elements, rtl=card.is_rtl_text(text))
            return JSONResponse(
                {"type": "message", "text": lines[0], "attachments": card.payload(content)["attachments"]}
            )

        return [Route(MESSAGES_PATH, endpoint=messages, methods=["POST"])]
