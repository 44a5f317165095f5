"""The two placements today's federation layer (openeo-aggregator) makes, to compare with
pgc's (issue 8). Neither has a cost model.

- ``load_split``: the loads of secondary members are split off; everything else runs on
  the member used most: of the members that can run all of it, the one holding the most
  of the graph's loads (first in the description on a tie).
- ``support_cut``: cut only where process support forces it: a node stays on the member
  of its first input when that member can run it, else it goes to the first member by name
  that can; a load goes to the first member by name that holds its collection.

Each returns None when it cannot place the graph (a member it picks lacks a process).
"""

from __future__ import annotations

from collections import Counter

from ..ir.graph import Graph
from .description import Federation
from .placement import can_run


def load_split(graph: Graph, federation: Federation) -> dict[str, str] | None:
    loads = [n for n in graph.nodes() if n.process_id == "load_collection"]
    holders = {}
    for node in loads:
        able = [m.id for m in federation.members if can_run(node, m, federation)]
        if not able:
            return None
        holders[node.id] = able
    rest = [n for n in graph.nodes() if n.id not in holders]
    able = [m.id for m in federation.members if all(can_run(n, m, federation) for n in rest)]
    if not able:
        return None
    counts = Counter(h[0] for h in holders.values())
    main = max(able, key=lambda m: (counts.get(m, 0), -able.index(m)))
    return {
        n.id: (main if main in holders[n.id] else holders[n.id][0]) if n.id in holders else main
        for n in graph.nodes()
    }


def support_cut(graph: Graph, federation: Federation) -> dict[str, str] | None:
    by_name = sorted(federation.members, key=lambda m: m.id)
    where: dict[str, str] = {}
    for node in graph.nodes():
        inputs = list(dict.fromkeys(node.node_refs()))
        if inputs and can_run(node, federation.member(where[inputs[0]]), federation):
            where[node.id] = where[inputs[0]]
            continue
        able = [m.id for m in by_name if can_run(node, m, federation)]
        if not able:
            return None
        where[node.id] = able[0]
    return where
