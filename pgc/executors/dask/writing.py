"""Writing the dask executor's results chunk by chunk (issue 9), so a result larger than
memory is never held whole.

- GeoTIFF / COG: the file is opened once in this process; the values are cut into blocks
  of whole tiles of the file (256 pixels), computed in one dask graph and written as
  windows as each block is ready (on a distributed cluster, each block is fetched and
  released as it completes).
- netCDF and Zarr: xarray's writers store each chunk of the dask array as it is computed
  (netCDF under a lock; Zarr chunks are independent and written by the workers).

Anything else (JSON, CSV, GeoJSON) is computed whole and written as the reference writes it.
The dtype of a raster file is decided as the reference decides it (:mod:`pgc.data.storage`),
computing its few reductions on the run's scheduler. Integers need such a pass over the
values (a no-data value no pixel holds), so chunk by chunk they would be computed twice:
one at most ``DaskOptions.whole_bytes`` (a count over time, say) is computed once and
written whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...data import cube_file, writers
from ...data.cf import VALUES, cf_dataset
from ...data.storage import Storage, eager, storage_for

TILE = 256  # the GeoTIFF's tiles (rasterio's default block size for tiled files)


def write(
    cube: Any, path: Path, fmt: str, options: dict, dask: Any, integral: bool = False
) -> Storage | None:
    """Write ``cube`` (chunked or not) as ``fmt``; ``dask``: the run's DaskOptions;
    ``integral``: the types say the values are integers (:func:`storage.integral_values`).
    Returns the storage of a raster file (None for JSON, CSV, GeoJSON)."""
    from .chunked import is_lazy, materialized

    # the exchange form (pgc.data.cube_file) is written whole: a federation member's
    # intermediate value, which its job computed within its budget
    whole_file = options.get(cube_file.OPTION) is True or _once_whole(cube, dask, integral)
    chunked = CHUNKED.get(writers.format_key(fmt)) if is_lazy(cube) and not whole_file else None
    if chunked is None:
        return writers.writer_for(fmt)(materialized(cube, dask), path, options, integral)
    return chunked(cube, path, options, dask, integral)


def _once_whole(cube: Any, dask: Any, integral: bool) -> bool:
    """Whether ``cube`` is better computed once and written whole: its storage needs a
    pass over its values (integers: a no-data value no pixel holds; floats the types call
    integers: their range and whether all are whole), which chunk by chunk would compute
    it, and read its loads, twice; and it is at most ``DaskOptions.whole_bytes``."""
    dtype = np.dtype(cube.data.dtype)
    if not (dtype.kind in "iu" or (dtype.kind == "f" and integral)):
        return False
    valid = getattr(cube.valid, "size", 1)  # a bool a pixel, or one for all
    return cube.data.size * dtype.itemsize + valid <= dask.whole_bytes


def _storage(cube: Any, dask: Any, integral: bool) -> Storage:
    """The storage the reference would choose, its reductions computed on the scheduler."""
    return storage_for(cube, integral, lambda *values: eager(*dask.compute(*values)))


def write_gtiff(cube: Any, path: Path, options: dict, dask: Any, integral: bool) -> Storage:
    import rasterio
    from rasterio.windows import Window

    storage = _storage(cube, dask, integral)
    stacked, names = writers.spatial_stack(cube, storage)
    profile = writers.gtiff_profile(cube, len(names), options, storage)
    side = _block_side(stacked, tiled=profile["tiled"])
    blocks = stacked.data.rechunk({0: -1, 1: side, 2: side})
    with rasterio.open(path, "w", **profile) as dst:

        def write_block(region: tuple[slice, ...], values: Any) -> None:
            rows, cols = region[1], region[2]
            window = Window(cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start)
            dst.write(values, window=window)

        each_block(blocks, write_block, dask)
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
    return storage


def each_block(array: Any, write: Any, dask: Any) -> None:
    """Compute the dask ``array`` in one graph (each chunk of what it comes from once) and
    call ``write(region, values)`` in this process for each of its blocks as it is ready,
    one at a time: blocks are not held once written."""
    import dask.array as da
    import numpy as np
    from dask.utils import SerializableLock

    if not dask.is_distributed():
        scheduler = dask.local_scheduler()
        # the lock dask would choose for its threads (lock=True asks which scheduler runs,
        # and that imports distributed where it is installed: 0.1 s of a run)
        lock = SerializableLock() if callable(scheduler) else True
        with dask.local_bar():
            da.store(array, _Sink(write), lock=lock, scheduler=scheduler)
        return
    from distributed import as_completed

    starts = [np.cumsum((0, *c)) for c in array.chunks]
    regions = {
        index: tuple(slice(int(s[i]), int(s[i + 1])) for s, i in zip(starts, index, strict=True))
        for index in np.ndindex(*array.numblocks)
    }

    client = dask.scheduler
    blocks = array.to_delayed()
    futures = {client.compute(blocks[index]): index for index in regions}
    for done, (future, values) in enumerate(as_completed(futures, with_results=True), 1):
        write(regions[futures[future]], values)
        future.release()
        if dask.progress:
            _bar(done, len(futures))


def _bar(done: int, total: int, width: int = 40) -> None:
    import sys

    sys.stderr.write(f"\r[{'#' * (width * done // total):<{width}}] {done}/{total} blocks written")
    sys.stderr.write("\n" if done == total else "")
    sys.stderr.flush()


class _Sink:
    """An array-like target for ``dask.array.store`` whose writes are ``write`` calls (the
    threaded scheduler: the same process as the open file)."""

    def __init__(self, write: Any) -> None:
        self.write = write

    def __setitem__(self, region: tuple[slice, ...], values: Any) -> None:
        self.write(region, values)


def _block_side(stacked: Any, tiled: bool) -> int:
    """The side of the blocks written: about the cube's chunks, in whole tiles of the file
    (a compressed tile written in two parts would be stored twice)."""
    side = max(_largest_chunk(stacked, d) for d in ("y", "x"))
    if not tiled:
        return side
    return max(TILE, side // TILE * TILE)


def _largest_chunk(array: Any, dim: str) -> int:
    """The largest chunk of a dask-backed DataArray along ``dim``."""
    return max(array.chunks[array.dims.index(dim)])


def write_netcdf(cube: Any, path: Path, options: dict, dask: Any, integral: bool) -> Storage:
    storage = _storage(cube, dask, integral)
    dataset = cf_dataset(cube, storage)
    dask.compute(dataset.to_netcdf(path, engine="netcdf4", compute=False))
    return storage


def write_zarr(cube: Any, path: Path, options: dict, dask: Any, integral: bool) -> Storage:
    """Zarr's chunks are the cube's y/x chunks made regular (Zarr needs equal chunks but
    the last), whole along the other dimensions."""
    storage = _storage(cube, dask, integral)
    dataset = cf_dataset(cube, storage, split_bands=False)
    data = dataset[VALUES]
    sides = {d: _largest_chunk(data, d) for d in ("y", "x") if d in data.dims}
    dataset = dataset.chunk({d: sides.get(d, -1) for d in data.dims})
    store = dataset.to_zarr(path, mode="w-", consolidated=False, compute=False)
    dask.compute(store)  # created, never overwritten (see writers.write_zarr)
    return storage


CHUNKED = {"gtiff": write_gtiff, "netcdf": write_netcdf, "zarr": write_zarr}
