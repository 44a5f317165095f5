"""The text form of the IR: for people (``pgc explain``) and for tests (golden files).

::

    process() {
      %load = load_collection(id="S2", bands=["B04", "B08"]) : cube[...] uint16  # 3.1 MB
      # prune-bands: 2 of 13 bands kept
      %ndvi = reduce_dimension(data=%load, dimension="bands", reducer=graph(data, context?) {
        %nir = array_element(data=$data, label="B08") : number|null
        return %nir
      }) : cube[...] float64  # 2.0 MB
      return %ndvi
    }

Values are named after the user's node ids (``%id``), parameters are ``$name``, literals are
JSON. Types follow ``:``; a trailing ``# size`` is the estimated size of a cube. Lines
``# pass: text`` before a node are the remarks passes left on it. A node's JSON pointer is
printed (``@"..."``) only where it is not the default (its graph's pointer plus its id).
The output is deterministic; :mod:`pgc.ir.parser` reads it back.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..pointer import join
from .graph import Graph
from .nodes import ArrayValue, Callback, Literal, Node, NodeRef, ObjectValue, ParamRef, Value
from .types import CubeType, format_bytes

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
INDENT = "  "


def name_text(name: str) -> str:
    return name if IDENT.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


def print_graph(graph: Graph, types: bool = True, sizes: bool = True) -> str:
    """The text form of a top-level graph (a process)."""
    lines: list[str] = []
    header = f"process({_params(graph)})"
    if graph.pointer != "/process_graph":
        header += f" @{json_text(graph.pointer)}"
    _graph(graph, header, 0, lines, types, sizes)
    return "\n".join(lines) + "\n"


def _params(graph: Graph) -> str:
    parts = []
    for p in graph.parameters:
        text = name_text(p.name) + ("?" if p.optional else "")
        if p.has_default:
            text += f" = {json_text(p.default)}"
        parts.append(text)
    return ", ".join(parts)


def _graph(
    graph: Graph, header: str, depth: int, lines: list[str], types: bool, sizes: bool
) -> None:
    """Append the lines of ``graph``; the header goes on the current last line."""
    if lines and depth:
        lines[-1] += header + " {"
    else:
        lines.append(INDENT * depth + header + " {")
    pad = INDENT * (depth + 1)
    for node in graph.nodes():
        for remark in node.remarks:
            lines.append(f"{pad}# {remark}")
        _node(graph, node, depth + 1, lines, types, sizes)
    lines.append(f"{pad}return %{name_text(graph.result or '')}")
    lines.append(INDENT * depth + "}")


def _node(graph: Graph, node: Node, depth: int, lines: list[str], types: bool, sizes: bool) -> None:
    pad = INDENT * depth
    call = node.process_id
    if node.namespace is not None:
        call = f"{name_text(node.namespace)}::{call}"
    lines.append(f"{pad}%{name_text(node.id)} = {call}(")
    for i, (name, value) in enumerate(node.arguments):
        if i:
            lines[-1] += ", "
        lines[-1] += f"{name_text(name)}="
        _value(value, node, name, depth, lines, types, sizes)
    lines[-1] += ")"
    if types:
        lines[-1] += f" : {node.type}"
    default = join(graph.pointer, node.id)
    if node.origin is None:
        lines[-1] += " @-"
    elif node.origin.pointer != default or node.origin.node_id != node.id:
        lines[-1] += f" @{json_text(node.origin.pointer)}"
        if node.origin.node_id != node.id:
            lines[-1] += f" as {json_text(node.origin.node_id)}"
    if sizes and isinstance(node.type, CubeType) and node.type.nbytes is not None:
        lines[-1] += f"  # {format_bytes(node.type.nbytes)}"


def _value(
    value: Value, node: Node, arg: str, depth: int, lines: list[str], types: bool, sizes: bool
) -> None:
    if isinstance(value, Literal):
        lines[-1] += json_text(value.value)
    elif isinstance(value, NodeRef):
        lines[-1] += f"%{name_text(value.id)}"
    elif isinstance(value, ParamRef):
        lines[-1] += f"${name_text(value.name)}"
    elif isinstance(value, ArrayValue):
        lines[-1] += "["
        for i, item in enumerate(value.items):
            if i:
                lines[-1] += ", "
            _value(item, node, arg, depth, lines, types, sizes)
        lines[-1] += "]"
    elif isinstance(value, ObjectValue):
        lines[-1] += "{"
        for i, (key, item) in enumerate(value.items):
            if i:
                lines[-1] += ", "
            lines[-1] += json_text(key) + ": "
            _value(item, node, arg, depth, lines, types, sizes)
        lines[-1] += "}"
    elif isinstance(value, Callback):
        child = value.graph
        header = f"graph({_params(child)})"
        default = (
            join(node.origin.pointer, "arguments", arg, "process_graph") if node.origin else None
        )
        if child.pointer != default:
            header += f" @{json_text(child.pointer)}"
        _graph(child, header, depth, lines, types, sizes)
    else:  # pragma: no cover - every Value kind is handled above
        raise TypeError(f"cannot print {value!r}")
