"""The structural checker: graphs, nodes and the processes they call.

:class:`Checker` walks a process graph and its child graphs with an explicit stack
(:meth:`Checker.run`), each graph once: the graph's shape (an object of nodes, not empty,
within the limits on nodes and nesting, exactly one result node), each node's keys and
``process_id``, and which process that id names (user-defined first, then predefined, as
openEO's ``namespace: null`` says). The arguments of each node are checked by
:mod:`pgc.frontend.arguments`, the references inside them by
:mod:`pgc.frontend.references`, and the graph's cycles, unused nodes and result by
:mod:`pgc.frontend.graph_shape`. Every problem becomes a :class:`~pgc.errors.Diagnostic`
in :attr:`Checker.problems`; nothing is raised for bad input.

>>> from pgc.specs import load_specs
>>> from pgc.limits import Limits
>>> checker = Checker(load_specs(), Limits(), {})
>>> checker.run(Task({"a": {"process_id": "pi", "arguments": {}}}, "", Scope({}), 0))
>>> [d.code for d in checker.problems]
['ProcessGraphInvalid']
"""

from __future__ import annotations

import weakref
from typing import Any

from ..errors import Diagnostic, did_you_mean, echo
from ..limits import Limits
from ..pointer import join
from ..specs import Specs
from .arguments import check_arguments
from .graph_shape import check_cycles, check_returns, check_unused
from .schema import Matcher, compile_schema
from .user_processes import UserProcess
from .walk import INVALID, Node, Scope, Task

NODE_KEYS = {"process_id", "arguments", "result", "namespace", "description"}


class _SpecMatchers(dict):
    """Compiled schemas of one Specs' parameters, by id; ``owned`` are the ids of the
    schemas the definitions hold (immutable and alive as long as the Specs), so a user's
    schema, which may change or die, is never looked up here."""

    def __init__(self, specs: Specs):
        super().__init__()
        processes = specs.processes.values()
        self.owned = {id(spec.returns) for spec in processes}
        self.owned |= {id(p.schema) for spec in processes for p in spec.parameters}


_SPEC_MATCHERS: dict[int, _SpecMatchers] = {}  # by id(specs), dropped when the Specs dies


def _spec_matchers(specs: Specs) -> _SpecMatchers:
    found = _SPEC_MATCHERS.get(id(specs))
    if found is None:
        found = _SPEC_MATCHERS[id(specs)] = _SpecMatchers(specs)
        weakref.finalize(specs, _SPEC_MATCHERS.pop, id(specs), None)
    return found


