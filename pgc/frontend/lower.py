"""Lowering: a validated openEO document to the IR (structure only; types come after).

Every node keeps the user's node id and JSON pointer (:class:`~pgc.ir.nodes.Origin`);
child process graphs become nested :class:`~pgc.ir.graph.Graph` objects whose parameters
are the callback's parameters from the process definition (or from the user-defined
process that takes the callback). Lowering walks graphs with an explicit stack and only
runs on documents the validator accepted; calls of user-defined processes stay calls here
(:mod:`pgc.frontend.inline` replaces them next).

>>> from pgc.frontend.validate import validate
>>> r = validate({"a": {"process_id": "pi", "arguments": {}, "result": True}})
>>> lower(r).result
'a'
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..ir.graph import Graph, Parameter
from ..ir.nodes import ArrayValue, Callback, Literal, Node, NodeRef, ObjectValue, Origin, ParamRef
from ..pointer import join, resolve
from ..specs import Specs, load_specs
from .reader import ProcessDocument
from .validate import ValidationResult


def lower(
    result: ValidationResult,
    specs: Specs | None = None,
    user_processes: Mapping[str, Any] | None = None,
) -> Graph:
    """The IR of a document that validated without errors.

    ``user_processes`` (id -> process object) are the user-defined processes the document
    may call: a child process graph given to one of them gets the parameters that process
    declares for it (a predefined process's definition says them for its own callbacks).
    """
    if not result.ok or result.process is None:
        raise ValueError("lower() needs a document that validated without errors")
    return lower_process(result.process, specs, user_processes)


def lower_process(
    process: ProcessDocument,
    specs: Specs | None = None,
    user_processes: Mapping[str, Any] | None = None,
) -> Graph:
    """The IR of a process read by :func:`~pgc.frontend.reader.read_process` (validated:
    lowering trusts the document's structure). :func:`lower` for a whole document."""
    specs = specs or load_specs()
    callbacks = _CallbackParameters(specs, user_processes or {})
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
                        (raw["process_id"], raw.get("namespace"), name),
                        callbacks,
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
    value: Any,
    pointer: str,
    call: tuple[str, str | None, str],
    callbacks: _CallbackParameters,
    pending: list,
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
            child = Graph(callbacks.of(*call, item), join(where, "process_graph"))
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


def schema_callback_parameters(schema: Any) -> tuple[Parameter, ...]:
    """The parameters a ``process-graph`` schema (or any of a list of schemas) declares for
    its callback; () when it declares none."""
    for one in schema if isinstance(schema, list) else [schema]:
        if isinstance(one, dict) and one.get("subtype") == "process-graph":
            return _parameters(one.get("parameters"))
    return ()


def spec_callback_parameters(specs: Specs, process_id: str, argument: str) -> tuple[Parameter, ...]:
    """The parameters predefined process ``process_id`` passes to the callback it takes as
    ``argument`` (its definition), e.g. ``data`` and ``context`` for a ``reducer``."""
    spec = specs.get(process_id)
    param = spec.parameter(argument) if spec else None
    return schema_callback_parameters(param.schema) if param else ()


def _parameters(declared: Any) -> tuple[Parameter, ...]:
    if not isinstance(declared, list):
        return ()
    return tuple(
        Parameter(p["name"], optional=bool(p.get("optional", False)))
        for p in declared
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    )


@dataclass(frozen=True)
class _CallbackParameters:
    """The parameters of a child process graph given to a process: declared by the child
    itself, else by the user-defined process that takes it, else by the definition."""

    specs: Specs
    user_processes: Mapping[str, Any]

    def of(
        self, process_id: str, namespace: str | None, argument: str, callback: dict
    ) -> tuple[Parameter, ...]:
        declared = callback.get("parameters")
        if isinstance(declared, list):
            return _parameters(declared)
        # namespace null: user-defined first, then predefined (as validation resolves it)
        udp = self.user_processes.get(process_id) if namespace in (None, "user") else None
        if isinstance(udp, dict):
            params = udp.get("parameters")
            for p in params if isinstance(params, list) else ():
                if isinstance(p, dict) and p.get("name") == argument:
                    return schema_callback_parameters(p.get("schema"))
            return ()
        if namespace == "user":
            return ()
        return spec_callback_parameters(self.specs, process_id, argument)


# What Plan.to_openeo gives back of the process object the user compiled.
METADATA = ("id", "summary", "description", "parameters", "returns")


def process_metadata(result: ValidationResult) -> dict[str, Any]:
    """The ``id``, ``summary``, ``description``, ``parameters`` and ``returns`` of the
    process object a validated document is (copies; {} for a bare process graph), which
    :meth:`pgc.compiler.Plan.to_openeo` puts back around the compiled graph.

    >>> from pgc.frontend.validate import validate
    >>> r = validate({"id": "p", "summary": "pi", "process_graph": {
    ...     "a": {"process_id": "pi", "arguments": {}, "result": True}}})
    >>> process_metadata(r)
    {'id': 'p', 'summary': 'pi'}
    """
    process = result.process
    if process is None or process.bare:
        return {}
    try:
        obj = resolve(result.document, process.base)
    except KeyError:
        return {}
    if not isinstance(obj, dict):
        return {}
    return {k: copy.deepcopy(obj[k]) for k in METADATA if obj.get(k) is not None}
