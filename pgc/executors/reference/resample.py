"""Spatial resampling: resample_spatial and resample_cube_spatial, with GDAL's warper
(rasterio.warp.reproject), whose method names are the ones the definitions use.

Each 2-D (y, x) slice is warped separately. No-data pixels are left out of every method
(they are GDAL's source no-data); a target pixel no source pixel contributes to is no-data.
NaN values take part as no-data, since GDAL has no separate notion of them. The selecting
methods (near, mode, min, max, med, q1, q3) keep the dtype; the others give float64, as
the type rules say. The output grid of a resolution change is the type rules' grid:
``ceil(extent / resolution)`` pixels on each axis, anchored at ``align`` (default
upper-left), so it covers the cube's extent (:func:`pgc.grid.resampled_size` gives the
rule and why).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from ...dtypes import compute_dtype
from ...grid import resampled_size
from ..values import Cube
from .loop import Call
from .scalar import FLOAT
from .table import implements

SELECTING = {"near", "mode", "min", "max", "med", "q1", "q3"}
METHODS = {
    "near": "nearest",
    "bilinear": "bilinear",
    "cubic": "cubic",
    "cubicspline": "cubic_spline",
    "lanczos": "lanczos",
    "average": "average",
    "mode": "mode",
    "max": "max",
    "min": "min",
    "med": "med",
    "q1": "q1",
    "q3": "q3",
    "sum": "sum",
    "rms": "rms",
}
# A plane without a projection: the CRS of a warp within one CRS (a cube without one, or
# only the resolution changing), so GDAL maps pixels by their affine transforms alone and
# does not project them (a UTM grid near its zone's false origin would fail to)
_SAME = 'LOCAL_CS["pgc plane",UNIT["metre",1]]'


# The methods the definitions compute "of all valid pixels" (is_valid: not no-data, not
# NaN, not an infinity); the others leave out no-data (and NaN, which GDAL cannot tell apart)
VALID_ONLY = {"average", "max", "med", "min", "q1", "q3", "rms", "sum"}


class Grid:
    """A north-up grid: its CRS, pixel-centre coordinates and affine transform, and the
    names of the dimensions they are the labels of (x and y by default)."""

    def __init__(
        self, crs: str | None, x: np.ndarray, y: np.ndarray, names: tuple[str, str] = ("x", "y")
    ):
        from rasterio.transform import from_origin

        self.crs, self.x, self.y = crs, np.asarray(x, FLOAT), np.asarray(y, FLOAT)
        self.names = names
        self.dx = float(self.x[1] - self.x[0]) if len(self.x) > 1 else None
        self.dy = float(self.y[0] - self.y[1]) if len(self.y) > 1 else None
        size = abs(self.dx or self.dy or 1.0)  # one label: square pixels
        self.dx, self.dy = self.dx or size, self.dy or size
        self.transform = None
        if len(self.x) and len(self.y):
            self.transform = from_origin(
                self.x[0] - self.dx / 2, self.y[0] + self.dy / 2, self.dx, self.dy
            )

    @classmethod
    def of(cls, cube: Cube, argument: str = "data") -> Grid:
        """The grid of a raster cube's x and y dimensions (ProcessParameterInvalid when it
        has not both)."""
        from .vector import planar

        x, y = planar(cube, argument)
        return cls(cube.data.attrs.get("crs"), cube.data[x].values, cube.data[y].values, (x, y))

    @property
    def empty(self) -> bool:
        return not (len(self.x) and len(self.y))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        xs = (self.x[0] - self.dx / 2, self.x[-1] + self.dx / 2)
        ys = (self.y[-1] - self.dy / 2, self.y[0] + self.dy / 2)
        return min(xs), min(ys), max(xs), max(ys)


def _epsg(crs: Any) -> str | None:
    if crs is None:
        return None
    text = str(crs).replace("EPSG:", "")
    return "EPSG:" + text if text.isdigit() else text  # WKT2 as it is


# slices warped on threads at once: at most this many, for slices of this many pixels
# or more (smaller ones take less time to warp than a thread takes to start)
MAX_THREADS = 8
THREADED_PIXELS = 2**16


def warp(cube: Cube, source: Grid, target: Grid, method: str) -> Cube:
    """``cube`` on ``target``'s grid (its x and y keep their names). ``near`` moves the
    values themselves (NaN, infinities and the dtype kept); the other methods compute with
    GDAL, leaving out no-data and NaN, and the infinities too where the definition says
    "of all valid pixels"."""
    x, y = source.names
    others = [d for d in cube.dims if d not in (x, y)]
    data = cube.data.transpose(*others, y, x)
    valid = cube.full_valid().transpose(*others, y, x)
    shape = (*data.shape[:-2], len(target.y), len(target.x))
    if source.empty or target.empty:
        values, ok = np.zeros(shape, dtype=_dtype(cube, method)), np.zeros(shape, dtype=bool)
    elif method == "near":
        values, ok = _nearest(data.values, valid.values, source, target)
    else:
        values, ok = _gdal(data.values, valid.values, source, target, method)
    coords = {d: cube.data[d].values for d in others} | {y: target.y, x: target.x}
    dims = [*others, y, x]
    new = xr.DataArray(values, dims=dims, coords=coords, attrs=dict(cube.data.attrs))
    if target.crs is not None:
        new.attrs["crs"] = str(target.crs).replace("EPSG:", "")
    if ok is None:  # every target pixel has data: one true, not a mask
        return Cube(new.transpose(*cube.dims), xr.DataArray(True))
    ok = xr.DataArray(ok, dims=dims, coords=coords)
    return Cube(new.transpose(*cube.dims), ok.transpose(*cube.dims))


def _dtype(cube: Cube, method: str) -> np.dtype:
    """Selecting methods keep the dtype; the others compute, in the compute dtype (as the
    type rules say)."""
    return cube.data.dtype if method in SELECTING else np.dtype(compute_dtype())


def _reproject(source_values: np.ndarray, source: Grid, target: Grid, method: str,
               nodata: float, threads: int = 1) -> np.ndarray:  # fmt: skip
    """One [y, x] slice warped (``nodata`` where no source pixel contributes), by GDAL on
    ``threads`` threads (each computes its own part of the output: the same values)."""
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    src_crs, dst_crs = _epsg(source.crs), _epsg(target.crs)
    src_transform, dst_transform = source.transform, target.transform
    if src_crs is None or dst_crs is None or src_crs == dst_crs:
        src_crs = dst_crs = _SAME
        src_transform, dst_transform = _off_origin(src_transform, dst_transform)
    out = np.full((len(target.y), len(target.x)), nodata, dtype=FLOAT)
    reproject(
        source_values, out, src_transform=src_transform, src_crs=src_crs,
        dst_transform=dst_transform, dst_crs=dst_crs, src_nodata=nodata,
        dst_nodata=nodata, resampling=Resampling[METHODS[method]], num_threads=threads,
    )  # fmt: skip
    return out


def _off_origin(*transforms: Any) -> list:
    """Transforms within one plane moved together, whole units at a time, until none is
    1-metre pixels at the origin (GDAL takes that one for "no georeferencing" and warps
    nothing: a grid of 1 m pixels with its corner at 0, 0 came out all no-data)."""
    from affine import Affine

    plain = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
    moved = list(transforms)
    while any(t.almost_equals(plain) or t.is_identity for t in moved):
        moved = [Affine.translation(1.0, 1.0) @ t for t in moved]
    return moved


def _nearest(values: np.ndarray, valid: np.ndarray, source: Grid, target: Grid):
    """Nearest neighbour as GDAL picks it, by warping the source pixels' positions (exact
    in float64), then taking those pixels' values and validity."""
    positions = np.arange(values.shape[-2] * values.shape[-1], dtype=FLOAT)
    picked = _reproject(positions.reshape(values.shape[-2:]), source, target, "near", -1.0)
    found = picked >= 0
    index = np.where(found, picked, 0).astype(np.int64)
    flat_values = values.reshape(*values.shape[:-2], -1)
    flat_valid = valid.reshape(*valid.shape[:-2], -1)
    return flat_values[..., index], flat_valid[..., index] & found


