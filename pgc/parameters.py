"""The values a process graph runs with, checked before anything runs (issue 18).

``pgc run --param NAME=JSON`` and ``pgc.run(..., parameters=...)`` give values to the
parameters of a process graph. :func:`check_parameters` checks them with the frontend's
schema matchers (:mod:`pgc.frontend.schema`, the checker validation uses for arguments)
before a pixel is read, so a wrong value is an openEO error naming the parameter, never a
run over the whole collection (a bounding box that is not one used to be ignored) and
never an ``Internal`` error from deep inside a process (a bbox without ``north``):

- A process object declares its parameters (``parameters: [{name, schema, optional,
  default}]``): each value must match its declared ``schema`` (``ProcessParameterInvalid``);
  a parameter that is not ``optional`` and has no ``default`` needs a value
  (``ProcessParameterRequired``); a value for a name the process does not declare is an
  error, ``ProcessParameterUnsupported`` (the API's code for an argument a process does not
  have: "Process '{process}' does not support parameter '{parameter}'"). An error and not a
  warning, because a misspelt name leaves the parameter at its default, and the default of
  an extent is often the whole collection.
- A graph that declares nothing (a bare ``process_graph``, as clients' ``flat_graph()``
  gives) has open parameters: the openEO API does not know them, so a name the graph never
  uses is only a warning (with a "did you mean" hint); a name it uses needs a value
  (``ProcessParameterRequired``), as it would when the node ran.
- In such a graph, where a parameter is passed to an argument of a predefined process,
  the value must fit that argument's schema, as a literal written there would (the check
  validation does): with nothing declared, the uses are the only schemas there are, and
  this is what catches a bbox without ``north``. Declared parameters are checked against
  their declarations only: a process that declares ``schema: {}`` accepts anything, and
  its processes then judge the value when they run (pgc's own tests feed processes values
  past their schemas so). Nulls inside arrays are let through at the uses: they are
  no-data, which labeled arrays of cubes hold although the definitions' item schemas do
  not list it. Arguments that only a data cube fits are left to the process, which says
  "must be a data cube" itself.

Values that are not JSON data (a cube or an xarray array an embedding application passes,
NaN and infinities) are not checked: no schema describes them. Defaults are applied by the
executor (:func:`pgc.executors.reference.run_graph`, which all three executors share), not
here.

>>> doc = {"parameters": [{"name": "k", "schema": {"type": "number"}}],
...        "process_graph": {"a": {"process_id": "absolute",
...                                "arguments": {"x": {"from_parameter": "k"}}, "result": True}}}
>>> from pgc.compiler import compile
>>> [d.code for d in check_parameters(doc, {"k": "two"}, compile(doc).initial)]
['ProcessParameterInvalid']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import Diagnostic, did_you_mean, echo, short
from .frontend.reader import DeclaredParameter, read_process
from .frontend.schema import CUBE_SUBTYPES, Matcher, compile_schema
from .frontend.validate import without_bounds
from .ir.graph import Graph
from .ir.nodes import ArrayValue, Callback, Literal, Node, NodeRef, ObjectValue, ParamRef, Value
from .limits import Limits
from .pointer import join
from .specs import Specs, load_specs

INVALID = "ProcessParameterInvalid"
REQUIRED = "ProcessParameterRequired"
UNSUPPORTED = "ProcessParameterUnsupported"


def check_parameters(
    document: Any,
    values: Mapping[str, Any] | None,
    graph: Graph,
    *,
    specs: Specs | str | None = None,
    user_processes: Iterable[str] = (),
    limits: Limits | None = None,
    name: str = "<input>",
    memo: dict | None = None,
) -> list[Diagnostic]:
    """Every problem of ``values`` for the process ``document`` (errors and warnings).

    ``graph`` is the document's lowered IR (``Plan.initial``): where it uses each parameter.
    ``user_processes``: ids of the user-defined processes the graph may call (their
    arguments are theirs to check). Diagnostics point at the parameter's declaration, or at
    the argument that uses it; each names the parameter. ``memo``: the compiled plan's
    (:attr:`pgc.compiler.Plan.memo`), where the parameters ``document`` declares and
    where ``graph`` uses them are kept for its next runs.
    """
    memo = {} if memo is None else memo
    if values is not None and not isinstance(values, Mapping):
        kind = type(values).__name__
        return [Diagnostic(INVALID, f"Parameter values must be a mapping of names, got {kind}.")]
    values = dict(values or {})
    strange = [k for k in values if not isinstance(k, str)]
    if strange:
        return [Diagnostic(INVALID, f"Parameter names must be strings, got {short(strange[0])}.")]
    if "uses" not in memo:
        memo["uses"] = _uses(graph)
    used = memo["uses"]
    if not values and not graph.parameters:
        return _open_names({}, used)  # declared or not, each parameter used needs a value
    limits = limits or Limits()
    specs = specs if isinstance(specs, Specs) else load_specs(specs)
    problems: list[Diagnostic] = []
    checkable = {}
    for key, value in values.items():
        kind = _json_kind(value, limits)
        if kind == "large":
            message = (
                f"The value of parameter {echo(key)} nests deeper than "
                f"{limits.max_json_depth} levels or holds more than "
                f"{limits.max_json_values} values."
            )
            problems.append(Diagnostic(INVALID, message, argument=key))
        elif kind == "json":
            checkable[key] = value
    key = ("declared", id(specs), limits, name)  # (the specs kept with it: the id stays theirs)
    if key not in memo:
        memo[key] = (specs, declared_parameters(document, graph, specs, limits, name))
    declared = memo[key][1]
    if declared is not None:
        return problems + _declared(declared, values, checkable)
    problems += _open_names(values, used)
    problems += _at_uses(checkable, used, specs, set(user_processes))
    return problems


def declared_parameters(
    document: Any, graph: Graph, specs: Specs, limits: Limits, name: str = "<input>"
) -> list[DeclaredParameter] | None:
    """The parameters ``document``'s process declares; None when it declares none (a bare
    graph: its parameters are open). IR text declares names, optional flags and defaults,
    not schemas: its parameters match any value."""
    from .compiler import looks_like_ir
    from .frontend.source import load_text

    if isinstance(document, bytes | bytearray):
        document = bytes(document).decode("utf-8-sig", "replace")
    if isinstance(document, str) and looks_like_ir(document):
        if not graph.parameters:
            return None
        anything = compile_schema({})
        return [
            DeclaredParameter(p.name, {}, anything, p.optional, p.default, p.has_default, "")
            for p in graph.parameters
        ]
    if isinstance(document, str):
        document, _, problems = load_text(document, name, limits)
        if problems:
            return None  # not reached: the document compiled
    process = read_process(document, [], specs.subtypes)
    return process.parameters if process is not None else None


def _declared(
    declared: list[DeclaredParameter], values: dict[str, Any], checkable: dict[str, Any]
) -> list[Diagnostic]:
    """Values against the declared parameters: unknown names, missing values, schemas."""
    problems = []
    known = {p.name: p for p in declared}
    for key in values:
        if key not in known:
            names = ", ".join(echo(n) for n in known) or "none"
            problems.append(
                Diagnostic(
                    UNSUPPORTED,
                    f"The process does not declare a parameter {echo(key)} (it declares: "
                    f"{names}); a misspelt name would leave the parameter it means at its "
                    "default.",
                    argument=key,
                    hint=did_you_mean(key, known),
                )
            )
    for p in declared:
        if p.name not in values:
            if not p.optional and not p.has_default:
                problems.append(
                    Diagnostic(
                        REQUIRED,
                        f"Parameter {echo(p.name)} needs a value: it is not optional and "
                        "has no default.",
                        p.pointer,
                        argument=p.name,
                        hint=f"give it (pgc run: --param {p.name}=JSON)",
                    )
                )
            continue
        if p.name not in checkable:
            continue
        for where, message in p.matcher.match(checkable[p.name], "", None, []):
            problems.append(
                Diagnostic(
                    INVALID,
                    f"The value of parameter {echo(p.name)}{_at(where)} {message}.",
                    p.pointer,
                    argument=p.name,
                )
            )
            break  # the first problem says enough; the others follow from it or repeat it
    return problems


def _open_names(values: dict[str, Any], used: dict[str, list]) -> list[Diagnostic]:
    """Values for a graph that declares no parameters: each name it uses needs one; a name
    it does not use is a warning."""
    problems = []
    for key in values:
        if key not in used:
            problems.append(
                Diagnostic(
                    UNSUPPORTED,
                    f"The process graph does not use a parameter {echo(key)}; its value is "
                    "ignored.",
                    severity="warning",
                    argument=key,
                    hint=did_you_mean(key, used),
                )
            )
    for key, uses in used.items():
        if key not in values:
            node, argument = uses[0]
            problems.append(
                Diagnostic(
                    REQUIRED,
                    f"Parameter {echo(key)} has no value.",
                    _pointer(node, argument),
                    node_id=node.id,
                    process_id=node.process_id,
                    argument=argument,
                    hint=f"give it (pgc run: --param {key}=JSON)",
                )
            )
    return problems


def _at_uses(
    values: dict[str, Any], used: dict[str, list], specs: Specs, user_processes: set[str]
) -> list[Diagnostic]:
    """Values against the schemas of the arguments they are passed to, first problem of
    each parameter only."""
    problems = []
    for key in values:
        for node, argument in used.get(key, ()):
            spec = _predefined(node, specs, user_processes)
            param = spec.parameter(argument) if spec is not None else None
            if param is None:
                continue
            found = _argument_problem(node, argument, param.schema, spec, specs, values)
            if found is None:
                continue
            where, message, names = found
            if key not in names:
                continue
            problems.append(
                Diagnostic(
                    INVALID,
                    f"The value of parameter {echo(key)}{_at(where)} {message}: it is "
                    f"argument {echo(argument)} of {echo(node.process_id)} "
                    f"(node {echo(node.id)}).",
                    _pointer(node, argument),
                    node_id=node.id,
                    process_id=node.process_id,
                    argument=argument,
                )
            )
            break
    return problems


def _argument_problem(
    node: Node, argument: str, schema: Any, spec: Any, specs: Specs, values: dict[str, Any]
) -> tuple[str, str, set[str]] | None:
    """The first problem of ``argument`` with the parameter values in place: (pointer
    inside the parameter's value, message, the parameters it may come from)."""
    if spec.traits.get("domain") == "nan":
        schema = without_bounds(schema)  # outside the bounds: NaN, as validation reads it
    matcher: Matcher = compile_schema(schema, specs.subtypes)
    kinds = matcher.kinds
    if kinds is not None and kinds and all(sub in CUBE_SUBTYPES for _, sub in kinds):
        return None  # only a cube fits: the process says so itself when it gets something else
    places: dict[str, str] = {}  # pointer inside the argument -> parameter put there
    filled = _filled(node.arg(argument), values, places)
    for where, message in matcher.match(filled, "", None, []):
        if _is_nodata(filled, where):
            continue
        for place, key in places.items():
            if where == place or where.startswith(place + "/"):
                return where[len(place) :], message, {key}
        return "", message, set(places.values())
    return None


def _filled(value: Value | None, values: dict[str, Any], places: dict[str, str], at: str = ""):
    """The JSON of an argument value with the checked parameters' values in place (other
    references stay references, which the matchers accept as they are)."""
    if isinstance(value, ParamRef):
        if value.name in values:
            places[at] = value.name
            return values[value.name]
        return {"from_parameter": value.name}
    if isinstance(value, Literal):
        return value.value
    if isinstance(value, NodeRef):
        return {"from_node": value.id}
    if isinstance(value, ArrayValue):
        return [_filled(v, values, places, join(at, i)) for i, v in enumerate(value.items)]
    if isinstance(value, ObjectValue):
        return {k: _filled(v, values, places, join(at, k)) for k, v in value.items}
    return {"process_graph": {}}  # a callback (or nothing): not the parameters' business


def _uses(graph: Graph) -> dict[str, list[tuple[Node, str]]]:
    """Where the top graph's parameters are used: (node, argument) in document order, in
    child graphs too, except where a child graph's own parameter of the same name hides
    it (from_parameter resolves from the innermost scope outward)."""
    used: dict[str, list[tuple[Node, str]]] = {}
    stack: list[tuple[Graph, frozenset[str]]] = [(graph, frozenset())]
    while stack:
        current, hidden = stack.pop()
        children = []
        for node in current.nodes():
            for argument, value in node.arguments:
                if isinstance(value, Callback):
                    own = frozenset(p.name for p in value.graph.parameters)
                    children.append((value.graph, hidden | own))
                    continue
                for ref in _param_refs(value):
                    if ref not in hidden:
                        used.setdefault(ref, [])
                        if (node, argument) not in used[ref]:
                            used[ref].append((node, argument))
        stack.extend(reversed(children))
    return used


def _param_refs(value: Value) -> list[str]:
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, ParamRef):
            found.append(item.name)
        elif isinstance(item, ArrayValue):
            stack.extend(reversed(item.items))
        elif isinstance(item, ObjectValue):
            stack.extend(reversed([v for _, v in item.items]))
    return found


