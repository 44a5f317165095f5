"""``pgc.compile``: validate, lower, infer types, optimize; the result is a :class:`Plan`.

>>> plan = compile({"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}})
>>> plan.graph.result_node.process_id, plan.graph.result_node.literal("x")
('constant', 3)
"""

from __future__ import annotations

import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from .analysis.budget import check_budget
from .errors import Diagnostic, PgcError, internal_error, short
from .gcpause import gc_paused
from .ir.graph import Graph
from .ir.infer import Environment, infer_graph
from .ir.printer import print_graph
from .ir.types import CubeType, format_bytes
from .limits import Limits
from .passes.manager import PassContext, PassLog, parse_pipeline, run_pipeline
from .specs import Specs, load_specs


@dataclass
class Plan:
    """A compiled graph: the typed, optimized IR and how it got there."""

    graph: Graph
    initial: Graph
    log: PassLog
    pipeline: list[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)  # warnings
    timings: dict[str, float] = field(default_factory=dict)
    # id, summary, description, parameters, returns of the process object compiled
    metadata: dict[str, Any] = field(default_factory=dict)
    # how often this plan came from a plan cache before (0: compiled for this call): a
    # plan run again in a process is "hot" (pgc.executors.choice)
    reused: int = 0
    # what every run of this plan would compute again from the plan alone (the executor
    # chosen for a parameter size, the parameters it declares and where it uses them): a
    # plan is never changed once compiled, and a hot plan's run of a 1000 px EVI spent as
    # long on these as in its kernel
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def text(self, types: bool = True) -> str:
        return print_graph(self.graph, types=types)

    def to_openeo(self) -> dict:
        from .ir.raising import to_openeo

        return to_openeo(self.graph, metadata=self.metadata)

    def bytes_read(self, graph: Graph | None = None) -> int | None:
        """Estimated bytes the loads of ``graph`` read (None when a size is unknown)."""
        total = 0
        for _, node in (graph or self.graph).walk():
            if node.process_id in ("load_collection", "load_stac"):
                if not isinstance(node.type, CubeType) or node.type.nbytes is None:
                    return None
                total += node.type.nbytes
        return total

    def explain(self, verbose: bool = False) -> str:
        before, after = self.bytes_read(self.initial), self.bytes_read()
        result = self.graph.result_node.type
        size = format_bytes(result.nbytes) if isinstance(result, CubeType) else "-"
        lines = [
            f"# pgc plan: {sum(1 for _ in self.graph.walk())} nodes; "
            f"pipeline: {', '.join(self.pipeline) or 'none'}",
            f"# estimated bytes read: {format_bytes(before)} before passes, "
            f"{format_bytes(after)} after; result {size}",
        ]
        if verbose:
            lines += ["", "## lowered and typed", print_graph(self.initial).rstrip()]
            for record in self.log.records:
                lines.append("")
                if record.changed:
                    lines += [
                        f"## after {record.name} ({record.seconds * 1000:.1f} ms)",
                        print_graph(record.graph).rstrip(),
                    ]
                else:
                    lines.append(f"## after {record.name}: unchanged")
            lines += ["", "## plan"]
        lines.append(print_graph(self.graph).rstrip())
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        from .ir.printer import json_text

        lines = ["digraph plan {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
        for node in self.graph.nodes():
            label = f"{node.id}\\n{node.process_id}\\n{node.type}".replace('"', '\\"')
            lines.append(f'  {json_text(node.id)} [label="{label}"];')
            for producer in self.graph.inputs(node.id):
                lines.append(f"  {json_text(producer)} -> {json_text(node.id)};")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _by_id(user_processes: Any) -> dict[str, Any]:
    """User-defined processes by id (given as a mapping or a list of process objects)."""
    if not user_processes:
        return {}
    if isinstance(user_processes, dict):
        return dict(user_processes)
    return {p["id"]: p for p in user_processes if isinstance(p, dict) and "id" in p}


def looks_like_ir(text: str) -> bool:
    """Whether a text is pgc's IR rather than openEO JSON."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.startswith("process(")
    return False


def compile(  # noqa: A001 - the natural name, as pgc.compile
    document: Any,
    *,
    pipeline: str | list[str] = "default",
    specs: Specs | str | None = None,
    catalog: Any = None,
    user_processes: Any = None,
    limits: Limits | None = None,
    name: str = "<input>",
    verify: bool = False,
    trusted_ir: bool = False,
    overridden: Collection[str] = (),
) -> Plan:
    """Compile an openEO graph (JSON text, bytes or dict) or IR text into a :class:`Plan`;
    or the :class:`~pgc.frontend.validate.ValidationResult` of a graph validated already
    (with the same ``specs``, ``user_processes`` and ``limits``), which is not validated again.

    Raises :class:`~pgc.errors.PgcError` with every diagnostic when the graph is invalid,
    its types show an error, or a value it makes is over the budget of ``limits``; an
    unexpected failure inside pgc is a PgcError too (``Internal``, logged). IR text is
    validated as the openEO JSON it stands for, unless ``trusted_ir`` (pgc's own IR, with
    ``pgc::`` kernel nodes that openEO does not know: tests and tools, never user input).
    ``overridden``: process ids the embedding application implements itself (a session's
    process table), which the passes never compute at compile time (fold leaves them).
    """
    with gc_paused():
        try:
            return _compile(
                document, pipeline, specs, catalog, user_processes, limits, name, verify,
                trusted_ir, frozenset(overridden),
            )  # fmt: skip
        except PgcError:
            raise
        except Exception as exc:  # noqa: BLE001 - the API's boundary: never a traceback
            raise internal_error(exc) from None


def _compile(
    document, pipeline, specs, catalog, user_processes, limits, name, verify, trusted_ir,
    overridden,
) -> Plan:  # fmt: skip
    from .data.catalog import default_catalog
    from .frontend.inline import inline_user_processes
    from .frontend.lower import lower, process_metadata
    from .frontend.validate import ValidationResult, validate

    timings: dict[str, float] = {}
    if not isinstance(specs, Specs):
        specs = load_specs(specs)
    names = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
    start = time.perf_counter()
    warnings: list[Diagnostic] = []
    graph = None
    result = None
    metadata: dict[str, Any] = {}
    if isinstance(document, bytes | bytearray):
        document = bytes(document).decode("utf-8", "replace")
    limits = limits or Limits()
    if isinstance(document, str) and looks_like_ir(document):
        graph = _read_ir(document, limits)
        timings["parse"] = time.perf_counter() - start
        if not trusted_ir:  # validated as the openEO JSON it stands for, limits included
            document = _raise_ir(graph)
    if isinstance(document, ValidationResult):  # validated already (pgc.validate's typing)
        result = document
    elif not isinstance(graph, Graph) or not trusted_ir:
        result = validate(
            document, specs=specs, user_processes=user_processes, limits=limits, name=name
        )
        timings["validate"] = time.perf_counter() - start
    if result is not None:
        if not result.ok:
            raise PgcError(result.errors)
        warnings = result.warnings
        start = time.perf_counter()
        graph = lower(result, specs, _by_id(user_processes))
        metadata = process_metadata(result)
        timings["lower"] = time.perf_counter() - start
    assert graph is not None  # read as trusted IR, or lowered from the validated JSON
    if user_processes:  # calls of user-defined processes become the graphs they call
        start = time.perf_counter()
        graph = inline_user_processes(graph, _by_id(user_processes), specs, limits)
        timings["inline"] = time.perf_counter() - start
    env = Environment(
        specs,
        catalog if catalog is not None else default_catalog(),
        user_processes=_by_id(user_processes),
        limits=limits,
    )
    start = time.perf_counter()
    typed = infer_graph(graph, env)
    timings["infer"] = time.perf_counter() - start
    errors = [d for d in env.diagnostics if d.is_error]
    if errors:
        raise PgcError(errors)
    start = time.perf_counter()
    optimized, log = run_pipeline(typed, names, PassContext(env, overridden), verify=verify)
    if log.types_stale:
        # passes keep types only where they did not change (or by construction)
        optimized = infer_graph(optimized, Environment(specs, env.catalog, limits=limits))
    timings["passes"] = time.perf_counter() - start
    over = check_budget(optimized, limits)  # what will run, after filters moved into loads
    if over:
        raise PgcError(over)
    return Plan(optimized, typed, log, names, warnings, timings, metadata)


_BRACKETS = re.compile(r"[()\[\]{}]")


def _read_ir(text: str, limits: Limits) -> Graph:
    """The graph of IR text, read within the input limits (its size, and nesting that
    would exhaust the parser's recursion)."""
    from .ir.parser import IRSyntaxError, parse_ir

    if len(text) > limits.max_bytes:
        message = f"The document is {len(text)} characters; the limit is {limits.max_bytes}."
        raise PgcError([Diagnostic("ProcessGraphInvalid", message)])
    depth = deepest = 0
    for bracket in _BRACKETS.findall(text):  # in strings too: an upper bound on the nesting
        if bracket in "([{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    if deepest > limits.max_json_depth:
        message = f"The IR text nests {deepest} levels deep; the limit is {limits.max_json_depth}."
        raise PgcError([Diagnostic("ProcessGraphInvalid", message)])
    try:
        return parse_ir(text)
    except IRSyntaxError as exc:
        raise PgcError(
            [Diagnostic("ProcessGraphInvalid", str(exc), "", line=exc.line, column=exc.column)]
        ) from None


def _raise_ir(graph: Graph) -> dict:
    """The openEO process that IR ``graph`` stands for (to be validated like any JSON)."""
    from .ir.raising import to_openeo

    try:
        return to_openeo(graph)
    except Exception as exc:  # noqa: BLE001 - IR that no openEO graph stands for
        message = f"The IR text does not stand for an openEO process graph ({short(str(exc))})."
        raise PgcError([Diagnostic("ProcessGraphInvalid", message)]) from None
