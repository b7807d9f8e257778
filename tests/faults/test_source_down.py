"""The source database stops under a running `kpi serve` (at a seeded random point around the fire, so
before or during the compute), then starts again: the digest is held, then sent once, with the right
numbers. The test owns its PostgreSQL cluster (initdb/pg_ctl as the postgres user, a temporary folder,
a free port), so stopping it harms nothing else."""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.faults import tally
from tests.faults.harness import expected_keys, settle, write_config
from tests.test_serve import Serve, environment

DESTINATIONS = ["slack:#kpis"]


def postgres_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    assert found, f"no {name} under /usr/lib/postgresql: install the PostgreSQL server"
    return str(found[-1])


class Cluster:
    """A throw-away PostgreSQL cluster run as the postgres user on 127.0.0.1:<port>."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kpi-faults-pg-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.port = free_port()
        self.data = self.folder / "data"
        self.as_postgres(postgres_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120
        )

    def start(self) -> None:
        self.as_postgres(
            postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-w",
            "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self) -> None:
        self.as_postgres(postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        subprocess.run(
            check=False,
            args=[
                "runuser",
                "-u",
                "postgres",
                "--",
                postgres_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def cluster():
    owned = Cluster()
    owned.start()
    try:
        yield owned
    finally:
        owned.remove()


@pytest.mark.parametrize("seed", range(3))
def test_source_stopped_around_the_compute_then_started(tmp_path, slack_server, servers, cluster, seed):
    import sqlalchemy as sa

    rng = random.Random(seed)
    source = sa.create_engine(cluster.url())
    with source.begin() as connection:
        connection.execute(
            sa.text(
                "CREATE TABLE orders (order_id int, customer_id int, ordered_at timestamp, amount numeric)"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO orders VALUES (1, 1, '2026-11-17 10:00', 40.5), (2, 2, '2026-11-18 11:00', 59.5)"
            )
        )
    source.dispose()
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    write_config(
        tmp_path, cluster.url(), state_url=state_url, destinations=DESTINATIONS, extra='max_delay = "6h"\n'
    )
    (tmp_path / "kpi.toml").write_text(
        (tmp_path / "kpi.toml").read_text().replace('metrics = ["revenue", "nps"]', 'metrics = ["revenue"]')
    )
    serve = Serve(tmp_path, environment(slack_server))
    servers.append(serve)
    serve.started()
    delay = rng.uniform(0.0, 1.5)
    time.sleep(delay)
    cluster.stop()
    down_for = 3.0 + rng.uniform(0, 2)
    time.sleep(down_for)
    posted_while_down = list(slack_server.fake.messages)
    cluster.start()
    settle(state_url, DESTINATIONS, timeout=45)
    time.sleep(2.2)
    assert serve.stop() == 0
    fake = slack_server.fake
    counts = tally.count(
        "source PostgreSQL stopped around the compute, then started",
        f"seed{seed}-stop-after-{delay:.2f}s",
        expected_keys(DESTINATIONS),
        tally.ledger_statuses(state_url),
        slack=fake,
    )
    tally.record(counts)
    (only,) = counts
    assert (only.delivered, only.duplicated, only.lost, only.status) == (1, 0, 0, "sent"), (
        only,
        serve.text(),
    )
    (posted,) = fake.posted_to("C0KPIS0001")
    if not posted_while_down:  # held while the source was down: sent with the real numbers once back
        assert "100" in posted["text"] or "100" in str(posted["blocks"])
