"""A local Spark Connect server (the one the ``pyspark`` package ships), for tests, benchmarks and trying
kpicore on a laptop: ``python -m kpicore_spark.server --port 15002``.

The server runs in the foreground of its own process group (``start-connect-server.sh --wait``), bound to
127.0.0.1, with its logs, warehouse, scratch space and PID files under one work folder, and the web UI off
(it would take port 4040).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

#: How long a server may take to answer on its port before ``wait_until_up`` gives up (seconds).
START_TIMEOUT = 180.0


def spark_home() -> Path:
    """The Spark distribution inside the installed ``pyspark`` package."""
    try:
        import pyspark
    except ImportError:
        raise RuntimeError("pyspark is not installed: pip install 'kpicore-spark[connect]'") from None
    home = Path(pyspark.__file__).parent
    if not (home / "sbin" / "start-connect-server.sh").is_file():
        raise RuntimeError(
            f"{home} has no sbin/start-connect-server.sh: install the full pyspark, not pyspark-client"
        )
    return home


def start(port: int, workdir: Path, cores: int = 2, memory: str = "2g") -> subprocess.Popen:
    """Start a Spark Connect server with ``local[cores]`` on 127.0.0.1:``port``; returns at once (see
    ``wait_until_up``). Its output goes to ``workdir/server.log``."""
    home = spark_home()
    workdir = Path(workdir)
    for name in ("logs", "pids", "warehouse", "local", "derby"):
        (workdir / name).mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        SPARK_HOME=str(home),
        SPARK_LOG_DIR=str(workdir / "logs"),
        SPARK_PID_DIR=str(workdir / "pids"),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOCAL_DIRS=str(workdir / "local"),
    )
    env.pop("SPARK_CONNECT_MODE_ENABLED", None)
    confs = {
        "spark.connect.grpc.binding.port": str(port),
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.warehouse.dir": str(workdir / "warehouse"),
        "spark.sql.shuffle.partitions": str(max(2, cores * 2)),  # 200 by default: far too many on one machine
        "spark.driver.memory": memory,
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={workdir / 'derby'}",
    }
    command = [str(home / "sbin" / "start-connect-server.sh"), "--wait", "--master", f"local[{cores}]"]
    for key, value in confs.items():
        command += ["--conf", f"{key}={value}"]
    log = open(workdir / "server.log", "ab")
    try:
        return subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        log.close()


def wait_until_up(process: subprocess.Popen, port: int, timeout: float = START_TIMEOUT) -> float:
    """Wait until the server accepts connections on ``port``; returns the seconds it took. Raises
    RuntimeError when the process exits or ``timeout`` passes first."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if process.poll() is not None:
            raise RuntimeError(
                f"the Spark Connect server exited with code {process.returncode} before it answered"
            )
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return time.monotonic() - began
        time.sleep(0.5)
    raise RuntimeError(f"the Spark Connect server did not answer on 127.0.0.1:{port} within {timeout:g} s")


def stop(process: subprocess.Popen, grace: float = 20.0) -> None:
    """Stop the server and the JVM it started (its whole process group)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="Run a local Spark Connect server until interrupted.")
    parser.add_argument("--port", type=int, default=15002)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--memory", default="2g", help="driver memory (default 2g)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="logs, warehouse, scratch (default: a temp folder)"
    )
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="kpicore-spark-"))

    def terminated(signum, frame):
        raise KeyboardInterrupt  # SIGTERM (systemd, kill) stops the JVM too, as Ctrl-C does

    signal.signal(signal.SIGTERM, terminated)
    process = start(args.port, workdir, args.cores, args.memory)
    try:
        took = wait_until_up(process, args.port)
        print(
            f"Spark Connect server on sc://127.0.0.1:{args.port} (local[{args.cores}], up in {took:.0f} s; "
            f"logs in {workdir}); Ctrl-C stops it",
            flush=True,
        )
        process.wait()
    except KeyboardInterrupt:
        pass
    except RuntimeError as error:
        print(f"error: {error} (log: {workdir / 'server.log'})", file=sys.stderr)
        return 1
    finally:
        stop(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
