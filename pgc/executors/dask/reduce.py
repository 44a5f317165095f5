"""Tree reductions over ``y`` and ``x`` for the dask executor (issue 9): ``reduce_dimension``
over ``x`` or ``y``, ``reduce_spatial``, and the fused kernels that fold ``x`` or ``y``.

A chunk of a cube holds only part of ``y`` and ``x``, so folding them needs the chunks to
meet. Each chunk is folded on its own into a partial result, and the partials are combined
``SPLIT_EVERY`` at a time (dask's tree reductions): no task ever holds the whole dimension,
and the result keeps the chunks of the dimensions that remain.

Law: for a fold ``⊕`` that is associative and commutative with identity ``e``,
``fold(A ∪ B) == fold(A) ⊕ fold(B)``; a no-data element becomes ``e`` (0 for sum, +inf for
min, false for any ...), which is how the reference's masked arrays
(:func:`pgc.executors.reference.reducers._masked_reduce`) skip it. Covered, when the reducer is
one call on the reducer's ``data`` with a literal ``ignore_nodata`` (default true):

- ``sum``, ``mean``, ``min``, ``max``: on numeric cubes, in the compute dtype
  (:mod:`pgc.dtypes`); a NaN with data is a value and makes the result NaN; no value with
  data gives no-data, and with ``ignore_nodata=false`` so does any no-data element;
- ``count`` with the default condition: the elements with data that are finite (what
  ``is_valid`` accepts), in the compute dtype, never no-data;
- ``any``, ``all`` on boolean cubes: the openEO truth tables; with ``ignore_nodata`` the
  result always has data (``any`` of nothing is false, ``all`` of nothing is true).

Exactness: ``min``, ``max``, ``count``, ``any`` and ``all`` are exact in any order, so they
equal the reference bit for bit; but for the sign of a zero ``min`` or ``max`` (of 0.0 and
-0.0, which are equal, numpy keeps one by the order of its loop, the reference's as the
tree's). ``sum`` and ``mean`` add in another order than the reference (which adds in
label order): equal when every partial sum is exact (integers below 2**53 in float64,
2**24 in float32; e.g. sums of uint16 bands in float64), else within rounding: the tests
compare them with a relative tolerance of 1e-12 in float64 (NaN and no-data exactly); in
float32 (``PGC_COMPUTE_DTYPE``) rounding is about 1e-7 relative per addition. As for any
reordered float sum, sums that overflow (near the dtype's largest value) can differ
beyond rounding (inf in one order, finite in another).

Not covered (``None``: the reference runs the call on computed cubes): other reducers,
non-literal arguments, ``count`` with a condition (``true`` too: the length of the
dimension, not a fold of the values), ``product`` (its partial
products overflow for ordinary data, and where a zero meets an overflow the order decides
between 0 and NaN), ``median`` and the other order statistics, ``any``/``all`` on
non-boolean cubes (the reference's per-pixel rules), and cubes that are not chunked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ...dtypes import compute_dtype
from ...ir.nodes import Callback, Literal, ParamRef, Value
from ..values import Cube

SPATIAL = ("y", "x")
SPLIT_EVERY = 16  # partial results one task of the tree combines
NUMERIC = frozenset({"sum", "mean", "min", "max", "count"})
LOGICAL = frozenset({"any", "all"})


@dataclass(frozen=True)
class Fold:
    """A reducer that combines associatively: its process and its ``ignore_nodata``."""

    process_id: str
    ignore_nodata: bool = True


def fold_of(reducer: Value | None) -> Fold | None:
    """The fold a reducer child graph is, or None when it is anything else than one call of
    a covered reducer on the whole ``data`` with literal arguments.

    >>> from pgc.ir.graph import Graph, Parameter
    >>> from pgc.ir.nodes import Node
    >>> g = Graph((Parameter("data"),))
    >>> g.add(Node("m", "max", (("data", ParamRef("data")), ("ignore_nodata", Literal(False)))))
    >>> g.set_result("m")
    >>> fold_of(Callback(g))
    Fold(process_id='max', ignore_nodata=False)
    """
    if not isinstance(reducer, Callback):
        return None
    graph = reducer.graph
    if len(graph) != 1 or graph.result is None:
        return None
    node = graph.result_node
    if node.namespace is not None or node.process_id not in NUMERIC | LOGICAL:
        return None
    if node.arg("data") != ParamRef("data"):
        return None
    rest = {name: value for name, value in node.arguments if name != "data"}
    if node.process_id == "count":  # the default condition: is_valid
        if set(rest) - {"condition"} or rest.get("condition", Literal(None)) != Literal(None):
            return None
        return Fold("count")
    flag = rest.get("ignore_nodata", Literal(None))
    if set(rest) - {"ignore_nodata"} or not isinstance(flag, Literal):
        return None
    ignore = True if flag.value is None else flag.value  # null: the default (Call.get)
    return Fold(node.process_id, ignore) if isinstance(ignore, bool) else None


def reduce_cube(cube: Cube, dims: tuple[str, ...], fold: Fold) -> Cube | None:
    """``cube`` folded over ``dims`` as a dask tree reduction, with the reference's dtype,
    validity, labels and attributes; None when the values are not what ``fold`` covers."""
    import dask.array as da

    data = cube.data
    if not all(d in data.dims and data.sizes[d] > 0 for d in dims):
        return None
    if not set(cube.valid.dims) <= set(data.dims):
        return None
    if any(cube.valid.sizes[d] != data.sizes[d] for d in cube.valid.dims):
        return None
    logical = fold.process_id in LOGICAL
    if (data.dtype.kind != "b") if logical else (data.dtype.kind not in "biuf"):
        return None
    dtype = np.dtype(compute_dtype())
    values = data if logical or data.dtype == dtype else data.astype(dtype)  # in_compute_dtype
    x = da.asarray(values.data)
    ok = _validity(cube, x)
    axes = tuple(values.dims.index(d) for d in dims)
    fn = _logical if logical else _numeric
    out, valid = fn(x, ok, axes, fold)
    # the reference's template: the values without the folded dimensions (their labels
    # and coordinates along them dropped), attributes kept
    template = values.isel(dict.fromkeys(dims, 0), drop=True)
    return Cube(template.copy(data=out), template.copy(data=valid))


def _validity(cube: Cube, like: Any) -> Any:
    """The validity as a dask array of ``like``'s shape and chunks (it may lack dimensions,
    or be one scalar); broadcast lazily, never materialized at full size."""
    import dask.array as da

    valid = cube.valid
    present = [d for d in cube.dims if d in valid.dims]
    ok = da.asarray(valid.transpose(*present).data).astype(bool)
    ok = ok[tuple(slice(None) if d in valid.dims else None for d in cube.dims)]
    ok = ok.rechunk(tuple(c if d in valid.dims else (1,)
                          for d, c in zip(cube.dims, like.chunks, strict=True)))  # fmt: skip
    return da.broadcast_to(ok, like.shape, chunks=like.chunks)


def _numeric(x: Any, ok: Any, axes: tuple[int, ...], fold: Fold) -> tuple[Any, Any]:
    """sum, mean, min, max, count of ``x`` where ``ok``: the values and their validity."""
    import dask.array as da

    tree = {"axis": axes, "split_every": SPLIT_EVERY}
    kind = fold.process_id
    if kind == "count":  # counts are values at every pixel (0 where nothing has data)
        finite = da.sum(ok & da.isfinite(x), **tree).astype(x.dtype)
        return finite, da.ones_like(finite, dtype=bool)
    zero = x.dtype.type(0)  # fills in x's dtype: the result keeps it
    count = da.sum(ok, **tree)
    if kind in ("sum", "mean"):
        out = da.sum(da.where(ok, x, zero), **tree)
        # IEEE 754: a sum of -0.0 values only is -0.0 (the reference adds from -0.0); numpy's
        # sum starts from +0.0. Whether every value is -0.0 does not depend on the order.
        negative = da.all(~ok | ((x == 0) & da.signbit(x)), **tree)
        out = da.where(negative & (out == 0), x.dtype.type(-0.0), out)
        if kind == "mean":  # the reference's _masked_mean: the sum over the count
            out = (out / da.maximum(count, 1)).astype(x.dtype)
    elif kind == "min":
        out = da.min(da.where(ok, x, x.dtype.type(np.inf)), **tree)
    else:
        out = da.max(da.where(ok, x, x.dtype.type(-np.inf)), **tree)
    valid = (count > 0) if fold.ignore_nodata else da.all(ok, **tree)
    return da.where(valid, out, zero), valid


def _logical(x: Any, ok: Any, axes: tuple[int, ...], fold: Fold) -> tuple[Any, Any]:
    """any, all of boolean ``x`` where ``ok``, by the definitions' truth tables: a true
    (any) or a false (all) with data decides; else no-data decides unless ignored."""
    import dask.array as da

    tree = {"axis": axes, "split_every": SPLIT_EVERY}
    if fold.process_id == "any":
        decided = da.any(ok & x, **tree)
        value = decided
    else:
        decided = da.any(ok & ~x, **tree)
        value = ~decided
    if fold.ignore_nodata:
        return value, da.ones_like(value, dtype=bool)
    valid = decided | da.all(ok, **tree)
    return value & valid, valid


# -- the forms ---------------------------------------------------------------------------------


def reduce_dimension(call: Any, options: Any) -> Cube | None:
    """reduce_dimension over ``x`` or ``y`` of a chunked cube with a covered reducer."""
    from .chunked import is_lazy

    cube, dim = call.args.get("data"), call.get("dimension")
    if not is_lazy(cube) or dim not in SPATIAL or dim not in cube.dims:
        return None  # DimensionNotAvailable and the like: the reference says it
    fold = fold_of(call.node.arg("reducer"))
    return reduce_cube(cube, (dim,), fold) if fold is not None else None


def reduce_spatial(call: Any, options: Any) -> Cube | None:
    """reduce_spatial of a chunked cube with a covered reducer: ``y`` and ``x`` at once."""
    from .chunked import is_lazy

    cube = call.args.get("data")
    if not is_lazy(cube) or not all(d in cube.dims for d in SPATIAL):
        return None
    fold = fold_of(call.node.arg("reducer"))
    return reduce_cube(cube, SPATIAL, fold) if fold is not None else None


def kernel(call: Any, options: Any) -> Cube | None:
    """A ``pgc::kernel`` node: the chunked kernel (:func:`pgc.executors.dask.chunked.kernel`),
    and where it folds ``x`` or ``y`` (fuse-elementwise fuses reduce_dimension with sum,
    mean, min, max, count, median over any dimension), its per-pixel work chunk by chunk,
    then the fold as a tree reduction."""
    from . import chunked

    reduce = call.node.literal("reduce")
    if not isinstance(reduce, dict) or reduce.get("dimension") not in SPATIAL:
        return chunked.kernel(call, options)
    fold = kernel_fold(call.node)
    if fold is None:
        return None  # median: no tree
    pixels = _folded_cube(call, options)
    dim = reduce["dimension"]
    if not chunked.is_lazy(pixels) or dim not in pixels.dims:
        return None
    return reduce_cube(pixels, (dim,), fold)


def kernel_fold(node: Any) -> Fold | None:
    """The fold of a kernel node that folds y or x with a reducer that has a tree; None for
    any other kernel (no fold, a fold of another dimension, a median)."""
    reduce = node.literal("reduce")
    if not isinstance(reduce, dict) or reduce.get("dimension") not in SPATIAL:
        return None
    if reduce.get("reducer") not in NUMERIC or not isinstance(reduce.get("ignore_nodata"), bool):
        return None
    return Fold(reduce["reducer"], reduce["ignore_nodata"])


def _folded_cube(call: Any, options: Any) -> Cube | None:
    """The cube a folding kernel folds: the same kernel without its fold, chunk by chunk;
    or its one source when it folds that as it is (a reduce_dimension fused alone, e.g.
    after another fold, whose result has no y or x for chunked.kernel to run on)."""
    from . import chunked

    whole = _source_as_it_is(call)
    if whole is not None:
        return whole
    # without its body too, which folds: a chunk numba does not cover must not be folded
    # alone (then chunked.kernel gives None, and the reference runs the whole node)
    arguments = tuple(
        (name, Literal(None) if name == "reduce" else value)
        for name, value in call.node.arguments
        if name != "body"
    )
    args = {name: value for name, value in call.args.items() if name != "body"}
    return chunked.kernel(
        replace(call, node=call.node.with_arguments(arguments), args=args), options
    )


def _source_as_it_is(call: Any) -> Cube | None:
    """The kernel's source when its expression is its one input, the whole source."""
    sources, inputs = call.args.get("sources"), call.node.literal("inputs")
    if call.node.literal("expression") != {"in": 0} or not isinstance(sources, dict):
        return None
    if not isinstance(inputs, list) or len(inputs) != 1 or list(inputs[0][1:]) != [None] * 3:
        return None
    return sources.get(inputs[0][0])


# merged into pgc.executors.dask.chunked.FORMS (the last lines of chunked.py); "pgc::kernel"
# wraps chunked.kernel, which still runs every kernel that does not fold y or x
FORMS: dict[str, Any] = {
    "reduce_dimension": reduce_dimension,
    "reduce_spatial": reduce_spatial,
    "pgc::kernel": kernel,
}
