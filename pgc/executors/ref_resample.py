"""Spatial resampling: resample_spatial and resample_cube_spatial, with GDAL's warper
(rasterio.warp.reproject), whose method names are the ones the definitions use.

Each 2-D (y, x) slice is warped separately. No-data pixels are left out of every method
(they are GDAL's source no-data); a target pixel no source pixel contributes to is no-data.
NaN values take part as no-data, since GDAL has no separate notion of them. The selecting
methods (near, mode, min, max, med, q1, q3) keep the dtype; the others give float64, as
the type rules say. The output grid of a resolution change is the type rules' grid:
``round(extent / resolution)`` pixels, anchored at ``align`` (default upper-left).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .ref_scalar import FLOAT
from .reference import Call, implements
from .values import Cube

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
_SAME = "EPSG:3857"  # stands in for a cube without a CRS when only the resolution changes


class Grid:
    """A north-up grid: its CRS, pixel-centre coordinates and affine transform."""

    def __init__(self, crs: str | None, x: np.ndarray, y: np.ndarray):
        from rasterio.transform import from_origin

        self.crs, self.x, self.y = crs, np.asarray(x, FLOAT), np.asarray(y, FLOAT)
        self.dx = float(self.x[1] - self.x[0]) if len(self.x) > 1 else 1.0
        self.dy = float(self.y[0] - self.y[1]) if len(self.y) > 1 else self.dx
        self.transform = from_origin(
            self.x[0] - self.dx / 2, self.y[0] + self.dy / 2, self.dx, self.dy
        )

    @classmethod
    def of(cls, cube: Cube) -> Grid:
        crs = cube.data.attrs.get("crs")
        return cls(crs, cube.data.x.values, cube.data.y.values)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        xs = (self.x[0] - self.dx / 2, self.x[-1] + self.dx / 2)
        ys = (self.y[-1] - self.dy / 2, self.y[0] + self.dy / 2)
        return min(xs), min(ys), max(xs), max(ys)


def _epsg(crs: Any) -> str | None:
    return None if crs is None else "EPSG:" + str(crs).replace("EPSG:", "")


def warp(cube: Cube, source: Grid, target: Grid, method: str) -> Cube:
    """``cube`` on ``target``'s grid."""
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    src_crs = _epsg(source.crs) or _SAME
    dst_crs = _epsg(target.crs) or src_crs
    others = [d for d in cube.dims if d not in ("x", "y")]
    data = cube.data.transpose(*others, "y", "x")
    valid = cube.full_valid().transpose(*others, "y", "x")
    values = np.where(valid.values, data.values.astype(FLOAT), np.nan)
    flat = values.reshape(-1, *values.shape[-2:])
    out = np.full((flat.shape[0], len(target.y), len(target.x)), np.nan)
    for i in range(flat.shape[0]):
        reproject(
            flat[i],
            out[i],
            src_transform=source.transform,
            src_crs=src_crs,
            dst_transform=target.transform,
            dst_crs=dst_crs,
            src_nodata=np.nan,
            dst_nodata=np.nan,
            resampling=Resampling[METHODS[method]],
        )
    out = out.reshape(*values.shape[:-2], len(target.y), len(target.x))
    ok = ~np.isnan(out)
    dtype = cube.data.dtype if method in SELECTING else np.dtype(FLOAT)
    result = np.where(ok, out, 0).astype(dtype)
    coords = {d: cube.data[d].values for d in others} | {"y": target.y, "x": target.x}
    dims = [*others, "y", "x"]
    new = xr.DataArray(result, dims=dims, coords=coords, attrs=dict(cube.data.attrs))
    if target.crs is not None:
        new.attrs["crs"] = str(target.crs).replace("EPSG:", "")
    ok = xr.DataArray(ok, dims=dims, coords=coords)
    return Cube(new.transpose(*cube.dims), ok.transpose(*cube.dims))


def _method(call: Call) -> str:
    method = call.get("method", "near")
    if method not in METHODS:
        call.fail("ProcessParameterInvalid", f"Unknown resampling method '{method}'.", "method")
    return method


@implements("resample_spatial")
def _resample_spatial(call: Call) -> Cube:
    cube = call.get("data")
    source = Grid.of(cube)
    resolution = call.get("resolution", 0)
    rx, ry = resolution if isinstance(resolution, list) else (resolution, resolution)
    rx, ry = abs(rx or source.dx), abs(ry or source.dy)
    projection = call.get("projection")
    crs = source.crs
    if projection is not None and str(projection).replace("EPSG:", "") != str(crs):
        return warp(cube, source, _reprojected(call, source, projection, rx, ry), _method(call))
    if (rx, ry) == (source.dx, source.dy):
        return cube
    align = call.get("align", "upper-left") or "upper-left"
    west, south, east, north = source.bounds
    nx, ny = max(1, round((east - west) / rx)), max(1, round((north - south) / ry))
    left = west if "left" in align else east - nx * rx
    top = north if "upper" in align else south + ny * ry
    target = Grid(crs, left + rx * (np.arange(nx) + 0.5), top - ry * (np.arange(ny) + 0.5))
    return warp(cube, source, target, _method(call))


def _reprojected(call: Call, source: Grid, projection: Any, rx: float, ry: float) -> Grid:
    from rasterio.errors import CRSError
    from rasterio.warp import calculate_default_transform

    if source.crs is None:
        call.fail("ProcessParameterInvalid", "The data cube has no CRS to reproject from.")
    resolution = call.get("resolution", 0)
    try:
        transform, width, height = calculate_default_transform(
            _epsg(source.crs),
            _epsg(projection),
            len(source.x),
            len(source.y),
            *source.bounds,
            resolution=(rx, ry) if resolution not in (0, None, [0, 0]) else None,
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
    """The target cube's x/y grid and CRS."""
    cube, target = call.get("data"), call.get("target")
    return warp(cube, Grid.of(cube), Grid.of(target), _method(call))
