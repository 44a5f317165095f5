"""load_url: a file the embedding application's resolver maps to a local path (pgc does no
network I/O itself, as for load_stac).

Formats (case-insensitive GDAL/OGR short names): ``GTiff`` / ``GeoTIFF`` / ``COG``, read
with rasterio as a cube (bands, y, x) whose band labels are the bands' descriptions or
``1``..``n`` and whose no-data is the file's; ``netCDF``, read with xarray, each data
variable a band (dimensions ``time``/``lat``/``lon`` named ``t``/``y``/``x``; NaN and the
variables' ``_FillValue`` are no-data); ``GeoJSON``, a vector cube as load_geojson gives
it. Anything else is ``FormatUnsuitable``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr

from .reference import Call, implements
from .values import Cube

RASTER = {"gtiff", "geotiff", "cog"}
NAMES = {"time": "t", "lat": "y", "latitude": "y", "lon": "x", "longitude": "x"}


@implements("load_url")
def _load_url(call: Call) -> Cube:
    url, fmt = str(call.get("url")), str(call.get("format", "")).lower()
    path = call.resolve(url, "url")
    try:
        if fmt in RASTER:
            return _geotiff(path)
        if fmt == "netcdf":
            return _netcdf(path)
        if fmt == "geojson":
            from .ref_vector import geojson_cube

            with open(path, encoding="utf-8") as file:
                return geojson_cube(json.load(file), [])
    except (OSError, ValueError, KeyError) as exc:
        call.fail("FormatUnsuitable", f"{url} cannot be read as {fmt}: {exc}", "format")
    call.fail("FormatUnsuitable", f"pgc reads GTiff, netCDF and GeoJSON, not '{fmt}'.", "format")


def _geotiff(path: Any) -> Cube:
    import rasterio

    with rasterio.open(path) as src:
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


def _netcdf(path: Any) -> Cube:
    with xr.open_dataset(path) as dataset:  # mask_and_scale: _FillValue becomes NaN
        dataset = dataset.rename({k: v for k, v in NAMES.items() if k in dataset.dims})
        data = dataset.to_array("bands").load().drop_encoding()  # the file's, not the cube's
    order = [d for d in ("t", "bands", "y", "x") if d in data.dims]
    data = data.transpose(*order, ...)
    valid = ~np.isnan(data) if data.dtype.kind == "f" else xr.ones_like(data, dtype=bool)
    return Cube(data.where(valid, 0), valid)
