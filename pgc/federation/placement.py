"""Placing a graph's nodes on federation members so as to move the fewest bytes (issue 8).

Every node of the (typed, optimized) top-level graph goes to one member: a load where its
collection lives, any other node where its process, and every process of its callbacks, is
supported. The cost of a placement is the bytes that cross between members: a node's
value (its type's size after pushdown and pruning, geometries included, plus the exchange
file's fixed part) is sent once to every *other* member that reads it, each byte weighted
by one plus what its member charges for egress. Ties are broken by compute: the bytes a
node takes divided by its member's relative speed, where a load on a member that cannot
take filters into its loads takes the whole collection.

- A tree (every value read once: the usual shape of a process graph) is placed exactly by
  dynamic programming over its members, in O(nodes x members^2).
- A graph with shared values is placed exactly by exhaustive search when the choices are
  few (at most :data:`EXHAUSTIVE_LIMIT` combinations), else by a heuristic: the tree
  program on the graph with each shared value's readers treated apart, then moves of one
  node at a time to another member while that lowers the cost (a local optimum).

Unknown sizes count as :data:`UNKNOWN_BYTES` (a full Sentinel-2 tile of one band and one
date), so an unsized value is still worth keeping in place.

A value moves only from a member that supports ``save_result`` to one that supports
``load_stac``, and a member whose work comes both before and after another member's needs
both to pass results between its own jobs; other placements cost :data:`UNMOVABLE`. The
tree program does not see the second rule: when its placement breaks it, the exhaustive
search (or the local moves) takes over.

A node no member can run, or a graph whose every placement needs a move the members cannot
make, is an error that says what is missing where (:class:`PgcError`, code
``FederationUnsatisfiable``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import Diagnostic, PgcError, echo
from ..ir.graph import Graph
from ..ir.nodes import Node
from ..ir.types import CubeType
from .description import Federation

EXHAUSTIVE_LIMIT = 50_000
# the cost of a crossing the members cannot make: the producer's member cannot save_result
# or the reader's cannot load_stac (a penalty, not a constraint, so the search stays simple;
# a placement that still pays it is reported as unsatisfiable)
UNMOVABLE = 10**15
UNKNOWN_BYTES = 10980 * 10980 * 2
SCALAR_BYTES = 64  # a number, a string, a small object
# what a value sent between members costs beyond its values: the exchange's netCDF file
# (HDF5 headers, coordinates) and STAC documents; a one-value cube's exchange is 12,001
# bytes (pgc.executors.exchange.write), so a small value's estimate is not 10x too low
EXCHANGE_BYTES = 12_000


@dataclass(frozen=True)
class Placement:
    """Member id per node id, with the bytes that cross between members."""

    members: Mapping[str, str]
    bytes_moved: int
    exact: bool  # found by an exact method (tree program or exhaustive search)

    def on(self, node_id: str) -> str:
        return self.members[node_id]


def node_bytes(node: Node) -> int:
    """Estimated size of a node's value (a vector cube's with its geometries)."""
    if isinstance(node.type, CubeType):
        size = node.type.nbytes
        return UNKNOWN_BYTES if size is None else size
    return SCALAR_BYTES


def sent_bytes(node: Node) -> int:
    """The bytes of sending a node's value to another member: its values and the exchange
    file's fixed part (:data:`EXCHANGE_BYTES`)."""
    return node_bytes(node) + EXCHANGE_BYTES


def candidates(graph: Graph, federation: Federation) -> dict[str, list[str]]:
    """The members each node may run on; PgcError naming what is missing where if a node
    has none."""
    problems = []
    options: dict[str, list[str]] = {}
    for node in graph.nodes():
        allowed = [m.id for m in federation.members if can_run(node, m, federation)]
        if not allowed:
            problems.append(_why_not(node, federation))
        options[node.id] = allowed
    if problems:
        raise PgcError(problems)
    return options


def _processes_of(node: Node) -> set[str]:
    found = {node.process_id}
    for _, callback in node.callbacks():
        for _, inner in callback.graph.walk():
            found.add(inner.process_id)
    return found


