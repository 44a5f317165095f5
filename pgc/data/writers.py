"""Writing results: GeoTIFF (rasterio, with CRS and transform), netCDF and Zarr (xarray),
JSON and CSV. Cubes of the dask executor are written chunk by chunk where the format allows
(:mod:`pgc.data.chunked_writing`).

>>> sorted(WRITERS)
['csv', 'gtiff', 'json', 'netcdf', 'zarr']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def spatial_stack(cube) -> tuple[Any, list[str]]:
    """Values as [band, y, x] float64 (NaN = no data, lazy for a chunked cube) and the band
    names: the labels of the dimensions other than y and x."""
    data = cube.filled()
    other = [d for d in data.dims if d not in ("y", "x")]
    if not {"y", "x"} <= set(data.dims):
        raise ValueError("GeoTIFF needs a cube with x and y dimensions")
    stacked = data.transpose(*other, "y", "x")
    if not other:
        return stacked.expand_dims(band=1), ["1"]
    stacked = stacked.stack(band=other).transpose("band", "y", "x")
    names = [
        "/".join(str(v)[:19] for v in (idx if isinstance(idx, tuple) else (idx,)))
        for idx in stacked["band"].values
    ]
    return stacked, names


def gtiff_profile(cube, count: int, options: dict) -> dict:
    """The GeoTIFF's profile: float64 with NaN as no-data, the cube's grid and CRS."""
    from rasterio.transform import from_origin

    x, y = cube.data.x.values, cube.data.y.values
    step_x = float(x[1] - x[0]) if len(x) > 1 else float(options.get("resolution", 10))
    step_y = float(y[0] - y[1]) if len(y) > 1 else step_x
    transform = from_origin(float(x[0]) - step_x / 2, float(y[0]) + step_y / 2, step_x, step_y)
    crs = cube.data.attrs.get("crs")
    return {
        "driver": "GTiff",
        "height": len(y),
        "width": len(x),
        "count": count,
        "dtype": "float64",
        "nodata": np.nan,
        "transform": transform,
        "crs": f"EPSG:{crs}" if crs else None,
        "compress": "deflate",
        "tiled": len(x) >= 256 and len(y) >= 256,
    }


def write_gtiff(cube, path: Path, options: dict) -> None:
    import rasterio

    stacked, names = spatial_stack(cube)
    with rasterio.open(path, "w", **gtiff_profile(cube, len(names), options)) as dst:
        dst.write(stacked.values)
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)


def values_for_files(cube):
    """The values as netCDF and Zarr store them: float64, NaN for no data, attributes as
    text. Encodings inherited from a file the values were read from are dropped: xarray
    would apply them, writing labels that have grown since ('r10') in the old width ('r1')."""
    data = cube.filled().rename("values").drop_encoding()
    data.attrs = {k: str(v) for k, v in cube.data.attrs.items() if v is not None}
    return data


def write_netcdf(cube, path: Path, options: dict) -> None:
    values_for_files(cube).to_netcdf(path, engine="netcdf4")


def write_zarr(cube, path: Path, options: dict) -> None:
    """A Zarr store (a folder) with the variable ``values``. Created, never overwritten
    (``mode="w-"``: a folder holding anything fails; the caller removes a store it may
    replace, :func:`pgc.data.safepaths.fresh_target`)."""
    values_for_files(cube).to_dataset().to_zarr(path, mode="w-", consolidated=False)


def write_json(cube, path: Path, options: dict) -> None:
    """Dimensions, labels and values; no-data and non-finite numbers are written as null
    (JSON has no NaN)."""
    if hasattr(cube, "to_python"):
        data = cube.data
        out = {
            "dims": list(data.dims),
            "coords": {
                d: [
                    str(v) if not isinstance(v, int | float) else v for v in data[d].values.tolist()
                ]
                for d in data.dims
            },
            "values": cube.to_python(),
        }
    else:
        out = cube
    path.write_text(json.dumps(out, allow_nan=False, default=str) + "\n")


def write_csv(cube, path: Path, options: dict) -> None:
    """One row per value, one column per dimension plus ``value`` (empty: no data)."""
    import csv

    data = cube.data
    values = cube.filled().values.ravel()
    grids = np.meshgrid(*[data[d].values for d in data.dims], indexing="ij")
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow([*data.dims, "value"])
        for row in zip(*[g.ravel() for g in grids], values, strict=True):
            *labels, value = row
            out.writerow(
                [
                    *(str(v)[:19] for v in labels),
                    "" if not np.isfinite(value) else repr(float(value)),
                ]
            )


def _finite(values: Any) -> Any:
    if isinstance(values, list):
        return [_finite(v) for v in values]
    if isinstance(values, float) and not np.isfinite(values):
        return None
    return values


WRITERS = {
    "gtiff": write_gtiff,
    "netcdf": write_netcdf,
    "zarr": write_zarr,
    "json": write_json,
    "csv": write_csv,
}
ALIASES = {"geotiff": "gtiff", "tif": "gtiff", "tiff": "gtiff", "cog": "gtiff", "nc": "netcdf"}


def format_key(fmt: str) -> str:
    """The key of a format name in :data:`WRITERS` (case and aliases aside)."""
    return ALIASES.get(fmt.lower(), fmt.lower())


def writer_for(fmt: str):
    key = format_key(fmt)
    if key not in WRITERS:
        raise KeyError(fmt)
    return WRITERS[key]
