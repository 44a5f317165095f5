"""A node's arguments against the parameters of the process it calls.

Each argument is walked for references and child graphs (:mod:`pgc.frontend.references`),
then matched against its parameter's schema; required parameters must be given; a
process's own rules (:mod:`pgc.frontend.rules`) and ``save_result``'s format are checked
where the text alone decides them. Parameters come from the process definition, or from a
user-defined process that declares them; an unknown process, or one that does not declare
its parameters, has its arguments walked but not matched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import did_you_mean, echo, short
from ..formats import ALIASES as FORMAT_ALIASES
from ..formats import OUTPUT_FORMATS, format_titles, output_format
from ..pointer import join
from .references import callback_task, walk_value
from .rules import check_rules
from .schema import Matcher, compile_schema
from .walk import INVALID, Node, Task

if TYPE_CHECKING:
    from .checker import Checker

_BOUNDS = {
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minimumExclusive",
    "maximumExclusive",
}


def check_arguments(
    checker: Checker, node: Node, nodes: dict[str, Node], task: Task, ids: frozenset
) -> list[Task]:
    """Check the arguments of ``node``; return the child graphs they hold, to check next."""
    raw = node.raw
    where = join(node.pointer, "arguments")
    if "arguments" not in raw:
        checker.report(
            INVALID,
            f"Node {echo(node.id)} has no 'arguments'; use {{}} for a process without arguments.",
            node.pointer,
            node,
        )
        return []
    args = raw["arguments"]
    if not isinstance(args, dict):
        checker.report(
            INVALID,
            f"'arguments' of node {echo(node.id)} must be an object, got {type(args).__name__}.",
            where,
            node,
        )
        return []
    params = parameters_of(checker, node)
    children: list[Task] = []
    for name, value in args.items():
        arg_where = join(where, name)
        callback_spots = walk_value(checker, value, arg_where, node, nodes, task, ids)
        if params is None:
            continue
        matcher = params.get(name)
        if matcher is None:
            checker.report(
                "ProcessParameterUnsupported",
                f"Process {echo(raw['process_id'])} has no parameter {echo(name)}.",
                arg_where,
                node,
                name,
                did_you_mean(name, list(params)),
            )
            continue
        callbacks: list = []
        problems = matcher.match(value, arg_where, checker, callbacks)
        for p_where, message in problems:
            checker.report(
                "ProcessParameterInvalid",
                f"Argument {echo(name)} of node {echo(node.id)} "
                f"({short(raw['process_id'])}) {message}.",
                p_where,
                node,
                name,
            )
        if not problems and node.spec is not None and node.spec.traits.get("domain"):
            check_domain(checker, node, name, value, arg_where)
        claimed = {p for _, _, p in callbacks} if callback_spots else ()
        for spot in callback_spots:
            if spot not in claimed and not problems:
                checker.report(
                    "ProcessParameterInvalid",
                    f"Argument {echo(name)} of node {echo(node.id)} holds a child process "
                    "graph where a value is expected.",
                    spot,
                    node,
                    name,
                )
        for cb_value, cb_matcher, cb_where in callbacks:
            children.append(
                callback_task(checker, cb_value, cb_matcher, cb_where, node, name, task, ids)
            )
    if params is not None:
        for pname in required_of(checker, node):
            if pname not in args:
                checker.report(
                    "ProcessParameterRequired",
                    f"Process {echo(raw['process_id'])} needs the argument {echo(pname)} "
                    f"(node {echo(node.id)}).",
                    where,
                    node,
                    pname,
                )
        if node.spec is not None:
            for message, p_where, code in check_rules(node.spec, args, where):
                checker.report(code, message, p_where, node)
            if node.spec.id == "save_result":
                check_output_format(checker, node, args.get("format"), join(where, "format"))
    return children


def check_output_format(checker: Checker, node: Node, given: Any, where: str) -> None:
    """FormatUnsupported for a literal ``save_result`` format pgc does not write
    (:mod:`pgc.formats`): known from the text alone, so it is reported before anything
    runs, not after the whole computation (issue 18). A computed format is the run's."""
    if not isinstance(given, str) or output_format(given) is not None:
        return
    checker.report(
        "FormatUnsupported",
        f"Format {echo(given)} is not supported; pgc writes {format_titles()} (case-insensitive).",
        where,
        node,
        "format",
        did_you_mean(given, [*(f.title for f in OUTPUT_FORMATS.values()), *FORMAT_ALIASES]),
    )


def parameters_of(checker: Checker, node: Node) -> dict[str, Matcher] | None:
    """The matchers of the parameters of the process ``node`` calls, by name; None when
    they are unknown (an unknown process, or a user-defined process that does not declare
    its parameters), and then no argument is matched."""
    spec = node.spec
    if spec is not None:
        params = checker.parameter_matchers.get(spec.id)
        if params is None:
            relax = spec.traits.get("domain") == "nan"
            params = {
                p.name: compile_schema(without_bounds(p.schema), checker.specs.subtypes)
                if relax
                else checker.matcher(p.schema)
                for p in spec.parameters
            }
            checker.parameter_matchers[spec.id] = params
        return params
    if node.user is not None and node.user.declared:
        return {name: p.matcher for name, p in node.user.parameters.items()}
    return None  # unknown process, or a user process that does not declare parameters


def check_domain(checker: Checker, node: Node, name: str, value: Any, where: str) -> None:
    """Numbers outside a math process's domain are valid and give NaN or an infinity
    (the definitions' text and the conformance vectors); say so as a warning."""
    param = node.spec.parameter(name) if node.spec is not None else None
    if param is None:
        return
    for p_where, message in checker.matcher(param.schema).match(value, where, checker, []):
        checker.report(
            "ProcessParameterInvalid",
            f"Argument {echo(name)} of node {echo(node.id)} is outside the domain of "
            f"{short(node.spec.id)} ({message}): the result is NaN or an infinity.",
            p_where,
            node,
            name,
            severity="warning",
        )


def required_of(checker: Checker, node: Node) -> tuple[str, ...]:
    """Names of the parameters that need an argument."""
    if node.spec is not None:
        names = checker.required_parameters.get(node.spec.id)
        if names is None:
            names = tuple(p.name for p in node.spec.parameters if p.required)
            checker.required_parameters[node.spec.id] = names
        return names
    assert node.user is not None
    return tuple(
        p.name for p in node.user.parameters.values() if not p.optional and not p.has_default
    )


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
