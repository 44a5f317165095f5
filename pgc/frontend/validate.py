"""Validation of openEO process graphs: every mistake, with its place and a hint.

:func:`validate` reads a document in any accepted form (text, bytes or Python objects),
checks it against the process definitions and returns every problem at once, sorted by
where it is in the document. Nothing is raised for bad input and no walk recurses on the
input's shape: graphs, child graphs and argument values are walked with explicit stacks,
each node once, so time and memory grow linearly with the document.

The checks live in modules of one idea each, which this one puts together:
:mod:`~pgc.frontend.checker` (graphs, nodes, the processes they call),
:mod:`~pgc.frontend.arguments` (arguments against parameters),
:mod:`~pgc.frontend.references` (references and child graphs inside values),
:mod:`~pgc.frontend.graph_shape` (cycles, unused nodes, a callback's result) and
:mod:`~pgc.frontend.user_processes`; :mod:`~pgc.frontend.walk` holds what they share.

>>> r = validate({"a": {"process_id": "pi", "arguments": {}, "result": True}})
>>> r.ok
True
>>> r = validate({"a": {"process_id": "ndvl", "arguments": {}, "result": True}})
>>> r.errors[0].code, r.errors[0].hint
('ProcessUnsupported', "did you mean 'ndvi'?")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import Diagnostic, echo
from ..gcpause import gc_paused
from ..limits import Limits
from ..pointer import document_order
from ..specs import Specs, load_specs
from .arguments import without_bounds
from .checker import Checker
from .reader import ProcessDocument, read_process
from .source import Source, load_python, load_text
from .user_processes import UserProcess, check_user_processes, read_user_processes
from .walk import Scope, Task

# Imported from here by other modules and by users: the public names of the validator.
__all__ = ["UserProcess", "ValidationResult", "validate", "without_bounds"]


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
        checker = Checker(specs, limits, read_user_processes(user_processes, specs))
        process = read_process(value, checker.problems, specs.subtypes)
        if process is not None:
            check_document(checker, process, parameters)
    return _finish(checker.problems, source, value, process)


def _finish(problems, source, document, process) -> ValidationResult:
    located = [source.place(d) for d in problems]
    if document is not None:
        located.sort(key=lambda d: (document_order(document, d.pointer), not d.is_error))
    return ValidationResult(located, source, document, process)


def check_document(
    checker: Checker, process: ProcessDocument, values: dict[str, Any] | None
) -> None:
    """Check a whole document: its graph and child graphs, the user-defined processes it
    calls, then its parameters (with ``values``, those the run gives; without, a warning
    for each parameter a graph that declares none uses)."""
    declared = process.parameters
    top = Scope({p.name: p.matcher for p in declared or ()}, open=declared is None)
    checker.run(Task(process.graph, process.graph_pointer, top, 0, returns=process.returns))
    if checker.aborted:
        return
    check_user_processes(checker)
    if values is not None:
        check_bound(checker, process, values)
    elif declared is None:
        for name, pointer in checker.free_parameters.items():
            if name in checker.announced:  # reported where it was found
                continue
            checker.report(
                "ProcessParameterRequired",
                f"Parameter {echo(name)} is used but not declared; it needs a value "
                "when the graph runs.",
                pointer,
                severity="warning",
            )


def check_bound(checker: Checker, process: ProcessDocument, values: dict[str, Any]) -> None:
    """Before running: every parameter used or required must have a valid value."""
    declared = {p.name: p for p in process.parameters or ()}
    for name, param in declared.items():
        if name in values:
            for where, msg in param.matcher.match(values[name], param.pointer, None, []):
                checker.report(
                    "ProcessParameterInvalid",
                    f"The value of parameter {echo(name)} {msg}.",
                    where,
                )
        elif not param.optional and not param.has_default:
            checker.report(
                "ProcessParameterRequired",
                f"Parameter {echo(name)} has no value and no default.",
                param.pointer,
            )
    for name, pointer in checker.free_parameters.items():
        if name not in values and name not in declared:
            checker.report(
                "ProcessParameterRequired", f"Parameter {echo(name)} has no value.", pointer
            )
