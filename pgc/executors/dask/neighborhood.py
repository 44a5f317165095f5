"""Chunked forms of the neighbourhood processes for the dask executor: ``apply_kernel`` and
``apply_neighborhood``, each output chunk computed from its input chunk plus a halo of its
neighbours' pixels along y and x.

Each chunk runs the reference implementation itself (:mod:`pgc.executors.reference.cube`,
:mod:`pgc.executors.reference.neighborhood`) on numpy, so the results are the reference's bit for
bit: the same values added in the same order, the same dtypes, labels and attributes.

- ``apply_kernel``: the output keeps the input's y/x chunks. A chunk reads its pixels and
  ``ky`` rows / ``kx`` columns around them. With a constant border the read stops at the
  cube's edges and the reference pads the block as it pads the cube. With the other border
  modes (replicate, reflect, reflect_pixel, wrap) the block is read already padded: its
  positions go through numpy's own padding of the cube's positions (``np.pad(arange(n),
  k, mode)``), so a chunk on the edge reads the mirrored or, for ``wrap``, the opposite
  edge's pixels, exactly as the whole cube is padded; the reference then runs with a
  constant border whose padding only touches the halo, which is cut away.
- ``apply_neighborhood``: the neighbourhoods are the reference's own
  (``neighbourhood_spans``: sizes in pixels, metres or the grid's units, overlaps, the
  padded last neighbourhood, durations along time). Output chunks are runs of whole
  neighbourhoods along y and x (the input's chunks when they end where neighbourhoods end,
  else runs about as long); a chunk reads its neighbourhoods' pixels with their overlap,
  runs ``process`` on each neighbourhood as the reference does (other dimensions are whole
  in a chunk and cut as the reference cuts them) and keeps each one's own pixels. The
  result's dtype (the reference's result_type of all neighbourhoods' results) is the first
  neighbourhood's, run before the rest (as the reference runs it first, its errors come
  first too). Neighbourhoods without data may give bool (the reference's per-pixel results
  do), which promotes to any dtype; a chunk whose results do not promote to the first's
  fails loudly (RuntimeError) rather than differ.

Chunks smaller than the halo are fine: a task gets every input chunk its block touches.

Falls back (None: the cubes are computed and the reference runs) when the data is not a
chunked cube with y and x, has no pixels, or (apply_kernel) holds no numbers; when an
argument is one the reference would reject or cannot read (a ragged or even kernel is
checked by the reference itself, which raises its own error; a missing callback); and for
``apply_neighborhood`` when the callback uses what belongs to the whole run
(``load_collection``, ``load_stac``, ``save_result``: the run's catalog, read statistics
and saved results stay in this process), when its parameters or ``context`` hold chunked
cubes or callbacks, or when the first neighbourhood's result is bool without data (its
dtype then says nothing about the others').

The callback of ``apply_neighborhood`` runs in the chunk's task (a worker process on a
distributed cluster) with a context of its own: no catalog, no statistics, no dask or
numba (its processes run as the reference runs them), the run's ``python_udf``,
``udf_timeout`` and resolver (which must pickle to reach a distributed worker). Errors in
a chunk are the reference's, raised as :class:`~pgc.errors.PgcError` (which pickles whole).

:func:`explain` says the same from the plan, for ``pgc explain --dask``.
"""

from __future__ import annotations

import itertools
import operator
import uuid
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ...data.reading import as_slice
from ...errors import PgcError
from ...ir.nodes import Callback, value_refs
from ...specs import bundled_traits
from ..reference import Call, Closure, ProcessError, RunContext, load_implementations
from ..reference.cube import PAD_MODES
from ..values import Cube, CubeArray, in_compute_dtype
from .tasks import in_options

if TYPE_CHECKING:
    from .chunked import DaskOptions

# chunked.py imports this module at its end: importing it here (first, as a worker
# unpickling a task does) would be circular, so its names come in lazily (_is_lazy)
SPATIAL = ("y", "x")  # the dimensions chunks split (chunked.SPATIAL)

# processes that use what the run shares (catalog, resolver, read statistics, saved
# results): those that bring data in or write it out (traits: kind import or export); a
# callback holding one runs in this process, through the reference
_RUN_STATE = frozenset(
    pid for pid, traits in bundled_traits().items() if traits.kind in ("import", "export")
)