def _collection(node: Node, federation: Federation) -> str | None:
    name = node.literal("id")
    return federation.canonical(name) if isinstance(name, str) else None


def can_run(node: Node, member, federation: Federation) -> bool:
    """Whether ``member`` can run ``node``: it supports every process of the node and its
    callbacks, and, for a load, holds the collection."""
    if not all(member.supports(p) for p in _processes_of(node)):
        return False
    if node.process_id == "load_collection":
        canonical = _collection(node, federation)
        return canonical is not None and member.holds(canonical)
    return True


def _why_not(node: Node, federation: Federation) -> Diagnostic:
    pointer = node.origin.pointer if node.origin else ""
    if node.process_id == "load_collection":
        canonical = _collection(node, federation)
        if canonical is None:
            message = f"No member holds a collection named {echo(node.literal('id'))}."
            return Diagnostic("FederationUnsatisfiable", message, pointer, node_id=node.id)
        holders = [m.id for m in federation.holding(canonical)]
        if holders:
            message = (
                f"Collection {echo(canonical)} is on {', '.join(holders)}, and none of them "
                "supports load_collection."
            )
            return Diagnostic("FederationUnsatisfiable", message, pointer, node_id=node.id)
        message = f"No member holds collection {echo(canonical)}."
        return Diagnostic("FederationUnsatisfiable", message, pointer, node_id=node.id)
    needed = sorted(_processes_of(node))
    missing = {m.id: [p for p in needed if not m.supports(p)] for m in federation.members}
    detail = "; ".join(f"{m} lacks {', '.join(ps)}" for m, ps in missing.items())
    message = f"No member supports every process node {echo(node.id)} needs ({detail})."
    return Diagnostic(
        "FederationUnsatisfiable", message, pointer, node_id=node.id, process_id=node.process_id
    )


def can_move(federation: Federation, source: str, target: str, across: bool = True) -> bool:
    """Whether a value can go from member ``source`` to ``target`` (``across=False``: from
    one of a member's jobs to a later one): the one saves it (``save_result``), the other
    reads it back (``load_stac``)."""
    if across and source == target:
        return True
    saves = federation.member(source).supports("save_result")
    return saves and federation.member(target).supports("load_stac")


def transfer(size: int, source: str, target: str, federation: Federation) -> int:
    """The cost of sending ``size`` bytes from ``source`` to ``target``: the bytes, each GB
    weighted by one plus what the source charges for a GB leaving it (``egress_per_gb``:
    0.09 makes its bytes count 1.09 times, so of two members that could send the same
    value the one that charges less sends it)."""
    if source == target:
        return 0
    if not can_move(federation, source, target):
        return UNMOVABLE
    return round(size * (1 + federation.member(source).egress_per_gb))


def read_bytes(node: Node, member, federation: Federation) -> int:
    """The bytes ``node`` takes to compute on ``member``: its value's, and for a load on a
    member that cannot take a filter into its loads (``filters = "none"``), the whole
    collection's, which it reads before filtering (``exact`` and ``inexact`` read about
    what the load's extents select)."""
    size = node_bytes(node)
    if node.process_id != "load_collection" or member.pushdown != "none":
        return size
    canonical = _collection(node, federation)
    whole = federation.full_bytes(canonical) if canonical is not None else None
    return max(size, UNKNOWN_BYTES if whole is None else whole)


