"""Measuring what a call allocates, whatever ran before it."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def peak_allocation(call: Callable[[], T]) -> tuple[T, int]:
    """``call()``'s result and the peak bytes it allocated (numpy reports its arrays).

    Interpreter-wide tables (Python's own dicts and caches) grow now and then, wherever
    the call that crosses their threshold happens to be: after some test histories a
    1.9 MB table growth landed in numpy's ``as_strided`` (``dict(x.__array_interface__)``)
    inside a depthwise plan of 3 KB. Such growth is kept after the call, so what the call
    still holds in Python's domain (not numpy's data) is subtracted from the peak. The
    garbage collector is paused during the call, so no finalizer of an earlier test's
    objects runs inside it.
    """
    enabled = gc.isenabled()
    gc.disable()
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
        held = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.DomainFilter(inclusive=False, domain=np.lib.tracemalloc_domain)]
        )
        interpreter = sum(stat.size for stat in held.statistics("filename"))
    finally:
        tracemalloc.stop()
        if enabled:
            gc.enable()
    return result, peak - interpreter
