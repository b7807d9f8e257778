"""Email and file faults under a running `kpi serve`: the SMTP server down, then up; one recipient of
several refused for a while (all or nothing: nobody gets a copy until everyone can); the disk full while
the digest files are written (a small tmpfs), then space again: whole files, written once."""

from __future__ import annotations

import subprocess
import time

from tests.conftest import RecordingHandler, free_port
from tests.faults import tally
from tests.faults.harness import expected_keys, settle, write_config
from tests.test_serve import Serve, environment


class Smtp:
    """Where an SMTP server will listen (host, port), started later by the test."""

    def __init__(self, handler: RecordingHandler) -> None:
        self.host, self.port, self.handler, self.controller = "127.0.0.1", free_port(), handler, None

    @property
    def messages(self):
        return self.handler.messages

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.handler, hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


class RefusingForAWhile(RecordingHandler):
    """Refuses ``refused`` with a temporary 450 the first ``times`` times it is offered."""

    def __init__(self, refused: str, times: int) -> None:
        super().__init__()
        self.refused, self.times = refused, times

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() == self.refused and self.times > 0:
            self.times -= 1
            return "450 4.2.1 Mailbox busy, try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def wait_for_attempts(state_url: str, attempts: int, timeout: float = 30.0) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(state_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                try:
                    if (
                        connection.execute(sa.text("SELECT max(attempts) FROM deliveries")).scalar() or 0
                    ) >= attempts:
                        return
                except sa.exc.OperationalError:
                    pass  # not migrated yet
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise AssertionError(f"fewer than {attempts} attempts within {timeout} s")


def run_email(
    tmp_path,
    demo_database,
    slack_server,
    servers,
    smtp: Smtp,
    destination: str,
    scenario: str,
    *,
    start_late: bool,
):
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    write_config(tmp_path, demo_database, state_url=state_url, destinations=[destination], smtp=smtp)
    if not start_late:
        smtp.start()
    try:
        serve = Serve(tmp_path, environment(slack_server))
        servers.append(serve)
        serve.started()
        if start_late:
            wait_for_attempts(state_url, 2)
            assert smtp.messages == []
            smtp.start()
        settle(state_url, [destination], timeout=40)
        time.sleep(2.2)
        assert serve.stop() == 0
    finally:
        smtp.stop()
    counts = tally.count(
        scenario,
        scenario,
        expected_keys([destination]),
        tally.ledger_statuses(state_url),
        smtp_messages=smtp.messages,
    )
    tally.record(counts)
    (only,) = counts
    assert (only.delivered, only.duplicated, only.lost, only.status) == (1, 0, 0, "sent"), (
        only,
        serve.text(),
    )
    assert len(smtp.messages) == 1  # nobody got a copy from a failed attempt
    return serve


def test_smtp_down_then_up(tmp_path, demo_database, slack_server, servers):
    smtp = Smtp(RecordingHandler())
    serve = run_email(
        tmp_path,
        demo_database,
        slack_server,
        servers,
        smtp,
        "email:owner@example.com",
        "smtp down, then up",
        start_late=True,
    )
    assert "Connection refused" in serve.text()  # the failed attempts were logged


def test_one_recipient_refused_for_a_while(tmp_path, demo_database, slack_server, servers):
    smtp = Smtp(RefusingForAWhile("b@example.com", times=2))
    run_email(
        tmp_path,
        demo_database,
        slack_server,
        servers,
        smtp,
        "email:a@example.com,b@example.com",
        "smtp one recipient refused (450), then accepted",
        start_late=False,
    )


def test_disk_full_at_the_file_channel(tmp_path, demo_database, slack_server, servers):
    folder = tmp_path / "full"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], check=True)
    try:
        filler = folder / "filler"
        subprocess.run(
            check=False,
            args=["dd", "if=/dev/zero", f"of={filler}", "bs=4k", "count=1000"],
            capture_output=True,
        )
        assert filler.stat().st_size >= 200_000  # the disk is full now
        digests = folder / "digests"
        digests.mkdir()
        destination = f"file:{digests}"
        state_url = f"sqlite:///{tmp_path / 'state.db'}"
        write_config(tmp_path, demo_database, state_url=state_url, destinations=[destination])
        serve = Serve(tmp_path, environment(slack_server))
        servers.append(serve)
        serve.started()
        wait_for_attempts(state_url, 2)
        assert "No space left on device" in serve.text()
        assert sorted(p.name for p in digests.iterdir()) == []  # no truncated digest left behind
        filler.unlink()
        settle(state_url, [destination], timeout=40)
        assert serve.stop() == 0
        names = sorted(p.name for p in digests.iterdir())
        html = (digests / "weekly-2026-W47.html").read_text()
        whole = html.rstrip().endswith("</html>") and not [n for n in names if n.endswith(".part")]
        counts = tally.count(
            "disk full at the file channel, then space",
            "tmpfs-256k",
            expected_keys([destination]),
            tally.ledger_statuses(state_url),
            arrived={expected_keys([destination])[0]: 1 if whole else 0},
        )
        tally.record(counts)
        (only,) = counts
        assert (only.delivered, only.duplicated, only.lost, only.status) == (1, 0, 0, "sent"), names
        assert whole and "weekly-2026-W47.txt" in names
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
