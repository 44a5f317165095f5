"""The IR graph: nodes over a networkx DiGraph, changed only through its own methods.

Edges run from a producer to each node that reads it (``from_node`` references, at any
depth inside arrays and objects). A graph has typed parameters (for child graphs: the
callback's parameters, such as ``x`` or ``data``; for the top graph: the declared
parameters of the process) and one result node. Node order is deterministic: topological,
ties broken by the order in which nodes were added (the user's document order).

>>> from pgc.ir.nodes import Node, NodeRef, Literal
>>> g = Graph()
>>> g.add(Node("a", "constant", (("x", Literal(1)),)))
>>> g.add(Node("b", "absolute", (("x", NodeRef("a")),)))
>>> g.set_result("b")
>>> [n.id for n in g.nodes()], g.users("a")
(['a', 'b'], ['b'])
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from .nodes import Callback, Node
from .types import ANY, Type


class IRError(Exception):
    """A broken IR invariant: a bug in pgc, never the user's mistake."""


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: Type = ANY
    optional: bool = False
    default: Any = None
    has_default: bool = False


@dataclass(eq=False)
class Graph:
    parameters: tuple[Parameter, ...] = ()
    pointer: str = ""  # JSON pointer of this graph (its process_graph object) in the document
    result: str | None = None
    _g: nx.DiGraph = field(default_factory=nx.DiGraph, repr=False)
    _index: dict[str, int] = field(default_factory=dict, repr=False)  # insertion order
    _next: int = 0
    _order: list[str] | None = field(default=None, repr=False)  # cached topological order
    _branches: list[str] | None = field(default=None, repr=False)  # cached branch_order
    _hash: int | None = field(default=None, repr=False)

    # -- reading ------------------------------------------------------------------------
    def __contains__(self, node_id: object) -> bool:
        return node_id in self._g

    def __len__(self) -> int:
        return self._g.number_of_nodes()

    def node(self, node_id: str) -> Node:
        return self._g.nodes[node_id]["node"]

    def nodes(self) -> list[Node]:
        """Nodes in deterministic topological order."""
        return [self.node(i) for i in self.order()]

    def order(self) -> list[str]:
        if self._order is None:
            indegree = {n: self._g.in_degree(n) for n in self._g}
            ready = [(self._index[n], n) for n, d in indegree.items() if d == 0]
            heapq.heapify(ready)
            out: list[str] = []
            while ready:
                _, n = heapq.heappop(ready)
                out.append(n)
                for user in self._g.successors(n):
                    indegree[user] -= 1
                    if indegree[user] == 0:
                        heapq.heappush(ready, (self._index[user], user))
            if len(out) != len(self._g):
                raise IRError("the IR graph has a cycle")
            self._order = out
        return list(self._order)

    def branch_order(self) -> list[Node]:
        """Nodes in a topological order that finishes each branch before it starts the
        next: depth first from each node nothing reads (in :meth:`order`), a node's inputs
        in that order, each node after its inputs. What the executors run in: a value read
        only by a branch is dropped when the branch is done, before the next branch loads
        its own (merge at 4096 px: the reference held both loads with the NDVI cube)."""
        if self._branches is None:
            self._branches = self._depth_first()
        return [self.node(i) for i in self._branches]

    def _depth_first(self) -> list[str]:
        """The node ids of :meth:`branch_order`, made once per version of the graph (the
        loop asks for them at every run of a child graph: 28 us for 16 nodes, against 3
        for the cached :meth:`order`)."""
        order = self.order()
        position = {n: i for i, n in enumerate(order)}
        out: list[str] = []
        done: set[str] = set()
        for sink in order:
            if sink in done or self._g.out_degree(sink):
                continue
            stack = [(sink, False)]
            while stack:
                n, expanded = stack.pop()
                if n in done:
                    continue
                if expanded:
                    done.add(n)
                    out.append(n)
                    continue
                stack.append((n, True))
                ready = [i for i in self._g.predecessors(n) if i not in done]
                stack.extend((i, False) for i in sorted(ready, key=position.__getitem__,
                                                       reverse=True))  # fmt: skip
        return out

    def users(self, node_id: str) -> list[str]:
        return sorted(self._g.successors(node_id), key=self._index.__getitem__)

    def inputs(self, node_id: str) -> list[str]:
        return sorted(self._g.predecessors(node_id), key=self._index.__getitem__)

    def parameter(self, name: str) -> Parameter | None:
        for p in self.parameters:
            if p.name == name:
                return p
        return None

    def fresh_id(self, base: str) -> str:
        """``base``, or ``base2``, ``base3`` ...: a node id the graph does not have yet."""
        name, i = base, 1
        while name in self._g:
            i += 1
            name = f"{base}{i}"
        return name

    @property
    def result_node(self) -> Node:
        if self.result is None:
            raise IRError("the graph has no result node")
        return self.node(self.result)

    def walk(self) -> Iterator[tuple[Graph, Node]]:
        """Every (graph, node) of this graph and its child graphs, parents first."""
        stack: list[Graph] = [self]
        while stack:
            graph = stack.pop()
            children = []
            for node in graph.nodes():
                yield graph, node
                children += [cb.graph for _, cb in node.callbacks()]
            stack.extend(reversed(children))

    # -- changing -----------------------------------------------------------------------
    def add(self, node: Node) -> None:
        if node.id in self._g:
            raise IRError(f"node {node.id!r} exists already")
        self._g.add_node(node.id, node=node)
        self._index[node.id] = self._next
        self._next += 1
        self._link(node)
        self._changed()

    def replace(self, node: Node) -> None:
        """Put ``node`` in place of the node with the same id (its arguments may change)."""
        if node.id not in self._g:
            raise IRError(f"no node {node.id!r} to replace")
        self._g.remove_edges_from(list(self._g.in_edges(node.id)))
        self._g.nodes[node.id]["node"] = node
        self._link(node)
        self._changed()

    def remove(self, node_id: str) -> None:
        if self.users(node_id):
            raise IRError(f"node {node_id!r} is still used by {self.users(node_id)}")
        self._g.remove_node(node_id)
        del self._index[node_id]
        if self.result == node_id:
            self.result = None
        self._changed()

    def set_result(self, node_id: str) -> None:
        if node_id not in self._g:
            raise IRError(f"no node {node_id!r}")
        self.result = node_id
        self._changed()

    def copy(self) -> Graph:
        """A copy that can change independently (nodes are immutable and shared)."""
        g = Graph(self.parameters, self.pointer, self.result)
        g._g = self._g.copy()
        g._index = dict(self._index)
        g._next = self._next
        g._order, g._branches = self._order, self._branches
        return g

    def _link(self, node: Node) -> None:
        for ref in node.node_refs():
            if ref not in self._g:
                raise IRError(f"node {node.id!r} refers to missing node {ref!r}")
            self._g.add_edge(ref, node.id)

    def _changed(self) -> None:
        self._order = self._branches = None
        self._hash = None

    # -- structure ------------------------------------------------------------------------
    def key(self) -> tuple:
        """A structural key: equal for graphs with the same nodes, arguments and result."""
        return (self.parameters, self.result, tuple(self.nodes()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Graph) and self.key() == other.key()

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(self.key())
        return self._hash

    def verify(self) -> None:
        """Check the IR invariants; raise IRError on the first broken one."""
        stack: list[Graph] = [self]
        while stack:
            graph = stack.pop()
            if graph.result is None or graph.result not in graph._g:
                raise IRError("graph without a valid result node")
            graph.order()  # acyclic
            for node in graph.nodes():
                for ref in node.node_refs():
                    if ref not in graph._g or not graph._g.has_edge(ref, node.id):
                        raise IRError(f"node {node.id!r}: reference {ref!r} without an edge")
                for _, cb in node.callbacks():
                    if not isinstance(cb, Callback):
                        raise IRError("callback value of the wrong type")
                    stack.append(cb.graph)
            for producer, consumer in graph._g.edges:
                if producer not in set(graph.node(consumer).node_refs()):
                    raise IRError(f"edge {producer!r} -> {consumer!r} without a reference")
