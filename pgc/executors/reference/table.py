"""The reference executor's implementations by process id, filled by the modules of this
package as they are imported (``@implements("add")``), and loaded all at once by
:func:`load_implementations`."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

Implementation = Callable[[Any], Any]  # takes a pgc.executors.reference.loop.Call
IMPLEMENTATIONS: dict[str, Implementation] = {}

MODULES = (
    "arrays", "combine", "comparison", "cube", "curve", "dates", "files", "filters", "fused",
    "geometry", "labels", "loads", "logic", "more", "neighborhood", "reducers", "resample",
    "reshape", "scalar", "temporal", "text", "udf", "vector",
)  # fmt: skip


def implements(*process_ids: str) -> Callable[[Implementation], Implementation]:
    """Register the decorated function as the implementation of ``process_ids``."""

    def register(fn: Implementation) -> Implementation:
        for pid in process_ids:
            IMPLEMENTATIONS[pid] = fn
        return fn

    return register


@cache  # once: every run asks
def load_implementations() -> None:
    """Import the modules that fill IMPLEMENTATIONS (a dask worker process has imported
    none of them when a chunk's task runs reference code)."""
    from importlib import import_module

    for name in MODULES:
        import_module(f"{__package__}.{name}")
