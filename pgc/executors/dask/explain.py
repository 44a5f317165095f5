"""Where each node of a plan runs on the dask executor, as ``pgc explain --dask`` prints it:
chunk by chunk (and how), or whole through the reference implementation.

The same decisions as the executor's (:data:`pgc.executors.dask.chunked.FORMS`), made from the
plan alone: a node runs chunked when the process has a chunked form, the form covers its
arguments, and (but for loads) a cube it reads is chunked. A few cases are settled only at
run time (a kernel whose sources end up chunked differently, say); then the node runs whole
through the reference, as this says for nodes without a chunked form.

>>> from pgc.compiler import compile
>>> graph = {"l": {"process_id": "load_collection", "arguments": {"id": "SENTINEL2_L2A_SAMPLE",
...     "spatial_extent": None, "temporal_extent": None}, "result": True}}
>>> print(describe(compile(graph)), end="")
# dask executor: where each node runs
#   %l  chunked  load_collection: windowed reads, chunks of y and x (other dimensions whole)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...ir.types import CubeType

SPATIAL = ("y", "x")
WRITTEN_IN_CHUNKS = {"gtiff", "geotiff", "tif", "tiff", "cog", "netcdf", "nc", "zarr"}


def _load(node: Any) -> str:
    return "windowed reads, chunks of y and x (other dimensions whole)"


def _kernel(node: Any) -> str | None:
    from .chunked import picks_along_y_or_x
    from .reduce import kernel_fold

    if picks_along_y_or_x(node):
        return None
    reduce = node.literal("reduce")
    if not isinstance(reduce, dict):
        return "fused kernel per chunk"
    if reduce.get("dimension") not in SPATIAL:
        return f"fused kernel per chunk, folding {reduce.get('dimension')} within each chunk"
    if kernel_fold(node) is None:
        return None
    return f"fused kernel per chunk, then a tree reduction of {reduce['dimension']}"


def _reduction(node: Any) -> str | None:
    from .reduce import fold_of

    dims = "y and x" if node.process_id == "reduce_spatial" else node.literal("dimension")
    if dims not in ("y", "x", "y and x"):
        return None
    fold = fold_of(node.arg("reducer"))
    return f"tree reduction ({fold.process_id}) of {dims}" if fold is not None else None


def _selection(node: Any) -> str:
    return "selects labels lazily"


def _geometries(node: Any) -> str:
    return "masks lazily (the geometries rasterized once, in the cube's chunks)"


def _save(node: Any) -> str:
    fmt = str(node.literal("format") or "")
    if fmt.lower() in WRITTEN_IN_CHUNKS:
        from .chunked import DaskOptions

        whole = DaskOptions.whole_bytes / 2**20
        return f"written chunk by chunk ({fmt}; integers up to {whole:g} MB computed once, whole)"
    return f"computed whole, then written ({fmt})"


def _neighbourhood(node: Any) -> str | None:
    from .neighborhood import explain

    return explain(node)


def _columns(node: Any) -> str | None:
    from .columns import explain

    return explain(node)


# how each process with a chunked form runs, from its node; None: not in chunks (whole)
HOW: dict[str, Callable[[Any], str | None]] = {
    "load_collection": _load,
    "pgc::kernel": _kernel,
    "reduce_dimension": _reduction,
    "reduce_spatial": _reduction,
    "filter_bbox": _selection,
    "filter_temporal": _selection,
    "filter_bands": _selection,
    "aggregate_spatial": lambda node: (
        "each geometry's pixels picked from their chunks, computed together, then reduced "
        "by the reference"
    ),
    "filter_spatial": _geometries,
    "mask_polygon": _geometries,
    "save_result": _save,
    "apply_kernel": _neighbourhood,
    "apply_neighborhood": _neighbourhood,
}


def _with_columns() -> None:
    from .columns import COLUMNS, first_of

    for process_id in COLUMNS:
        HOW[process_id] = first_of(HOW[process_id], _columns) if process_id in HOW else _columns


_with_columns()


# chunked forms whose result is computed (one value per geometry): what reads it runs whole
COMPUTED = frozenset({"aggregate_spatial"})


def placements(graph: Any) -> list[tuple[Any, str | None]]:
    """Each node of ``graph`` (in run order) with how it runs chunked, or None (whole)."""
    chunked: set[str] = set()
    out = []
    for node in graph.nodes():
        key = f"{node.namespace}::{node.process_id}" if node.namespace else node.process_id
        how = HOW.get(key)
        reads = set(node.node_refs()) & chunked
        if any(_empty(graph.node(ref).type) for ref in node.node_refs()):
            reads = set()  # an empty cube: nothing to chunk, the reference runs it whole
        text = how(node) if how is not None and (reads or key == "load_collection") else None
        if text is not None and key not in COMPUTED:
            chunked.add(node.id)
        out.append((node, text))
    return out


def describe(plan: Any) -> str:
    """``pgc explain --dask``: a line per node of the plan."""
    rows = placements(plan.graph)
    width = max((len(node.id) for node, _ in rows), default=0) + 1
    lines = ["# dask executor: where each node runs"]
    for node, how in rows:
        key = f"{node.namespace}::{node.process_id}" if node.namespace else node.process_id
        name = f"%{node.id}".ljust(width)
        if how is not None:
            lines.append(f"#   {name}  chunked  {key}: {how}")
        elif _reads_cubes(node, plan.graph):
            lines.append(f"#   {name}  whole    {key}: its cubes computed, run by the reference")
        else:
            lines.append(f"#   {name}  whole    {key}: no chunked cube, run by the reference")
    return "\n".join(lines) + "\n"


def _empty(kind: Any) -> bool:
    """A cube type with a dimension known to have no labels."""
    return isinstance(kind, CubeType) and any(d.size == 0 for d in kind.dimensions)


def _reads_cubes(node: Any, graph: Any) -> bool:
    return any(isinstance(graph.node(ref).type, CubeType) for ref in node.node_refs())
