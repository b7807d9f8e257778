"""Sync throughput (objects per second) of kpicore-agilecrm against its loopback Agile CRM server.

    python benchmarks/sync_agilecrm.py --people 5000 --repeat 3

Serves PEOPLE contacts, PEOPLE/2 deals and PEOPLE/2 tickets (the test data set of
plugins/kpicore-agilecrm/tests) on 127.0.0.1, then times a full `run_sync` into a fresh SQLite staging
database (fetch, one transaction per page, publish, entity tables) and an incremental one with nothing
changed. Prints one line per run; the loopback server shares the machine, so the figure is a floor for
the client side, not a prediction of Agile CRM's own speed (which the vendor does not publish).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins" / "kpicore-agilecrm" / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import kpicore_agilecrm
    from agile_data import load, make_facts
    from agile_server import AgileServer, AgileState

    from kpicore.config import parse_config
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry
    from kpicore.sync import run_sync

    state = AgileState("bench@example.com", "bench-key")
    load(state, *make_facts(dt.date.today(), people=args.people))
    objects = len(state.contacts) + len(state.deals) + len(state.tickets)
    server = AgileServer(state).start()
    os.environ.update(
        KPI_AGILECRM_API_BASE=server.base, KPI_AGILECRM_EMAIL=state.email, KPI_AGILECRM_API_KEY=state.api_key
    )
    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(kpicore_agilecrm, name="agilecrm")
    registry = build_registry(loaded, strict=True)
    try:
        for run in range(1, args.repeat + 1):
            with tempfile.TemporaryDirectory() as folder:
                config = parse_config(
                    {
                        "source": {"url": "agilecrm://bench"},
                        "sync": {"url": "staging.db", "page_size": args.page_size},
                    },
                    Path(folder) / "kpi.toml",
                )
                started = time.perf_counter()
                full = run_sync(config, registry)
                full_seconds = time.perf_counter() - started
                started = time.perf_counter()
                again = run_sync(config, registry)
                again_seconds = time.perf_counter() - started
            print(
                f"run {run}: full sync of {objects} objects (page size {args.page_size}) in {full_seconds:.2f} s = "
                f"{full.total('fetched') / full_seconds:.0f} objects/s; incremental with no changes "
                f"{again_seconds:.2f} s ({again.total('fetched')} fetched)"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
