"""Lowering: a validated openEO document to the IR (structure only; types come after).

Every node keeps the user's node id and JSON pointer (:class:`~pgc.ir.nodes.Origin`);
child process graphs become nested :class:`~pgc.ir.graph.Graph` objects whose parameters
are the callback's parameters from the process definition. Lowering walks graphs with an
explicit stack and only runs on documents the validator accepted.

>>> from pgc.frontend.validate import validate
>>> r = validate({"a": {"process_id": "pi", "arguments": {}, "result": True}})
>>> lower(r).result
'a'
"""

from __future__ import annotations

import heapq
from typing import Any

from ..ir.graph import Graph, Parameter
from ..ir.nodes import ArrayValue, Callback, Literal, Node, NodeRef, ObjectValue, Origin, ParamRef
from ..pointer import join
from ..specs import Specs, load_specs
from .validate import ValidationResult


def lower(result: ValidationResult, specs: Specs | None = None) -> Graph:
    """The IR of a document that validated without errors."""
    if not result.ok or result.process is None:
        raise ValueError("lower() needs a document that validated without errors")
    specs = specs or load_specs()
    process = result.process
    params = tuple(
        Parameter(p.name, optional=p.optional, default=p.default, has_default=p.has_default)
        for p in process.parameters or ()
    )
    top = Graph(params, process.graph_pointer)
    # Work items: (json graph, target Graph). Child graphs are created when their parent
    # node is lowered and filled in later, so nesting depth never becomes stack depth.
    pending: list[tuple[dict, Graph]] = [(process.graph, top)]
    while pending:
        raw_graph, graph = pending.pop()
        nodes = []
        result = None
        for node_id, raw in raw_graph.items():
            where = join(graph.pointer, node_id)
            arguments = tuple(
                (
                    name,
                    _value(
                        value,
                        join(where, "arguments", name),
                        raw["process_id"],
                        name,
                        specs,
                        pending,
                    ),
                )
                for name, value in raw.get("arguments", {}).items()
            )
            nodes.append(
                Node(
                    node_id,
                    raw["process_id"],
                    arguments,
                    namespace=raw.get("namespace"),
                    origin=Origin(node_id, where),
                )
            )
            if raw.get("result") is True:
                result = node_id
        for node in _dependency_order(nodes):
            graph.add(node)
        graph.set_result(result)
    return top


def _dependency_order(nodes: list[Node]) -> list[Node]:
    """Producers before consumers; otherwise the document's order (validated: acyclic)."""
    index = {n.id: i for i, n in enumerate(nodes)}
    waiting = {n.id: len(set(n.node_refs())) for n in nodes}
    users: dict[str, list[str]] = {n.id: [] for n in nodes}
    for n in nodes:
        for ref in set(n.node_refs()):
            users[ref].append(n.id)
    ready = [(index[i], i) for i, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, nid = heapq.heappop(ready)
        out.append(nodes[index[nid]])
        for user in users[nid]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, (index[user], user))
    return out


def _value(
    value: Any, pointer: str, process_id: str, argument: str, specs: Specs, pending: list
) -> Any:
    """The IR value of an argument (iterative over nested arrays and objects)."""
    if not _has_special(value):
        return Literal(value)
    # Build bottom-up with an explicit stack: (json value, pointer, children-done flag).
    results: list[Any] = []
    stack: list[tuple[Any, str, bool]] = [(value, pointer, False)]
    while stack:
        item, where, done = stack.pop()
        if isinstance(item, dict) and "from_node" in item:
            results.append(NodeRef(item["from_node"]))
        elif isinstance(item, dict) and "from_parameter" in item:
            results.append(ParamRef(item["from_parameter"]))
        elif isinstance(item, dict) and "process_graph" in item:
            child = Graph(
                _callback_parameters(specs, process_id, argument, item),
                join(where, "process_graph"),
            )
            pending.append((item["process_graph"], child))
            results.append(Callback(child))
        elif not _has_special(item):
            results.append(Literal(item))
        elif not done:
            stack.append((item, where, True))
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((v, join(where, k), False) for k, v in reversed(list(entries)))
        else:
            n = len(item)
            children = results[len(results) - n :]
            del results[len(results) - n :]
            if isinstance(item, dict):
                results.append(ObjectValue(tuple(zip(item, children, strict=True))))
            else:
                results.append(ArrayValue(tuple(children)))
    return results[0]


def _has_special(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "from_node" in item or "from_parameter" in item or "process_graph" in item:
                return True
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return False


def _callback_parameters(
    specs: Specs, process_id: str, argument: str, callback: dict
) -> tuple[Parameter, ...]:
    """The callback's parameters: from the process definition, or declared by itself."""
    declared = callback.get("parameters")
    if isinstance(declared, list):
        return tuple(
            Parameter(p["name"], optional=bool(p.get("optional", False)))
            for p in declared
            if isinstance(p, dict) and "name" in p
        )
    spec = specs.get(process_id)
    param = spec.parameter(argument) if spec else None
    schemas = (
        param.schema
        if param and isinstance(param.schema, list)
        else [param.schema]
        if param
        else []
    )
    for schema in schemas:
        if isinstance(schema, dict) and schema.get("subtype") == "process-graph":
            return tuple(
                Parameter(p["name"], optional=bool(p.get("optional", False)))
                for p in schema.get("parameters", [])
            )
    return ()
