"""What the validator's walk over a process graph carries: a graph waiting to be checked
(:class:`Task`), the parameters visible in it (:class:`Scope`) and a node as read
(:class:`Node`).

The walk is iterative (:meth:`pgc.frontend.checker.Checker.run`): a child process graph
becomes a new :class:`Task` on an explicit stack, never a recursive call, so a graph nested
a thousand levels deep costs memory, not Python's recursion limit (RELIABILITY.md).

>>> outer = Scope({"data": ANY})
>>> inner = Scope({"x": ANY}, outer, callback_of=("reducer", "r"))
>>> inner.names(), inner.lookup("data") is ANY, inner.what
(['x', 'data'], True, "the callback 'reducer' of node 'r'")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import echo
from ..specs import ProcessSpec
from .schema import Matcher, compile_schema

if TYPE_CHECKING:  # annotations only: user_processes builds Scopes and Tasks itself
    from .user_processes import UserProcess

INVALID = "ProcessGraphInvalid"
# What any value matches: the result of a process whose definition says nothing about it.
ANY = compile_schema({})


@dataclass(slots=True)
class Scope:
    """Parameters visible in a graph: its own, then those of enclosing graphs (openEO:
    ``from_parameter`` resolves from the innermost scope outward)."""

    parameters: dict[str, Matcher]
    parent: Scope | None = None
    open: bool = False  # the top scope of a graph whose parameters are not declared
    label: str = "the process"
    callback_of: tuple[str, str] | None = None  # (argument, node id) of a callback

    @property
    def what(self) -> str:
        """The graph this scope belongs to, as messages name it."""
        if self.callback_of is None:
            return self.label
        arg, node_id = self.callback_of
        return f"the callback {echo(arg)} of node {echo(node_id)}"

    def lookup(self, name: str) -> Matcher | None:
        """The schema of parameter ``name`` in the innermost scope that has it, or None."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.parameters:
                return scope.parameters[name]
            scope = scope.parent
        return None

    def is_open(self) -> bool:
        """Whether the outermost graph leaves its parameters undeclared (a bare graph):
        then any parameter name may be one of the whole graph's."""
        scope: Scope | None = self
        while scope.parent is not None:
            scope = scope.parent
        return scope.open

    def names(self) -> list[str]:
        """Every parameter visible here, innermost first (for hints)."""
        out: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            out += scope.parameters
            scope = scope.parent
        return out


@dataclass(slots=True)
class Task:
    """A process graph waiting on the walk's stack: where it is, what is in scope there,
    how deep it is nested and what a callback must return."""

    graph: Any
    pointer: str
    scope: Scope
    depth: int
    returns: Matcher | None = None  # what a callback must return
    parent_nodes: tuple[frozenset, ...] = ()  # node ids of enclosing graphs


@dataclass(slots=True)
class Node:
    """One node of a graph as read: its place, the process it calls (a predefined
    ``spec`` or a ``user``-defined one, neither when unknown), what it returns and the
    nodes it uses through ``from_node``."""

    id: str
    pointer: str
    raw: dict
    spec: ProcessSpec | None = None
    user: UserProcess | None = None
    returns: Matcher = ANY
    uses: list[str] = field(default_factory=list)  # from_node targets
