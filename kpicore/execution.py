"""Running a compute's independent queries side by side, and stopping them on the first failure.

Each query runs on its own pooled connection (the database does the work; the driver releases the GIL
while it waits), up to the dialect's ``concurrency`` at a time. On the first failure, or an interrupt,
the queries still running are stopped the way the dialect says (SQLite ``interrupt``, DB-API ``cancel``,
MySQL ``KILL QUERY``), those not started never start, and the failure is raised.
"""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

#: The query group the current worker thread runs for, if any.
_in_group = threading.local()


class Stopped(Exception):
    """A query of a stopped group that had not started: it never runs."""


def execute_all(
    source,
    statements: list,
    labels: list[str] | None = None,
    progress: Callable[[list[str]], None] | None = None,
) -> list[list]:
    """Run independent queries on ``source`` side by side and return their rows in order.

    With ``progress``, it is called with the labels (``labels[i]`` names statement i, e.g. its entity)
    of the queries running whenever that set changes, from the threads running them.
    """
    running: list[str] = []
    lock = threading.Lock()

    def watched(index, statement):
        if progress is None:
            return source.execute(statement)
        label = labels[index] if labels else f"query {index + 1}"
        with lock:
            running.append(label)
            progress(sorted(set(running)))
        try:
            return source.execute(statement)
        finally:
            with lock:
                running.remove(label)
                progress(sorted(set(running)))

    workers = min(source.concurrency, len(statements))
    if workers <= 1:
        return [watched(index, statement) for index, statement in enumerate(statements)]
    group = QueryGroup(source)

    def run_in_group(index, statement):
        _in_group.group = group
        try:
            return watched(index, statement)
        finally:
            _in_group.group = None

    with ThreadPoolExecutor(workers, thread_name_prefix="kpicore-query") as pool:
        futures = [pool.submit(run_in_group, index, statement) for index, statement in enumerate(statements)]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)  # a failure is seen as soon as it happens
            for future in futures:
                if future.done() and future.exception() is not None:
                    future.result()  # raises it
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            group.stop()  # the other results are not needed: stop them rather than wait for them
            raise


def run(conn, work):
    """``work(conn)``, inside the current thread's query group if it has one (see ``Source._run``)."""
    group = getattr(_in_group, "group", None)
    if group is None:
        return work(conn)
    return group.run(conn, work)


class QueryGroup:
    """The queries of one ``execute_all`` call: which connections are running one, and stopping them."""

    def __init__(self, source):
        self._source = source
        self._lock = threading.Lock()
        self._stopping = False
        self._running: set = set()  # driver connections with a query of this group in progress
        self._told: set = set()  # those told to stop: discarded, not pooled, when their query ends

    def run(self, conn, work):
        driver = conn.connection.dbapi_connection
        with self._lock:
            if self._stopping:
                raise Stopped
            self._running.add(driver)
        try:
            return work(conn)
        finally:
            with self._lock:
                self._running.discard(driver)
                told = driver in self._told
            if told:
                conn.invalidate()  # a stop request may still be in flight: never reuse the connection

    def stop(self) -> None:
        """Stop the running queries and return when they have ended; none starts after this. A query
        registered but not yet sent to the database would miss a single stop (an idle connection ignores
        it), so the stop is repeated until each one ends."""
        with self._lock:
            self._stopping = True
        dialect, engine = self._source.dialect, self._source.engine
        while True:
            with self._lock:
                running = list(self._running)
                self._told.update(running)
            if not running:
                return
            for driver in running:
                with contextlib.suppress(Exception):  # the query may have ended meanwhile
                    dialect.stop_query(engine, driver)
            time.sleep(0.05)
