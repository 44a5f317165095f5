r"""Read the IR's text form back (lark, LALR): ``parse_ir(print_graph(g))`` rebuilds ``g``.

A type annotation (``: cube[...] uint16``) runs to the end of its line.

Types in the text are checked for syntax only; :func:`pgc.ir.infer.infer_graph` works them
out again from the graph, so print -> parse -> infer -> print is the identity. Syntax
errors carry the line, the column and the offending line with a caret.

>>> g = parse_ir('process() {\n  %a = pi() : number\n  return %a\n}')
>>> g.result, g.node("a").process_id
('a', 'pi')
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ..pointer import join
from .graph import Graph, IRError, Parameter
from .nodes import ArrayValue, Callback, Literal, Node, NodeRef, ObjectValue, Origin, ParamRef

GRAMMAR = Path(__file__).resolve().parent / "grammar.lark"


class IRSyntaxError(ValueError):
    """The text is not pgc IR; ``str()`` shows the place with a caret."""

    def __init__(self, message: str, line: int, column: int, context: str = ""):
        super().__init__(f"line {line}, column {column}: {message}\n{context}".rstrip())
        self.line, self.column = line, column


@cache
def _parser():
    from lark import Lark

    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr", maybe_placeholders=True)


def parse_ir(text: str) -> Graph:
    """The (untyped) graph described by ``text``."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        if isinstance(exc, UnexpectedEOF):
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
            return_err = IRSyntaxError(
                "unexpected end of text", line, column, _context(text, line, column)
            )
            raise return_err from None
        line, column = exc.line, exc.column
        token = getattr(exc, "token", None)
        if token is not None and token.type == "$END":
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
            raise IRSyntaxError(
                "unexpected end of text", line, column, _context(text, line, column)
            ) from None
        what = (
            f"unexpected character {text[exc.pos_in_stream]!r}"
            if isinstance(exc, UnexpectedCharacters)
            else f"unexpected {str(getattr(exc, 'token', '?'))!r}"
        )
        raise IRSyntaxError(what, line, column, _context(text, line, column)) from None
    return _build(_Reader().transform(tree))


