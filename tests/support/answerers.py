"""An answerer for tests that counts the computes it starts.

Both live computes of ``/kpi`` (a metric request and a digest preview) run in the answerer's worker
through ``_speaking_in_worker``; counting there lets a test check that a refused or stored answer
computed nothing, without a counter in kpicore.
"""

from __future__ import annotations

import threading

from kpicore.chat.answers import Answerer


class CountingAnswerer(Answerer):
    """kpicore's Answerer, plus ``computes``: how many live computes it has started."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.computes = 0
        self._counting = threading.Lock()

    def _speaking_in_worker(self, function, *args):
        with self._counting:
            self.computes += 1
        return super()._speaking_in_worker(function, *args)
