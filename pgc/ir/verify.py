"""What the pass manager checks after a pass (issue 19): the IR's structure, and that the
result's type did not change.

Structure is :meth:`pgc.ir.graph.Graph.verify`: a result node in every graph, no cycle,
every reference an edge and every edge a reference, callbacks that are graphs.

The result type is the cheap witness of what a graph computes: a pass that drops a
dimension, loses a band, shifts an extent by a pixel or turns integers into floats
changes it, while the pixels' values are checked by the differential suites. What a graph
delivers is its result and what its effects write (``save_result``'s ``data``: the result
of most graphs is the STAC object save_result returns, which says nothing of the cube), so
:func:`outputs` lists the types of both. A pass may *refine* a type (know more after it
than before), never change it: :func:`type_change` accepts ``after`` where it says the
same as ``before`` or more:

- ``before`` unknown (no type, ``any``, a cube of unknown dimensions): anything of that
  family (fold turns ``add(x=1, y=2)`` of type ``number|null`` into ``constant(x=3)``);
- scalars: ``after``'s kinds among ``before``'s, an integer where a number was allowed;
- arrays: the same dimension and labels (where ``before`` knew them), items refined;
- objects: the same subtype (where ``before`` named one);
- cubes: the same dimensions in the same order (name, type, axis), the same labels, extent,
  step and CRS where ``before`` knew them, the same dtype, bands and no-data.

>>> from pgc.ir.types import INTEGER, NUMBER, STRING
>>> type_change(NUMBER, INTEGER) is None
True
>>> type_change(NUMBER, STRING)
'number|null became string'
"""

from __future__ import annotations

from collections.abc import Callable

from .graph import Graph
from .nodes import Node, NodeRef
from .types import AnyType, ArrayType, CubeType, Dimension, ObjectType, ScalarType, Type

# the kinds a scalar of one kind also is: an integer is a number (JSON Schema's rule)
_ALSO = {"integer": ("number",)}


def verify_structure(graph: Graph) -> None:
    """Raise :class:`pgc.ir.graph.IRError` where ``graph`` (or a child graph) is malformed."""
    graph.verify()


def result_type(graph: Graph) -> Type | None:
    """The type ``graph``'s result node carries (None: untyped, or no result)."""
    if graph.result is None or graph.result not in graph:
        return None
    return graph.node(graph.result).type


def outputs(graph: Graph, writes: Callable[[Node], bool]) -> dict[str, Type | None]:
    """The types of what ``graph`` delivers: ``"result"``, and ``"<node>.<argument>"`` for
    each value given to a node that ``writes`` (an effect such as ``save_result``)."""
    out: dict[str, Type | None] = {"result": result_type(graph)}
    for node in graph.nodes():
        if not writes(node):
            continue
        for name, value in node.arguments:
            if isinstance(value, NodeRef) and value.id in graph:
                out[f"{node.id}.{name}"] = graph.node(value.id).type
    return out


def outputs_change(before: dict[str, Type | None], after: dict[str, Type | None]) -> str | None:
    """Why the outputs ``after`` (:func:`outputs`) are not those of ``before`` or a
    refinement of them, or None when they are."""
    if set(after) != set(before):
        gone, new = sorted(set(before) - set(after)), sorted(set(after) - set(before))
        return f"outputs {gone} gone, {new} new"
    for key, old in before.items():
        change = type_change(old, after[key])
        if change is not None:
            return f"{key}: {change}"
    return None


def type_change(before: Type | None, after: Type | None) -> str | None:
    """Why ``after`` is not ``before`` or a refinement of it, or None when it is."""
    if before is None or isinstance(before, AnyType) or before == after:
        return None
    if after is None or type(after) is not type(before):
        return f"{before} became {after if after is not None else 'untyped'}"
    if isinstance(before, ScalarType):
        return _scalar_change(before, after)
    if isinstance(before, ArrayType):
        return _array_change(before, after)
    if isinstance(before, ObjectType):
        same = before.subtype is None or before.subtype == after.subtype
        return None if same else f"{before} became {after}"
    if isinstance(before, CubeType):
        return _cube_change(before, after)
    return f"{before} became {after}"


def _scalar_change(before: ScalarType, after: ScalarType) -> str | None:
    allowed = set(before.kinds)
    for kind in before.kinds:
        allowed |= {k for k, wider in _ALSO.items() if kind in wider}
    if after.kinds <= allowed:
        return None
    return f"{before} became {after}"


def _array_change(before: ArrayType, after: ArrayType) -> str | None:
    if before.dimension is not None and after.dimension != before.dimension:
        return f"an array along {before.dimension!r} became one along {after.dimension!r}"
    if before.labels is not None and after.labels != before.labels:
        return f"array labels {before.labels} became {after.labels}"
    inner = type_change(before.item, after.item)
    return None if inner is None else f"array items: {inner}"


def _cube_change(before: CubeType, after: CubeType) -> str | None:
    if before.vector != after.vector:
        return f"{'a vector' if before.vector else 'a raster'} cube became another kind"
    if before.unknown_dimensions:
        return None
    if after.unknown_dimensions:
        return f"{before} became a cube of unknown dimensions"
    shape = [(d.name, d.type, d.axis) for d in before.dimensions]
    if [(d.name, d.type, d.axis) for d in after.dimensions] != shape:
        return f"dimensions {before.names} became {after.names}"
    for old, new in zip(before.dimensions, after.dimensions, strict=True):
        change = _dimension_change(old, new)
        if change is not None:
            return f"dimension {old.name!r}: {change}"
    if after.dtype != before.dtype:
        return f"dtype {before.dtype} became {after.dtype}"
    if after.bands != before.bands:
        return f"bands {[b.name for b in before.bands]} became {[b.name for b in after.bands]}"
    if after.nodata != before.nodata:
        return f"no-data {before.nodata} became {after.nodata}"
    return None


def _dimension_change(before: Dimension, after: Dimension) -> str | None:
    for field in ("labels", "extent", "step", "crs"):
        old, new = getattr(before, field), getattr(after, field)
        if old is not None and new != old:
            return f"{field} {old} became {new}"
    return None
