"""Fewer garbage collections while a scan runs.

A scan of a large database allocates millions of short-lived containers (a row per sampled
table, a tuple per analysed value, the catalog inventory's rows), and CPython starts a
young-generation collection every 700 net allocations by default; the collections that reach
the older generations walk every object the scanner holds (the inventory, the samples so
far). On the 10,000-table estate benchmark that was about a tenth of the scanner's CPU.
While a scan runs the young threshold is raised: reference cycles are still collected, less
often, for at most a few megabytes of garbage waiting a little longer. The setting is the
process's, so nested or concurrent scans share one raise and the last to finish restores it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 50_000

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, ...] = ()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Within this block the young generation is collected every YOUNG_THRESHOLD net
    allocations (or the process's own setting, when that is higher)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(YOUNG_THRESHOLD, _saved[0]), *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.set_threshold(*_saved)