def _context(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    return f"{line:>6} | {lines[line - 1]}\n       | {' ' * (column - 1)}^"


def _make_reader():
    from lark import Transformer

    class Reader(Transformer):
        """Parse tree -> plain nested structures (built into Graphs top-down later)."""

        def start(self, items):
            return items[0]

        def process(self, items):
            params, pointer, *stmts, result = items
            return {
                "params": params or [],
                "pointer": pointer,
                "stmts": stmts,
                "result": result[1],
                "result_at": result[2:],
                "top": True,
            }

        def graph(self, items):
            params, pointer, *stmts, result = items
            return (
                "graph",
                {
                    "params": params or [],
                    "pointer": pointer,
                    "stmts": stmts,
                    "result": result[1],
                    "result_at": result[2:],
                    "top": False,
                },
            )

        def params(self, items):
            return items

        def param(self, items):
            name, optional, default = items
            has_default = default is not None
            value = _literal(default) if has_default else None
            return Parameter(
                _name(name), optional=optional is not None, default=value, has_default=has_default
            )

        def stmt(self, items):
            *remarks, ref, call, _type, origin = items
            return {
                "remarks": [str(r).lstrip("#").strip() for r in remarks],
                "id": ref[1],
                "call": call,
                "origin": origin if origin is not None else "default",
                "at": ref[2:],
            }

        def call(self, items):
            namespace, process_id, args = items
            return (
                _name(namespace) if namespace is not None else None,
                str(process_id),
                args or [],
            )

        def args(self, items):
            return items

        def arg(self, items):
            return (_name(items[0]), items[1])

        def origin(self, items):
            pointer, node_id = items
            return (json.loads(pointer), json.loads(node_id) if node_id is not None else None)

        def no_origin(self, items):
            return "none"

        def pointer(self, items):
            return json.loads(items[0])

        def ref(self, items):
            token = items[0]
            return ("ref", _name(token), getattr(token, "line", 0), getattr(token, "column", 0))

        def param_ref(self, items):
            return ("param", _name(items[0]))

        def array(self, items):
            items = [i for i in items if i is not None] if items != [None] else []
            return ("array", items)

        def object(self, items):
            items = [i for i in items if i is not None] if items != [None] else []
            return ("object", items)

        def pair(self, items):
            return (json.loads(items[0]), items[1])

        jpair = pair

        def string(self, items):
            return ("lit", json.loads(items[0]))

        def number(self, items):
            return ("lit", json.loads(items[0]))

        def true(self, _):
            return ("lit", True)

        def false(self, _):
            return ("lit", False)

        def null(self, _):
            return ("lit", None)

    return Reader


@cache
def _reader_class():
    return _make_reader()


class _Reader:
    def transform(self, tree):
        return _reader_class()().transform(tree)


def _name(token: Any) -> str:
    text = str(token)
    return json.loads(text) if text.startswith('"') else text


def _literal(value) -> Any:
    """The JSON of a value without references or callbacks, else ``_NOT_LITERAL``."""
    kind, payload = value[0], value[1]
    if kind == "lit":
        return payload
    if kind == "array":
        out = [_literal(v) for v in payload]
        return _NOT_LITERAL if any(v is _NOT_LITERAL for v in out) else out
    if kind == "object":
        out = {k: _literal(v) for k, v in payload}
        return _NOT_LITERAL if any(v is _NOT_LITERAL for v in out.values()) else out
    return _NOT_LITERAL


_NOT_LITERAL = object()


def _build(top: dict) -> Graph:
    """Graphs from the reader's structures, parents first (child pointers need them)."""
    pointer = top["pointer"]
    root = Graph(tuple(top["params"]), "/process_graph" if pointer is None else pointer)
    pending: list[tuple[dict, Graph]] = [(top, root)]
    while pending:
        raw, graph = pending.pop()
        for stmt in raw["stmts"]:
            node_id = stmt["id"]
            namespace, process_id, args = stmt["call"]
            if stmt["origin"] == "default":
                origin = Origin(node_id, join(graph.pointer, node_id))
            elif stmt["origin"] == "none":
                origin = None
            else:
                pointer, user_id = stmt["origin"]
                origin = Origin(user_id or node_id, pointer)
            arguments = []
            for name, value in args:
                arguments.append((name, _value(value, origin, name, pending)))
            node = Node(
                node_id,
                process_id,
                tuple(arguments),
                namespace=namespace,
                origin=origin,
                remarks=tuple(stmt["remarks"]),
            )
            try:
                graph.add(node)
            except IRError as exc:  # duplicate id, or a reference to a node not defined before
                raise IRSyntaxError(str(exc), *stmt["at"]) from None
        if raw["result"] not in graph:
            raise IRSyntaxError(
                f"the result {raw['result']!r} is not a node of this graph", *raw["result_at"]
            )
        graph.set_result(raw["result"])
    return root


def _value(value, origin: Origin | None, arg: str, pending: list):
    literal = _literal(value)
    if literal is not _NOT_LITERAL:
        return Literal(literal)
    kind, payload = value[0], value[1]
    if kind == "ref":
        return NodeRef(payload)
    if kind == "param":
        return ParamRef(payload)
    if kind == "graph":
        default = join(origin.pointer, "arguments", arg, "process_graph") if origin else ""
        pointer = payload["pointer"]
        child = Graph(tuple(payload["params"]), default if pointer is None else pointer)
        pending.append((payload, child))
        return Callback(child)
    if kind == "array":
        return ArrayValue(tuple(_value(v, origin, arg, pending) for v in payload))
    return ObjectValue(tuple((k, _value(v, origin, arg, pending)) for k, v in payload))
