"""Raising: IR back to openEO JSON, a graph that validates against the specs.

This is how optimized graphs are exchanged and how federation hands work to other
back-ends. Node ids are the IR's (the user's, where the node came from the user);
callbacks become ``{"process_graph": ...}``; parameters of the top graph are declared.

>>> from pgc.ir.parser import parse_ir
>>> to_openeo(parse_ir('process() { %a = pi() return %a }'))["process_graph"]
{'a': {'process_id': 'pi', 'arguments': {}, 'result': True}}
"""

from __future__ import annotations

import copy
from typing import Any

from .graph import Graph
from .nodes import ArrayValue, Callback, Literal, NodeRef, ObjectValue, ParamRef, Value


def to_openeo(
    graph: Graph, process_id: str | None = None, metadata: dict[str, Any] | None = None
) -> dict:
    """A process object ``{"process_graph": ..., "parameters": [...]}`` for ``graph``.

    ``metadata``: what the process object the graph was compiled from says of itself
    (``id``, ``summary``, ``description``, ``parameters``, ``returns``), given back as it
    was: a stored process stays the same process, its parameters keep their schemas and
    descriptions (the IR keeps names, defaults and optional only). ``process_id``, when
    given, is the id instead.

    >>> from pgc.ir.parser import parse_ir
    >>> g = parse_ir('process(v) { %a = absolute(x=$v) return %a }')
    >>> meta = {"id": "abs", "summary": "Absolute value",
    ...         "parameters": [{"name": "v", "description": "A number.",
    ...                         "schema": {"type": "number"}}]}
    >>> out = to_openeo(g, metadata=meta)
    >>> out["id"], out["summary"], out["parameters"][0]["schema"]
    ('abs', 'Absolute value', {'type': 'number'})
    """
    meta = metadata or {}
    out: dict[str, Any] = {k: copy.deepcopy(meta[k]) for k in _FIRST if k in meta}
    if process_id:
        out["id"] = process_id
    declared = meta.get("parameters")
    if isinstance(declared, list):  # declared (even as []): the same list, in its order
        by_name = {p.get("name"): p for p in declared if isinstance(p, dict)}
        out["parameters"] = [
            copy.deepcopy(by_name[p.name]) if p.name in by_name else _parameter(p)
            for p in graph.parameters
        ]
    elif graph.parameters:
        out["parameters"] = [_parameter(p) for p in graph.parameters]
    if "returns" in meta:
        out["returns"] = copy.deepcopy(meta["returns"])
    out["process_graph"] = flat_graph(graph)
    return out


_FIRST = ("id", "summary", "description")  # the order of the openEO API's process object


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