def stages(graph: Graph, where: Mapping[str, str]) -> dict[str, int]:
    """Each node's stage; the nodes of one member and stage form one job
    (:mod:`pgc.federation.split`).

    A node's earliest stage is the most member changes on a path from a source to it; its
    stage is the latest its readers allow (a reader's stage, less one where the reader is
    on another member), and the last stage for a node nobody reads. Late rather than
    early: work that needs no other member's result (a load and a reduction feeding a
    merge with another member's value) runs in the job that reads it, not in an earlier
    job of the same member that saves it for the later one (which would take one more job,
    and save_result on a member that may not have it). Either way every value is computed
    before its readers: a node's stage is at least its inputs' (one more across members)."""
    early: dict[str, int] = {}
    nodes = graph.nodes()
    for node in nodes:
        early[node.id] = max(
            (early[p] + (where[p] != where[node.id]) for p in node.node_refs()), default=0
        )
    last = max(early.values(), default=0)
    stage: dict[str, int] = {}
    for node in reversed(nodes):
        stage[node.id] = min(
            (stage[u] - (where[u] != where[node.id]) for u in graph.users(node.id)),
            default=last,
        )
    return stage


def _split_members(graph: Graph, where: Mapping[str, str], federation: Federation) -> list[str]:
    """Members with work in several stages (a -> b -> a) that cannot pass results to their
    own later job: they lack save_result or load_stac."""
    stage = stages(graph, where)
    seen: dict[str, set[int]] = {}
    for node_id, member in where.items():
        seen.setdefault(member, set()).add(stage[node_id])
    return [
        m
        for m, found in seen.items()
        if len(found) > 1 and not can_move(federation, m, m, across=False)
    ]


def cost(graph: Graph, where: Mapping[str, str], federation: Federation) -> tuple[int, float]:
    """(bytes moved, weighted by egress: :func:`transfer`; compute time) of a placement:
    each value is sent once to every other member that reads it; compute is the bytes a
    node takes (:func:`read_bytes`) over the member's speed. What the members cannot carry
    out costs :data:`UNMOVABLE` per problem. :func:`moved_bytes` gives the bytes alone."""
    members = {m.id: m for m in federation.members}
    moved, compute = 0, 0.0
    for node in graph.nodes():
        size = sent_bytes(node)
        for reader in {where[u] for u in graph.users(node.id)}:
            moved += transfer(size, where[node.id], reader, federation)
        member = members[where[node.id]]
        compute += read_bytes(node, member, federation) / member.compute_speed
    if len(set(where.values())) > 1:  # can each member pass results to its own later jobs?
        moved += UNMOVABLE * len(_split_members(graph, where, federation))
    return moved, compute


def moved_bytes(graph: Graph, where: Mapping[str, str]) -> int:
    """The bytes a placement moves: each value once to every other member that reads it."""
    return sum(
        sent_bytes(node) * len({where[u] for u in graph.users(node.id)} - {where[node.id]})
        for node in graph.nodes()
    )


def place(graph: Graph, federation: Federation) -> Placement:
    """The placement of ``graph``'s nodes with the fewest bytes moved (then the least
    compute); exact for trees and small graphs."""
    options = candidates(graph, federation)
    choosy = [n for n, o in options.items() if len(o) > 1]
    combinations = 1
    for node_id in choosy:
        combinations *= len(options[node_id])
    small = combinations <= EXHAUSTIVE_LIMIT
    if all(len(graph.users(n.id)) <= 1 for n in graph.nodes()):
        where, exact = _tree(graph, options, federation), True
        if cost(graph, where, federation)[0] >= UNMOVABLE:  # the program cannot see stages
            where = _exhaustive(graph, options, federation, choosy) if small else where
            exact = small
    elif small:
        where, exact = _exhaustive(graph, options, federation, choosy), True
    else:
        where, exact = _tree(graph, options, federation), False
    if not exact:
        where = _improve(graph, _seeded(graph, where, options, federation), options, federation)
    if cost(graph, where, federation)[0] >= UNMOVABLE:
        raise PgcError([_unmovable(graph, where, federation)])
    return Placement(where, moved_bytes(graph, where), exact=exact)


