"""The forms in which openEO process graphs arrive, reduced to one.

Users and back-ends send: a bare flat graph ``{node_id: node}``; ``{"process_graph": ...}``;
a full process object (``id``, ``parameters``, ``returns``, ``process_graph``) as stored
with ``PUT /process_graphs``; and request bodies of ``POST /result`` and ``POST /jobs``,
which wrap the process object in ``"process"``. :func:`read_process` finds the graph and
the declared parameters and remembers where in the document they are.

>>> doc = {"process": {"process_graph": {"a": {"process_id": "pi", "arguments": {}}}}}
>>> read_process(doc, [], None).graph_pointer
'/process/process_graph'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import Diagnostic, echo
from ..pointer import join
from .schema import Matcher, SchemaError, compile_schema

INVALID = "ProcessGraphInvalid"
PARAMETER_NAME = re.compile(r"^\w+$")
PROCESS_ID = re.compile(r"^\w+$")


@dataclass
class DeclaredParameter:
    name: str
    schema: Any
    matcher: Matcher
    optional: bool
    default: Any
    has_default: bool
    pointer: str


@dataclass
class ProcessDocument:
    """Where the process graph is, and the parameters its process declares (if any)."""

    graph: Any
    graph_pointer: str
    base: str  # pointer of the process object ("" for a bare graph)
    id: str | None = None
    parameters: list[DeclaredParameter] | None = None  # None: not declared (open)
    returns: Matcher | None = None
    bare: bool = False  # a flat graph without a process object around it


def _looks_like_node(value: Any) -> bool:
    return isinstance(value, dict) and "process_id" in value


def read_process(
    document: Any, problems: list[Diagnostic], subtypes: Any
) -> ProcessDocument | None:
    """Find the process graph in any accepted form; append problems; None if there is none."""
    if not isinstance(document, dict):
        kind = type(document).__name__ if document is not None else "null"
        problems.append(Diagnostic(INVALID, f"A process graph must be a JSON object, got {kind}."))
        return None
    base = ""
    process = document
    wrapped = document.get("process")
    if isinstance(wrapped, dict) and "process_graph" in wrapped and not _looks_like_node(wrapped):
        base, process = "/process", wrapped  # POST /result and /jobs request bodies
    graph = process.get("process_graph")
    if "process_graph" not in process or _looks_like_node(graph):
        if not document:
            problems.append(Diagnostic("ProcessGraphMissing", "The process graph is empty."))
            return None
        return ProcessDocument(document, "", "", bare=True)
    out = ProcessDocument(graph, join(base, "process_graph"), base)
    if graph is None or graph == {}:
        problems.append(
            Diagnostic("ProcessGraphMissing", "The process graph is empty.", out.graph_pointer)
        )
        return None
    pid = process.get("id")
    if pid is not None and not (isinstance(pid, str) and PROCESS_ID.match(pid)):
        problems.append(
            Diagnostic(
                INVALID,
                f"The process id {echo(pid)} must be a string of letters, digits and underscores.",
                join(base, "id"),
            )
        )
    out.id = pid if isinstance(pid, str) else None
    if "parameters" in process and process["parameters"] is not None:
        out.parameters = read_parameters(
            process["parameters"], join(base, "parameters"), problems, subtypes
        )
    returns = process.get("returns")
    if isinstance(returns, dict) and "schema" in returns:
        out.returns = _compile(
            returns["schema"], join(base, "returns", "schema"), problems, subtypes
        )
    return out


def read_parameters(
    raw: Any, pointer: str, problems: list[Diagnostic], subtypes: Any
) -> list[DeclaredParameter]:
    """The parameters a process object declares, each checked and its schema compiled."""
    if not isinstance(raw, list):
        problems.append(
            Diagnostic(INVALID, "'parameters' must be an array of parameter objects.", pointer)
        )
        return []
    out: list[DeclaredParameter] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = join(pointer, i)
        if not isinstance(item, dict):
            problems.append(
                Diagnostic(
                    INVALID, "A parameter must be an object with 'name' and 'schema'.", where
                )
            )
            continue
        name = item.get("name")
        if not isinstance(name, str) or not PARAMETER_NAME.match(name):
            problems.append(
                Diagnostic(
                    INVALID,
                    f"Parameter name {echo(name)} must be a string "
                    "of letters, digits and underscores.",
                    join(where, "name"),
                )
            )
            continue
        if name in seen:
            problems.append(
                Diagnostic(INVALID, f"Parameter '{name}' is declared twice.", join(where, "name"))
            )
            continue
        seen.add(name)
        if "schema" not in item:
            problems.append(Diagnostic(INVALID, f"Parameter '{name}' has no 'schema'.", where))
            schema: Any = {}
        else:
            schema = item["schema"]
        matcher = _compile(schema, join(where, "schema"), problems, subtypes)
        optional = item.get("optional", False)
        if not isinstance(optional, bool):
            problems.append(
                Diagnostic(
                    INVALID,
                    f"'optional' of parameter '{name}' must be true or false.",
                    join(where, "optional"),
                )
            )
            optional = False
        out.append(
            DeclaredParameter(
                name,
                schema,
                matcher or compile_schema({}),
                optional,
                item.get("default"),
                "default" in item,
                where,
            )
        )
    return out


def _compile(
    schema: Any, pointer: str, problems: list[Diagnostic], subtypes: Any
) -> Matcher | None:
    """Compile a user-declared schema; a schema that is not JSON schema is a problem."""
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import SchemaError as JSONSchemaError

    candidates = schema if isinstance(schema, list) else [schema]
    try:
        for candidate in candidates:
            Draft7Validator.check_schema(candidate)
        return compile_schema(schema, subtypes)
    except JSONSchemaError as exc:
        where = join(pointer, *exc.relative_path) if exc.relative_path else pointer
        problems.append(Diagnostic(INVALID, f"Invalid JSON schema: {exc.message[:200]}", where))
    except (SchemaError, RecursionError) as exc:
        problems.append(Diagnostic(INVALID, f"Invalid JSON schema: {str(exc)[:200]}", pointer))
    return None
