"""The dask executor (issue 9): cubes as chunked dask arrays, computed chunk by chunk where
a chunked form exists (:data:`FORMS`), through the reference implementations elsewhere.
``pgc explain --dask`` says which nodes run which way (:mod:`pgc.executors.dask.explain`).

Chunked forms:

- ``load_collection``: windowed reads of only the bands, extent and dates the load asks for
  (after push-filters and prune-bands), one read per chunk of ``y`` and ``x``; dates and
  bands stay whole in a chunk. Chunks are squares sized to a memory budget for the loaded
  values (:attr:`DaskOptions.chunk_bytes`, 64 MB by default: from the dtype and the number
  of dates x bands), in whole storage chunks where the collection has them (a Zarr
  store), or given (:attr:`DaskOptions.chunk`).
- ``pgc::kernel`` nodes (fused band math, masks, and reductions, made by the
  fuse-elementwise pass): the numba kernel runs on each chunk, or, where numba has no kernel
  for it (a median), the kernel's body as the reference runs it; a reduction over a
  dimension that is whole in every chunk needs no exchange between chunks, one over ``y``
  or ``x`` is a tree reduction (:mod:`.chunked_reduce`).
- ``reduce_dimension`` over ``y`` or ``x`` and ``reduce_spatial`` with the reducers that
  combine associatively: tree reductions (:mod:`.chunked_reduce`).
- ``apply_kernel``, ``apply_neighborhood``: each chunk with the halo it needs
  (:mod:`.chunked_neighborhood`).
- processes that never mix pixels (``aggregate_temporal_period``, ``apply_dimension`` over
  dates or bands, ``merge_cubes`` on one grid, ``ndvi``, ``rename_labels`` ...): the
  reference's own implementation on each chunk alone (:mod:`.chunked_columns`).
- ``aggregate_spatial``: the pixels of each geometry picked from the chunks that hold
  them and computed together, then reduced by the reference (:func:`aggregate_spatial`).
- ``filter_bbox``, ``filter_temporal``, ``filter_bands`` select lazily with the reference's
  own code; ``filter_spatial`` and ``mask_polygon`` too, their geometries rasterized once
  for the grid from the coordinates and cut into the cube's chunks; ``save_result`` keeps
  the cube chunked, to be written chunk by chunk (:mod:`pgc.executors.dask.writing`).

Every other process gets its cube arguments computed (numpy) and runs as the reference
executor runs it, so every graph runs, with the reference's results and errors; a fused
kernel after it reads its result in the chunks of its other sources. Reads are counted in
the run's statistics with the threaded scheduler (a distributed cluster's workers count
their own).

Where it runs: dask's threaded scheduler by default, or the scheduler given
(:attr:`DaskOptions.scheduler`: a ``distributed.Client``, or a dask scheduler name).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ...specs import bundled_traits
from ..values import Cube
from .tasks import in_options

SPATIAL = ("y", "x")
# processes whose reference implementation only selects labels (xarray indexing), masks
# with geometries rasterized from the coordinates alone (in the cube's chunks), or keeps the
# cube (save_result), which is as lazy on dask arrays as on numpy: they run as they are.
# The selections are the cube filters without a callback (traits: dims "filter:...",
# kind "cube"; filter_labels' condition would run on the labels); mask_polygon and
# save_result are facts of their implementations, which no trait states.
LAZY = frozenset(
    pid
    for pid, traits in bundled_traits().items()
    if traits.kind == "cube" and (traits.dims or "").startswith("filter:") and not traits.callbacks
) | {"mask_polygon", "save_result"}


@dataclass
class DaskOptions:
    """How the dask executor chunks and where it computes."""

    chunk_bytes: int = 64 * 2**20  # the bytes of one chunk of a loaded cube, at most
    chunk: int | None = None  # the side of a chunk in pixels (overrides chunk_bytes)
    scheduler: Any = None  # None: threads; a distributed.Client; or a scheduler name
    progress: bool = False  # a progress bar on stderr while computing (pgc run on a terminal)
    # a result at most this large whose file storage needs a pass over its values (integers)
    # is computed once and written whole: chunk by chunk it would be computed twice
    whole_bytes: int = 256 * 2**20
    # a fused kernel runs compiled (numba) on the chunks when its cubes hold at least this
    # many elements, else its nodes run on them as numpy, as the reference runs them
    # (None: pgc.executors.choice.NUMBA_ELEMENTS, from which numba pays for loading)
    compiled_from: int | None = None

    def side(self, layers: int, itemsize: int, block: int | None = None) -> int:
        """The side in pixels of a square chunk of ``layers`` (dates x bands) values of
        ``itemsize`` bytes: the largest within :attr:`chunk_bytes`, in whole storage chunks
        of ``block`` pixels where the collection has them (so no storage chunk is read twice),
        one storage chunk at least."""
        if self.chunk is not None:
            return max(1, int(self.chunk))
        side = max(16, math.isqrt(max(1, self.chunk_bytes // max(1, layers * itemsize))))
        if block:
            side = max(block, side // block * block)
        return side

    def compute(self, *values):
        """The values computed (dask collections as numpy / xarray), on the scheduler."""
        import dask

        if self.is_distributed():
            futures = self.scheduler.compute(list(values))
            if self.progress:
                _distributed_bar(futures)
            return tuple(self.scheduler.gather(futures))
        with self.local_bar():
            return dask.compute(*values, scheduler=self.local_scheduler())

    def local_scheduler(self) -> Any:
        """The scheduler for dask's ``compute``, when it is not a distributed client: the
        threaded and synchronous ones as their functions, since dask looks for a
        distributed client whenever it is given a name, which imports distributed where
        it is installed (0.1 s of a run that never uses it)."""
        from dask import local, threaded

        named = {"threads": threaded.get, "threading": threaded.get, "sync": local.get_sync,
                 "synchronous": local.get_sync, "single-threaded": local.get_sync}  # fmt: skip
        scheduler = self.scheduler or "threads"
        return named.get(scheduler, scheduler) if isinstance(scheduler, str) else scheduler

    def local_bar(self):
        """A context in which dask's local schedulers draw a progress bar (on stderr), when
        :attr:`progress` asks for one."""
        import contextlib

        from dask.diagnostics import ProgressBar

        if not self.progress:
            return contextlib.nullcontext()
        return ProgressBar(minimum=1.0, out=sys.stderr)  # as pgc's own bar: runs over 1 s

    def is_distributed(self) -> bool:
        """Whether the scheduler is a dask.distributed client."""
        return hasattr(self.scheduler, "gather") and hasattr(self.scheduler, "compute")


def _distributed_bar(futures: list) -> None:
    """distributed's text progress bar, on stderr (stdout holds pgc run's results); returns
    when the futures are done."""
    from distributed.diagnostics.progressbar import TextProgressBar

    class Bar(TextProgressBar):
        def _draw_bar(self, remaining, all, **kwargs):
            done = 1 - remaining / all if all else 1.0
            sys.stderr.write(f"\r[{'#' * int(self.width * done):<{self.width}}] {done:4.0%}")
            sys.stderr.flush()

        def _draw_stop(self, **kwargs):
            sys.stderr.write("\n")
            sys.stderr.flush()

    Bar(futures)


def is_lazy(value: Any) -> bool:
    """Whether ``value`` is a cube whose values are a dask array."""
    return isinstance(value, Cube) and value.data.chunks is not None


def materialized(value: Any, options: DaskOptions) -> Any:
    """``value`` with every chunked cube in it computed (numpy), for the reference."""
    if is_lazy(value):
        data, valid = options.compute(value.data, value.valid)
        return Cube(data, valid)
    if isinstance(value, dict):
        return {k: materialized(v, options) for k, v in value.items()}
    if isinstance(value, list):
        return [materialized(v, options) for v in value]
    return value


def _as_is(call: Any, options: DaskOptions) -> Cube | None:
    """A process whose reference implementation is as lazy on dask arrays as on numpy, run
    as it is on a chunked cube: the selections (they only index labels) and save_result
    (it keeps the cube, to be written chunk by chunk)."""
    from ..reference import IMPLEMENTATIONS

    if not is_lazy(call.args.get("data")):
        return None
    return IMPLEMENTATIONS[call.node.process_id](call)


def aggregate_spatial(call: Any, options: DaskOptions) -> Cube | None:
    """aggregate_spatial of a chunked cube: each geometry's pixels picked lazily from the
    chunks that hold them, all computed in one computation (a chunk is read once, whatever
    the geometries sharing it), then reduced as the reference reduces them. Memory holds
    the geometries' pixels, not the cube (a geometry over the whole cube holds it all)."""
    from ..reference.vector import aggregate_spatial

    if not is_lazy(call.args.get("data")):
        return None

    def gather(pixels: list) -> list:
        arrays = options.compute(*(a for size, *pair in pixels if size for a in pair))
        out, at = [], 0
        for size, data, valid in pixels:
            if size:
                data, valid, at = arrays[at], arrays[at + 1], at + 2
            out.append((size, data, valid))
        return out

    return materialized(aggregate_spatial(call, gather), options)


