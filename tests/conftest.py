"""Shared fixtures: isolated plugins, the demo database, the CLI runner, the fake Slack Web API and an
aiosmtpd server on loopback. Tests never depend on what is installed: entry-point plugins are off by default."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Typed copies of files as exported go to the user cache directory without kpi.toml: a throw-away one for
# the suite (inherited by the `kpi serve` processes tests start).
# Each pytest-xdist worker has its own (`make test` runs two).
if os.environ.get("KPICORE_TEST_CACHE_WORKER") != os.environ.get("PYTEST_XDIST_WORKER", ""):
    import tempfile

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    os.environ["KPICORE_TEST_CACHE"] = os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(
        prefix=f"kpicore-cache-{worker}-" if worker else "kpicore-cache-"
    )
    os.environ["KPICORE_TEST_CACHE_WORKER"] = worker

from kpicore import plugins, registry
from kpicore.demo_data import generate_demo_database
from tests.slack_server import SlackServer

DEMO_TODAY = dt.date(2026, 11, 25)

SLACK_TOKEN = "xoxb-test-token-do-not-leak"


@pytest.fixture
def slack_server(monkeypatch):
    """A running fake Slack; env KPI_SLACK_API_URL and SLACK_BOT_TOKEN point the client at it."""
    with SlackServer() as server:
        server.fake.token = SLACK_TOKEN
        monkeypatch.setenv("KPI_SLACK_API_URL", server.base_url)
        monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
        yield server


@pytest.fixture
def slack(slack_server):
    """The fake Slack's state (messages, files, requests, failure switches)."""
    return slack_server.fake


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class RecordingHandler:
    """aiosmtpd handler that keeps messages and refuses the recipients in ``refuse`` with 550."""

    refuse: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)
    #: pid to SIGKILL at the next RCPT (after the claim, before DATA), then None
    kill_on_rcpt: int | None = None
    #: pid to SIGKILL once the next DATA is stored, before the 250 answer, then None
    kill_on_data: int | None = None

    @staticmethod
    def _kill(pid: int) -> None:
        import os
        import signal

        os.kill(pid, signal.SIGKILL)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.kill_on_rcpt is not None:
            pid, self.kill_on_rcpt = self.kill_on_rcpt, None
            self._kill(pid)
            return "421 closing"
        if address.lower() in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        if self.kill_on_data is not None:
            pid, self.kill_on_data = self.kill_on_data, None
            self._kill(pid)
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler

    @property
    def messages(self) -> list[Received]:
        return self.handler.messages

    def settings(self, **extra) -> dict:
        """An ``[email]`` table for this server."""
        return {
            "host": self.host,
            "port": self.port,
            "security": "none",
            "sender": "KPI bot <reports@example.com>",
            **extra,
        }


@pytest.fixture
def smtp_server():
    """A plain SMTP server on 127.0.0.1 (random free port)."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, made with `cryptography` if installed, else openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        import datetime as dt
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
    except ImportError:
        openssl = shutil.which("openssl")
        assert openssl, "the TLS tests need the 'cryptography' package or the openssl command"
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ],
            check=True,
            capture_output=True,
        )
        return cert, key
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(private_key, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key


@pytest.fixture
def starttls_server(tmp_path):
    """An SMTP server requiring STARTTLS and AUTH (user 'reports', password 's3cret')."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"reports" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    handler = RecordingHandler()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        server = SmtpServer("127.0.0.1", port, handler)
        server.cert = cert  # type: ignore[attr-defined]
        yield server
    finally:
        controller.stop()


@pytest.fixture
def engine(tmp_path):
    """A SQLite state database built by the migrations (as `kpi` builds it)."""
    from sqlalchemy import create_engine

    from kpicore.state import migrate

    engine = create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def smtps_server(tmp_path):
    """An SMTP server speaking TLS from the first byte (security = "ssl")."""
    from aiosmtpd.controller import Controller

    cert, key = self_signed_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        server = SmtpServer("127.0.0.1", port, handler)
        server.cert = cert  # type: ignore[attr-defined]
        yield server
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def isolated_plugins(monkeypatch):
    """A fresh process-wide plugin manager and registry per test, without installed entry points."""
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "")
    monkeypatch.delenv("KPI_DEBUG", raising=False)
    monkeypatch.setattr(plugins, "_loaded", None)
    monkeypatch.setattr(registry, "_registry", None)


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory):
    """The demo database for a fixed 'today' (2026-11-25), made once per test session."""
    path = tmp_path_factory.mktemp("demo") / "kpi-demo.db"
    generate_demo_database(path, today=DEMO_TODAY)
    return path


@pytest.fixture
def run_kpi(monkeypatch, tmp_path):
    """Run the `kpi` CLI in a temporary working directory; returns (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from kpicore.cli import cli

    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict | None = None):
        runner = CliRunner()
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


@pytest.fixture
def servers():
    """Every `kpi serve` process (tests.test_serve.Serve) started by a test, killed at its end if still running."""
    started: list = []
    yield started
    for serve in started:
        if serve.process.poll() is None:
            serve.process.kill()
            serve.process.wait(timeout=10)
        serve.handle.close()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """`make test`'s ``--dist loadgroup``: the groups of tests/support/workers.py each on one worker."""
    if config.getvalue("dist") == "loadgroup":
        from tests.support.workers import grouped_scheduling

        return grouped_scheduling(config, log)
    return None
