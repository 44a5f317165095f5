"""Type inference: one rule per process id (``pgc.ir.typerules.TYPE_RULES``), run in order.

The engine walks a graph in topological order, works out the type of every argument
(literals, references to typed nodes, parameters in scope) and asks the process's rule for
the node's type. Rules drive the inference of their callbacks with :meth:`RuleContext.callback`,
giving the callback's parameter types (a reducer over bands sees a labeled array of the band
names); callbacks a rule does not ask about are typed with their parameters unknown.

A rule that finds a problem raises :class:`TypeCheckError` through :meth:`RuleContext.error`
with the exception name from the process definition (``DimensionNotAvailable`` ...). The
engine turns it into a diagnostic that points into the user's document and gives the node
a type that cannot cause further errors, so one mistake is reported once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from ..errors import Diagnostic, echo, from_exception
from ..limits import Limits
from ..pointer import join
from ..specs import Specs
from .graph import Graph, Parameter
from .nodes import ArrayValue, Callback, Literal, Node, NodeRef, ObjectValue, ParamRef, Value
from .types import (
    ANY,
    ArrayType,
    CubeType,
    Dimension,
    ObjectType,
    ScalarType,
    Type,
    union,
)

UNKNOWN_CUBE = CubeType(unknown_dimensions=True)


class TypeCheckError(Exception):
    def __init__(
        self, code: str, message: str, argument: str | None = None, hint: str | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.argument = argument
        self.hint = hint  # "did you mean 'B04'?" (issue 18), copied into the diagnostic


Rule = Callable[["RuleContext"], Type]


@dataclass
class Environment:
    """What inference needs from outside: process definitions and collection metadata."""

    specs: Specs
    catalog: Any  # pgc.data.catalog.Catalog (kept untyped: ir does not import data)
    user_processes: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)  # the budget rules check sizes against


@dataclass
class RuleContext:
    """What a type rule sees of one node."""

    node: Node
    graph: Graph
    env: Environment
    scope: list[dict[str, Type]]
    _callbacks: dict[str, Graph] = field(default_factory=dict)
    _types: dict[str, Type | None] = field(default_factory=dict)
    typed_nodes: dict[str, Node] = field(default_factory=dict)

    # -- arguments ----------------------------------------------------------------------
    def has(self, name: str) -> bool:
        value = self.node.arg(name)
        return value is not None and not (isinstance(value, Literal) and value.value is None)

    def type(self, name: str) -> Type | None:
        """The type of argument ``name``; None when it is absent."""
        if name not in self._types:
            value = self.node.arg(name)
            self._types[name] = None if value is None else self.value_type(value)
        return self._types[name]

    def literal(self, name: str, default: Any = None) -> Any:
        """The JSON value of a literal argument; ``default`` when absent or not literal."""
        value = self.node.arg(name)
        if isinstance(value, Literal):
            return default if value.value is None else value.value
        return default

    def is_literal(self, name: str) -> bool:
        return isinstance(self.node.arg(name), Literal)

    def cube(self, name: str = "data") -> CubeType:
        """Argument ``name`` as a cube type (unknown when the argument's type is unknown)."""
        t = self.type(name)
        if isinstance(t, CubeType):
            return t
        if t is None or t == ANY or (isinstance(t, ScalarType) and not t.kinds):
            return UNKNOWN_CUBE
        self.error(
            "ProcessParameterInvalid",
            f"Argument '{name}' must be a data cube, but it is {t}.",
            name,
        )

    def dimension(self, cube: CubeType, name: str, argument: str = "dimension") -> Dimension | None:
        """The dimension ``name`` of ``cube``; DimensionNotAvailable when it has none."""
        if cube.unknown_dimensions:
            return None
        dim = cube.dimension(name)
        if dim is None:
            self.error(
                "DimensionNotAvailable",
                f"The data cube has no dimension {echo(name)}; it has "
                + (", ".join(f"'{n}'" for n in cube.names) or "none")
                + ".",
                argument,
            )
        return dim

    def within_budget(self, count: int | None, limit: str, what: str, argument: str) -> None:
        """ProcessGraphComplexity when ``count`` (of ``what``) is over the budget's
        ``limit`` (a :class:`~pgc.limits.Limits` field): checked before a rule builds
        anything of that size."""
        bound = getattr(self.env.limits, limit)
        if count is not None and count > bound:
            self.error(
                "ProcessGraphComplexity",
                f"This makes {count} {what}, over the budget of {bound}.",
                argument,
            )

    def error(self, code: str, message: str, argument: str | None = None) -> NoReturn:
        raise TypeCheckError(code, message, argument)

    # -- callbacks ----------------------------------------------------------------------
    def callback(self, name: str, params: dict[str, Type] | None = None) -> Type:
        """Infer the callback of argument ``name`` with these parameter types; its result."""
        value = self.node.arg(name)
        if not isinstance(value, Callback):
            return ANY
        typed = infer_graph(value.graph, self.env, self.scope, params or {})
        self._callbacks[name] = typed
        return typed.result_node.type if typed.result is not None else ANY

    # -- values -------------------------------------------------------------------------
    def value_type(self, value: Value) -> Type:
        if isinstance(value, Literal):
            return literal_type(value.value)
        if isinstance(value, NodeRef):
            node = self.typed_nodes.get(value.id)
            return node.type if node is not None else ANY
        if isinstance(value, ParamRef):
            for frame in reversed(self.scope):
                if value.name in frame:
                    return frame[value.name]
            return ANY
        if isinstance(value, ArrayValue):
            return ArrayType(
                union(*(self.value_type(v) for v in value.items)) if value.items else ANY
            )
        if isinstance(value, ObjectValue):
            return ObjectType()
        return ANY


def literal_type(value: Any) -> Type:
    if value is None:
        return ScalarType.of("null")
    if isinstance(value, bool):
        return ScalarType.of("boolean")
    if isinstance(value, int):
        return ScalarType.of("integer")
    if isinstance(value, float):
        return ScalarType.of("integer") if value.is_integer() else ScalarType.of("number")
    if isinstance(value, str):
        return ScalarType.of("string")
    if isinstance(value, list):
        return ArrayType(union(*(literal_type(v) for v in value)) if value else ANY)
    if isinstance(value, dict):
        if {"west", "south", "east", "north"} <= set(value):
            return ObjectType("bounding-box")
        if isinstance(value.get("type"), str) and (
            "coordinates" in value
            or "features" in value
            or "geometry" in value
            or "geometries" in value
        ):
            return ObjectType("geojson")
        return ObjectType()
    return ANY


def type_from_schema(schema: Any) -> Type:
    """A type from a JSON schema (the fallback for processes without a specific rule)."""
    options = schema if isinstance(schema, list) else [schema]
    kinds: set[str] = set()
    for s in options:
        if not isinstance(s, dict) or not s:
            return ANY
        for alt in s.get("anyOf", []) + s.get("oneOf", []):
            t = type_from_schema(alt)
            if isinstance(t, ScalarType):
                kinds |= t.kinds
            else:
                return t
        if s.get("subtype") in ("datacube", "raster-cube", "vector-cube"):
            return UNKNOWN_CUBE
        t = s.get("type")
        types = [t] if isinstance(t, str) else t if isinstance(t, list) else []
        if "array" in types:
            return ArrayType(
                type_from_schema(s.get("items", {})), s.get("subtype") == "labeled-array"
            )
        if "object" in types:
            return ObjectType(s.get("subtype"))
        for k in types:
            if k == "string" and s.get("format") in ("date", "date-time"):
                kinds.add("date" if s.get("format") == "date" else "datetime")
            elif k in ("boolean", "integer", "number", "string", "null"):
                kinds.add(k)
    return ScalarType(frozenset(kinds)) if kinds else ANY


def fallback_type(spec) -> Type:
    """What a node of a process returns when its rule failed or is missing."""
    return type_from_schema(spec.returns) if spec is not None else ANY


def _kernel_type(ctx: RuleContext) -> Type:
    """A fused kernel (pgc::kernel, made by the fuse-elementwise pass) has the type of the
    nodes it replaced: its body's result, with the sources' types as the parameters."""
    sources = ctx.node.arg("sources")
    items = sources.items if isinstance(sources, ObjectValue) else ()
    return ctx.callback("body", {name: ctx.value_type(value) for name, value in items})


def infer_graph(
    graph: Graph,
    env: Environment,
    scope: list[dict[str, Type]] | None = None,
    param_types: dict[str, Type] | None = None,
) -> Graph:
    """A copy of ``graph`` whose nodes (and callbacks) carry their inferred types."""
    from .typerules import TYPE_RULES  # the table imports this module

    param_types = param_types or {}
    frame = {p.name: param_types.get(p.name, p.type) for p in graph.parameters}
    frame.update({k: v for k, v in param_types.items() if k not in frame})
    inner = [*(scope or []), frame]
    typed = Graph(
        tuple(replace(p, type=frame.get(p.name, p.type)) for p in graph.parameters), graph.pointer
    )
    done: dict[str, Node] = {}
    for node in graph.nodes():
        ctx = RuleContext(node, graph, env, inner, typed_nodes=done)
        spec = None if node.namespace == "user" else env.specs.get(node.process_id)
        try:
            rule = TYPE_RULES.get(node.process_id)
            user = node.namespace == "user" or (
                node.namespace is None and node.process_id in env.user_processes
            )
            if node.is_kernel:
                node_type = _kernel_type(ctx)
            elif user:  # a user-defined process: the return type it declares
                declared = env.user_processes.get(node.process_id) or {}
                node_type = type_from_schema((declared.get("returns") or {}).get("schema", {}))
            else:
                node_type = rule(ctx) if rule is not None else fallback_type(spec)
        except TypeCheckError as exc:
            _report(env, graph, node, exc)
            node_type = fallback_type(spec)
        except Exception as exc:  # noqa: BLE001 - a rule's failure is the node's diagnostic
            code, message = from_exception(exc)
            if code != "Internal":  # memory, number range ...: the user's to fix
                _report(env, graph, node, TypeCheckError(code, message))
            node_type = fallback_type(spec)  # a rule's bug (logged): the conservative type
        arguments = []
        for name, value in node.arguments:
            if isinstance(value, Callback):
                typed_cb = ctx._callbacks.get(name)
                if typed_cb is None:
                    typed_cb = infer_graph(value.graph, env, inner, {})
                value = Callback(typed_cb)
            arguments.append((name, value))
        new = replace(node, type=node_type, arguments=tuple(arguments))
        done[node.id] = new
        typed.add(new)
    if graph.result is not None:
        typed.set_result(graph.result)
    return typed


def _report(env: Environment, graph: Graph, node: Node, exc: TypeCheckError) -> None:
    where = node.origin.pointer if node.origin else graph.pointer
    if exc.argument and not (node.origin and node.origin.inlined):
        where = join(where, "arguments", exc.argument)
    env.diagnostics.append(
        Diagnostic(
            exc.code,
            exc.message,
            where,
            node_id=node.origin.node_id if node.origin else node.id,
            process_id=node.process_id,
            argument=exc.argument,
            hint=exc.hint,
        )
    )


__all__ = [
    "Environment",
    "Parameter",
    "RuleContext",
    "TypeCheckError",
    "infer_graph",
    "literal_type",
    "type_from_schema",
    "UNKNOWN_CUBE",
]