# -- load_collection -----------------------------------------------------------------------


def load(call: Any, options: DaskOptions) -> Cube:
    """load_collection as chunked windowed reads."""
    import dask
    import dask.array as da

    from ...data.reading import read_window
    from ..reference.loads import read_plan, within_geometries

    catalog, cid = call.context.catalog, call.get("id")
    if cid not in catalog:
        call.fail("CollectionNotFound", f"Collection '{cid}' does not exist.", "id")
    plan = read_plan(call, catalog, cid)
    layers = plan.shape[0] * plan.shape[1]
    block = plan.block[0] if plan.block is not None and plan.block[0] == plan.block[1] else None
    side = options.side(layers, np.dtype(plan.dtype).itemsize, block)
    # aligned with the storage's chunks where it has them, else cut from the window's corner
    w = plan.window
    y0, x0 = (0, 0) if block else (w.y0, w.x0)
    rows, cols = _spans(w.y0 - y0, w.y1 - y0, side), _spans(w.x0 - x0, w.x1 - x0, side)
    # not pure: the keys are new in every run, so a cluster that saw a failed run (its
    # tasks' keys) does not mistake this run's reads for those
    read = dask.delayed(in_options(read_window), pure=False)
    stats = call.context.stats
    blocks = [
        [
            da.from_delayed(
                read(plan, r, c, stats),
                shape=(*plan.shape[:2], r.stop - r.start, c.stop - c.start),
                dtype=plan.dtype,
            )
            for c in cols
        ]
        for r in rows
    ]
    cube = Cube.from_nodata(plan.array(da.block(blocks)), plan.attrs.get("nodata"))
    return within_geometries(call, cube, "spatial_extent")  # polygons: outside is no-data


