"""``pgc.validate``: every error pgc can know before it reads a pixel (issue 18).

Two modes, and the result says which one ran (:attr:`ValidationResult.mode`):

- ``"catalog-free"`` (no catalog given): the structure of the document and the arguments
  against the process definitions' schemas and rules, as :func:`pgc.frontend.validate`
  checks them, and the output format of ``save_result``. It knows nothing of
  collections, so it suits graphs whose collections live elsewhere (a federation member's,
  a user-defined process stored for later).
- ``"catalog"`` (a catalog given): the same, then what the compiler checks before running:
  the graph is lowered, typed with the catalog's collections (their bands and common
  names, dimensions, extents and dates) and optimized, and the budget is checked on the
  plan that would run. A wrong band name, a dimension the cube lacks, an extent without
  data and an unknown collection are reported here, as ``pgc explain`` reports them,
  instead of when the graph runs.

The typed stage runs only on a structurally valid graph: the IR cannot be built from one
that is not, so its errors come once the structure's are fixed.

>>> from pgc.data.catalog import default_catalog
>>> graph = {"l": {"process_id": "load_collection", "result": True, "arguments": {
...     "id": "SENTINEL2_L2A_SAMPLE", "spatial_extent": None, "temporal_extent": None,
...     "bands": ["B4"]}}}
>>> validate(graph).mode, validate(graph).ok
('catalog-free', True)
>>> typed = validate(graph, catalog=default_catalog())
>>> typed.mode, [d.code for d in typed.errors]
('catalog', ['ProcessParameterInvalid'])
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .errors import Diagnostic, PgcError
from .frontend.validate import ValidationResult
from .frontend.validate import validate as validate_structure
from .limits import Limits
from .pointer import document_order
from .specs import Specs, load_specs

CATALOG = "catalog"
CATALOG_FREE = "catalog-free"


def validate(
    document: Any,
    *,
    catalog: Any = None,
    specs: Specs | str | None = None,
    user_processes: dict[str, Any] | list | None = None,
    limits: Limits | None = None,
    name: str = "<input>",
    parameters: dict[str, Any] | None = None,
) -> ValidationResult:
    """Validate a process graph (JSON text, bytes or Python objects); every problem, sorted
    by its place in the document. Nothing is raised for bad input.

    ``catalog``: None validates catalog-free (structure, schemas, output format: what
    pgc 0.1 did, so existing callers see no change); a :class:`pgc.data.catalog.Catalog`
    (``pgc.data.catalog.default_catalog()`` for pgc's own collections) also types and
    plans the graph with it, as compiling does. ``user_processes``, ``limits``, ``name`` and
    ``parameters`` are those of :func:`pgc.frontend.validate`; ``limits`` also hold the
    budget the catalog mode checks.
    """
    limits = limits or Limits()
    if not isinstance(specs, Specs):
        specs = load_specs(specs)
    result = validate_structure(
        document,
        specs=specs,
        user_processes=user_processes,
        limits=limits,
        name=name,
        parameters=parameters,
    )
    if catalog is None:
        return result
    result.mode = CATALOG
    if not result.ok:
        return result
    typed = typed_problems(result, catalog, specs, user_processes, limits, name)
    return with_problems(result, typed)


def typed_problems(
    document: Any, catalog: Any, specs: Specs, user_processes: Any, limits: Limits, name: str
) -> list[Diagnostic]:
    """The errors compiling a structurally valid ``document`` (or its validation result,
    which is then not validated again) with ``catalog`` finds: the
    type rules', then the budget of the optimized plan. Compiling is how they are found so
    that validation can never disagree with ``pgc explain`` and ``pgc run``; the optimized
    plan is thrown away (a back-end that runs the graph compiles it again, or keeps a
    :class:`~pgc.compiler.Plan` from :func:`pgc.compile` instead)."""
    from .compiler import compile as compile_graph  # the IR: only when types are wanted

    try:
        compile_graph(
            document,
            specs=specs,
            catalog=catalog,
            user_processes=user_processes,
            limits=limits,
            name=name,
        )
    except PgcError as exc:
        return exc.diagnostics
    return []


def with_problems(result: ValidationResult, problems: list[Diagnostic]) -> ValidationResult:
    """``result`` with ``problems`` added: placed in the text (line, column) and merged in
    document order, errors before warnings at one place, as the front end sorts."""
    if not problems:
        return result
    placed = [result.source.place(d) for d in problems]
    merged = [*result.diagnostics, *placed]
    if result.document is not None:
        merged.sort(key=lambda d: (document_order(result.document, d.pointer), not d.is_error))
    return replace(result, diagnostics=merged)
