"""The email channel: one multipart email per destination, sent with smtplib.

The message is multipart/alternative: a text/plain part, then a multipart/related part holding
the HTML and the chart PNGs it references as ``cid:`` images. Settings are the ``[email]`` table
of kpi.toml: ``host``, ``port``, ``security`` ("starttls" | "ssl" | "none"), ``username``,
``sender``, and optionally ``ca_file`` (a CA bundle to trust, e.g. for an internal relay) and
``timeout``. The password comes from ``KPI_SMTP_PASSWORD`` only.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses
from typing import Any, cast

from kpicore.channels.base import Channel, Delivery, Message
from kpicore.channels.handover import handing_over
from kpicore.errors import ConfigError, DeliveryError
from kpicore.settings import parse_duration

PASSWORD_ENV = "KPI_SMTP_PASSWORD"
SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def parse_recipients(target: str) -> list[str]:
    """``"a@x.com, b@y.com"`` -> ``["a@x.com", "b@y.com"]``; ConfigError for an empty or invalid one."""
    parts = [part.strip() for part in target.split(",")]
    recipients = []
    for part in parts:
        if not part:
            continue
        (_, address), *_ = getaddresses([part]) or [("", "")]
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            raise ConfigError(f"Destination 'email:{target}': {part!r} is not an email address")
        recipients.append(address)
    if not recipients:
        raise ConfigError(
            "Destination 'email:' names no recipients: write email:owner@example.com,ops@example.com"
        )
    return recipients


def build_message(message: Message, sender: str, recipients: list[str]) -> EmailMessage:
    """The email for ``message``: text/plain + multipart/related(HTML + chart images)."""
    text = message.rendered("text")
    html = message.rendered("html")
    email = EmailMessage()
    email["Subject"] = message.subject
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = formatdate(localtime=False, usegmt=True)
    # Short enough not to be folded (make_msgid's ids are, and some parsers then keep a space).
    email["Message-ID"] = f"<{uuid.uuid4().hex}.kpicore@{_domain_of(sender) or 'kpicore.invalid'}>"
    email.set_content(text.body)
    email.add_alternative(html.body, subtype="html")
    html_part = cast(list[EmailMessage], email.get_payload())[1]  # [text/plain, text/html]
    for content_id, png in html.images.items():
        html_part.add_related(
            png,
            maintype="image",
            subtype="png",
            cid=f"<{content_id}>",
            filename=f"{content_id.split('@')[0]}.png",
            disposition="inline",
        )
    return email


def _domain_of(sender: str) -> str | None:
    address = getaddresses([sender])[0][1]
    return address.rsplit("@", 1)[1] if "@" in address else None


class EmailChannel(Channel):
    """Sends a digest as one HTML email (with a plain-text alternative) to all recipients of a destination."""

    scheme = "email"
    description = "email to comma-separated recipients over SMTP ([email] settings, KPI_SMTP_PASSWORD)"
    formats = ("text", "html")
    setting_keys = ("host", "port", "security", "username", "sender", "ca_file", "timeout")
    marks_handover = True  # `sending` is recorded right before DATA, not before the connection
    environment = (PASSWORD_ENV,)

    def preflight(self, target: str, settings: dict[str, Any]) -> list[str]:
        """Missing [email] host or sender, an unknown security mode, a username without its password."""
        problems = []
        if not settings.get("host"):
            problems.append("[email] host is not set in kpi.toml")
        if not (settings.get("sender") or settings.get("username")):
            problems.append("[email] sender is not set in kpi.toml (e.g. 'KPI bot <reports@example.com>')")
        if str(settings.get("security", "starttls")).lower() not in SECURITY_MODES:
            problems.append(f"[email] security must be one of {', '.join(SECURITY_MODES)}")
        if settings.get("username") and not os.environ.get(PASSWORD_ENV):
            problems.append(f"[email] username is set but {PASSWORD_ENV} is not: set it to the SMTP password")
        return problems

    def settings_section(self) -> str:
        return "[email]"

    def settings(self, config) -> dict[str, Any]:
        """The ``[email]`` table of kpi.toml."""
        return dict(config.email)

    def check_settings(self, settings: dict[str, Any], where: str) -> None:
        """Unknown keys, and a ``security`` that is not one of the modes."""
        super().check_settings(settings, where)
        security = settings.get("security")
        if security is not None and str(security).lower() not in SECURITY_MODES:
            raise ConfigError(
                f"{where}: [email] security = {security!r}: use one of {', '.join(SECURITY_MODES)}"
            )
        for key in ("host", "username", "sender", "ca_file"):
            if key in settings and not isinstance(settings[key], str):
                raise ConfigError(f"{where}: [email] {key}: expected text, got {settings[key]!r}")
        port = settings.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise ConfigError(f"{where}: [email] port: expected a port number such as 587, got {port!r}")
        if "timeout" in settings:
            parse_duration(settings["timeout"], f"{where}: [email] timeout", seconds=True)

    def check_target(self, target: str) -> None:
        """Every recipient must be an email address."""
        parse_recipients(target)

    def send(self, message: Message, target: str, settings: dict[str, Any]) -> Delivery:
        """Send one email to every recipient in ``target``; all or nothing.

        Every recipient is offered to the server before the message is: if one is refused, the
        transaction is reset and nobody gets the email, so a retry never duplicates it.
        """
        destination = f"email:{target}"
        recipients = parse_recipients(target)
        host = settings.get("host")
        if not host:
            raise ConfigError(f"Destination {destination!r} needs [email] host in kpi.toml")
        security = str(settings.get("security", "starttls")).lower()
        if security not in SECURITY_MODES:
            raise ConfigError(f"[email] security = {security!r}: use one of {', '.join(SECURITY_MODES)}")
        port = int(settings.get("port") or DEFAULT_PORTS[security])
        username = settings.get("username")
        sender = settings.get("sender") or username
        if not sender:
            raise ConfigError(
                f"Destination {destination!r} needs [email] sender (e.g. 'KPI bot <reports@example.com>')"
            )
        password = os.environ.get(PASSWORD_ENV)
        if username and not password:
            raise DeliveryError(
                f"[email] username is set but {PASSWORD_ENV} is not: set it to the SMTP password"
            )

        email = build_message(message, sender, recipients)
        envelope_from = getaddresses([sender])[0][1] or str(sender)
        timeout = parse_duration(settings.get("timeout", 30), "[email] timeout", seconds=True)
        context = ssl.create_default_context(cafile=settings.get("ca_file"))
        where = f"{host}:{port}"
        try:
            if security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
            with smtp:
                smtp.ehlo()
                if security == "starttls":
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if username and password:  # a username without a password is refused above
                    smtp.login(username, password)
                self._transact(smtp, email, envelope_from, recipients, destination)
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"SMTP server {where} rejected the login of {username!r} for {destination}: "
                f"{error.smtp_code} {_text(error.smtp_error)}; check [email] username and {PASSWORD_ENV}"
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(
                f"SMTP server {where} for {destination}: {error}; check [email] security"
            ) from None
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"SMTP server {where} refused the digest for {destination}: {error.smtp_code} {_text(error.smtp_error)}"
            ) from None
        except ssl.SSLError as error:  # before OSError, its base: say it was TLS, and what to check
            verify = getattr(error, "verify_message", None)
            reason = f"certificate verify failed: {verify}" if verify else (error.reason or str(error))
            raise DeliveryError(
                f"TLS handshake with SMTP server {where} failed for {destination}: {reason}; "
                "check [email] security, port and ca_file"
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"Could not send the digest to {destination} via {where}: {error}") from None
        return Delivery(message_ids=[email["Message-ID"]], detail=f"email to {len(recipients)} recipient(s)")

    @staticmethod
    def _transact(
        smtp: smtplib.SMTP, email: EmailMessage, sender: str, recipients: list[str], destination: str
    ) -> None:
        """MAIL, every RCPT, then DATA only if all recipients were accepted."""
        code, response = smtp.mail(sender)
        if code != 250:
            smtp.rset()
            raise DeliveryError(
                f"SMTP server refused the sender {sender!r} for {destination}: {code} {_text(response)}"
            )
        refused = {}
        for recipient in recipients:
            code, response = smtp.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = (code, response)
        if refused:
            smtp.rset()
            details = "; ".join(f"{r}: {c} {_text(t)}" for r, (c, t) in refused.items())
            raise DeliveryError(
                f"SMTP server refused recipient(s) of {destination} ({details}); nothing was sent to this destination"
            )
        # smtplib does not fix line endings of bytes: render with CRLF as SMTP requires.
        payload = email.as_bytes(policy=SMTP_POLICY)
        handing_over()  # the ledger says `sending` from here: a crash now leaves the outcome unknown
        code, response = smtp.data(payload)
        if code != 250:
            raise DeliveryError(f"SMTP server refused the digest for {destination}: {code} {_text(response)}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


__all__ = ["EmailChannel", "build_message", "parse_recipients"]