# -- what a task reads -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Reach:
    """One output chunk along y or x: the input positions it reads (``take``: a slice, or
    positions for padded reads) and where its own pixels sit in what it read (``trim``)."""

    take: slice | np.ndarray
    trim: slice

    @property
    def size(self) -> int:
        return self.trim.stop - self.trim.start


def _bounds(chunks: tuple[int, ...]) -> list[tuple[int, int]]:
    """(start, stop) of each chunk."""
    stops = np.cumsum(chunks).tolist()
    return list(zip([0, *stops[:-1]], stops, strict=True))


@dataclass(frozen=True, eq=False)  # eq=False: hashable (dask looks for keys in tasks)
class _Cut:
    """How a task makes a block of the input from the input chunks it is given: the
    chunks joined (np.block, in grid order), then ``takes`` picks positions on each axis."""

    takes: tuple[slice | np.ndarray, ...]

    def block(self, pieces: list) -> np.ndarray:
        out = np.block(pieces)
        for axis, take in enumerate(self.takes):
            out = out[(slice(None),) * axis + (take,)]
        return out


def _pieces(array: Any, dims: tuple[str, ...], reach: dict[str, _Reach]) -> tuple[list, _Cut]:
    """The keys of the chunks of dask ``array`` that ``reach`` touches along y and x
    (every chunk along the other axes), nested one list per axis, and how to cut the
    block from them. A task given the keys gets the chunks: the graph holds one task per
    output chunk, and no slicing of the input."""
    needed, takes = [], []
    for axis, dim in enumerate(dims):
        sizes = np.asarray(array.chunks[axis])
        if dim not in reach:
            needed.append(list(range(len(sizes))))
            takes.append(slice(None))
            continue
        take = reach[dim].take
        positions = np.arange(take.start, take.stop) if isinstance(take, slice) else take
        stops = np.cumsum(sizes)
        which = np.searchsorted(stops, positions, side="right")
        used = np.unique(which)
        offset = np.zeros(len(sizes), dtype=np.int64)
        offset[used] = np.cumsum(sizes[used]) - sizes[used]  # where each sits when joined
        needed.append(used.tolist())
        takes.append(as_slice(positions - (stops - sizes)[which] + offset[which]))

    def nest(index: tuple[int, ...]) -> Any:
        if len(index) == len(needed):
            return (array.name, *index)
        return [nest((*index, c)) for c in needed[len(index)]]

    return nest(()), _Cut(tuple(takes))


def _sources(cube: Cube) -> tuple[Any, Any]:
    """The values and the full validity of ``cube`` (in the values' order), dask arrays."""
    import dask.array as da

    return cube.data.data, da.asarray(cube.full_valid().transpose(*cube.dims).data)


def _blocks(data: list, valid: list, cuts: list[_Cut]) -> tuple[np.ndarray, np.ndarray]:
    """In a task: its block of values and of validity, from the chunks it was given."""
    return cuts[0].block(data), cuts[1].block(valid)


@dataclass(frozen=True)
class _Tiles:
    """The tasks of one call, one per output chunk (``tiles[row][column]`` along y, x):
    ``fn(data chunks, validity chunks, cuts, spec, *args)``."""

    name: str
    dims: tuple[str, ...]
    sizes: dict[str, int]  # of the dimensions other than y and x
    rows: list[int]  # the output chunks' sizes along y
    columns: list[int]  # and along x

    def key(self, name: str, i: int, j: int) -> tuple:
        return (name, *(i if d == "y" else j if d == "x" else 0 for d in self.dims))

    def chunks(self) -> tuple[tuple[int, ...], ...]:
        along = {"y": tuple(self.rows), "x": tuple(self.columns)}
        return tuple(along.get(d, (self.sizes.get(d, 0),)) for d in self.dims)

    def layer(self, fn: Any, sources: tuple, spec: Any, plan: list[list[tuple]]) -> dict:
        """The tasks; ``plan[i][j]`` is the ``(reach, args)`` of output chunk (i, j). The
        spec is one key they share (shipped once, not once per task)."""
        spec_key = f"{self.name}-spec"
        layer: dict = {spec_key: spec}
        run = in_options(fn)
        for i, row in enumerate(plan):
            for j, (reach, args) in enumerate(row):
                (data, cut_data), (valid, cut_valid) = (
                    _pieces(s, self.dims, reach) for s in sources
                )
                task = (run, data, valid, [cut_data, cut_valid], spec_key, *args)
                layer[self.key(self.name, i, j)] = task
        return layer

    def array(self, name: str, layer: dict, sources: tuple, dtype: Any) -> Any:
        """The dask array whose chunks are the keys ``(name, ...)`` of ``layer``."""
        import dask.array as da
        from dask.highlevelgraph import HighLevelGraph

        graph = HighLevelGraph.from_collections(name, layer, dependencies=list(sources))
        return da.Array(graph, name, self.chunks(), dtype=dtype)


