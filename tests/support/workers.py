"""Which tests share a pytest-xdist worker when `make test` runs the suite on two (``-n 2 --dist loadgroup``).

Every other test goes to whichever worker is free, one at a time, as ``--dist load`` sends them. The tests
below share something that is one per machine or one per session, so each group runs on one worker, one
test after another (pytest 9's node ids no longer take xdist's ``@group`` suffix, so the groups are named
here by path rather than by ``xdist_group`` marks).
"""

from __future__ import annotations

#: Node-id prefix -> group. The largest groups are handed out first (xdist reorders scopes by size).
GROUPS = {
    # One Spark Connect server (a JVM, 1 GB) for the session: started once, on the worker that runs these.
    "plugins/kpicore-spark/tests/": "spark",
    # Both build in the checkout: `make dist` (build/, *.egg-info) and `pip install -e` (*.egg-info).
    "tests/test_install.py::test_make_dist": "checkout-build",
    "tests/test_new_plugin.py::": "checkout-build",
    # Headless Chromium, one browser at a time as in a serial run.
    "tests/test_chart_text_size.py::": "chromium",
}


def group_of(nodeid: str) -> str:
    """The work unit of a test: its group's name, or the test itself."""
    for prefix, group in GROUPS.items():
        if nodeid.startswith(prefix):
            return group
    return nodeid


def grouped_scheduling(config, log):
    """xdist's load scheduling with the groups above (a subclass made here: xdist is imported only when it runs)."""
    from xdist.scheduler import LoadGroupScheduling

    class GroupedScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            marked = super()._split_scope(nodeid)  # an xdist_group mark, where xdist can still add it
            return marked if marked != nodeid else group_of(nodeid)

    return GroupedScheduling(config, log)
