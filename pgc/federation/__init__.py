"""Federation (issue 8): members, placement of a graph's nodes, splitting and stitching.

>>> # federate(document, Federation.load("fed.json")).explain(); see tests/test_federation.py
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from .description import Federation, Member

__all__ = ["Federated", "Federation", "Member", "canonical_names", "federate"]


@dataclass
class Federated:
    """A graph compiled for a federation: its plan, placement, jobs and the baselines."""

    plan: Any  # pgc.compiler.Plan (over the canonical collections)
    placement: Any  # placement.Placement
    split: Any  # split.Split
    baselines: dict[str, tuple[dict | None, int | None]]  # name -> (placement, bytes)
    federation: Federation | None = None  # what it was compiled for

    def explain(self) -> str:
        from ..ir.types import format_bytes

        where = self.placement.members
        moved = {n: (a, b, size) for n, a, b, size in self.split.crossings}
        exact = "exact" if self.placement.exact else "heuristic"
        lines = [f"# federation: pgc moves {format_bytes(self.split.bytes_moved)} ({exact})"]
        for name, (_, size) in self.baselines.items():
            shown = format_bytes(size) if size is not None else "cannot place the graph"
            lines.append(f"# baseline {name}: {shown}")
        for node in self.plan.graph.nodes():
            line = f"%{node.id} = {node.process_id}(...) on {where[node.id]}"
            if node.id in moved:
                a, b, size = moved[node.id]
                line += f"  # crosses {a} -> {b}: {format_bytes(size)}"
            lines.append(line)
        for job in self.split.jobs:
            needs = f" after {', '.join(job.needs)}" if job.needs else ""
            lines.append(f"# job {job.id} on {job.member}{needs}")
        return "\n".join(lines) + "\n"


def canonical_names(document: Any, federation: Federation) -> Any:
    """The document with every load_collection's id replaced by its canonical id (names
    nobody knows stay, for the compiler to report)."""
    from ..errors import Diagnostic, PgcError
    from ..pointer import join
    from .description import AmbiguousName

    if isinstance(document, str | bytes):
        document = json.loads(document)
    out = copy.deepcopy(document)
    stack: list[tuple[Any, str]] = [(out, "")]
    problems = []
    while stack:
        value, where = stack.pop()
        if isinstance(value, dict):
            args = value.get("arguments")
            if value.get("process_id") == "load_collection" and isinstance(args, dict):
                name = args.get("id")
                try:
                    canonical = federation.canonical(name) if isinstance(name, str) else None
                except AmbiguousName as ambiguous:
                    pointer = join(where, "arguments", "id")
                    problems.append(Diagnostic("ProcessParameterInvalid", str(ambiguous),
                                               pointer, argument="id"))  # fmt: skip
                    canonical = None
                if canonical is not None:
                    args["id"] = canonical
            stack.extend((v, join(where, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, join(where, str(i))) for i, v in enumerate(value))
    if problems:
        raise PgcError(sorted(problems, key=lambda d: d.pointer))
    return out


def federate(document: Any, federation: Federation, specs: Any = None) -> Federated:
    """Compile ``document`` for ``federation``: optimize over the canonical collections,
    place every node, split into member jobs, and measure the two baselines."""
    from ..compiler import compile as compile_graph
    from .baselines import load_split, support_cut
    from .placement import moved_bytes, place
    from .split import split

    plan = compile_graph(
        canonical_names(document, federation), catalog=federation.catalog(), specs=specs
    )
    placement = place(plan.graph, federation)
    baselines = {}
    for name, strategy in (("load_collection split", load_split), ("support cut", support_cut)):
        where = strategy(plan.graph, federation)
        size = moved_bytes(plan.graph, where) if where is not None else None
        baselines[name] = (where, size)
    jobs = split(plan.graph, placement, federation)
    return Federated(plan, placement, jobs, baselines, federation)
