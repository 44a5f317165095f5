"""Raising: IR back to openEO JSON, a graph that validates against the specs.

This is how optimized graphs are exchanged and how federation hands work to other
back-ends. Node ids are the IR's (the user's, where the node came from the user);
callbacks become ``{"process_graph": ...}``; parameters of the top graph are declared.

>>> from pgc.ir.parser import parse_ir
>>> to_openeo(parse_ir('process() { %a = pi() return %a }'))["process_graph"]
{'a': {'process_id': 'pi', 'arguments': {}, 'result': True}}
"""

from __future__ import annotations

from typing import Any

from .graph import Graph
from .nodes import ArrayValue, Callback, Literal, NodeRef, ObjectValue, ParamRef, Value


def to_openeo(graph: Graph, process_id: str | None = None) -> dict:
    """A process object ``{"process_graph": ..., "parameters": [...]}`` for ``graph``."""
    out: dict[str, Any] = {}
    if process_id:
        out["id"] = process_id
    if graph.parameters:
        out["parameters"] = [_parameter(p) for p in graph.parameters]
    out["process_graph"] = flat_graph(graph)
    return out


def _parameter(p) -> dict:
    out: dict[str, Any] = {"name": p.name, "schema": {}}
    if p.optional:
        out["optional"] = True
    if p.has_default:
        out["default"] = p.default
    return out


def flat_graph(graph: Graph) -> dict:
    """The ``process_graph`` object of ``graph`` (nodes in the IR's order)."""
    nodes: dict[str, Any] = {}
    for node in graph.nodes():
        raw: dict[str, Any] = {
            "process_id": node.process_id,
            "arguments": {k: _value(v) for k, v in node.arguments},
        }
        if node.namespace is not None:
            raw["namespace"] = node.namespace
        if node.id == graph.result:
            raw["result"] = True
        nodes[node.id] = raw
    return nodes


def _value(value: Value) -> Any:
    if isinstance(value, Literal):
        return value.value
    if isinstance(value, NodeRef):
        return {"from_node": value.id}
    if isinstance(value, ParamRef):
        return {"from_parameter": value.name}
    if isinstance(value, ArrayValue):
        return [_value(v) for v in value.items]
    if isinstance(value, ObjectValue):
        return {k: _value(v) for k, v in value.items}
    if isinstance(value, Callback):
        child = value.graph
        return {"process_graph": flat_graph(child)}
    raise TypeError(f"cannot raise {value!r}")  # pragma: no cover