def _spans(start: int, stop: int, side: int) -> list[slice]:
    """Positions ``start``..``stop`` of the collection's grid cut at the multiples of
    ``side`` (aligned with the storage's chunks), as slices relative to ``start``."""
    edges = [start, *range((start // side + 1) * side, stop, side), stop]
    return [slice(a - start, b - start) for a, b in zip(edges, edges[1:], strict=False)]


# -- fused kernels ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _NoStats:
    kernel_stats: Any = None  # chunks run in workers: their kernel times are not booked


@dataclass
class _KernelCall:
    """What the numba executor's kernel runner reads of a call: the node, the sources."""

    node: Any
    args: dict
    context: Any = _NoStats()


def kernel(call: Any, options: DaskOptions) -> Cube | None:
    """A pgc::kernel node run chunk by chunk, or None when its sources are not chunked
    alike along y and x only (or it reduces over y or x)."""
    sources = call.args.get("sources")
    if not isinstance(sources, dict) or not any(map(is_lazy, sources.values())):
        return None
    if not all(isinstance(c, Cube) for c in sources.values()):
        return None
    if picks_along_y_or_x(call.node):
        return None
    reduce = call.node.literal("reduce")
    if reduce is not None and reduce.get("dimension") in SPATIAL:
        return None  # folds y or x: chunks would need each other
    like = next(c.data for c in sources.values() if is_lazy(c))
    sources = {name: rechunked_like(cube, like) for name, cube in sources.items()}
    names = list(sources)
    first = sources[names[0]].data
    if not all(chunked_alike(sources[n].data, first) for n in names):
        return None
    dataset = xr.Dataset()
    apart = _apart([sources[n].data for n in names])
    for i, name in enumerate(names):  # attributes go apart: they need not agree
        dataset[f"data{i}"] = _renamed(sources[name].data.copy(deep=False), apart[i])
        dataset[f"data{i}"].attrs = {}
        dataset[f"valid{i}"] = _renamed(sources[name].valid, apart[i])
    attrs = [dict(sources[n].data.attrs) for n in names]
    body = _body(call)
    back = [{v: k for k, v in renamed.items()} for renamed in apart]
    compiled = body is None or _pays(sources, options.compiled_from)
    probe = _block(corner_probe(dataset), call.node, names, attrs, body, back, compiled)
    if probe is None:
        return None
    template = result_template(probe, first)
    result = blockwise(
        in_options(_block_or_fail), dataset,
        (call.node, names, attrs, body, back, compiled), template,
    )  # fmt: skip
    data = result["data"]
    data.attrs = dict(probe["data"].attrs)
    return Cube(data, result["valid"])


def _apart(arrays: list[xr.DataArray]) -> list[dict[str, str]]:
    """Per source, the names its dimensions (other than y and x) and their coordinates take
    in the chunks' dataset where their labels differ from an earlier source's: one dataset
    aligns every variable on one index per name, which would drop the labels the first
    lacks (a mask read from every band of a load beside three of its bands: the kernel's
    pick of SCL found no SCL). Each name goes back in the chunk (``_block``)."""
    seen: dict[str, Any] = {}
    out = []
    for i, data in enumerate(arrays):
        renamed: dict[str, str] = {}
        for dim in data.dims:
            if dim in SPATIAL:
                continue
            labels = data.get_index(dim)
            if dim not in seen:
                seen[dim] = labels
            elif not labels.equals(seen[dim]):
                renamed[dim] = f"{dim}@{i}"
        for name, coord in data.coords.items():
            if name not in renamed and any(d in renamed for d in coord.dims):
                renamed[str(name)] = f"{name}@{i}"
        out.append(renamed)
    return out


def _renamed(array: Any, names: dict[str, str]) -> Any:
    """``array`` with those of ``names`` it has (dimensions, coordinates) renamed."""
    own = {k: v for k, v in names.items() if k in array.dims or k in array.coords}
    return array.rename(own) if own else array


def picks_along_y_or_x(node: Any) -> bool:
    """Whether a kernel node reads one element along y or x of a source (no chunk has it)."""
    return any(spec[1] in SPATIAL for spec in node.literal("inputs") or [])


def corner_probe(dataset: xr.Dataset) -> xr.Dataset:
    """The dataset's corner pixel, zeros and valid, without reading anything: what the
    kernel makes of it (dimensions, dtypes, attributes) is what it makes of every chunk."""
    corner = dataset.isel(y=slice(0, 1), x=slice(0, 1))
    return corner.copy(
        data={
            name: np.ones(v.shape, bool) if v.dtype == bool else np.zeros(v.shape, v.dtype)
            for name, v in corner.data_vars.items()
        }
    )


def rechunked_like(cube: Cube, like: xr.DataArray) -> Cube:
    """A computed cube (a process without a chunked form made it) in ``like``'s y and x
    chunks, so kernels read it chunk by chunk with the others."""
    if is_lazy(cube) or not all(d in cube.dims for d in SPATIAL):
        return cube
    if not all(d in like.dims for d in SPATIAL):
        return cube
    sizes = {d: like.chunks[like.dims.index(d)] for d in SPATIAL}

    def chunked(array: xr.DataArray) -> xr.DataArray:
        if not all(d in array.dims for d in SPATIAL):
            return array
        return array.chunk({d: sizes.get(d, -1) for d in array.dims})

    return Cube(chunked(cube.data), chunked(cube.valid))


def chunked_alike(data: xr.DataArray, first: xr.DataArray) -> bool:
    """Chunked only along y and x, like ``first``, on the same coordinates."""
    if not all(d in data.dims for d in SPATIAL):
        return False
    for dim, chunks in zip(data.dims, data.chunks, strict=True):
        if dim in SPATIAL:
            if chunks != first.chunks[first.dims.index(dim)]:
                return False
            if not np.array_equal(data[dim].values, first[dim].values):
                return False
        elif len(chunks) != 1:
            return False
    return True


def _body(call: Any) -> tuple | None:
    """The kernel's body and the parameters it sees, to run as the reference runs it where
    numba has no kernel for it (a median, say); None when those parameters hold cubes (they
    would be shipped whole to every chunk)."""
    body = call.args.get("body")
    if body is None or any(isinstance(v, Cube) for frame in body.scope for v in frame.values()):
        return None
    return body.graph, body.scope


def _pays(sources: dict[str, Cube], start: int | None) -> bool:
    """Whether the kernel's cubes hold ``start`` elements or more (None:
    :data:`pgc.executors.choice.NUMBA_ELEMENTS`, the size from which ``pgc run`` chooses
    numba): enough for its compiled loop to pay for loading numba and the kernel. Below,
    the chunks run the kernel's body as numpy, as the reference does (loading numba's
    first kernel took 0.3 s of a 2 s run at 512 px)."""
    from ..choice import NUMBA_ELEMENTS

    start = NUMBA_ELEMENTS if start is None else start
    return max(cube.data.size for cube in sources.values()) >= start


def _block(block: xr.Dataset, node: Any, names: list[str], attrs: list[dict], body=None,
           back: list[dict] | None = None, compiled: bool = True):  # fmt: skip
    """One chunk through the numba kernel (where ``compiled``), or else through the kernel's
    body as the reference runs it: a dataset of ``data`` and ``valid`` (the validity over
    every dimension), or None when neither applies. ``back``: per source, the names
    :func:`_apart` changed."""
    from ..numba.kernel_run import run_kernel

    sources = {}
    for i, name in enumerate(names):
        names_back = back[i] if back else {}
        data = _renamed(block[f"data{i}"], names_back)
        data.attrs = attrs[i]
        sources[name] = Cube(data, _renamed(block[f"valid{i}"], names_back))
    out = run_kernel(_KernelCall(node, {"sources": sources})) if compiled else None
    if out is not None:
        out = Cube(out.data.copy(), out.valid)  # out of the kernel's pooled buffer
    elif body is not None:
        from ..reference import Closure, RunContext, load_implementations

        load_implementations()
        out = Closure(body[0], body[1], RunContext())(**sources)
    if not isinstance(out, Cube):
        return None
    out = out.in_order()
    return xr.Dataset({"data": out.data, "valid": out.full_valid()})


def _block_or_fail(block: xr.Dataset, node: Any, names: list[str], attrs: list[dict], body,
                   back: list[dict], compiled: bool = True):  # fmt: skip
    from ..reference import ProcessError, node_error

    try:
        out = _block(block, node, names, attrs, body, back, compiled)
    except ProcessError as exc:  # from the body: the reference's error, naming the node
        raise node_error(node, exc.code, exc.message, exc.argument) from None
    if out is None:  # the probe ran: every chunk has the same dtypes and labels
        raise RuntimeError(f"kernel {node.id}: a chunk the kernel does not cover")
    return out


def result_template(probe: xr.Dataset, first: xr.DataArray) -> xr.Dataset:
    """The result's shape: the probe's dimensions, with the sources' y and x."""
    import dask.array as da

    out = {}
    for name, variable in probe.data_vars.items():
        dims = variable.dims
        shape, chunks, coords = [], [], {}
        for dim in dims:
            if dim in SPATIAL:
                size = first.sizes[dim]
                chunks.append(first.chunks[first.dims.index(dim)])
                coords[dim] = first[dim].values
            else:
                size = variable.sizes[dim]
                chunks.append((size,))
                if dim in variable.coords:
                    coords[dim] = variable[dim].values
            shape.append(size)
        array = da.empty(tuple(shape), dtype=variable.dtype, chunks=tuple(chunks))
        out[name] = xr.DataArray(array, dims=dims, coords=coords)
        out[name] = _probe_coords(out[name], variable)
    return xr.Dataset(out)


def blockwise(function: Any, dataset: xr.Dataset, args: tuple, template: xr.Dataset) -> xr.Dataset:
    """``xr.map_blocks(function, dataset, args, template=template)``, with the template's
    coordinates that are not indexes (band metadata along the bands, from the probe) kept
    as the template's numpy arrays. map_blocks makes every such coordinate an output of the
    blocks: a dask array whose every read (a writer's band attributes, the next probe)
    computes the whole graph again, and with it every load below."""
    result = xr.map_blocks(function, dataset, args=args, template=template)
    kept = {
        name: template.coords[name].variable
        for name in template.coords
        if name not in template.indexes and not set(template.coords[name].dims) & set(SPATIAL)
    }
    return result.assign_coords(kept) if kept else result


def _probe_coords(template: xr.DataArray, probe: xr.DataArray) -> xr.DataArray:
    """``template`` with what the probe's coordinates add: the attributes of each
    dimension's labels (its openEO type, :func:`pgc.executors.values.dimension_type`) and
    the coordinates along dimensions that are not chunked (band metadata along the bands,
    :mod:`pgc.data.bands`); map_blocks wants every coordinate of the result there."""
    for coord, values in probe.coords.items():
        if coord in template.dims:
            if coord in template.coords:
                template.coords[coord].attrs.update(values.attrs)
        elif not set(values.dims) & set(SPATIAL):  # small: numpy, not chunked like data
            variable = (values.dims, np.asarray(values.values), dict(values.attrs))
            template = template.assign_coords({coord: variable})
    return template


# The chunked form of each process that has one, by process id ("pgc::kernel" for pgc's
# own): called with the call and the options, it returns the (lazy) result, or None when the
# call is not one it covers; then the call's cubes are computed and the reference runs it.
FORMS: dict[str, Any] = {
    "load_collection": load,
    "aggregate_spatial": aggregate_spatial,
    "pgc::kernel": kernel,
    **{process_id: _as_is for process_id in LAZY},
}

# Chunked forms kept in modules of their own (they import this module lazily, in functions)
from .neighborhood import FORMS as _NEIGHBOURHOOD  # noqa: E402

FORMS.update(_NEIGHBOURHOOD)

# (chunked_reduce imports this module lazily, inside its functions)
from .reduce import FORMS as _REDUCE  # noqa: E402

FORMS.update(_REDUCE)

# Processes that never mix pixels: each chunk alone, as the reference runs it; where the
# process has another chunked form (reduce_dimension over y or x), that one first
from .columns import FORMS as _COLUMNS  # noqa: E402
from .columns import first_of  # noqa: E402

for _pid, _form in _COLUMNS.items():
    FORMS[_pid] = first_of(FORMS[_pid], _form) if _pid in FORMS else _form
