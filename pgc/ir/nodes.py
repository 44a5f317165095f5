"""IR nodes and the values of their arguments.

A node is one process call: its process id, its arguments and its inferred type, with the
user's node id and JSON pointer as provenance. Argument values are:

- :class:`Literal` — JSON without references (numbers, strings, arrays, objects ...);
- :class:`NodeRef` — the result of another node of the same graph (``from_node``);
- :class:`ParamRef` — a parameter of this graph or an enclosing one (``from_parameter``);
- :class:`ArrayValue` / :class:`ObjectValue` — arrays and objects holding references;
- :class:`Callback` — a child process graph (reducer, ``apply`` process, ...).

All are frozen and compare structurally.

>>> n = Node("sum1", "add", (("x", NodeRef("a")), ("y", Literal(1))))
>>> n.arg("y"), list(n.node_refs())
(Literal(value=1), ['a'])
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..jsonvalue import canonical
from .types import ANY, Type

if TYPE_CHECKING:
    from .graph import Graph


class Value:
    """Base of argument values."""


@dataclass(frozen=True, slots=True, eq=False)
class Literal(Value):
    value: Any

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Literal) and canonical(self.value) == canonical(other.value)

    def __hash__(self) -> int:
        return hash(canonical(self.value))


@dataclass(frozen=True, slots=True)
class NodeRef(Value):
    id: str


@dataclass(frozen=True, slots=True)
class ParamRef(Value):
    name: str


@dataclass(frozen=True, slots=True)
class ArrayValue(Value):
    items: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class ObjectValue(Value):
    items: tuple[tuple[str, Value], ...]


@dataclass(frozen=True, slots=True, eq=False)
class Callback(Value):
    graph: Graph

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Callback) and self.graph == other.graph

    def __hash__(self) -> int:
        return hash(self.graph)


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a node came from in the user's document."""

    node_id: str
    pointer: str
    # a node of a user-defined process's body, inlined at the call ``pointer`` points to:
    # its arguments are not in the user's document there, so errors point at the call
    inlined: bool = False


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    process_id: str
    arguments: tuple[tuple[str, Value], ...] = ()
    type: Type = ANY
    namespace: str | None = None
    origin: Origin | None = field(default=None, compare=False)  # provenance, not identity
    remarks: tuple[str, ...] = field(default=(), compare=False)

    @property
    def is_kernel(self) -> bool:
        """Whether this is a fused kernel (``pgc::kernel``, made by the fuse-elementwise
        pass: :mod:`pgc.passes.fuse`)."""
        return self.namespace == "pgc" and self.process_id == "kernel"

    def arg(self, name: str) -> Value | None:
        for key, value in self.arguments:
            if key == name:
                return value
        return None

    def literal(self, name: str, default: Any = None) -> Any:
        """The JSON value of a literal argument, or ``default``."""
        value = self.arg(name)
        return value.value if isinstance(value, Literal) else default

    def node_refs(self) -> Iterator[str]:
        """Ids of the nodes this node reads (not looking inside callbacks)."""
        for _, value in reversed(self.arguments):  # the order the stack walk always gave
            yield from value_refs(value)

    def callbacks(self) -> Iterator[tuple[str, Callback]]:
        for name, value in self.arguments:
            if isinstance(value, Callback):
                yield name, value

    def with_remark(self, remark: str) -> Node:
        return replace(self, remarks=self.remarks + (remark,))

    def with_arguments(self, arguments: tuple[tuple[str, Value], ...]) -> Node:
        return replace(self, arguments=arguments)


def value_refs(value: Value | None) -> Iterator[str]:
    """Ids of the nodes an argument value reads (not looking inside callbacks); none for an
    argument not given (None)."""
    stack: list[Value | None] = [value]
    while stack:
        value = stack.pop()
        if isinstance(value, NodeRef):
            yield value.id
        elif isinstance(value, ArrayValue):
            stack.extend(value.items)
        elif isinstance(value, ObjectValue):
            stack.extend(v for _, v in value.items)


def map_refs(value: Value, fn) -> Value:
    """``value`` with every NodeRef replaced by ``fn(ref)`` (callbacks are not entered)."""
    if isinstance(value, NodeRef):
        return fn(value)
    if isinstance(value, ArrayValue):
        return ArrayValue(tuple(map_refs(v, fn) for v in value.items))
    if isinstance(value, ObjectValue):
        return ObjectValue(tuple((k, map_refs(v, fn)) for k, v in value.items))
    return value
