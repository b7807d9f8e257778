"""Request bodies over 1 MB against a real `kpi serve`: 413 before the body is held in memory, with a
Content-Length or chunked without one; three 200 MB posts at once leave the process's peak RSS near idle."""

from __future__ import annotations

import select
import socket
import threading
from pathlib import Path

from tests.chat_support import SIGNING_SECRET, send
from tests.test_serve import Serve, environment, write_config

MB = 1024 * 1024
POST_SIZE = 200 * MB


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in bytes."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def _post_big(port: int, *, chunked: bool, size: int = POST_SIZE) -> int:
    """POST ``size`` bytes to /slack/events, stopping as soon as the server answers; returns the status."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        framing = b"Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n".encode()
        sock.sendall(
            b"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n" + framing + b"\r\n"
        )
        piece = b"a" * (64 * 1024)
        sent = 0
        while sent < size and not select.select([sock], [], [], 0)[0]:
            data = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
            try:
                sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        answer = b""
        while b"\r\n" not in answer:
            received = sock.recv(4096)
            if not received:
                break
            answer += received
        assert sent < size, "the whole body was sent before any answer"
        return int(answer.split(b" ", 2)[1])
    finally:
        sock.close()


def test_three_parallel_200_mb_posts_get_413_and_leave_memory_near_idle(
    tmp_path, demo_database, slack_server, servers
):
    write_config(tmp_path, demo_database, state_url=f"sqlite:///{tmp_path / 'state.db'}", schedule="")
    env = environment(slack_server)
    env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    serve = Serve(tmp_path, env)
    servers.append(serve)
    serve.started()
    url = f"http://127.0.0.1:{serve.port}/slack/events"
    assert send(url, "a" * (MB - 10), sign_with=None).status == 401  # under the limit: read and judged
    assert serve.get("/healthz")[0] == 200  # warmed up: the idle figure includes a served request
    pid = serve.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    idle = _memory(pid)["VmRSS"]

    statuses: list[int] = []
    kinds = [True, True, False]  # two chunked without a Content-Length, one with it

    def post(chunked: bool) -> None:
        statuses.append(_post_big(serve.port, chunked=chunked))

    threads = [threading.Thread(target=post, args=(kind,)) for kind in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [413, 413, 413]
    peak = _memory(pid)["VmHWM"]
    print(f"idle RSS {idle / MB:.1f} MB, peak {peak / MB:.1f} MB during three 200 MB posts")
    assert peak - idle < 20 * MB, (idle, peak)
    assert serve.get("/healthz")[0] == 200
    assert serve.stop() == 0
    assert serve.text().count("body over 1048576 bytes") == 3