def _gdal(values: np.ndarray, valid: np.ndarray, source: Grid, target: Grid, method: str):
    """The other methods, slice by slice, no-data (and NaN) as GDAL's source no-data, or as
    statistics of whole blocks where the grids allow (:func:`aligned_factors`); the
    validity None when every target pixel has data. Each
    slice is converted to float64 on its own (a copy of the whole cube in float64 was
    twice the input in memory), and slices are warped on several threads at once: GDAL
    releases the GIL while it warps, and the results are the same as one after the other
    (resample to 20 m of 48 slices of 2048 x 2048 px: 8.3 s and 4.0 GB peak before)."""
    leading = values.shape[:-2]
    out = np.empty((*leading, len(target.y), len(target.x)), dtype=FLOAT)

    indices = list(np.ndindex(leading))
    large = values.shape[-2] * values.shape[-1] >= THREADED_PIXELS
    workers = min(_threads(), len(indices)) if large else 1
    # one slice alone (a composite reprojected for export) is warped on GDAL's own threads
    inner = _threads() if large and workers == 1 else 1
    factors = aligned_factors(source, target) if method in BLOCK_METHODS else None

    ok = np.empty(out.shape, bool)  # (its pages are touched only by slices with no-data)
    missing = dict.fromkeys(indices, False)

    def one(index: tuple) -> None:
        plane, slice_ok, result = values[index], valid[index], out[index]
        if factors is not None:
            block_statistic(plane, slice_ok, factors, method, result)
        else:
            usable = usable_pixels(plane, slice_ok, method)
            source_values = np.where(usable, plane.astype(FLOAT, copy=False), np.nan)
            result[...] = _reproject(source_values, source, target, method, np.nan, inner)
        empty = np.isnan(result)
        if empty.any():  # the slice's no-data pixels: zero, and not valid
            np.copyto(result, 0.0, where=empty)
            np.logical_not(empty, out=ok[index])
            missing[index] = True

    if workers > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers, thread_name_prefix="pgc-warp") as pool:
            list(pool.map(one, indices))  # (list: a slice's exception is raised here)
    else:
        for index in indices:
            one(index)
    dtype = values.dtype if method in SELECTING else np.dtype(compute_dtype())
    if not any(missing.values()):
        return out.astype(dtype, copy=False), None
    for index in indices:
        if not missing[index]:
            ok[index] = True
    return out.astype(dtype, copy=False), ok


