"""Helpers that passes share: rebuilding graphs bottom-up and redirecting references."""

from __future__ import annotations

from collections.abc import Callable

from ..ir.graph import Graph
from ..ir.nodes import Callback, Node, NodeRef, Value, map_refs


def map_graphs(graph: Graph, fn: Callable[[Graph], tuple[Graph, bool]]) -> tuple[Graph, bool]:
    """Apply ``fn`` to every child graph (innermost first) and then to ``graph`` itself.

    Nodes whose callbacks changed are replaced by copies holding the new callbacks; the
    input is never mutated. Recursion follows callback nesting, which validation bounds
    (``Limits.max_graph_depth``).
    """
    changed = False
    out = graph
    for node in graph.nodes():
        new_args = []
        node_changed = False
        for name, value in node.arguments:
            if isinstance(value, Callback):
                child, child_changed = map_graphs(value.graph, fn)
                if child_changed:
                    value = Callback(child)
                    node_changed = True
            new_args.append((name, value))
        if node_changed:
            if out is graph:
                out = graph.copy()
            out.replace(node.with_arguments(tuple(new_args)))
            changed = True
    result, self_changed = fn(out)
    return result, changed or self_changed


def redirect(graph: Graph, old: str, new_value: Value) -> None:
    """Make every user of node ``old`` read ``new_value`` instead (in place on ``graph``)."""

    def swap(ref: NodeRef) -> Value:
        return new_value if ref.id == old else ref

    for user in graph.users(old):
        node = graph.node(user)
        graph.replace(node.with_arguments(tuple((k, map_refs(v, swap)) for k, v in node.arguments)))


def is_pure(node: Node, specs) -> bool:
    """Whether the process has no effect beyond its value and gives the same value for the
    same arguments (trait ``pure``, default true; ``deterministic``, default true)."""
    spec = specs.get(node.process_id)
    if spec is None or node.namespace not in (None, "backend"):
        return False  # user-defined or unknown: nothing moves across it
    return spec.traits.pure and spec.traits.deterministic