def _predefined(node: Node, specs: Specs, user_processes: set[str]):
    """The definition of the predefined process ``node`` calls; None for a user-defined
    one (namespace ``user``, or none when a user process has the id: it goes first)."""
    if node.namespace not in (None, "backend"):
        return None
    if node.namespace is None and node.process_id in user_processes:
        return None
    return specs.get(node.process_id)


def _json_kind(value: Any, limits: Limits) -> str:
    """ "json" for JSON data with finite numbers, "other" for anything else (not checked),
    "large" past the input limits (depth, number of values: a cycle is both)."""
    budget = limits.max_json_values
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > limits.max_json_depth:
            return "large"
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return "other"
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "other"
        elif not isinstance(item, str | int | bool | type(None)):
            return "other"
    return "json"


def _is_nodata(value: Any, pointer: str) -> bool:
    """Whether ``pointer`` names a null item of an array in ``value``."""
    if not pointer:
        return False
    parent: Any = value
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    for part in parts[:-1]:
        try:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return False
    if not isinstance(parent, list):
        return False
    try:
        return parent[int(parts[-1])] is None
    except (IndexError, ValueError):
        return False


def _at(where: str) -> str:
    return f" at {where}" if where else ""


def _pointer(node: Node, argument: str) -> str:
    return join(node.origin.pointer, "arguments", argument) if node.origin else ""