def _unmovable(graph: Graph, where: Mapping[str, str], federation: Federation) -> Diagnostic:
    """The first value that must cross between members that cannot exchange it."""
    for node in graph.nodes():
        for reader in graph.users(node.id):
            a, b = where[node.id], where[reader]
            if a != b and not can_move(federation, a, b):
                lacks = [f"{a} lacks save_result"] if not federation.member(a).supports(
                    "save_result") else []  # fmt: skip
                if not federation.member(b).supports("load_stac"):
                    lacks.append(f"{b} lacks load_stac")
                message = (
                    f"The value of node {echo(node.id)} must go from {a} to {b} (no member "
                    f"can run both), but {' and '.join(lacks)}."
                )
                pointer = node.origin.pointer if node.origin else ""
                return Diagnostic("FederationUnsatisfiable", message, pointer, node_id=node.id)
    member = _split_members(graph, where, federation)[0]
    lacking = [p for p in ("save_result", "load_stac") if not federation.member(member).supports(p)]
    message = (
        f"Member {member} must run work both before and after another member's (no member "
        "can run all of it), and cannot pass its own results on between those jobs: it "
        f"lacks {' and '.join(lacking)}."
    )
    return Diagnostic("FederationUnsatisfiable", message)


def _tree(graph: Graph, options: dict, federation: Federation) -> dict[str, str]:
    """Dynamic programming from the leaves: best[v][m] is the least (bytes, compute) of
    v's inputs' subtrees with v on m. Exact when every value has one reader; with shared
    values each reader counts the value's subtree apart (an estimate)."""
    members = {m.id: m for m in federation.members}
    best: dict[str, dict[str, tuple[int, float]]] = {}
    choice: dict[tuple[str, str, str], str] = {}  # (node, its member, input) -> input's member
    for node in graph.nodes():
        best[node.id] = {}
        for m in options[node.id]:
            moved = 0
            compute = read_bytes(node, members[m], federation) / members[m].compute_speed
            for producer in dict.fromkeys(node.node_refs()):
                psize = sent_bytes(graph.node(producer))

                def total(pm: str, producer=producer, psize=psize, m=m) -> tuple:
                    b, c = best[producer][pm]
                    return (b + transfer(psize, pm, m, federation), c)

                pick = min(options[producer], key=total)
                choice[(node.id, m, producer)] = pick
                b, c = total(pick)
                moved, compute = moved + b, compute + c
            best[node.id][m] = (moved, compute)
    where: dict[str, str] = {}
    roots = [n.id for n in graph.nodes() if not graph.users(n.id)]
    stack = [(r, min(best[r], key=best[r].get)) for r in roots]
    while stack:
        node_id, member = stack.pop()
        if node_id in where:
            continue
        where[node_id] = member
        for producer in dict.fromkeys(graph.node(node_id).node_refs()):
            stack.append((producer, choice[(node_id, member, producer)]))
    return where


def _exhaustive(graph: Graph, options: dict, federation: Federation, choosy: list) -> dict:
    fixed = {n: o[0] for n, o in options.items() if len(o) == 1}
    best, best_cost = None, None
    for combo in itertools.product(*(options[n] for n in choosy)):
        where = {**fixed, **dict(zip(choosy, combo, strict=True))}
        value = cost(graph, where, federation)
        if best_cost is None or value < best_cost:
            best, best_cost = where, value
    return best


def _seeded(graph: Graph, where: dict, options: dict, federation: Federation) -> dict:
    """The cheapest of ``where`` and the placements of the whole graph on one member that can
    run all of it: the local search starts from there, so a graph one member can run is never
    declared unsatisfiable (the moves of one node at a time may not reach that placement)."""
    seeds = [where]
    for member in federation.members:
        if all(member.id in options[n.id] for n in graph.nodes()):
            seeds.append(dict.fromkeys(where, member.id))
    return min(seeds, key=lambda seed: cost(graph, seed, federation))


def _improve(graph: Graph, where: dict, options: dict, federation: Federation) -> dict:
    """Move one node at a time to the member that lowers the cost most, until none does."""
    where = dict(where)
    current = cost(graph, where, federation)
    improved = True
    while improved:
        improved = False
        for node in graph.nodes():
            for m in options[node.id]:
                if m == where[node.id]:
                    continue
                trial = {**where, node.id: m}
                value = cost(graph, trial, federation)
                if value < current:
                    where, current, improved = trial, value, True
    return where