def _whole_sizes(cube: Cube) -> dict[str, int]:
    """The sizes of the dimensions that are whole in every output chunk."""
    return {d: n for d, n in cube.data.sizes.items() if d not in SPATIAL}


def _reraised(node: Any, exc: Exception) -> PgcError:
    """The error a chunk's task raises for ``exc``: what the reference raises for it."""
    from ..reference import node_error

    if isinstance(exc, ProcessError):
        return node_error(node, exc.code, exc.message, exc.argument)
    return PgcError(exc.diagnostics)


def _is_lazy(value: Any) -> bool:
    from .chunked import is_lazy

    return is_lazy(value)


def _holds_run_state(value: Any) -> bool:
    """Whether ``value`` holds what must not travel to a worker: chunked cubes (they are
    this run's computation) or callbacks (they hold the run's context)."""
    if isinstance(value, Closure) or _is_lazy(value):
        return True
    if isinstance(value, CubeArray):
        return _is_lazy(value.cube)
    if isinstance(value, dict):
        return any(map(_holds_run_state, value.values()))
    if isinstance(value, list | tuple):
        return any(map(_holds_run_state, value))
    return False


# -- apply_kernel ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _KernelSpec:
    """What every chunk of one apply_kernel call shares."""

    node: Any
    dims: tuple[str, ...]
    args: dict  # kernel, factor, border, replace_invalid: as the block's reference gets them
    dtype: np.dtype


