"""Common-subexpression elimination.

Law: a pure, deterministic process gives the same value for the same arguments, so two
nodes with the same process, namespace and (already merged) arguments compute one value:
keep the first, let the users of the second read the first. Callbacks compare
structurally, so identical child graphs count as identical arguments. Applied within each
graph (child graphs too); nodes with effects are never merged.
"""

from __future__ import annotations

from ..ir.graph import Graph
from ..ir.nodes import ArrayValue, Callback, NodeRef, ObjectValue, Value
from .rewrite import is_pure, map_graphs, redirect


def cse(graph: Graph, context) -> tuple[Graph, bool]:
    specs = context.env.specs

    def one(g: Graph) -> tuple[Graph, bool]:
        out = g
        seen: dict[tuple, str] = {}
        merged: dict[str, list[str]] = {}
        for node_id in g.order():
            node = out.node(node_id)
            if not is_pure(node, specs):
                continue
            key = (node.process_id, node.namespace, _arguments_key(node.arguments))
            first = seen.get(key)
            if first is None:
                seen[key] = node_id
                continue
            if out is g:
                out = g.copy()
            redirect(out, node_id, NodeRef(first))
            if out.result == node_id:
                out.set_result(first)
            out.remove(node_id)
            merged.setdefault(first, []).append(node_id)
        for first, others in merged.items():
            names = ", ".join(others)
            out.replace(out.node(first).with_remark(f"cse: also computes {names}"))
        return out, bool(merged)

    return map_graphs(graph, one)


def _arguments_key(arguments) -> tuple:
    return tuple((name, _value_key(value, None)) for name, value in arguments)


def _value_key(value: Value, local: dict[str, int] | None):
    """Arguments as a key; inside callbacks node ids become positions (alpha-equivalence)."""
    if isinstance(value, NodeRef) and local is not None and value.id in local:
        return ("local", local[value.id])
    if isinstance(value, ArrayValue):
        return ("array", tuple(_value_key(v, local) for v in value.items))
    if isinstance(value, ObjectValue):
        return ("object", tuple((k, _value_key(v, local)) for k, v in value.items))
    if isinstance(value, Callback):
        return ("graph", graph_shape(value.graph))
    return value


def graph_shape(graph: Graph) -> tuple:
    """A key equal for child graphs that compute the same thing whatever their node ids."""
    local: dict[str, int] = {}
    nodes = []
    for i, node in enumerate(graph.nodes()):
        local[node.id] = i
        args = tuple((k, _value_key(v, local)) for k, v in node.arguments)
        nodes.append((node.process_id, node.namespace, args))
    params = tuple(p.name for p in graph.parameters)
    return (params, local.get(graph.result or ""), tuple(nodes))
