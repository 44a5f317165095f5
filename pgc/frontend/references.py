"""References and child graphs inside argument values.

An argument may hold ``{"from_node": id}`` and ``{"from_parameter": name}`` at any depth
inside arrays and objects, and child process graphs (callbacks). :func:`walk_value` finds
them all with an explicit stack (a value nested a thousand levels deep costs no recursion),
checks each reference where it is (:func:`check_reference`: a node of the same graph, a
parameter in scope) and returns where the callbacks are; :func:`callback_task` makes a
callback the next graph the walk checks, with its parameters in scope. Strings longer than
the limit and values nested deeper than the JSON limit are reported on the way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import did_you_mean, echo
from ..pointer import join
from .reader import read_parameters
from .schema import Matcher
from .walk import INVALID, Node, Scope, Task

if TYPE_CHECKING:
    from .checker import Checker

# Keys of an openEO process object, which a child process graph may be (API: process).
CALLBACK_KEYS = {
    "process_graph", "id", "summary", "description", "parameters", "returns", "categories",
    "deprecated", "experimental", "exceptions", "examples", "links",
}  # fmt: skip


def too_long(checker: Checker, pointer: str, node: Node | None) -> None:
    """Report a string longer than the limit."""
    checker.report(
        INVALID,
        f"A string is longer than the limit of {checker.limits.max_string_length} characters.",
        pointer,
        node,
    )


def walk_value(
    checker: Checker,
    value: Any,
    pointer: str,
    node: Node,
    nodes: dict[str, Node],
    task: Task,
    ids: frozenset,
) -> list[str]:
    """Check every reference inside an argument value; return the callback positions."""
    spots: list[str] = []
    longest = checker.limits.max_string_length
    if (
        type(value) is dict
        and len(value) == 1
        and ("from_node" in value or "from_parameter" in value)
    ):
        check_reference(checker, value, pointer, node, nodes, task, ids)  # the common case
        return spots
    if not isinstance(value, dict | list):
        if isinstance(value, str) and len(value) > longest:
            too_long(checker, pointer, node)
        return spots
    # Depth counts from the document root, as in the JSON reader's limit.
    stack: list[tuple[Any, str, int]] = [(value, pointer, pointer.count("/"))]
    while stack:
        item, where, depth = stack.pop()
        if depth >= checker.limits.max_json_depth:
            checker.report(
                INVALID,
                "An argument nests arrays and objects deeper than the limit "
                f"of {checker.limits.max_json_depth} levels.",
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
                too_long(checker, join(where, key), node)
        if isinstance(item, list):
            continue
        if "from_node" in item or "from_parameter" in item:
            check_reference(checker, item, where, node, nodes, task, ids)
            continue
        if "process_graph" in item:
            spots.append(where)
            extra = [k for k in item if k not in CALLBACK_KEYS]
            if extra:
                checker.report(
                    INVALID,
                    f"A child process graph has the unknown key {echo(extra[0])}; it is ignored.",
                    join(where, extra[0]),
                    node,
                    severity="warning",
                )
    return spots


def check_reference(
    checker: Checker,
    ref: dict,
    where: str,
    node: Node,
    nodes: dict[str, Node],
    task: Task,
    ids: frozenset,
) -> None:
    """Check one reference object: exactly one key, a string, and a target that exists:
    ``from_node`` a node of the same graph, ``from_parameter`` a parameter in scope (or,
    in a graph that does not declare its parameters, one of the whole graph's)."""
    kind = "from_node" if "from_node" in ref else "from_parameter"
    if len(ref) != 1:
        other = next(k for k in ref if k != kind)
        checker.report(
            INVALID,
            f"A reference object has the key '{kind}' and also "
            f"{echo(other)}; reference objects have exactly one key.",
            join(where, other),
            node,
        )
        return
    target = ref[kind]
    if not isinstance(target, str):
        checker.report(
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
            checker.report(
                INVALID,
                f"Node {echo(node.id)} refers to node {echo(target)} of an enclosing "
                "process graph; from_node can only refer to nodes of the same graph.",
                join(where, kind),
                node,
                hint="pass the value in through the callback's 'context' argument",
            )
            return
        checker.report(
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
        first = target not in checker.free_parameters
        checker.free_parameters.setdefault(target, join(where, kind))
        if task.scope.parent is not None and first:
            checker.announced.add(target)
            checker.report(
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
    checker.report(
        INVALID,
        f"Parameter {echo(target)} is not defined for {task.scope.what}.",
        join(where, kind),
        node,
        hint=did_you_mean(target, task.scope.names()) or _available(task.scope),
    )


def callback_task(
    checker: Checker,
    value: dict,
    matcher: Matcher,
    where: str,
    node: Node,
    arg: str,
    task: Task,
    ids: frozenset,
) -> Task:
    """The child graph ``value`` of argument ``arg`` as the walk's next graph: in scope
    are the parameters the process gives its callback (and those the callback declares
    itself), then everything visible around ``node``."""
    params: dict[str, Matcher] = {}
    for raw in matcher.callback_parameters or ():
        if isinstance(raw, dict) and isinstance(raw.get("name"), str):
            params[raw["name"]] = checker.matcher(raw.get("schema", {}))
    if "parameters" in value and value["parameters"] is not None:
        # A callback may declare its parameters itself (a full process object).
        declared = read_parameters(
            value["parameters"],
            join(where, "parameters"),
            checker.problems,
            checker.specs.subtypes,
        )
        params.update({p.name: p.matcher for p in declared})
    scope = Scope(params, task.scope, callback_of=(arg, node.id))
    returns = checker.matcher(matcher.callback_returns) if matcher.callback_returns else None
    return Task(
        value["process_graph"],
        join(where, "process_graph"),
        scope,
        task.depth + 1,
        returns,
        task.parent_nodes + (ids,),
    )


def _available(scope: Scope) -> str | None:
    names = scope.names()
    if not names:
        return "no parameters are available here"
    return "available: " + ", ".join(echo(n) for n in names[:10])