# The methods computed without GDAL where each target pixel is a whole block of source
# pixels (:func:`aligned_factors`): a statistic of the block's valid pixels
BLOCK_METHODS = {"average", "max", "min", "rms", "sum"}
# how far from whole numbers (in source pixels) the grids' ratio and offsets may be
_ALIGNED = 1e-9


def aligned_factors(source: Grid, target: Grid) -> tuple[int, int] | None:
    """``(ky, kx)`` when every target pixel covers exactly ``ky`` x ``kx`` whole source
    pixels and the target covers exactly the source: one plane (no reprojection), both
    grids north-up with x increasing, the same outer edges, and each size a whole
    multiple of the target's. Then the block methods are statistics of the blocks
    (:func:`block_statistic`); else None (GDAL warps).

    GDAL computes each source pixel's weight from the footprint, in floating point: on an
    aligned grid the weights are 1 up to rounding, so its values are the blocks' up to
    rounding (the differential tests), and its warp took 16 s of the 22 s run of 48 slices
    of 4096 x 4096 px resampled to 20 m (issue 23). It differs where its weights are off by more
    than rounding: on pixels a ten-thousandth of their coordinates, and for ``sum`` of a
    block without valid pixels (about 1e-12, not no-data): the definitions' statistic of
    the valid pixels is the blocks'."""
    same_plane = source.crs is None or target.crs is None or source.crs == target.crs
    if not same_plane or source.empty or target.empty:
        return None
    factors = []
    axes = ((target.dy, source.dy, len(source.y), len(target.y)),
            (target.dx, source.dx, len(source.x), len(target.x)))  # fmt: skip
    for ours, theirs, size, count in axes:
        if ours <= 0 or theirs <= 0:
            return None
        k = round(ours / theirs)
        if k < 1 or abs(ours / theirs - k) > _ALIGNED * k or size != k * count:
            return None
        factors.append(k)
    step = min(source.dx, source.dy)
    for a, b in zip(source.bounds, target.bounds, strict=True):  # (rounding allowed)
        if abs(a - b) > _ALIGNED * step + 4 * np.spacing(abs(a)):
            return None
    return factors[0], factors[1]