def apply_kernel(call: Any, options: DaskOptions) -> Cube | None:
    """apply_kernel chunk by chunk, each chunk with a halo; see the module docstring."""
    cube = call.args.get("data")
    if not _is_lazy(cube) or not all(d in cube.dims for d in SPATIAL):
        return None
    if 0 in cube.data.shape or cube.data.dtype.kind not in "iubf":
        return None
    args = {k: call.args.get(k) for k in ("kernel", "factor", "border", "replace_invalid")}
    if _holds_run_state(args):
        return None
    # the reference on one pixel: it checks the arguments as on the whole cube (the same
    # errors) and tells the dtype (made by the values' dtype and the arguments, not values)
    probe = _kernel_block(
        np.zeros((1,) * len(cube.dims), dtype=cube.data.dtype),
        np.ones((1,) * len(cube.dims), dtype=bool),
        call.node,
        cube.dims,
        args,
    )
    kernel = np.asarray(args["kernel"], dtype="float64")  # the probe read it: it reads
    border = call.get("border", 0)
    constant = isinstance(border, int | float) and not isinstance(border, bool)
    mode = None if constant else PAD_MODES[border]
    halo = {"y": kernel.shape[0] // 2, "x": kernel.shape[1] // 2}
    reaches = {
        d: _kernel_reaches(cube.data.sizes[d], cube.data.chunks[cube.dims.index(d)], halo[d], mode)
        for d in SPATIAL
    }
    block_args = args if constant else {**args, "border": 0}  # the halo holds the padding
    spec = _KernelSpec(call.node, cube.dims, block_args, probe.dtype)
    tiles = _Tiles(
        f"apply_kernel-{uuid.uuid4().hex}",
        cube.dims,
        _whole_sizes(cube),
        [r.size for r in reaches["y"]],
        [r.size for r in reaches["x"]],
    )
    sources = _sources(cube)
    plan = [
        [({"y": ry, "x": rx}, (ry.trim, rx.trim)) for rx in reaches["x"]] for ry in reaches["y"]
    ]
    layer = tiles.layer(_kernel_chunk, sources, spec, plan)
    data = tiles.array(tiles.name, layer, sources, spec.dtype)
    result = in_compute_dtype(cube.data).copy(
        data=data
    )  # the reference's coordinates and attributes
    return Cube(result, xr.ones_like(result, dtype=bool))


def _kernel_reaches(n: int, chunks: tuple[int, ...], halo: int, mode: str | None) -> list[_Reach]:
    """What each chunk along one axis of length ``n`` reads: with a constant border
    (``mode`` None) its pixels and ``halo`` more on each side within the cube (the
    reference pads the cube's edges itself); else ``halo`` more on each side of the cube
    padded by numpy ``mode`` (mirrored or wrapped positions)."""
    reaches = []
    padded = None if mode is None else np.pad(np.arange(n), halo, mode=mode)
    for start, stop in _bounds(chunks):
        if padded is None:
            low, high = max(0, start - halo), min(n, stop + halo)
            reaches.append(_Reach(slice(low, high), slice(start - low, stop - low)))
        else:
            take = as_slice(padded[start : stop + 2 * halo])
            reaches.append(_Reach(take, slice(halo, halo + stop - start)))
    return reaches


def _kernel_block(
    data: np.ndarray, valid: np.ndarray, node: Any, dims: tuple[str, ...], args: dict
) -> xr.DataArray:
    """The reference's apply_kernel on one block."""
    from ..reference.cube import reference_apply_kernel

    block = Cube(xr.DataArray(data, dims=dims), xr.DataArray(valid, dims=dims))
    return reference_apply_kernel(Call(node, {"data": block, **args}, RunContext())).data


def _kernel_chunk(
    data: list, valid: list, cuts: list[_Cut], spec: _KernelSpec, trim_y: slice, trim_x: slice
) -> np.ndarray:
    """One output chunk (a task): the reference on the chunk and its halo, the halo cut."""
    load_implementations()
    data, valid = _blocks(data, valid, cuts)
    try:
        out = _kernel_block(data, valid, spec.node, spec.dims, spec.args)
    except (ProcessError, PgcError) as exc:
        raise _reraised(spec.node, exc) from None
    if out.dtype != spec.dtype:  # e.g. a worker with another compute dtype (pgc.dtypes)
        raise RuntimeError(f"apply_kernel {spec.node.id}: a chunk of dtype {out.dtype}")
    return out.isel(y=trim_y, x=trim_x).values


# -- apply_neighborhood ----------------------------------------------------------------------


@dataclass(frozen=True)
class _NeighbourhoodSpec:
    """What every chunk of one apply_neighborhood call shares: the callback without the
    run's context, and the result dtype (None while probing)."""

    node: Any
    dims: tuple[str, ...]
    attrs: dict
    graph: Any  # the callback's process graph
    scope: list  # the parameters it sees from enclosing graphs
    context: Any  # apply_neighborhood's ``context`` argument
    python_udf: bool
    udf_timeout: float | None
    resolver: Any
    read_roots: tuple  # where the resolver's paths may lie (pgc.data.access)
    udf_memory_mb: float | None
    dtype: np.dtype | None = None

    def process(self) -> Closure:
        """The callback with a context of its own: no catalog, statistics, dask or numba."""
        run = RunContext(
            resolver=self.resolver, python_udf=self.python_udf, udf_timeout=self.udf_timeout,
            read_roots=self.read_roots, udf_memory_mb=self.udf_memory_mb,
        )  # fmt: skip
        return Closure(self.graph, self.scope, run)


@dataclass(frozen=True)
class _Group:
    """Consecutive neighbourhoods along y or x that make one output chunk: their spans with
    positions in what the chunk reads (-1 beyond the cube), and that read (``reach``)."""

    spans: tuple[Any, ...]  # ref_neighborhood.Span
    reach: _Reach


def apply_neighborhood(call: Any, options: DaskOptions) -> Cube | None:
    """apply_neighborhood chunk by chunk, each chunk whole neighbourhoods; see the module
    docstring."""
    from ..reference.neighborhood import neighbourhood_sizes, neighbourhood_spans

    cube = call.args.get("data")
    if not _is_lazy(cube) or not all(d in cube.dims for d in SPATIAL) or 0 in cube.data.shape:
        return None
    process = call.args.get("process")
    if not isinstance(process, Closure):
        return None  # the reference says what is missing
    if _holds_run_state([process.scope, call.args.get("context")]):
        return None
    if any(node.process_id in _RUN_STATE for _, node in process.graph.walk()):
        return None
    # the reference's own neighbourhoods (and its errors, in its order)
    sizes, overlaps = (
        neighbourhood_sizes(call, cube, "size"),
        neighbourhood_sizes(call, cube, "overlap"),
    )
    spans = {
        d: neighbourhood_spans(call, cube, d, sizes.get(d), overlaps.get(d)) for d in cube.dims
    }
    context = call.context
    spec = _NeighbourhoodSpec(
        call.node, cube.dims, dict(cube.data.attrs), process.graph, process.scope,
        call.args.get("context"), context.python_udf, context.udf_timeout, context.resolver,
        context.read_roots, context.udf_memory_mb,
    )  # fmt: skip
    sources = _sources(cube)
    first = {d: spans[d][:1] for d in cube.dims}
    probe = {d: [_group(first[d])] for d in SPATIAL}
    # an array computation like the result's (a delayed one would be optimized otherwise,
    # and a distributed scheduler wants one key computed one way)
    out, ok = options.compute(*_neighbourhood_tasks(cube, spec, first, probe, sources))
    if out.dtype == bool and not ok.any():
        return None  # no data: the reference's per-pixel results say bool, whatever the rest say
    spec = replace(spec, dtype=out.dtype)
    groups = {d: _groups(spans[d], cube.data.chunks[cube.dims.index(d)]) for d in SPATIAL}
    data, valid = _neighbourhood_tasks(cube, spec, spans, groups, sources)
    result = cube.data.copy(data=data)  # the reference's coordinates and attributes
    return Cube(result, result.copy(data=valid))


def _groups(spans: list, chunks: tuple[int, ...]) -> list[_Group]:
    """The neighbourhoods along y or x in runs, one per output chunk: the input's chunks
    where each ends where a neighbourhood ends, else runs about as long as its first."""
    owned = [s.window[s.own] for s in spans]
    stops = [int(o[-1]) + 1 for o in owned]
    cuts = set(np.cumsum(chunks).tolist())
    if cuts <= set(stops):
        ends = [i for i, stop in enumerate(stops) if stop in cuts]
    else:
        per = max(1, round(chunks[0] / len(owned[0])))
        ends = [min(i + per, len(spans)) - 1 for i in range(0, len(spans), per)]
    starts = [0, *(end + 1 for end in ends[:-1])]
    return [_group(spans[a : b + 1]) for a, b in zip(starts, ends, strict=True)]


def _group(spans: list) -> _Group:
    """One run of neighbourhoods: it reads every position their windows reach in the cube."""
    from ..reference.neighborhood import Span

    reached = np.concatenate([s.window[s.window >= 0] for s in spans])
    low, high = int(reached.min()), int(reached.max()) + 1
    start = int(spans[0].window[spans[0].own][0])
    stop = int(spans[-1].window[spans[-1].own][-1]) + 1
    shifted = tuple(
        Span(np.where(s.window >= 0, s.window - low, -1), s.labels, s.own) for s in spans
    )
    return _Group(shifted, _Reach(slice(low, high), slice(start - low, stop - low)))


def _neighbourhood_tasks(
    cube: Cube,
    spec: _NeighbourhoodSpec,
    spans: dict,
    groups: dict[str, list[_Group]],
    sources: tuple,
) -> list:
    """The result's values and validity as dask arrays, one task per output chunk (for
    the probe, whose spec has no dtype yet, an array whose one chunk has its own dtype)."""
    tiles = _Tiles(
        f"apply_neighborhood-{uuid.uuid4().hex}",
        cube.dims,
        _whole_sizes(cube),
        [g.reach.size for g in groups["y"]],
        [g.reach.size for g in groups["x"]],
    )
    plan = []
    for gy in groups["y"]:
        row = []
        for gx in groups["x"]:
            along = {**{d: tuple(spans[d]) for d in cube.dims}, "y": gy.spans, "x": gx.spans}
            reach = {"y": gy.reach, "x": gx.reach}
            row.append((reach, (tuple(along[d] for d in cube.dims), gy.reach.trim, gx.reach.trim)))
        plan.append(row)
    layer = tiles.layer(_neighbourhood_chunk, sources, spec, plan)
    parts = []
    values_dtype = "float64" if spec.dtype is None else spec.dtype  # probing: any will do
    for part, dtype in ((0, values_dtype), (1, bool)):
        name = f"{tiles.name}-{part}"
        picks = {
            tiles.key(name, i, j): (operator.getitem, tiles.key(tiles.name, i, j), part)
            for i in range(len(tiles.rows))
            for j in range(len(tiles.columns))
        }
        parts.append(tiles.array(name, {**layer, **picks}, sources, dtype))
    return parts


def _neighbourhood_chunk(
    data: list,
    valid: list,
    cuts: list[_Cut],
    spec: _NeighbourhoodSpec,
    along: tuple[tuple[Any, ...], ...],
    trim_y: slice,
    trim_x: slice,
) -> tuple[np.ndarray, np.ndarray]:
    """One output chunk (a task): ``process`` on each of its neighbourhoods (``along``:
    their spans by dimension, in what the chunk read), their own pixels stitched as the
    reference stitches the whole cube (ref_neighborhood._stitch)."""
    from ..reference.neighborhood import neighbourhood_cube, unchanged_shape

    load_implementations()
    values, valid = _blocks(data, valid, cuts)
    cube = Cube(
        xr.DataArray(values, dims=spec.dims, attrs=dict(spec.attrs)),
        xr.DataArray(valid, dims=spec.dims),
    )
    process = spec.process()
    call = Call(spec.node, {}, process.context)
    pieces = []
    try:
        for combination in itertools.product(*along):
            window = neighbourhood_cube(cube, values, valid, combination)
            result = process(data=window, context=spec.context)
            pieces.append((combination, unchanged_shape(call, result, window)))
    except (ProcessError, PgcError) as exc:
        raise _reraised(spec.node, exc) from None
    dtype = np.result_type(*[piece.data.dtype for _, piece in pieces])
    if spec.dtype is not None:  # the whole result's: the reference's result_type of all
        if np.result_type(dtype, spec.dtype) != spec.dtype:
            raise RuntimeError(
                f"apply_neighborhood {spec.node.id}: the process made {dtype} values in one "
                f"chunk and {spec.dtype} in the first neighbourhood"
            )
        dtype = spec.dtype
    trims = {"y": trim_y, "x": trim_x}
    shape = [trims[d].stop - trims[d].start if d in SPATIAL else values.shape[k]
             for k, d in enumerate(spec.dims)]  # fmt: skip
    offsets = [trims[d].start if d in SPATIAL else 0 for d in spec.dims]
    out = np.zeros(shape, dtype=dtype)
    ok = np.zeros(shape, dtype=bool)
    for combination, piece in pieces:
        source = np.ix_(*[np.flatnonzero(s.own) for s in combination])
        target = np.ix_(*[s.window[s.own] - at for s, at in zip(combination, offsets, strict=True)])
        out[target] = piece.data.values[source]
        ok[target] = piece.valid.values[source]
    return np.where(ok, out, 0).astype(dtype), ok


FORMS: dict[str, Any] = {"apply_kernel": apply_kernel, "apply_neighborhood": apply_neighborhood}


# -- pgc explain --dask ------------------------------------------------------------------------


def explain(node: Any) -> str | None:
    """How the form runs ``node`` (apply_kernel or apply_neighborhood, its data chunked),
    from the plan alone, for ``pgc explain --dask``; None where the form returns None. Not
    seen here: what only the run knows (a cube without y or x, or with no pixel where the
    types do not show it; a first neighbourhood whose result is bool without data;
    arguments computed into cubes)."""
    from ...ir.types import CubeType

    if isinstance(node.type, CubeType) and any(d.size == 0 for d in node.type.dimensions):
        return None  # no pixel (filters that leave no date): it runs whole, as the form says
    if node.process_id == "apply_kernel":
        kernel, border = node.literal("kernel"), node.literal("border", 0)
        if not (isinstance(kernel, list) and kernel and isinstance(kernel[0], list)):
            return "the reference per chunk, with a halo of the kernel's size"
        rows, columns = len(kernel) // 2, len(kernel[0]) // 2
        edges = "wrapped" if border == "wrap" else f"border {border}"
        return f"the reference per chunk, with a halo of {rows} rows, {columns} columns ({edges})"
    process = node.arg("process")
    if not isinstance(process, Callback) or any(value_refs(node.arg("context"))):
        return None
    if any(inner.process_id in _RUN_STATE for _, inner in process.graph.walk()):
        return None
    return "the reference per chunk of whole neighbourhoods, each with its overlap"
