"""SMTP TLS failures under a running `kpi serve`, for a while, then a good server: a port that accepts TCP
and breaks the TLS handshake (security = "ssl"), and a STARTTLS-only server whose certificate is not the one
``ca_file`` trusts (security = "starttls"). Each failed attempt is one clear log line naming TLS; the
retry delivers the digest once and nobody got a copy before."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from functools import partial

import pytest

from tests.conftest import RecordingHandler, free_port, self_signed_certificate
from tests.faults import tally
from tests.faults.harness import expected_keys, settle, write_config
from tests.test_serve import Serve, environment

DESTINATION = "email:owner@example.com"
BROKEN_CONNECTIONS = 2


class Proxy:
    """A TCP port whose first ``broken`` connections go to ``bad`` (a callable given the client socket),
    the rest relayed byte for byte to ``good`` (host, port)."""

    def __init__(self, good: tuple[str, int], bad, broken: int) -> None:
        self.good, self.bad, self.broken, self.connections = good, bad, broken, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            target = self.bad if self.connections <= self.broken else partial(relay, to=self.good)
            threading.Thread(target=target, args=(client,), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def relay(client: socket.socket, to: tuple[str, int]) -> None:
    """Copy bytes both ways between ``client`` and a new connection to ``to`` until either side closes."""
    upstream = socket.create_connection(to, timeout=10)

    def pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
    pump(client, upstream)


def plain_text_instead_of_tls(client: socket.socket) -> None:
    """Accept TCP, answer plain SMTP to a client that starts TLS: its handshake fails."""
    try:
        client.sendall(b"220 smtp.example.com ESMTP (no TLS here)\r\n")
        client.recv(4096)
    except OSError:
        pass
    finally:
        client.close()


def smtp_server(folder, *, implicit: bool):
    """An aiosmtpd server with its own self-signed certificate: TLS from the first byte, or STARTTLS required."""
    from aiosmtpd.controller import Controller

    folder.mkdir()
    cert, key = self_signed_certificate(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = RecordingHandler()
    options = {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    return controller, handler, cert


@pytest.mark.parametrize("fault", ["handshake-broken-ssl", "untrusted-certificate-starttls"])
def test_smtp_tls_failure_then_a_good_server(tmp_path, demo_database, slack_server, servers, fault):
    implicit = fault.endswith("-ssl")
    good, handler, good_cert = smtp_server(tmp_path / "good", implicit=implicit)
    started = [good]
    if implicit:
        bad = plain_text_instead_of_tls
    else:  # a STARTTLS server just as good, but its certificate is not the trusted one
        other, _, _ = smtp_server(tmp_path / "other", implicit=False)
        started.append(other)
        bad = partial(relay, to=(other.hostname, other.port))
    proxy = Proxy((good.hostname, good.port), bad, BROKEN_CONNECTIONS)
    try:
        state_url = f"sqlite:///{tmp_path / 'state.db'}"
        write_config(tmp_path, demo_database, state_url=state_url, destinations=[DESTINATION])
        security = "ssl" if implicit else "starttls"
        text = (
            (tmp_path / "kpi.toml")
            .read_text()
            .replace(
                "[slack]",
                (
                    f'[email]\nhost = "127.0.0.1"\nport = {proxy.port}\nsecurity = "{security}"\ntimeout = 5\n'
                    f'ca_file = "{good_cert}"\nsender = "KPI bot <reports@example.com>"\n\n[slack]'
                ),
            )
        )
        (tmp_path / "kpi.toml").write_text(text)
        serve = Serve(tmp_path, environment(slack_server))
        servers.append(serve)
        serve.started()
        settle(state_url, [DESTINATION], timeout=45)
        time.sleep(2.2)
        assert serve.stop() == 0
    finally:
        proxy.close()
        for controller in started:
            controller.stop()
    counts = tally.count(
        f"smtp TLS {fault}, then a good server",
        fault,
        expected_keys([DESTINATION]),
        tally.ledger_statuses(state_url),
        smtp_messages=handler.messages,
    )
    tally.record(counts)
    (only,) = counts
    log = serve.text()
    assert (only.delivered, only.duplicated, only.lost, only.status) == (1, 0, 0, "sent"), (only, log)
    assert len(handler.messages) == 1
    failures = [line for line in log.splitlines() if " failed " in line and DESTINATION in line]
    assert len(failures) == BROKEN_CONNECTIONS, log
    reason = "certificate verify failed" if not implicit else ""
    for line in failures:
        assert f"TLS handshake with SMTP server 127.0.0.1:{proxy.port} failed for {DESTINATION}" in line, line
        assert reason in line and "check [email] security, port and ca_file" in line, line
    assert "Traceback" not in log
