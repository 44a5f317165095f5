"""Reference implementations with geometries: filter_spatial and aggregate_spatial.

GeoJSON is in WGS84 (RFC 7946); geometries are transformed to the cube's CRS and
rasterized with the pixel-centre rule (rasterio), as the definitions say: a polygon keeps a
pixel when the pixel's centre lies inside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .ref_scalar import FLOAT, _as_float
from .reference import Call, ProcessError, implements
from .values import Cube, CubeArray


def _geometries(geojson: Any) -> list[dict]:
    if not isinstance(geojson, dict):
        raise ProcessError("ProcessParameterInvalid", "Expected GeoJSON geometries.", "geometries")
    kind = geojson.get("type")
    if kind == "FeatureCollection":
        return [f["geometry"] for f in geojson.get("features", []) if f.get("geometry")]
    if kind == "Feature":
        return [geojson["geometry"]]
    if kind == "GeometryCollection":
        return list(geojson.get("geometries", []))
    return [geojson]


def _in_cube_crs(cube: Cube, geometries: list[dict]) -> list[dict]:
    from rasterio.warp import transform_geom

    crs = cube.data.attrs.get("crs")
    if crs is None:
        return geometries
    return [transform_geom("EPSG:4326", f"EPSG:{crs}", g) for g in geometries]


def _masks(cube: Cube, geometries: list[dict]) -> list[np.ndarray]:
    """For each geometry, a boolean [y, x] array: pixel centre inside."""
    from rasterio.features import geometry_mask
    from rasterio.transform import from_origin

    x, y = cube.data.x.values, cube.data.y.values
    step_x = float(x[1] - x[0]) if len(x) > 1 else 1.0
    step_y = float(y[0] - y[1]) if len(y) > 1 else step_x
    transform = from_origin(x[0] - step_x / 2, y[0] + step_y / 2, step_x, step_y)
    return [
        geometry_mask([g], out_shape=(len(y), len(x)), transform=transform, invert=True)
        for g in geometries
    ]


@implements("filter_spatial")
def _filter_spatial(call: Call) -> Cube:
    cube = call.get("data")
    geoms = _in_cube_crs(cube, _geometries(call.get("geometries")))
    inside = np.any(_masks(cube, geoms), axis=0)
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size == 0:
        call.fail("NoDataAvailable", "No pixel centre lies inside the geometries.", "geometries")
    window = {"y": slice(rows[0], rows[-1] + 1), "x": slice(cols[0], cols[-1] + 1)}
    keep = xr.DataArray(inside[window["y"], window["x"]], dims=("y", "x"))
    data, valid = cube.data.isel(window), cube.valid.isel(window)
    return Cube(data.where(keep, 0).astype(data.dtype), (valid & keep).transpose(*valid.dims))


@implements("aggregate_spatial")
def _aggregate_spatial(call: Call) -> Cube:
    cube = call.get("data")
    geoms = _in_cube_crs(cube, _geometries(call.get("geometries")))
    reducer = call.callback("reducer")
    target = call.get("target_dimension")
    others = [d for d in cube.dims if d not in ("x", "y")]
    parts = []
    for mask in _masks(cube, geoms):
        rows, cols = np.nonzero(mask)
        pick = {"y": xr.DataArray(rows, dims="pixel"), "x": xr.DataArray(cols, dims="pixel")}
        data = _as_float(cube.data).isel(pick)
        valid = xr.broadcast(cube.valid, cube.data)[0].isel(pick)
        if rows.size == 0:  # no pixel centre in the geometry: no-data
            template = cube.data.isel(x=0, y=0, drop=True)
            parts.append(
                Cube(xr.zeros_like(template, dtype=FLOAT), xr.zeros_like(template, dtype=bool))
            )
            continue
        sub = Cube(
            data.drop_vars(["x", "y"], errors="ignore"),
            valid.drop_vars(["x", "y"], errors="ignore"),
        )
        result = reducer(data=CubeArray(sub, "pixel"), context=call.get("context"))
        if not isinstance(result, Cube):
            template = cube.data.isel(x=0, y=0, drop=True)
            ok = result is not None
            result = Cube(
                xr.full_like(template, result if ok else 0, dtype=FLOAT),
                xr.full_like(template, ok, dtype=bool),
            )
        parts.append(result)
    name = "geometry"
    labels = list(range(len(parts)))
    data = xr.concat([p.data for p in parts], dim=name).assign_coords({name: labels})
    valid = xr.concat([xr.broadcast(p.valid, p.data)[0] for p in parts], dim=name)
    valid = valid.assign_coords({name: labels})
    order = [*others, name]
    out = Cube(data.transpose(*order), valid.transpose(*order))
    if target is not None:
        out = Cube(out.data.expand_dims({target: [0]}), out.valid.expand_dims({target: [0]}))
    out.data.attrs.update(cube.data.attrs)
    return out
