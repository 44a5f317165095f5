"""load_url: a file the embedding application's resolver maps to a local path (pgc does no
network I/O itself, as for load_stac).

Formats (case-insensitive GDAL/OGR short names): ``GTiff`` / ``GeoTIFF`` / ``COG``, read
with rasterio as a cube (bands, y, x) whose band labels are the bands' descriptions or
``1``..``n`` and whose no-data is the file's; ``netCDF``, read with xarray, each data
variable a band (dimensions ``time``/``lat``/``lon`` named ``t``/``y``/``x``; NaN and the
variables' ``_FillValue`` are no-data); ``GeoJSON``, a vector cube as load_geojson gives
it. Anything else is ``FormatUnsuitable``.

The resolver's path must lie in the run's read roots (:meth:`Call.resolve`); the file is
opened only through :mod:`pgc.data.access`: GeoTIFF with GDAL's GTiff driver alone (a VRT
named ``.tif`` is ``FormatUnsuitable``), no sidecars, no network; netCDF by local path
with the netCDF4 engine; GeoJSON of at most 64 MB (larger is ``ProcessParameterInvalid``).
Messages name the argument, never the local path.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from ...errors import echo
from ..values import Cube
from .loop import Call
from .table import implements

RASTER = {"gtiff", "geotiff", "cog"}
NAMES = {"time": "t", "lat": "y", "latitude": "y", "lon": "x", "longitude": "x"}


@implements("load_url")
def _load_url(call: Call) -> Cube:
    from ...data.access import FormatRefused, ReadRefused, sentence

    fmt = str(call.get("format", "")).lower()
    if fmt not in RASTER | {"netcdf", "geojson"}:
        call.fail(
            "FormatUnsuitable", f"pgc reads GTiff, netCDF and GeoJSON, not {echo(fmt)}.", "format"
        )
    path = call.resolve(str(call.get("url")), "url")
    access = call.read_access(path)
    what = "the file given as 'url'"
    try:
        if fmt in RASTER:
            return _geotiff(access, path, what)
        if fmt == "netcdf":
            return _netcdf(access, path, what)
        from .vector import geojson_cube

        return geojson_cube(json.loads(access.read_text(path, what)), [])
    except FormatRefused as refused:
        call.fail("FormatUnsuitable", f"{sentence(refused)[:-1]} (read as {fmt}).", "format")
    except ReadRefused as refused:  # outside, missing, too large
        call.fail("ProcessParameterInvalid", sentence(refused), "url")
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        # not the exception's message: it may name local paths
        call.fail("FormatUnsuitable", f"{what.capitalize()} cannot be read as {fmt} "
                  f"({type(exc).__name__}).", "format")  # fmt: skip


def _geotiff(access: Any, path: Any, what: str) -> Cube:
    with access.open_raster(path, what) as src:
        values = src.read()
        transform, nodata, crs = src.transform, src.nodata, src.crs
        labels = [d or str(i + 1) for i, d in enumerate(src.descriptions)]
    rows, cols = values.shape[1:]
    coords = {
        "bands": labels,
        "y": transform.f + transform.e * (np.arange(rows) + 0.5),
        "x": transform.c + transform.a * (np.arange(cols) + 0.5),
    }
    data = xr.DataArray(values, dims=["bands", "y", "x"], coords=coords)
    if crs is not None and crs.to_epsg() is not None:
        data.attrs["crs"] = str(crs.to_epsg())
    return Cube.from_nodata(data, nodata)


def _netcdf(access: Any, path: Any, what: str) -> Cube:
    with access.open_netcdf(path, what) as dataset:  # mask_and_scale: _FillValue becomes NaN
        dataset = dataset.rename({k: v for k, v in NAMES.items() if k in dataset.dims})
        data = dataset.to_array("bands").load().drop_encoding()  # the file's, not the cube's
    order = [d for d in ("t", "bands", "y", "x") if d in data.dims]
    data = data.transpose(*order, ...)
    valid = ~np.isnan(data) if data.dtype.kind == "f" else xr.ones_like(data, dtype=bool)
    return Cube(data.where(valid, 0), valid)
