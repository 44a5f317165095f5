"""The numba executor's side of a ``pgc::kernel`` node (made by the fuse-elementwise pass):
pick each input from its source cube (views, no copies), check that they line up, and run
the compiled loop. Anything the kernel does not cover gives None, and the executor runs
the node's body (the nodes the kernel replaced) as the reference does: every graph runs,
and with the reference's errors.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from ...dtypes import compute_dtype
from ...kernels.buffers import take
from ...kernels.codegen import Input, always_valid, load
from ...kernels.codegen import call as call_kernel
from ...kernels.expr import Expr, compared_alike, compares, from_json
from ..values import Assembled, Cube, all_valid_mask, like, picked


@dataclass
class Leaf:
    """One kernel input: a whole source array (not a view of the picked element: the kernel
    indexes the source, whose layout numba then knows), the element picked from it, its
    validity and the dimensions and labels the input has (the source's minus the pick)."""

    source: xr.DataArray
    pick: tuple[str, int] | None  # (dimension, position)
    valid: np.ndarray | None  # None: every pixel has data; size 1 on axes it does not have

    @property
    def values(self) -> np.ndarray:
        return self.source.values

    @property
    def dims(self) -> tuple:
        return self.source.dims

    @functools.cached_property
    def template(self) -> xr.DataArray:
        """The input's dimensions and labels, for the output (only the first input's is
        made, unless inputs from several sources must be compared)."""
        if self.pick is None:
            return self.source
        return picked(self.source, *self.pick)


def run_kernel(call: Any) -> Cube | None:
    """The kernel node's value computed by its compiled loop, or None. A source that is a
    deferred apply_kernel (:class:`~pgc.executors.numba.stencil.DeferredStencil`) is
    computed band of rows by band of rows with the kernel (:func:`_in_bands`)."""
    from .stencil import DeferredStencil

    sources = call.args.get("sources")
    if isinstance(sources, dict) and any(isinstance(v, DeferredStencil) for v in sources.values()):
        return _in_bands(call, sources)
    prepared = _prepared(call)
    if prepared is None:
        return None
    expr, key, leaves = prepared
    band = call.node.literal("band")
    source = _band_source(leaves, band) if band is not None else None
    if band is not None and source is None:
        return None
    reduce = call.node.literal("reduce")
    if reduce is None:
        out = _run(call, expr, key, leaves)
    else:
        out = _run_reduce(call, expr, key, leaves, reduce)
    return out if band is None or out is None else _with_band(out, source, *band)


def _prepared(call: Any) -> tuple[Expr, str, list[Leaf]] | None:
    """The kernel's expression, its key and its inputs picked from the sources, or None
    where the kernel does not cover the data (then the body runs)."""
    sources = call.args.get("sources")
    if not isinstance(sources, dict) or not all(_numeric(c) for c in sources.values()):
        return None
    try:
        expr, key = _expression(call.node)
    except ValueError:
        return None
    if not compared_alike(expr) or (
        compares(expr) and any(c.data.dtype.kind == "b" for c in sources.values())
    ):
        return None  # true is not 1 (pgc.kernels.expr.compares): the reference compares
    valid = {name: _validity(cube) for name, cube in sources.items()}  # once per source
    leaves = [_leaf(sources, valid, spec) for spec in call.node.literal("inputs") or []]
    if not leaves or any(leaf is None for leaf in leaves) or not _aligned(leaves):
        return None
    if len(leaves) <= max(expr.inputs()) or len(leaves[0].dims) <= (leaves[0].pick is not None):
        return None
    return expr, key, leaves  # type: ignore[return-value]


def _in_bands(call: Any, sources: dict) -> Cube | None:
    """The kernel over bands of rows (along y) of its sources, each deferred apply_kernel
    computed for those rows only: the kernel computes each pixel from the same pixel of
    its inputs (and folds dimensions other than y and x), so its result's rows are those
    of its sources' rows. None where that does not hold (a pick or a fold along y or x,
    a source whose rows are not the stencil's) or a band does not fit the kernel: then the
    caller computes the stencils whole and runs the body."""
    from .stencil import DeferredStencil

    stencils = [v for v in sources.values() if isinstance(v, DeferredStencil)]
    y = stencils[0].y
    first_cube = stencils[0].weighing.cube
    labels = first_cube.data.get_index(y)
    plane = set(stencils[0].weighing.data.dims[-2:])
    reduce = call.node.literal("reduce")
    if reduce is not None and reduce.get("dimension") in plane:
        return None
    if any(spec[1] in plane for spec in call.node.literal("inputs") or []):
        return None
    for value in sources.values():
        cube = value.weighing.cube if isinstance(value, DeferredStencil) else value
        if not isinstance(cube, Cube) or y not in cube.dims:
            return None
        if not cube.data.get_index(y).equals(labels) or _along(cube.data, y):
            return None
    height = len(labels)
    step = min(s.band_rows() for s in stencils)
    rows = _Rows(y, height)
    buffers: dict[str, np.ndarray] = {}  # each stencil's band, written again band by band
    for first in range(0, height, step):
        stop = min(height, first + step)
        band = {}
        for name, value in sources.items():
            if not isinstance(value, DeferredStencil):
                band[name] = value.isel({y: slice(first, stop)})
                continue
            shape = value.band_shape(stop - first)
            if name not in buffers or buffers[name].shape != shape:
                buffers[name] = np.empty(shape, value.weighing.dtype)
            band[name] = value.rows(first, stop, buffers[name])
        part = run_kernel(replace(call, args={**call.args, "sources": band}))
        if part is None or y not in part.dims:
            return None
        if not rows.put(first, stop, part):
            return None
        del band, part
    return rows.cube(labels)


def _along(data: xr.DataArray, y: str) -> bool:
    """Whether ``data`` has a coordinate along ``y`` other than its labels."""
    return any(y in c.dims and name != y for name, c in data.coords.items())


class _Rows:
    """The bands' results written into one output along ``y`` as they come (out of the
    kernel's pooled buffer, which the next band reuses): a copy of each band, where a
    list of copies joined at the end held the output twice."""

    def __init__(self, y: str, height: int) -> None:
        self.y, self.height = y, height
        self.frame: xr.DataArray | None = None
        self.out: Assembled | None = None
        self.labelled = False

    def put(self, first: int, stop: int, part: Cube) -> bool:
        """Rows ``first`` to ``stop`` (excluded) from ``part``; False where the part does
        not fit the bands before it (then nothing is joined)."""
        data = part.data
        axis = data.dims.index(self.y)
        if self.out is None or self.frame is None:
            self.out = Assembled((*data.shape[:axis], self.height, *data.shape[axis + 1 :]),
                                 data.dtype)  # fmt: skip
            self.labelled = self.y in data.coords
            self.frame = data.drop_vars(self.y, errors="ignore").isel({self.y: slice(0, 0)})
        elif data.dims != self.frame.dims or data.dtype != self.out.values.dtype:
            return False
        rows = (slice(None),) * axis + (slice(first, stop),)
        if self.out.values[rows].shape != data.shape:
            return False
        self.out.put(rows, part)
        return True

    def cube(self, labels: Any) -> Cube | None:
        """The joined output, ``labels`` along ``y`` (where the bands had labels); None
        where no band was put."""
        frame, out = self.frame, self.out
        if frame is None or out is None:
            return None
        coords = {k: c for k, c in frame.coords.items() if self.y not in c.dims}
        data = xr.DataArray(out.values, dims=frame.dims, coords=coords, attrs=frame.attrs,
                            name=frame.name)  # fmt: skip
        if self.labelled:
            data = data.assign_coords({self.y: labels})
        if out.valid is None:
            return Cube(data, all_valid_mask())
        return Cube(data, like(data, out.valid))


@dataclass
class DeferredKernel:
    """A kernel node's value not computed yet (the node's ``defer``: its one reader is a
    temporal aggregation with a reducer kernels fold). The numba executor's aggregation
    reduces each group of dates from the kernel's inputs (:meth:`fold`), so the per-pixel
    values of every date are never held; :meth:`value` computes them where it cannot."""

    call: Any
    expr: Expr
    key: str
    leaves: list[Leaf]

    def value(self) -> Cube:
        return _run(self.call, self.expr, self.key, self.leaves)

    @property
    def template(self) -> xr.DataArray:
        """The kernel value's dimensions, labels and attributes (what the aggregation
        finds its dimension by)."""
        return self.leaves[0].template

    def labels(self) -> Cube:
        """A cube with the kernel value's dimensions, labels and attributes whose values
        take no memory (a broadcast zero): what the aggregation groups and reads its
        labels from, while :meth:`fold` computes each group's values."""
        template = self.template
        zeros = np.broadcast_to(np.zeros((), compute_dtype()), template.shape)
        return Cube(like(template, zeros), all_valid_mask())

    def fold(self, dim: str, first: int, stop: int, reducer: str, ignore: bool) -> Cube | None:
        """The kernel's values at positions ``first`` to ``stop`` (excluded) along ``dim``,
        reduced along it; None where no kernel fits (no such dimension, no position)."""
        leaves = [_sliced(leaf, dim, first, stop) for leaf in self.leaves]
        reduce = {"dimension": dim, "reducer": reducer, "ignore_nodata": ignore}
        return _run_reduce(self.call, self.expr, self.key, leaves, reduce)


def deferred_kernel(call: Any) -> DeferredKernel | None:
    """:class:`DeferredKernel` of a kernel node that may be deferred (no fold, no band, not
    boolean) and fits the data, else None."""
    if call.node.literal("reduce") is not None or call.node.literal("band") is not None:
        return None
    prepared = _prepared(call)
    if prepared is None or prepared[0].boolean:
        return None
    return DeferredKernel(call, *prepared)


def _sliced(leaf: Leaf, dim: str, first: int, stop: int) -> Leaf:
    """``leaf`` at positions ``first`` to ``stop`` of ``dim`` (views), where it has it."""
    if dim not in leaf.source.dims:
        return leaf
    axis = leaf.source.dims.index(dim)
    source = leaf.source.isel({dim: slice(first, stop)})
    valid = leaf.valid
    if valid is not None and valid.shape[axis] != 1:
        valid = valid[(slice(None),) * axis + (slice(first, stop),)]
    return Leaf(source, leaf.pick, valid)


def _band_source(leaves: list[Leaf], band: list) -> xr.DataArray | None:
    """The cube a kernel with ``band`` (ndvi's target band, kept alone) picks its bands
    from, or None where the reference must decide (a cube that has that band already:
    BandExists)."""
    dim, label = band
    picked = [leaf.source for leaf in leaves if leaf.pick is not None and leaf.pick[0] == dim]
    if not picked or any(label in s.get_index(dim) for s in picked):
        return None
    return picked[0]


def _with_band(cube: Cube, source: xr.DataArray, dim: str, label: str) -> Cube:
    """The kernel's values in a dimension ``dim`` of the one ``label``, where ``source``
    has ``dim`` among the dimensions the values kept, with blank band metadata: the
    reference's ``filter_bands(ndvi(c, target_band=label), [label])``."""
    from ...data.bands import with_blank_metadata

    order = list(source.dims)
    at = sum(1 for d in cube.data.dims if d in order and order.index(d) < order.index(dim))
    data = with_blank_metadata(cube.data.expand_dims({dim: [label]}, axis=at), source, dim)
    if cube.valid.ndim == 0:
        return Cube(data, cube.valid)
    valid = cube.valid.transpose(*cube.data.dims).expand_dims({dim: [label]}, axis=at)
    return Cube(data, valid.assign_coords(data.coords))


# kernel nodes' expressions and structural hashes, by the node's id (the node is kept, so
# the id is not reused): a plan run again (the next tile, the next request) reads the
# same node objects, and parsing and hashing its expression cost more than a small cube's
# pass
_EXPRESSIONS: dict[int, tuple[Any, Expr, str]] = {}


def _expression(node: Any) -> tuple[Expr, str]:
    """The kernel node's expression and its :meth:`~Expr.key` (ValueError: not one)."""
    found = _EXPRESSIONS.get(id(node))
    if found is not None and found[0] is node:
        return found[1], found[2]
    expr = from_json(node.literal("expression"))
    key = expr.key()
    if len(_EXPRESSIONS) >= 256:
        _EXPRESSIONS.clear()
    _EXPRESSIONS[id(node)] = (node, expr, key)
    return expr, key


def _numeric(cube: Any) -> bool:
    return isinstance(cube, Cube) and 0 not in cube.data.shape and cube.data.dtype.kind in "biuf"


def _validity(cube: Cube) -> np.ndarray | None:
    """A source's validity over its dimensions (size 1 on those it lacks), or None when
    every pixel has data."""
    if cube.valid.ndim == 0 and bool(cube.valid.values):
        return None
    ok = cube.valid.transpose(*[d for d in cube.dims if d in cube.valid.dims]).values
    return ok.reshape(_expanded(cube, ok))


def _leaf(sources: dict, validity: dict, spec: list) -> Leaf | None:
    """The input ``spec`` names: a whole source cube, or one element of one of its
    dimensions (by label, index, or band name as ndvi reads it)."""
    name, dim, kind, selector = spec
    cube = sources.get(name)
    if cube is None:
        return None
    data, valid = cube.data, validity[name]
    if dim is None:
        return Leaf(data, None, valid)
    if dim not in data.dims:
        return None
    labels = data.get_index(dim).values  # (not data[dim]: a DataArray made to be read)
    if kind == "index":
        if not 0 <= selector < len(labels):
            return None
        position = selector
    else:
        if labels.dtype.kind not in "UO":  # dates, numbers: the reference's label rules
            return None
        if kind == "band":  # ndvi: a band name, else a common name
            selector = _band(data, dim, selector)
        found = [i for i, label in enumerate(labels) if label == selector]
        if not found and kind == "label":  # array_element(label="nir"): a common name
            selector = _band(data, dim, selector)
            found = [i for i, label in enumerate(labels) if label == selector]
        if len(found) != 1:
            return None
        position = found[0]
    return Leaf(data, (dim, position), valid)


def _band(data: xr.DataArray, dim: str, name: str) -> str | None:
    """The band ``name`` names along ``dim``: itself, or the one band with that common name
    (as ndvi reads them in the reference executor)."""
    from ...data.bands import band_named

    return band_named(data, dim, name)


def _expanded(cube: Cube, ok: np.ndarray) -> tuple:
    """The validity's shape with length-1 axes for the dimensions it does not have."""
    sizes = dict(zip([d for d in cube.dims if d in cube.valid.dims], ok.shape, strict=True))
    return tuple(sizes.get(d, 1) for d in cube.dims)


def _aligned(leaves: list[Leaf]) -> bool:
    """Whether every input has the first's dimensions, sizes and labels, or some of them
    (else the reference decides how they combine). The first input is the data's: a mask
    without some of the data's dimensions applies to every label of those (the definition
    of ``mask``), and the kernel indexes each input by its own dimensions only."""
    for leaf in leaves[1:]:
        same_pick = (leaf.pick or (None,))[0] == (leaves[0].pick or (None,))[0]
        if leaf.source is leaves[0].source and same_pick:
            continue  # the same source, the same dimension picked: the same labels
        first, template = leaves[0].template, leaf.template
        if not set(template.dims) <= set(first.dims):
            return False
        if any(template.sizes[d] != first.sizes[d] for d in template.dims):
            return False
        for dim in template.dims:
            a, b = first.coords.get(dim), template.coords.get(dim)
            if (a is None) != (b is None):
                return False
            if a is not None and not np.array_equal(a.values, b.values):
                return False
    return True


def _layout(leaves: list[Leaf], loops: dict[str, str]) -> tuple[list, list[Input]]:
    """The kernel's arguments and how it indexes them: ``loops`` maps each dimension of
    the inputs to its loop variable."""
    arrays: list = []
    inputs: list[Input] = []
    for j, leaf in enumerate(leaves):
        index = [
            f"p{j}" if leaf.pick is not None and d == leaf.pick[0] else loops[d] for d in leaf.dims
        ]
        arrays.append(leaf.values)
        valid = None
        if leaf.valid is not None:
            shape = leaf.values.shape
            at = ["0" if n == 1 and shape[a] != 1 else index[a] for a, n in
                  enumerate(leaf.valid.shape)]  # fmt: skip
            valid = "[" + ", ".join(at) + "]"
            arrays.append(leaf.valid)
        if leaf.pick is not None:
            arrays.append(leaf.pick[1])
        inputs.append(Input("[" + ", ".join(index) + "]", valid, leaf.pick is not None))
    return arrays, inputs


def _run(call: Any, expr: Expr, key: str, leaves: list[Leaf]) -> Cube:
    template = leaves[0].template
    loops = {d: f"i{k}" for k, d in enumerate(template.dims)}
    arrays, inputs = _layout(leaves, loops)
    dtype = compute_dtype()
    pool = getattr(call.context, "buffers", None)  # the session's (dask chunks: the shared)
    out = take(template.shape, bool if expr.boolean else dtype, pool)
    full = always_valid(expr, tuple(i.valid is not None for i in inputs))
    out_ok = None if full else take(template.shape, bool, pool)
    kernel = load(expr, template.ndim, inputs, dtype, expr_key=key)
    call_kernel(kernel, arrays, out, out_ok, call.context.kernel_stats, key)
    return _cube(template, out, out_ok)


def _run_reduce(
    call: Any, expr: Expr, expr_key: str, leaves: list[Leaf], reduce: dict
) -> Cube | None:
    dim, reducer = reduce.get("dimension"), reduce.get("reducer")
    template = leaves[0].template
    if dim not in template.dims or template.sizes[dim] == 0:
        return None
    reduced = template.isel({dim: 0}, drop=True)
    kept = list(reduced.dims)
    if not kept:
        return None
    if len(kept) == 1:  # the kernel walks rows of at least two dimensions: one row here
        loops = {kept[0]: "iL"}
        shape = (1, *reduced.shape)
    else:
        loops = {d: f"i{k}" for k, d in enumerate(kept[:-1])} | {kept[-1]: "iL"}
        shape = reduced.shape
    arrays, inputs = _layout(leaves, {**loops, dim: "t_"})
    dtype = compute_dtype()
    pool = getattr(call.context, "buffers", None)
    out, out_ok = take(shape, dtype, pool), take(shape, bool, pool)
    flag = bool(reduce.get("ignore_nodata", True))
    kernel = load(expr, len(shape), inputs, dtype, (reducer, flag), expr_key)
    key = f"{expr_key}:{reducer}"
    arrays.append(template.sizes[dim])
    call_kernel(kernel, arrays, out, out_ok, call.context.kernel_stats, key)
    return _cube(reduced, out.reshape(reduced.shape), out_ok.reshape(reduced.shape))


def fold_cube(call: Any, cube: Any, dim: str, reducer: str, ignore_nodata: bool) -> Cube | None:
    """``cube`` reduced along ``dim`` with ``reducer`` by a folding kernel over the cube as
    it is (its values and validity, any numeric dtype), or None where it does not fit one
    (a cube that is not numbers in memory, a dimension it lacks): the reference's
    reducer then runs. The temporal aggregations' groups of dates (``period_hook``)."""
    if not _numeric(cube) or not isinstance(cube.data.data, np.ndarray) or dim not in cube.dims:
        return None
    leaf = Leaf(cube.data, None, _validity(cube))
    expr = Expr("in", value=0)
    reduce = {"dimension": dim, "reducer": reducer, "ignore_nodata": ignore_nodata}
    return _run_reduce(call, expr, expr.key(), [leaf], reduce)


def _cube(template: xr.DataArray, out: np.ndarray, out_ok: np.ndarray | None) -> Cube:
    valid = all_valid_mask() if out_ok is None else like(template, out_ok)
    return Cube(like(template, out), valid)


def describe(plan: Any) -> str:
    """Every kernel node of ``plan`` (compiled with fuse-elementwise): its expression and the
    generated source for inputs that all have a per-pixel mask, as ``pgc explain
    --kernels`` prints them. The dtype is the compute dtype; the number of dimensions is
    the node's when its type knows it (else 3 is shown). When it runs, the kernel reads
    the sources' arrays with the picked element's position (``p0`` ...) in place of the
    picked axis."""
    from ...ir.types import CubeType
    from ...kernels.codegen import default_inputs, source
    from ...kernels.reducers import reduce_source

    parts = []
    for _, node in plan.graph.walk():
        if not node.is_kernel:
            continue
        expr = from_json(node.literal("expression"))
        inputs = node.literal("inputs")
        reduce = node.literal("reduce")
        cube = node.type
        known = isinstance(cube, CubeType) and not cube.unknown_dimensions
        ndim = len(cube.dimensions) if known else 3
        if reduce is None:
            text = source(expr, ndim, default_inputs(len(inputs), ndim), compute_dtype())
        else:
            ndim = max(ndim, 2)
            index = "[t_, " + "".join(f"i{d}, " for d in range(ndim - 1)) + "iL]"
            reads = [Input(index, index)] * len(inputs)
            args = (reduce["reducer"], reduce["ignore_nodata"])
            text = reduce_source(expr, ndim, reads, compute_dtype(), *args)
        picks = ", ".join(_pick_text(spec) for spec in inputs)
        parts.append(
            f"# kernel {node.id}: {expr.size()} operations; inputs {picks}\n# {expr}\n{text}"
        )
    return "\n".join(parts) if parts else "# no node runs as a fused kernel\n"


def _pick_text(spec: list) -> str:
    name, dim, kind, selector = spec
    if dim is None:
        return name
    return f"{name}[{dim}#{selector}]" if kind == "index" else f"{name}[{dim}={selector!r}]"