def usable_pixels(plane: np.ndarray, ok: np.ndarray, method: str) -> np.ndarray:
    """The pixels of a slice that take part in ``method``: those with data, and finite
    (:data:`VALID_ONLY`) or not NaN. Integers are all finite: ``ok`` as it is."""
    if plane.dtype.kind in "iub":
        return ok
    return ok & (np.isfinite(plane) if method in VALID_ONLY else ~np.isnan(plane))


def block_statistic(plane: np.ndarray, ok: np.ndarray, factors: tuple[int, int],
                    method: str, out: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """``method`` of the usable pixels (:func:`usable_pixels`) of each ``ky`` x ``kx``
    block of a [y, x] ``plane`` (sizes whole multiples of the factors), in float64 (into
    ``out`` when given), NaN where a block has none. Sums run down each block's rows,
    then along its columns. Computed in strips of :data:`STRIP_PIXELS` source pixels, so that the
    temporaries stay in the cache and in memory already touched: a 4096 x 4096 slice
    converted whole allocated 128 MB of fresh pages each time."""
    ky, kx = factors
    ny, nx = plane.shape[0] // ky, plane.shape[1] // kx
    out = np.empty((ny, nx), FLOAT) if out is None else out
    rows = max(1, STRIP_PIXELS // max(1, plane.shape[1] * ky))
    for top in range(0, ny, rows):
        strip = slice(top * ky, min(ny, top + rows) * ky)
        _block_strip(plane[strip], usable_pixels(plane[strip], ok[strip], method), ky, kx,
                     method, out[top:top + rows])  # fmt: skip
    return out


# source pixels of a strip of :func:`block_statistic`: its float64 copy is 512 KiB
STRIP_PIXELS = 2**16


def _block_strip(plane: np.ndarray, usable: np.ndarray, ky: int, kx: int, method: str,
                 out: np.ndarray) -> None:  # fmt: skip
    every = bool(usable.all())
    values = plane.astype(FLOAT)
    if method in ("min", "max"):
        if not every:
            np.copyto(values, np.nan, where=~usable)
        # (fmin and fmax give NaN only where both are)
        _fold_blocks(np.fmin if method == "min" else np.fmax, values, ky, kx, out)
        return
    if not every:
        np.copyto(values, 0.0, where=~usable)
    if method == "rms":
        np.multiply(values, values, out=values)
    _fold_blocks(np.add, values, ky, kx, out)
    if method == "sum" and every:
        return
    if every:
        count: Any = ky * kx
    else:
        kind = np.uint8 if ky * kx <= np.iinfo(np.uint8).max else np.int64
        count = np.empty(out.shape, kind)
        _fold_blocks(np.add, usable.astype(kind), ky, kx, count)
    with np.errstate(all="ignore"):
        if method != "sum":
            np.divide(out, count, out=out)
        if method == "rms":
            np.sqrt(out, out=out)
    if not every:
        out[count == 0] = np.nan


def _fold_blocks(ufunc: np.ufunc, values: np.ndarray, ky: int, kx: int,
                 out: np.ndarray) -> None:  # fmt: skip
    """``ufunc`` folded over each ``ky`` x ``kx`` block: down its rows (whole rows of
    ``values`` at a time), then along its columns (strided views), into ``out``. numpy's
    reductions over an axis of two were 3x slower than these element-wise calls."""
    rows = values[0::ky].copy() if ky > 1 else values
    for i in range(1, ky):
        ufunc(rows, values[i::ky], out=rows)
    if kx == 1:
        np.copyto(out, rows)
        return
    ufunc(rows[:, 0::kx], rows[:, 1::kx], out=out)
    for j in range(2, kx):
        ufunc(out, rows[:, j::kx], out=out)


def _threads() -> int:
    """The threads warping may use: the machine's cores, at most :data:`MAX_THREADS`."""
    return min(os.cpu_count() or 1, MAX_THREADS)


def _method(call: Call) -> str:
    method = call.get("method", "near")
    if method not in METHODS:
        call.fail("ProcessParameterInvalid", f"Unknown resampling method '{method}'.", "method")
    return method


@implements("resample_spatial")
def _resample_spatial(call: Call) -> Cube:
    """x and y on a grid of ``resolution`` (0: the cube's) anchored at ``align``'s corner of
    the cube's extent, or warped to ``projection``; a cube without pixels stays so."""
    cube = call.get("data")
    source, method = Grid.of(cube), _method(call)
    resolution = call.get("resolution", 0)
    rx, ry = resolution if isinstance(resolution, list) else (resolution, resolution)
    rx, ry = abs(rx or source.dx), abs(ry or source.dy)
    projection = call.get("projection")
    crs = source.crs
    if projection is not None and str(projection).replace("EPSG:", "") != str(crs):
        if source.empty:
            return _with_crs(cube, projection)
        return warp(cube, source, _reprojected(call, source, projection, rx, ry), method)
    if (rx, ry) == (abs(source.dx), abs(source.dy)) or source.empty:
        return cube
    align = call.get("align", "upper-left") or "upper-left"
    west, south, east, north = source.bounds
    nx, ny = resampled_size(east - west, rx), resampled_size(north - south, ry)
    left = west if "left" in align else east - nx * rx
    top = north if "upper" in align else south + ny * ry
    x, y = left + rx * (np.arange(nx) + 0.5), top - ry * (np.arange(ny) + 0.5)
    return warp(cube, source, Grid(crs, x, y, source.names), method)


def _with_crs(cube: Cube, projection: Any) -> Cube:
    data = cube.data.copy(deep=False)
    data.attrs = {**cube.data.attrs, "crs": str(projection).replace("EPSG:", "")}
    return Cube(data, cube.valid)


def _reprojected(call: Call, source: Grid, projection: Any, rx: float, ry: float) -> Grid:
    from rasterio.errors import CRSError

    from ...grid import reprojected_grid

    if source.crs is None:
        call.fail("ProcessParameterInvalid", "The data cube has no CRS to reproject from.")
    resolution = call.get("resolution", 0)
    try:
        transform, width, height = reprojected_grid(
            _epsg(source.crs),
            _epsg(projection),
            len(source.x),
            len(source.y),
            source.bounds,
            (rx, ry) if resolution not in (0, None, [0, 0]) else None,
        )
    except (CRSError, ValueError):  # an EPSG code GDAL does not know, or not a CRS at all
        call.fail(
            "ProcessParameterInvalid",
            "Unknown projection: give an EPSG code (32631) or WKT2 text.",
            "projection",
        )
    x = transform.c + transform.a * (np.arange(width) + 0.5)
    y = transform.f + transform.e * (np.arange(height) + 0.5)
    return Grid(str(projection).replace("EPSG:", ""), x, y)


@implements("resample_cube_spatial")
def _resample_cube_spatial(call: Call) -> Cube:
    """The target cube's x/y grid and CRS (data's dimensions keep their names)."""
    cube, target = call.get("data"), call.get("target")
    return warp(cube, Grid.of(cube), Grid.of(target, "target"), _method(call))
