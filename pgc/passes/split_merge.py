"""reduce-before-merge: a reduction of two cubes merged along their bands reduces each.

Law: let ``a`` and ``b`` have the same dimensions in the same order, with the same labels
on every dimension but one of type bands, on which their labels are disjoint. Then
``merge_cubes(a, b)`` is ``a``'s bands followed by ``b``'s, every value from exactly one
cube (no overlap, so no resolver runs), and a reducer over a dimension ``d`` other than the
bands sees, for one band and pixel, the values of that band in the cube that holds it:

    reduce_dimension(merge_cubes(a, b), d, f) == merge_cubes(reduce_dimension(a, d, f),
                                                             reduce_dimension(b, d, f))

Both sides are the same values with the same labels in the same order. The right side
never holds the merged cube: a cloud-free mean of three bands and of an NDVI band over a
season merges two small results instead of a cube of every date (issue 23: the merge
workflow held 2.5 GB at 2048 px, most of it the merged float copy).

Conditions the types must prove, else nothing moves:

- the labels: every dimension but the bands known and equal in both cubes (spatial ones
  by extent, step and CRS, which fix their coordinates; others by their labels), so the
  merge adds no label that only one cube has (there, one cube's values would be no-data
  and a reducer such as ``count`` or one without ``ignore_nodata`` would see them);
- the reducer: one of the reducers the kernels fold (:func:`pgc.passes.fuse.foldable`),
  and each cube's dtype either the merged one, or converted into it exactly (integers of
  up to 16 bits into a float, of 32 bits into float64, float32 into float64) with the
  merged dtype the compute dtype the reducer computes in: then reducing the cube as it
  is computes from the same numbers as reducing its converted copy, and min and max
  commute with a conversion that keeps the order;
- the merge: no overlap resolver and no context; its only reader is the reduction (a
  merge read elsewhere is computed anyway).
"""

from __future__ import annotations

from ..dtypes import compute_dtype
from ..ir.graph import Graph
from ..ir.infer import infer_graph
from ..ir.nodes import Callback, Literal, Node, NodeRef, ParamRef
from ..ir.types import ANY, CubeType, Dimension

# dtypes that convert exactly into each float dtype
_EXACT_INTO = {
    "float32": frozenset({"uint8", "int8", "uint16", "int16", "bool"}),
    "float64": frozenset({"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                          "bool"}),  # fmt: skip
}


def reduce_before_merge(graph: Graph, context) -> tuple[Graph, bool]:
    out = graph
    moved = []
    for node in graph.nodes():
        merge = _splittable(graph, node)
        if merge is None:
            continue
        if out is graph:
            out = graph.copy()
        halves = []
        for name in ("cube1", "cube2"):
            rid = out.fresh_id(f"{node.id}_{name}")
            args = tuple((k, merge.arg(name) if k == "data" else v) for k, v in node.arguments)
            out.add(Node(rid, node.process_id, args, ANY, node.namespace, node.origin,
                         node.remarks).with_remark(
                f"reduce-before-merge: {node.id} of {merge.id}'s {name}"))  # fmt: skip
            halves.append((name, NodeRef(rid)))
        merged = Node(node.id, "merge_cubes", tuple(halves), ANY, None, node.origin,
                      merge.remarks)  # fmt: skip
        out.replace(merged.with_remark(f"reduce-before-merge: merges {node.id}'s reductions"))
        out.remove(merge.id)
        moved.append(node.id)
    if not moved:
        return graph, False
    return infer_graph(out, context.env), True


def _splittable(graph: Graph, node: Node) -> Node | None:
    """The merge_cubes node ``node`` (a reduction) may move below, or None."""
    if node.process_id != "reduce_dimension" or node.namespace is not None:
        return None
    data, reducer, dim = node.arg("data"), node.arg("reducer"), node.literal("dimension")
    if not isinstance(data, NodeRef) or not isinstance(reducer, Callback):
        return None
    if not isinstance(dim, str) or {k for k, _ in node.arguments} - {"data", "reducer",
                                                                    "dimension", "context"}:
        return None  # fmt: skip
    merge = graph.node(data.id)
    if merge.process_id != "merge_cubes" or merge.namespace is not None:
        return None
    from .fuse import foldable  # (the kernels: numpy, which pgc validate does not import)

    folding = foldable(reducer.graph)
    if folding is None:
        return None
    if {k for k, _ in merge.arguments} - {"cube1", "cube2", "overlap_resolver", "context"}:
        return None
    if any(merge.arg(k) not in (None, Literal(None)) for k in ("overlap_resolver", "context")):
        return None
    if graph.result == merge.id or graph.users(merge.id) != [node.id]:
        return None
    a, b = (_type_of(graph, merge.arg(k)) for k in ("cube1", "cube2"))
    merged = merge.type
    if not all(isinstance(t, CubeType) for t in (a, b, merged)):
        return None
    if not _bands_apart(a, b, dim):
        return None
    if not all(_exact(t.dtype, merged.dtype, folding[0]) for t in (a, b)):
        return None
    return merge


def _type_of(graph: Graph, value: object) -> object:
    if isinstance(value, NodeRef):
        return graph.node(value.id).type
    if isinstance(value, ParamRef):
        parameter = graph.parameter(value.name)
        return parameter.type if parameter is not None else None
    return None


def _bands_apart(a: CubeType, b: CubeType, dim: str) -> bool:
    """Same dimensions, equal labels but on one bands dimension (not ``dim``), whose labels
    are known and disjoint."""
    if a.unknown_dimensions or b.unknown_dimensions or a.vector or b.vector:
        return False
    if a.names != b.names or dim not in a.names:
        return False
    bands = [d.name for d in a.dimensions if d.type == "bands"]
    if len(bands) != 1 or bands[0] == dim:
        return False
    for x, y in zip(a.dimensions, b.dimensions, strict=True):
        if x.type != y.type:
            return False
        if x.type == "bands":
            if x.labels is None or y.labels is None or set(x.labels) & set(y.labels):
                return False
        elif not _same_labels(x, y):
            return False
    return True


def _same_labels(x: Dimension, y: Dimension) -> bool:
    if x.labels is not None or y.labels is not None:
        return x.labels is not None and x.labels == y.labels
    if x.type != "spatial":
        return False
    known = x.extent is not None and None not in x.extent
    known = known and x.step is not None and x.crs is not None
    return known and (x.extent, x.step, x.crs, x.axis) == (y.extent, y.step, y.crs, y.axis)


def _exact(dtype: str, merged: str, reducer: str) -> bool:
    if dtype == merged:
        return True
    if dtype not in _EXACT_INTO.get(merged, ()):
        return False
    # min and max commute with an exact conversion; the others compute in the compute
    # dtype, which must then be the merged one
    return reducer in ("min", "max") or merged == compute_dtype()