class Checker:
    """Checks graphs against one set of process definitions, limits and user-defined
    processes, collecting what it finds in :attr:`problems`."""

    def __init__(self, specs: Specs, limits: Limits, user: dict[str, UserProcess]):
        self.specs = specs
        self.limits = limits
        self.user = user
        self.problems: list[Diagnostic] = []
        self.node_count = 0
        self.aborted = False
        self._matchers: dict[int, Matcher] = {}
        # Per process id, for pgc.frontend.arguments: the matchers of its parameters and
        # the names of those that need an argument (computed once per validation).
        self.parameter_matchers: dict[str, dict[str, Matcher]] = {}
        self.required_parameters: dict[str, tuple[str, ...]] = {}
        self.free_parameters: dict[str, str] = {}  # name -> first pointer using it
        self.announced: set[str] = set()  # free parameters already reported in a callback
        self.called_user: dict[str, str] = {}  # user process id -> first calling pointer
        # Nodes and scope of the graph whose arguments are being matched (see ref_schema).
        self.refs_context: tuple[dict[str, Node], Scope] = ({}, Scope({}))

    def fresh(self) -> Checker:
        """A checker with the same definitions, limits and user-defined processes that has
        found nothing yet: how a called user-defined process is checked on its own."""
        return Checker(self.specs, self.limits, self.user)

    # -- reporting ----------------------------------------------------------------------
    def report(
        self,
        code: str,
        message: str,
        pointer: str,
        node: Node | None = None,
        argument: str | None = None,
        hint: str | None = None,
        severity: str = "error",
    ) -> None:
        """Add a diagnostic; ``node`` names the node and its process in it."""
        self.problems.append(
            Diagnostic(
                code,
                message,
                pointer,
                severity,  # type: ignore[arg-type]
                node.id if node else None,
                node.raw.get("process_id")
                if node and isinstance(node.raw.get("process_id"), str)
                else None,
                argument,
                hint,
            )
        )

    def matcher(self, schema: Any) -> Matcher:
        """The compiled form of ``schema``: once per validation, and the definitions' own
        schemas once per Specs (compiling them is most of a small graph's validation)."""
        key = id(schema)
        m = self._matchers.get(key)
        if m is None:
            shared = _spec_matchers(self.specs)  # the definitions' schemas: once per Specs
            m = shared.get(key) if key in shared.owned else None
            if m is None:
                m = compile_schema(schema, self.specs.subtypes)
                if key in shared.owned:
                    shared[key] = m
            self._matchers[key] = m
        return m

    def ref_schema(self, ref: dict) -> Matcher | None:
        """Called by the schema matcher: what a reference yields (None when unknown)."""
        nodes, scope = self.refs_context
        if "from_node" in ref:
            target = (
                nodes.get(ref.get("from_node")) if isinstance(ref.get("from_node"), str) else None
            )
            return target.returns if target is not None else None
        name = ref.get("from_parameter")
        return scope.lookup(name) if isinstance(name, str) else None

    # -- graphs -------------------------------------------------------------------------
    def run(self, first: Task) -> None:
        """Check ``first`` and every child graph in it, depth first, without recursion."""
        stack = [first]
        while stack and not self.aborted:
            stack.extend(reversed(self.check_graph(stack.pop())))

    def check_graph(self, task: Task) -> list[Task]:
        """Check one graph; return its child graphs (callbacks) still to check."""
        graph, pointer = task.graph, task.pointer
        if not isinstance(graph, dict):
            self.report(
                INVALID,
                "A process graph must be an object that maps node ids to "
                f"nodes, got {type(graph).__name__}.",
                pointer,
            )
            return []
        if not graph:
            self.report(
                INVALID if task.depth else "ProcessGraphMissing",
                "The process graph is empty.",
                pointer,
            )
            return []
        if task.depth > self.limits.max_graph_depth:
            self.report(
                INVALID,
                "Child process graphs are nested deeper than the limit of "
                f"{self.limits.max_graph_depth} levels.",
                pointer,
            )
            return []
        self.node_count += len(graph)
        if self.node_count > self.limits.max_nodes:
            self.report(
                INVALID,
                f"The process graph has more than {self.limits.max_nodes} nodes, the limit.",
                pointer,
            )
            self.aborted = True
            return []

        nodes = self.read_nodes(graph, pointer)
        results = [n for n in nodes.values() if n.raw.get("result") is True]
        if not results:
            where = f" ({task.scope.what})" if task.scope.callback_of else ""
            self.report(
                INVALID,
                f"The process graph{where} has no result node: mark the node "
                'that gives the result with "result": true.',
                pointer,
            )
        for extra in results[1:]:
            self.report(
                INVALID,
                "The process graph has several result nodes ("
                + ", ".join(f"{echo(n.id)}" for n in results)
                + "); exactly one may have "
                '"result": true.',
                join(extra.pointer, "result"),
                extra,
            )

        children: list[Task] = []
        ids = frozenset(nodes)
        self.refs_context = (nodes, task.scope)  # for ref_schema while matching arguments
        for node in nodes.values():
            children += check_arguments(self, node, nodes, task, ids)
        acyclic = check_cycles(self, nodes)
        if len(results) == 1:
            result = results[0]
            if acyclic:
                check_unused(self, nodes, result)
            check_returns(self, task, result)
        return children

    def read_nodes(self, graph: dict, pointer: str) -> dict[str, Node]:
        """The graph's nodes that are objects, each checked for its keys and process."""
        nodes: dict[str, Node] = {}
        for node_id, raw in graph.items():
            where = join(pointer, node_id)
            if not isinstance(raw, dict):
                self.report(
                    INVALID,
                    f"Node {echo(node_id)} must be an object with 'process_id' and "
                    f"'arguments', got {type(raw).__name__}.",
                    where,
                )
                continue
            node = Node(node_id, where, raw)
            nodes[node_id] = node
            for key in raw:
                if key not in NODE_KEYS:
                    self.report(
                        INVALID,
                        f"Node {echo(node_id)} has an unknown key {echo(key)}; it is ignored.",
                        join(where, key),
                        node,
                        severity="warning",
                    )
            if "result" in raw and not isinstance(raw["result"], bool):
                self.report(INVALID, "'result' must be true or false.", join(where, "result"), node)
            pid = raw.get("process_id")
            if not isinstance(pid, str):
                msg = (
                    "has no 'process_id'"
                    if pid is None
                    else f"has a 'process_id' that is not a string: {echo(pid)}"
                )
                self.report(
                    INVALID,
                    f"Node {echo(node_id)} {msg}.",
                    join(where, "process_id") if "process_id" in raw else where,
                    node,
                )
                continue
            self.resolve_process(node, pid, raw.get("namespace"))
        return nodes

    def resolve_process(self, node: Node, pid: str, namespace: Any) -> None:
        """Find the process ``pid`` names in ``namespace`` (null: user-defined first, then
        predefined; ``backend``: predefined only; ``user``: user-defined only)."""
        where = node.pointer
        if namespace is not None and not isinstance(namespace, str):
            self.report(
                INVALID, "'namespace' must be a string or null.", join(where, "namespace"), node
            )
            return
        user = self.user.get(pid) if namespace in (None, "user") else None
        spec = self.specs.get(pid) if namespace in (None, "backend") and user is None else None
        if user is not None:
            node.user, node.returns = user, user.returns
            self.called_user.setdefault(pid, where)
            return
        if spec is not None:
            node.spec = spec
            node.returns = self.matcher(spec.returns)
            return
        if namespace not in (None, "user", "backend"):
            self.report(
                "ProcessUnsupported",
                f"Process {echo(pid)} in namespace {echo(namespace)} is "
                "not available: pgc resolves the namespaces 'backend' and 'user' only.",
                join(where, "namespace"),
                node,
            )
            return
        where_ns = {
            None: "",
            "backend": " among the predefined processes",
            "user": " among the user-defined processes",
        }[namespace]
        pool = list(self.user) if namespace == "user" else list(self.specs.processes)
        if namespace is None:
            pool += list(self.user)
        self.report(
            "ProcessUnsupported",
            f"Process {echo(pid)} is not available{where_ns}.",
            join(where, "process_id"),
            node,
            hint=did_you_mean(pid, pool),
        )
