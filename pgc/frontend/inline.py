"""Inlining: every call of a user-defined process replaced by the process graph it calls.

A user-defined process (UDP) is a process graph stored under an id, with declared
parameters; a node calls it like a predefined process (``namespace`` ``"user"``, or none:
user-defined first, then predefined). The openEO API gives such a call one meaning: run the
UDP's graph with each parameter bound to the call's argument, or to the parameter's default.
Inlining writes exactly that into the IR, so that type inference, every pass and every
executor see ordinary processes, and optimizations cross the UDP's boundary (bands pruned
and filters pushed through a ``scaled_ndvi`` into the load, its arithmetic fused).

The law: for a call ``c = u(p1=a1, ...)`` of a UDP ``u`` with body ``B``,
``value(c) == value(B[p1 := a1, ...])``, where ``B[p := a]`` replaces each reference
``{"from_parameter": "p"}`` that means ``u``'s parameter by ``a``. A reference means ``u``'s
parameter where no child process graph around it has a parameter of that name: references
resolve innermost scope first (openEO API, "process graph parameters"), so a reducer's own
``data`` inside ``u`` shadows a parameter ``data`` of ``u``. ``B``'s result node takes the
call's node id, its other nodes get ids made from it (``call/inner``), and every inlined
node points at the call in the user's document, for diagnostics.

Where the law does not hold, pgc refuses instead of running something else:

- a parameter the body uses, with no argument and no default: ``ProcessParameterRequired``
  (the API's rule 3; a UDP is closed, it does not see the caller's parameters);
- an argument the body uses inside a child process graph, when the argument is a node's
  result (a ``from_node`` crosses no graph boundary; openEO passes such values through the
  callback's ``context``) or a parameter reference that a child graph there would capture
  (its own parameter of the same name): ``FeatureUnsupported``;
- recursion (validation refuses it first, :mod:`pgc.frontend.recursion`);
- an expansion over :attr:`~pgc.limits.Limits.max_nodes` nodes or deeper than
  :attr:`~pgc.limits.Limits.max_graph_depth` child graphs: ``ProcessGraphComplexity``.
  A chain of UDPs each calling the next twice doubles at every step (30 steps: a billion
  nodes); nodes are counted as they are made, so the error comes after at most
  ``max_nodes`` of them, never after the doubling.

>>> from pgc.compiler import compile
>>> double = {"id": "double", "parameters": [{"name": "v", "schema": {"type": "number"}}],
...           "process_graph": {"m": {"process_id": "multiply",
...                                   "arguments": {"x": {"from_parameter": "v"}, "y": 2},
...                                   "result": True}}}
>>> plan = compile({"d": {"process_id": "double", "arguments": {"v": 3}, "result": True}},
...                user_processes=[double], pipeline="none")
>>> node = plan.graph.node("d")
>>> node.process_id, node.literal("x"), node.remarks
('multiply', 3, ("inline: user-defined process 'double'",))
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import Diagnostic, PgcError, echo
from ..ir.graph import Graph
from ..ir.nodes import (
    ArrayValue,
    Callback,
    Literal,
    Node,
    NodeRef,
    ObjectValue,
    Origin,
    ParamRef,
    Value,
)  # fmt: skip
from ..limits import Limits
from ..pointer import join
from ..specs import Specs
from .lower import lower_process, spec_callback_parameters
from .reader import read_process
from .recursion import call_cycles, cycle_message

INVALID = "ProcessGraphInvalid"
COMPLEXITY = "ProcessGraphComplexity"


def inline_user_processes(
    graph: Graph,
    user_processes: Mapping[str, Any] | None,
    specs: Specs,
    limits: Limits | None = None,
) -> Graph:
    """``graph`` with every call of a user-defined process (``user_processes``: id ->
    process object) replaced by the process graph it calls, nested calls included; the
    input is not changed, and comes back as it is when it calls none. Raises
    :class:`~pgc.errors.PgcError` where the law of this module does not hold."""
    if not user_processes:
        return graph
    inliner = _Inliner(user_processes, specs, limits or Limits())
    if not any(inliner.callee(node) is not None for _, node in graph.walk()):
        return graph
    inliner.refuse_recursion(graph)
    out = inliner.expand(graph, 0)
    if inliner.problems:
        raise PgcError(inliner.problems)
    return out


@dataclass(frozen=True)
class _Body:
    """A UDP, lowered once per compilation however often it is called."""

    graph: Graph
    declared: bool  # False: the process does not declare its parameters (openEO: unknown)


_MISSING = object()


class _Inliner:
    def __init__(self, user_processes: Mapping[str, Any], specs: Specs, limits: Limits):
        self.user_processes = user_processes
        self.specs = specs
        self.limits = limits
        self.bodies: dict[str, _Body] = {}
        self.count = 0  # nodes made so far, in all graphs
        self.problems: list[Diagnostic] = []
        self.reported: set[tuple] = set()

    def callee(self, node: Node) -> str | None:
        """The id of the UDP ``node`` calls, or None (a predefined or unknown process)."""
        if node.namespace not in (None, "user") or node.process_id not in self.user_processes:
            return None
        return node.process_id

    def body(self, pid: str) -> _Body:
        found = self.bodies.get(pid)
        if found is not None:
            return found
        problems: list[Diagnostic] = []
        process = read_process(self.user_processes[pid], problems, self.specs.subtypes)
        errors = [d for d in problems if d.is_error]
        if process is None or errors:  # validation reports these first; IR text skips it
            raise PgcError(
                [
                    Diagnostic(d.code, f"In user-defined process {echo(pid)}: {d.message}")
                    for d in errors or problems
                ]
            )
        body = _Body(
            lower_process(process, self.specs, self.user_processes),
            process.parameters is not None,
        )
        self.bodies[pid] = body
        return body

    # -- recursion ----------------------------------------------------------------------
    def refuse_recursion(self, graph: Graph) -> None:
        """ProcessGraphInvalid naming the cycle when the UDPs ``graph`` calls (directly or
        through others) call themselves: validation refuses these first, but IR text that
        pgc trusts is not validated, and inlining a cycle would never end."""
        first: dict[str, Origin | None] = {}
        for _, node in graph.walk():
            pid = self.callee(node)
            if pid is not None:
                first.setdefault(pid, node.origin)
        calls: dict[str, list[str]] = {}
        pending = list(first)
        while pending:
            pid = pending.pop()
            if pid in calls:
                continue
            callees = [self.callee(n) for _, n in self.body(pid).graph.walk()]
            calls[pid] = list(dict.fromkeys(c for c in callees if c is not None))
            pending += reversed(calls[pid])
        cycles = call_cycles(calls)
        if cycles:
            raise PgcError(
                [
                    Diagnostic(INVALID, cycle_message(cycle), _pointer(first.get(cycle[0])))
                    for cycle in cycles
                ]
            )

    # -- expansion ----------------------------------------------------------------------
    def expand(self, graph: Graph, level: int) -> Graph:
        """A copy of ``graph`` (``level`` child graphs deep) without UDP calls."""
        if level > self.limits.max_graph_depth:
            raise PgcError(
                [
                    Diagnostic(
                        COMPLEXITY,
                        "Calls of user-defined processes nest child process graphs deeper "
                        f"than the limit of {self.limits.max_graph_depth} levels.",
                        graph.pointer,
                    )
                ]
            )
        out = Graph(graph.parameters, graph.pointer)
        taken = set(graph.order())
        work = deque(graph.nodes())
        while work:
            node = work.popleft()
            pid = self.callee(node)
            if pid is not None:  # its body's nodes go next, and may call UDPs in turn
                work.extendleft(reversed(self.instantiate(node, pid, taken)))
                continue
            self.count += 1
            if self.count > self.limits.max_nodes:
                raise PgcError([self.too_many(node)])
            arguments = tuple((k, self.expand_value(v, level)) for k, v in node.arguments)
            out.add(Node(node.id, node.process_id, arguments, node.type, node.namespace,
                         node.origin, node.remarks))  # fmt: skip
        if graph.result is not None:
            out.set_result(graph.result)
        return out

    def expand_value(self, value: Value, level: int) -> Value:
        if isinstance(value, Callback):
            return Callback(self.expand(value.graph, level + 1))
        if isinstance(value, ArrayValue):
            return ArrayValue(tuple(self.expand_value(v, level) for v in value.items))
        if isinstance(value, ObjectValue):
            return ObjectValue(tuple((k, self.expand_value(v, level)) for k, v in value.items))
        return value

    def too_many(self, node: Node) -> Diagnostic:
        return Diagnostic(
            COMPLEXITY,
            "Calls of user-defined processes make this process graph larger than the "
            f"limit of {self.limits.max_nodes} nodes (each call is replaced by the process "
            "graph it calls, as often as it is called).",
            _pointer(node.origin),
            node_id=node.origin.node_id if node.origin else node.id,
        )

    def instantiate(self, call: Node, pid: str, taken: set[str]) -> list[Node]:
        """The nodes of UDP ``pid``'s graph for ``call``: ids made from the call's (its
        result node takes the call's id), its parameters bound to the call's arguments."""
        body = self.body(pid)
        graph = body.graph
        rename: dict[str, str] = {}
        for inner in graph.order():
            rename[inner] = call.id if inner == graph.result else _fresh(call.id, inner, taken)
        origin = replace(call.origin, inlined=True) if call.origin else None
        bind = _Binding(self, call, pid, _arguments(call, body), rename, origin)
        out = []
        for node in graph.nodes():
            arguments = tuple(
                (k, bind.value(v, node, k, frozenset(), top=True)) for k, v in node.arguments
            )
            new = Node(rename[node.id], node.process_id, arguments, namespace=node.namespace,
                       origin=origin)  # fmt: skip
            if node.id == graph.result:
                new = new.with_remark(f"inline: user-defined process {echo(pid)}")
            out.append(new)
        return out

    def bound_names(self, holder: Node, argument: str, callback: Graph) -> frozenset[str]:
        """The parameters a child graph has when it runs: those it was given and those the
        predefined process that runs it passes (its definition)."""
        names = {p.name for p in callback.parameters}
        if self.callee(holder) is None and holder.namespace in (None, "backend"):
            names.update(
                p.name for p in spec_callback_parameters(self.specs, holder.process_id, argument)
            )
        return frozenset(names)

    def report(self, key: tuple, diagnostic: Diagnostic) -> None:
        if key not in self.reported:
            self.reported.add(key)
            self.problems.append(diagnostic)


class _Binding:
    """One call's substitution: the UDP's parameters by the call's arguments."""

    def __init__(
        self,
        inliner: _Inliner,
        call: Node,
        pid: str,
        arguments: dict[str, Value],
        rename: dict[str, str],
        origin: Origin | None,
    ):
        self.inliner, self.call, self.pid = inliner, call, pid
        self.arguments, self.rename, self.origin = arguments, rename, origin

    def value(self, value: Value, holder: Node, arg: str, shadow: frozenset, top: bool) -> Value:
        """``value`` (an argument of ``holder`` in the UDP's graph) for this call; ``top``:
        in the UDP's own graph, else inside child graphs whose parameters are ``shadow``."""
        if isinstance(value, NodeRef):
            return NodeRef(self.rename[value.id]) if top else value
        if isinstance(value, ParamRef):
            return self.parameter(value, shadow, top)
        if isinstance(value, ArrayValue):
            return ArrayValue(tuple(self.value(v, holder, arg, shadow, top) for v in value.items))
        if isinstance(value, ObjectValue):
            return ObjectValue(
                tuple((k, self.value(v, holder, arg, shadow, top)) for k, v in value.items)
            )
        if isinstance(value, Callback):
            return Callback(self.child(value.graph, shadow | self.inliner.bound_names(
                holder, arg, value.graph)))  # fmt: skip
        return value

    def child(self, graph: Graph, shadow: frozenset) -> Graph:
        out = Graph(graph.parameters, _pointer(self.origin) or graph.pointer)
        for node in graph.nodes():
            arguments = tuple(
                (k, self.value(v, node, k, shadow, top=False)) for k, v in node.arguments
            )
            out.add(Node(node.id, node.process_id, arguments, namespace=node.namespace,
                         origin=self.origin))  # fmt: skip
        if graph.result is not None:
            out.set_result(graph.result)
        return out

    def parameter(self, ref: ParamRef, shadow: frozenset, top: bool) -> Value:
        if ref.name in shadow:  # a child graph's own parameter: innermost scope first
            return ref
        given = self.arguments.get(ref.name, _MISSING)
        call, pid = self.call, self.pid
        where = _pointer(call.origin)
        node_id = call.origin.node_id if call.origin else call.id
        if given is _MISSING:
            self.inliner.report(
                ("missing", where, pid, ref.name),
                Diagnostic(
                    "ProcessParameterRequired",
                    f"User-defined process {echo(pid)} uses its parameter {echo(ref.name)}, "
                    f"but node {echo(node_id)} gives no value for it and the parameter has "
                    "no default.",
                    join(where, "arguments") if where else "",
                    node_id=node_id,
                    process_id=pid,
                    argument=ref.name,
                ),
            )
            return ref
        why = None if top else _captured(given, shadow, self.inliner)
        if why is None:
            return given
        self.inliner.report(
            ("captured", where, pid, ref.name),
            Diagnostic(
                "FeatureUnsupported",
                f"User-defined process {echo(pid)} uses its parameter {echo(ref.name)} inside "
                f"a child process graph, and the value node {echo(node_id)} gives for it "
                f"{why}: pgc cannot run this call yet.",
                join(where, "arguments", ref.name) if where else "",
                node_id=node_id,
                process_id=pid,
                argument=ref.name,
                hint="give a constant here, or pass the value into the child process graph "
                "through its 'context' argument inside the user-defined process",
            ),
        )
        return ref


def _arguments(call: Node, body: _Body) -> dict[str, Value]:
    """What each parameter of the UDP is bound to: the call's argument, else the default.
    A UDP that does not declare its parameters takes the arguments as they are."""
    given = dict(call.arguments)
    if not body.declared:
        return given
    out: dict[str, Value] = {}
    for p in body.graph.parameters:
        if p.name in given:
            out[p.name] = given[p.name]
        elif p.has_default:
            out[p.name] = Literal(p.default)
    return out


def _captured(value: Value, shadow: frozenset, inliner: _Inliner) -> str | None:
    """Why ``value`` (from the caller's scope) cannot be put inside child graphs whose
    parameters are ``shadow``, or None when it can."""
    stack: list[tuple[Value, frozenset, Node | None, str]] = [(value, frozenset(), None, "")]
    while stack:
        item, bound, holder, arg = stack.pop()
        if isinstance(item, NodeRef) and holder is None:  # inside callbacks: their own nodes
            return f"is the result of node {echo(item.id)}, which a child graph cannot read"
        if isinstance(item, ParamRef) and item.name in shadow and item.name not in bound:
            return (
                f"refers to parameter {echo(item.name)}, which the child graph there has "
                "as its own parameter"
            )
        if isinstance(item, ArrayValue):
            stack.extend((v, bound, holder, arg) for v in item.items)
        elif isinstance(item, ObjectValue):
            stack.extend((v, bound, holder, arg) for _, v in item.items)
        elif isinstance(item, Callback):
            graph = item.graph
            inner = bound | (
                inliner.bound_names(holder, arg, graph)
                if holder is not None
                else {p.name for p in graph.parameters}
            )
            for node in graph.nodes():
                stack.extend((v, inner, node, k) for k, v in node.arguments)
    return None


def _fresh(call_id: str, inner: str, taken: set[str]) -> str:
    """``call/inner``, or ``call/inner2`` ... : an id no node of the caller's graph has."""
    base = f"{call_id}/{inner}"
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}{i}"
    taken.add(name)
    return name


def _pointer(origin: Origin | None) -> str:
    return origin.pointer if origin is not None else ""
