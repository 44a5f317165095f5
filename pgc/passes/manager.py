"""The pass manager: runs a pipeline of passes, records what each did and how long it took.

A pass is a function ``(graph, context) -> (new_graph, changed)`` that never mutates its
input and leaves remarks on the nodes it changed. Pipelines are named by a string:
``"dce,cse,fold"``, ``"default"`` or ``"none"``.

>>> parse_pipeline("dce, cse")
['dce', 'cse']
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..ir.graph import Graph

PassFn = Callable[[Graph, "PassContext"], tuple[Graph, bool]]


@dataclass
class PassContext:
    """What passes may consult: the process definitions (traits) and the environment."""

    env: object  # pgc.ir.infer.Environment


@dataclass(frozen=True)
class PassRecord:
    name: str
    changed: bool
    seconds: float
    graph: Graph  # the graph after the pass


@dataclass
class PassLog:
    records: list[PassRecord] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.records)


def registry() -> dict[str, PassFn]:
    from .cse import cse
    from .dce import dce
    from .fold import fold
    from .fuse import fuse_elementwise
    from .prune_bands import prune_bands
    from .push_filters import push_filters

    return {
        "dce": dce,
        "cse": cse,
        "fold": fold,
        "push-filters": push_filters,
        "prune-bands": prune_bands,
        "fuse-elementwise": fuse_elementwise,  # lowering for the numba executor
    }


# Passes whose output nodes keep correct types (no new inference needed after them).
KEEPS_TYPES = {"fuse-elementwise"}

# Cleanup (cse, dce) after each pass that moves work, so none is left behind.
DEFAULT_PIPELINE = [
    "fold",
    "cse",
    "dce",
    "push-filters",
    "cse",
    "dce",
    "prune-bands",
    "cse",
    "dce",
]


def parse_pipeline(text: str) -> list[str]:
    """Pass names from ``"a,b"``; ``"none"`` is empty, ``"default"`` the default pipeline."""
    text = text.strip()
    if text in ("", "none"):
        return []
    if text == "default":
        return list(DEFAULT_PIPELINE)
    names = [n.strip() for n in text.split(",") if n.strip()]
    known = registry()
    unknown = [n for n in names if n not in known and n != "default"]
    if unknown:
        raise ValueError(
            f"unknown pass(es): {', '.join(unknown)}; available: {', '.join(sorted(known))}"
        )
    out: list[str] = []
    for n in names:
        out += DEFAULT_PIPELINE if n == "default" else [n]
    return out


def run_pipeline(
    graph: Graph, names: list[str], context: PassContext, verify: bool = False
) -> tuple[Graph, PassLog]:
    """Run the passes in order; with ``verify`` check the IR after each (tests do)."""
    passes = registry()
    log = PassLog()
    for name in names:
        start = time.perf_counter()
        new, changed = passes[name](graph, context)
        seconds = time.perf_counter() - start
        if verify:
            new.verify()
        log.records.append(PassRecord(name, changed, seconds, new))
        graph = new
    return graph, log
