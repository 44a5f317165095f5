"""Validation of openEO process graphs: every mistake, with its place and a hint.

:func:`validate` reads a document in any accepted form (text, bytes or Python objects),
checks it against the process definitions and returns every problem at once, sorted by
where it is in the document. Nothing is raised for bad input and no walk recurses on the
input's shape: graphs, child graphs and argument values are walked with explicit stacks,
each node once, so time and memory grow linearly with the document.

>>> r = validate({"a": {"process_id": "pi", "arguments": {}, "result": True}})
>>> r.ok
True
>>> r = validate({"a": {"process_id": "ndvl", "arguments": {}, "result": True}})
>>> r.errors[0].code, r.errors[0].hint
('ProcessUnsupported', "did you mean 'ndvi'?")
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, did_you_mean, echo, short
from ..formats import ALIASES as FORMAT_ALIASES
from ..formats import OUTPUT_FORMATS, format_titles, output_format
from ..gcpause import gc_paused
from ..limits import Limits
from ..pointer import document_order, join
from ..specs import ProcessSpec, Specs, load_specs
from .reader import DeclaredParameter, ProcessDocument, read_parameters, read_process
from .recursion import call_cycles, cycle_message
from .rules import check_rules
from .schema import Matcher, compile_schema
from .source import Source, load_python, load_text

INVALID = "ProcessGraphInvalid"
NODE_KEYS = {"process_id", "arguments", "result", "namespace", "description"}
# Keys of an openEO process object, which a child process graph may be (API: process).
CALLBACK_KEYS = {
    "process_graph", "id", "summary", "description", "parameters", "returns", "categories",
    "deprecated", "experimental", "exceptions", "examples", "links",
}  # fmt: skip
ANY = compile_schema({})


@dataclass
class ValidationResult:
    """All diagnostics of one document, sorted by their place in it."""

    diagnostics: list[Diagnostic]
    source: Source
    document: Any = None
    process: ProcessDocument | None = None
    # Which validation ran (issue 18): "catalog-free" checks structure and schemas (this
    # module); "catalog" also types the graph with a catalog's collections, which knows
    # bands, dimensions, extents and labels (pgc.validation).
    mode: str = "catalog-free"

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class UserProcess:
    """A user-defined process the caller provides, callable by id from graphs."""

    id: str
    document: Any
    process: ProcessDocument | None
    parameters: dict[str, DeclaredParameter]
    returns: Matcher
    problems: list[Diagnostic]
    declared: bool = True  # False: no "parameters" given, so they are unknown (openEO API)


def validate(
    document: Any,
    *,
    specs: Specs | str | None = None,
    user_processes: dict[str, Any] | list | None = None,
    limits: Limits | None = None,
    name: str = "<input>",
    parameters: dict[str, Any] | None = None,
) -> ValidationResult:
    """Validate a process graph given as JSON text, bytes or Python objects.

    ``user_processes`` are the user-defined processes the graph may call by id (a mapping
    of id to process object, or a list of process objects). ``parameters`` are the values
    the graph runs with: without them (validation) parameters that have no value yet are
    fine, as openEO's ``/validation`` requires; with them (before running) every parameter
    the graph uses must have a value.
    """
    limits = limits or Limits()
    if not isinstance(specs, Specs):
        specs = load_specs(specs)
    with gc_paused():
        if isinstance(document, str | bytes | bytearray):
            value, source, problems = load_text(document, name, limits)
        else:
            value, source, problems = load_python(document, limits)
        if problems:
            return _finish(problems, source, value, None)
        checker = _Checker(specs, limits, _user_processes(user_processes, specs, limits))
        process = read_process(value, checker.problems, specs.subtypes)
        if process is not None:
            checker.check_document(process, parameters)
    return _finish(checker.problems, source, value, process)


def _finish(problems, source, document, process) -> ValidationResult:
    located = [source.place(d) for d in problems]
    if document is not None:
        located.sort(key=lambda d: (document_order(document, d.pointer), not d.is_error))
    return ValidationResult(located, source, document, process)


def _user_processes(raw, specs: Specs, limits: Limits) -> dict[str, UserProcess]:
    if not raw:
        return {}
    items = list(raw.items()) if isinstance(raw, dict) else [(None, p) for p in raw]
    out: dict[str, UserProcess] = {}
    for key, doc in items:
        problems: list[Diagnostic] = []
        process = read_process(doc, problems, specs.subtypes) if isinstance(doc, dict) else None
        pid = key or (process.id if process else None)
        if not pid:
            continue
        params = {p.name: p for p in (process.parameters or [])} if process else {}
        returns = process.returns if process and process.returns else ANY
        declared = process is not None and process.parameters is not None
        out[pid] = UserProcess(pid, doc, process, params, returns, problems, declared)
    return out


# ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Scope:
    """Parameters visible in a graph: its own, then those of enclosing graphs."""

    parameters: dict[str, Matcher]
    parent: _Scope | None = None
    open: bool = False  # the top scope of a graph whose parameters are not declared
    label: str = "the process"
    callback_of: tuple[str, str] | None = None  # (argument, node id) of a callback

    @property
    def what(self) -> str:
        if self.callback_of is None:
            return self.label
        arg, node_id = self.callback_of
        return f"the callback {echo(arg)} of node {echo(node_id)}"

    def lookup(self, name: str) -> Matcher | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.parameters:
                return scope.parameters[name]
            scope = scope.parent
        return None

    def is_open(self) -> bool:
        scope: _Scope | None = self
        while scope.parent is not None:
            scope = scope.parent
        return scope.open

    def names(self) -> list[str]:
        out: list[str] = []
        scope: _Scope | None = self
        while scope is not None:
            out += scope.parameters
            scope = scope.parent
        return out


@dataclass(slots=True)
class _Task:
    graph: Any
    pointer: str
    scope: _Scope
    depth: int
    returns: Matcher | None = None  # what a callback must return
    parent_nodes: tuple[frozenset, ...] = ()  # node ids of enclosing graphs


@dataclass(slots=True)
class _Node:
    id: str
    pointer: str
    raw: dict
    spec: ProcessSpec | None = None
    user: UserProcess | None = None
    returns: Matcher = ANY
    uses: list[str] = field(default_factory=list)  # from_node targets


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


class _Checker:
    def __init__(self, specs: Specs, limits: Limits, user: dict[str, UserProcess]):
        self.specs = specs
        self.limits = limits
        self.user = user
        self.problems: list[Diagnostic] = []
        self.node_count = 0
        self.aborted = False
        self._matchers: dict[int, Matcher] = {}
        self._parameters: dict[str, dict[str, Matcher]] = {}
        self._required: dict[str, tuple[str, ...]] = {}
        self.free_parameters: dict[str, str] = {}  # name -> first pointer using it
        self.announced: set[str] = set()  # free parameters already reported in a callback
        self.called_user: dict[str, str] = {}  # user process id -> first calling pointer
        # Nodes and scope of the graph whose arguments are being matched (see ref_schema).
        self.refs_context: tuple[dict[str, _Node], _Scope] = ({}, _Scope({}))

    # -- reporting ----------------------------------------------------------------------
    def report(
        self,
        code: str,
        message: str,
        pointer: str,
        node: _Node | None = None,
        argument: str | None = None,
        hint: str | None = None,
        severity: str = "error",
    ) -> None:
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

    # -- the document -------------------------------------------------------------------
    def check_document(self, process: ProcessDocument, values: dict[str, Any] | None) -> None:
        declared = process.parameters
        top = _Scope({p.name: p.matcher for p in declared or ()}, open=declared is None)
        self.run(_Task(process.graph, process.graph_pointer, top, 0, returns=process.returns))
        if self.aborted:
            return
        self.check_user_processes()
        if values is not None:
            self.check_bound(process, values)
        elif declared is None:
            for name, pointer in self.free_parameters.items():
                if name in self.announced:  # reported where it was found
                    continue
                self.report(
                    "ProcessParameterRequired",
                    f"Parameter {echo(name)} is used but not declared; it needs a value "
                    "when the graph runs.",
                    pointer,
                    severity="warning",
                )

    def check_bound(self, process: ProcessDocument, values: dict[str, Any]) -> None:
        """Before running: every parameter used or required must have a valid value."""
        declared = {p.name: p for p in process.parameters or ()}
        for name, param in declared.items():
            if name in values:
                for where, msg in param.matcher.match(values[name], param.pointer, None, []):
                    self.report(
                        "ProcessParameterInvalid",
                        f"The value of parameter {echo(name)} {msg}.",
                        where,
                    )
            elif not param.optional and not param.has_default:
                self.report(
                    "ProcessParameterRequired",
                    f"Parameter {echo(name)} has no value and no default.",
                    param.pointer,
                )
        for name, pointer in self.free_parameters.items():
            if name not in values and name not in declared:
                self.report(
                    "ProcessParameterRequired", f"Parameter {echo(name)} has no value.", pointer
                )

    # -- graphs -------------------------------------------------------------------------
    def run(self, first: _Task) -> None:
        stack = [first]
        while stack and not self.aborted:
            stack.extend(reversed(self.check_graph(stack.pop())))

    def check_graph(self, task: _Task) -> list[_Task]:
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

        children: list[_Task] = []
        ids = frozenset(nodes)
        self.refs_context = (nodes, task.scope)  # for ref_schema while matching arguments
        for node in nodes.values():
            children += self.check_arguments(node, nodes, task, ids)
        acyclic = self.check_cycles(nodes)
        if len(results) == 1:
            result = results[0]
            if acyclic:
                self.check_unused(nodes, result)
            self.check_returns(task, result)
        return children

    def read_nodes(self, graph: dict, pointer: str) -> dict[str, _Node]:
        nodes: dict[str, _Node] = {}
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
            node = _Node(node_id, where, raw)
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

    def resolve_process(self, node: _Node, pid: str, namespace: Any) -> None:
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

    # -- arguments ----------------------------------------------------------------------
    def check_arguments(
        self, node: _Node, nodes: dict[str, _Node], task: _Task, ids: frozenset
    ) -> list[_Task]:
        raw = node.raw
        where = join(node.pointer, "arguments")
        if "arguments" not in raw:
            self.report(
                INVALID,
                f"Node {echo(node.id)} has no 'arguments'; "
                "use {} for a process without arguments.",
                node.pointer,
                node,
            )
            return []
        args = raw["arguments"]
        if not isinstance(args, dict):
            self.report(
                INVALID,
                f"'arguments' of node {echo(node.id)} must be an object, "
                f"got {type(args).__name__}.",
                where,
                node,
            )
            return []
        params = self.parameters_of(node)
        children: list[_Task] = []
        for name, value in args.items():
            arg_where = join(where, name)
            callback_spots = self.walk_value(value, arg_where, node, nodes, task, ids)
            if params is None:
                continue
            matcher = params.get(name)
            if matcher is None:
                self.report(
                    "ProcessParameterUnsupported",
                    f"Process {echo(raw['process_id'])} has no parameter {echo(name)}.",
                    arg_where,
                    node,
                    name,
                    did_you_mean(name, list(params)),
                )
                continue
            callbacks: list = []
            problems = matcher.match(value, arg_where, self, callbacks)
            for p_where, message in problems:
                self.report(
                    "ProcessParameterInvalid",
                    f"Argument {echo(name)} of node {echo(node.id)} "
                    f"({short(raw['process_id'])}) {message}.",
                    p_where,
                    node,
                    name,
                )
            if not problems and node.spec is not None and node.spec.traits.get("domain"):
                self.check_domain(node, name, value, arg_where)
            claimed = {p for _, _, p in callbacks} if callback_spots else ()
            for spot in callback_spots:
                if spot not in claimed and not problems:
                    self.report(
                        "ProcessParameterInvalid",
                        f"Argument {echo(name)} of node {echo(node.id)} holds a child process "
                        "graph where a value is expected.",
                        spot,
                        node,
                        name,
                    )
            for cb_value, cb_matcher, cb_where in callbacks:
                children.append(
                    self.callback_task(cb_value, cb_matcher, cb_where, node, name, task, ids)
                )
        if params is not None:
            for pname in self.required_of(node):
                if pname not in args:
                    self.report(
                        "ProcessParameterRequired",
                        f"Process {echo(raw['process_id'])} needs the argument {echo(pname)} "
                        f"(node {echo(node.id)}).",
                        where,
                        node,
                        pname,
                    )
            if node.spec is not None:
                for message, p_where, code in check_rules(node.spec, args, where):
                    self.report(code, message, p_where, node)
                if node.spec.id == "save_result":
                    self.check_output_format(node, args.get("format"), join(where, "format"))
        return children

    def check_output_format(self, node: _Node, given: Any, where: str) -> None:
        """FormatUnsupported for a literal ``save_result`` format pgc does not write
        (:mod:`pgc.formats`): known from the text alone, so it is reported before anything
        runs, not after the whole computation (issue 18). A computed format is the run's."""
        if not isinstance(given, str) or output_format(given) is not None:
            return
        self.report(
            "FormatUnsupported",
            f"Format {echo(given)} is not supported; pgc writes {format_titles()} "
            "(case-insensitive).",
            where,
            node,
            "format",
            did_you_mean(given, [*(f.title for f in OUTPUT_FORMATS.values()), *FORMAT_ALIASES]),
        )

    def parameters_of(self, node: _Node) -> dict[str, Matcher] | None:
        spec = node.spec
        if spec is not None:
            params = self._parameters.get(spec.id)
            if params is None:
                relax = spec.traits.get("domain") == "nan"
                params = {
                    p.name: compile_schema(without_bounds(p.schema), self.specs.subtypes)
                    if relax
                    else self.matcher(p.schema)
                    for p in spec.parameters
                }
                self._parameters[spec.id] = params
            return params
        if node.user is not None and node.user.declared:
            return {name: p.matcher for name, p in node.user.parameters.items()}
        return None  # unknown process, or a user process that does not declare parameters

    def check_domain(self, node: _Node, name: str, value: Any, where: str) -> None:
        """Numbers outside a math process's domain are valid and give NaN or an infinity
        (the definitions' text and the conformance vectors); say so as a warning."""
        param = node.spec.parameter(name) if node.spec is not None else None
        if param is None:
            return
        for p_where, message in self.matcher(param.schema).match(value, where, self, []):
            self.report(
                "ProcessParameterInvalid",
                f"Argument {echo(name)} of node {echo(node.id)} is outside the domain of "
                f"{short(node.spec.id)} ({message}): the result is NaN or an infinity.",
                p_where,
                node,
                name,
                severity="warning",
            )

    def required_of(self, node: _Node) -> tuple[str, ...]:
        """Names of the parameters that need an argument."""
        if node.spec is not None:
            names = self._required.get(node.spec.id)
            if names is None:
                names = tuple(p.name for p in node.spec.parameters if p.required)
                self._required[node.spec.id] = names
            return names
        assert node.user is not None
        return tuple(
            p.name for p in node.user.parameters.values() if not p.optional and not p.has_default
        )

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

    def too_long(self, pointer: str, node: _Node | None) -> None:
        self.report(
            INVALID,
            f"A string is longer than the limit of {self.limits.max_string_length} characters.",
            pointer,
            node,
        )

    def walk_value(
        self,
        value: Any,
        pointer: str,
        node: _Node,
        nodes: dict[str, _Node],
        task: _Task,
        ids: frozenset,
    ) -> list[str]:
        """Check every reference inside an argument value; return the callback positions."""
        spots: list[str] = []
        longest = self.limits.max_string_length
        if (
            type(value) is dict
            and len(value) == 1
            and ("from_node" in value or "from_parameter" in value)
        ):
            self.check_reference(value, pointer, node, nodes, task, ids)  # the common case
            return spots
        if not isinstance(value, dict | list):
            if isinstance(value, str) and len(value) > longest:
                self.too_long(pointer, node)
            return spots
        # Depth counts from the document root, as in the JSON reader's limit.
        stack: list[tuple[Any, str, int]] = [(value, pointer, pointer.count("/"))]
        while stack:
            item, where, depth = stack.pop()
            if depth >= self.limits.max_json_depth:
                self.report(
                    INVALID,
                    "An argument nests arrays and objects deeper than the limit "
                    f"of {self.limits.max_json_depth} levels.",
                    where,
                    node,
                )
                continue
            entries = enumerate(item) if isinstance(item, list) else item.items()
            if isinstance(item, dict) and (
                "from_node" in item or "from_parameter" in item or "process_graph" in item
            ):
                entries = ()  # references and callbacks are checked below
            for key, v in entries:
                if isinstance(v, dict | list):
                    child = f"{where}/{key}" if isinstance(key, int) else join(where, key)
                    stack.append((v, child, depth + 1))
                elif isinstance(v, str) and len(v) > longest:
                    self.too_long(join(where, key), node)
            if isinstance(item, list):
                continue
            if "from_node" in item or "from_parameter" in item:
                self.check_reference(item, where, node, nodes, task, ids)
                continue
            if "process_graph" in item:
                spots.append(where)
                extra = [k for k in item if k not in CALLBACK_KEYS]
                if extra:
                    self.report(
                        INVALID,
                        f"A child process graph has the unknown key {echo(extra[0])}; "
                        "it is ignored.",
                        join(where, extra[0]),
                        node,
                        severity="warning",
                    )
        return spots

    def check_reference(
        self,
        ref: dict,
        where: str,
        node: _Node,
        nodes: dict[str, _Node],
        task: _Task,
        ids: frozenset,
    ) -> None:
        kind = "from_node" if "from_node" in ref else "from_parameter"
        if len(ref) != 1:
            other = next(k for k in ref if k != kind)
            self.report(
                INVALID,
                f"A reference object has the key '{kind}' and also "
                f"{echo(other)}; reference objects have exactly one key.",
                join(where, other),
                node,
            )
            return
        target = ref[kind]
        if not isinstance(target, str):
            self.report(
                INVALID,
                f"'{kind}' must be a string, got {type(target).__name__}.",
                join(where, kind),
                node,
            )
            return
        if kind == "from_node":
            if target in nodes:
                node.uses.append(target)
                return
            if target in ids:  # present but malformed; already reported
                return
            if any(target in outer for outer in task.parent_nodes):
                self.report(
                    INVALID,
                    f"Node {echo(node.id)} refers to node {echo(target)} of an enclosing "
                    "process graph; from_node can only refer to nodes of the same graph.",
                    join(where, kind),
                    node,
                    hint="pass the value in through the callback's 'context' argument",
                )
                return
            self.report(
                INVALID,
                f"Node {echo(node.id)} refers to node {echo(target)}, which does not "
                "exist in this process graph.",
                join(where, kind),
                node,
                hint=did_you_mean(target, list(nodes)),
            )
            return
        if task.scope.lookup(target) is not None:
            return
        if task.scope.is_open():
            # Not a parameter of any enclosing callback: taken as a parameter of the whole
            # graph, which a bare graph does not declare (openEO /validation accepts it).
            first = target not in self.free_parameters
            self.free_parameters.setdefault(target, join(where, kind))
            if task.scope.parent is not None and first:
                self.announced.add(target)
                self.report(
                    "ProcessParameterRequired",
                    f"Parameter {echo(target)} is not a parameter of {task.scope.what}; "
                    "as a parameter of the whole graph it needs a value when the graph "
                    "runs.",
                    join(where, kind),
                    node,
                    severity="warning",
                    hint=did_you_mean(target, task.scope.names()) or _available(task.scope),
                )
            return
        self.report(
            INVALID,
            f"Parameter {echo(target)} is not defined for {task.scope.what}.",
            join(where, kind),
            node,
            hint=did_you_mean(target, task.scope.names()) or _available(task.scope),
        )

    def callback_task(
        self,
        value: dict,
        matcher: Matcher,
        where: str,
        node: _Node,
        arg: str,
        task: _Task,
        ids: frozenset,
    ) -> _Task:
        params: dict[str, Matcher] = {}
        for raw in matcher.callback_parameters or ():
            if isinstance(raw, dict) and isinstance(raw.get("name"), str):
                params[raw["name"]] = self.matcher(raw.get("schema", {}))
        if "parameters" in value and value["parameters"] is not None:
            # A callback may declare its parameters itself (a full process object).
            declared = read_parameters(
                value["parameters"], join(where, "parameters"), self.problems, self.specs.subtypes
            )
            params.update({p.name: p.matcher for p in declared})
        scope = _Scope(params, task.scope, callback_of=(arg, node.id))
        returns = self.matcher(matcher.callback_returns) if matcher.callback_returns else None
        return _Task(
            value["process_graph"],
            join(where, "process_graph"),
            scope,
            task.depth + 1,
            returns,
            task.parent_nodes + (ids,),
        )

    # -- graph shape --------------------------------------------------------------------
    def check_cycles(self, nodes: dict[str, _Node]) -> bool:
        """Kahn's algorithm; on a cycle, report each strongly connected component."""
        indegree = {nid: 0 for nid in nodes}
        users: dict[str, list[str]] = {nid: [] for nid in nodes}
        for node in nodes.values():
            for target in node.uses:
                indegree[node.id] += 1
                users[target].append(node.id)
        ready = [nid for nid, d in indegree.items() if d == 0]
        done = 0
        while ready:
            nid = ready.pop()
            done += 1
            for user in users[nid]:
                indegree[user] -= 1
                if indegree[user] == 0:
                    ready.append(user)
        if done == len(nodes):
            return True
        import networkx as nx  # only when there is a cycle to explain

        g = nx.DiGraph()
        for node in nodes.values():
            if indegree[node.id] > 0:
                g.add_edges_from((t, node.id) for t in node.uses if indegree[t] > 0)
        order = list(nodes)
        for component in nx.strongly_connected_components(g):
            members = sorted(component, key=order.index)
            if len(members) == 1 and not g.has_edge(members[0], members[0]):
                continue
            first = nodes[members[0]]
            path = " -> ".join(f"{echo(m)}" for m in [*members, members[0]][:12])
            self.report(
                INVALID,
                f"Nodes {path} form a cycle: a node cannot depend on its own result.",
                first.pointer,
                first,
            )
        return False

    def check_unused(self, nodes: dict[str, _Node], result: _Node) -> None:
        seen = {result.id}
        stack = [result.id]
        while stack:
            for target in nodes[stack.pop()].uses:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        for node in nodes.values():
            if node.id in seen:
                continue
            pid = node.raw.get("process_id")
            effect = node.spec is not None and node.spec.traits.get("pure") is False
            why = (
                "is not connected to the result node; whether a back-end runs it is undefined"
                if effect
                else "does not contribute to the result"
            )
            self.report(
                INVALID,
                f"Node {echo(node.id)} ({pid}) {why}.",
                node.pointer,
                node,
                severity="warning",
            )

    def check_returns(self, task: _Task, result: _Node) -> None:
        if task.returns is None or task.returns.can_accept(result.returns):
            return
        self.report(
            "ProcessParameterInvalid",
            f"The result of {task.scope.what} must "
            f"be {task.returns.describe()}, but node {echo(result.id)} gives "
            f"{result.returns.describe()}.",
            result.pointer,
            result,
        )

    # -- user-defined processes -----------------------------------------------------------
    def check_user_processes(self) -> None:
        """Validate each called user-defined process once; report calls that loop."""
        calls: dict[str, list[str]] = {}
        pending = list(self.called_user)
        while pending:
            pid = pending.pop()
            if pid in calls:
                continue
            udp = self.user[pid]
            sub = _Checker(self.specs, self.limits, self.user)
            sub.problems = list(udp.problems)
            if udp.process is not None:
                top = _Scope(
                    {p.name: p.matcher for p in udp.process.parameters or ()},
                    open=udp.process.parameters is None,
                    label=f"user-defined process {echo(pid)}",
                )
                sub.run(
                    _Task(
                        udp.process.graph,
                        udp.process.graph_pointer,
                        top,
                        0,
                        returns=udp.process.returns,
                    )
                )
            else:
                sub.report(INVALID, "The user-defined process has no process graph.", "")
            calls[pid] = list(sub.called_user)
            pending += sub.called_user
            caller = self.called_user[pid]
            for callee in sub.called_user:  # report problems at the user's own call
                self.called_user.setdefault(callee, caller)
            for d in sub.problems:
                if not d.is_error:
                    continue
                self.problems.append(
                    Diagnostic(
                        d.code,
                        f"In user-defined process {echo(pid)} at {d.pointer or '/'}: {d.message}",
                        caller,
                        node_id=d.node_id,
                        process_id=d.process_id,
                        argument=d.argument,
                        hint=d.hint,
                    )
                )
        for cycle in call_cycles(calls):  # reported at the user's call that starts it
            self.report(INVALID, cycle_message(cycle), self.called_user.get(cycle[0]) or "")


_BOUNDS = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minimumExclusive",
    "maximumExclusive",
}


def without_bounds(schema: Any) -> Any:
    """A parameter schema without numeric bounds (top level and any-of alternatives): how
    the arguments of math processes with a NaN domain (ln, log, arcsin ...) are checked,
    whose values outside the bounds give NaN, not an error.

    >>> without_bounds({"type": "number", "minimum": 0})
    {'type': 'number'}
    """
    if isinstance(schema, list):
        return [without_bounds(s) for s in schema]
    if isinstance(schema, dict):
        return {k: v for k, v in schema.items() if k not in _BOUNDS}
    return schema


def _available(scope: _Scope) -> str | None:
    names = scope.names()
    if not names:
        return "no parameters are available here"
    return "available: " + ", ".join(echo(n) for n in names[:10])
