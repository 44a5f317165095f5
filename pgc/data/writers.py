"""Writing results: GeoTIFF (rasterio, with CRS and transform), netCDF and Zarr (CF
conventions, :mod:`pgc.data.cf`), JSON, CSV and GeoJSON. Which formats exist and their
names are :mod:`pgc.formats`'s table; there is a writer for every format in it (a test
checks both ways). Cubes of the dask executor are written chunk by chunk where the format
allows (:mod:`pgc.executors.dask.writing`).

Raster values are stored in the narrowest dtype that holds them with a no-data value
(:mod:`pgc.data.storage`); every raster writer returns the :class:`Storage` it used.

>>> sorted(WRITERS) == sorted(OUTPUT_FORMATS)
True
>>> format_key("GeoTIFF"), format_key("nc")
('gtiff', 'netcdf')
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..formats import OUTPUT_FORMATS, format_for_suffix, output_format
from . import cube_file
from .cf import cf_dataset
from .georef import crs_of, transform_of
from .storage import Storage, storage_for, stored_values
from .vector_output import feature_collection, feature_table, json_features, label_text, plain

# a .json file may hold GeoJSON (it is JSON); other suffixes name one format
COMPATIBLE_SUFFIXES = {("json", "geojson")}


def spatial_stack(cube, storage: Storage | None = None) -> tuple[Any, list[str]]:
    """Values as [band, y, x] in ``storage``'s dtype with its no-data value (float64 and NaN
    when not given; lazy for a chunked cube) and the band names: the labels of the
    dimensions other than y and x."""
    if not {"y", "x"} <= set(cube.data.dims):
        raise ValueError("GeoTIFF needs a cube with x and y dimensions")
    data = stored_values(cube, storage) if storage else cube.filled()
    other = [d for d in data.dims if d not in ("y", "x")]
    stacked = data.transpose(*other, "y", "x")
    if not other:
        return stacked.expand_dims(band=1), ["1"]
    stacked = stacked.stack(band=other).transpose("band", "y", "x")
    names = [
        "/".join(label_text(v) for v in (idx if isinstance(idx, tuple) else (idx,)))
        for idx in stacked["band"].values
    ]
    return stacked, names


def gtiff_profile(cube, count: int, options: dict, storage: Storage | None = None) -> dict:
    """The GeoTIFF's profile: ``storage``'s dtype and no-data (float64 and NaN when not
    given), the cube's grid and CRS."""
    storage = storage or Storage("float64", np.nan)
    crs = crs_of(cube)
    return {
        "driver": "GTiff",
        "height": cube.data.sizes["y"],
        "width": cube.data.sizes["x"],
        "count": count,
        "dtype": storage.dtype,
        "nodata": storage.nodata,
        "transform": transform_of(cube, options),
        "crs": crs,
        "compress": "deflate",
        # deflate's fastest level: float values hardly compress at any level (EVI at 2048
        # px, 2 float64 bands: 62.7 MB at level 1 in 0.28 s, 62.8 MB at GDAL's default 6 in
        # 0.39 s, 67.1 MB uncompressed); any deflate reader reads it
        "zlevel": 1,
        # GDAL compresses the blocks on every core: the same file, byte for byte, in about
        # half the time here (2 cores; a 2048 px, 3-band float64 composite: 2.6 s -> 1.3 s)
        "num_threads": "ALL_CPUS",
        "tiled": cube.data.sizes["x"] >= 256 and cube.data.sizes["y"] >= 256,
    }


def write_gtiff(cube, path: Path, options: dict, integral: bool = False) -> Storage:
    import rasterio

    storage = storage_for(cube, integral)
    stacked, names = spatial_stack(cube, storage)
    with rasterio.open(path, "w", **gtiff_profile(cube, len(names), options, storage)) as dst:
        dst.write(stacked.values)
        for i, name in enumerate(names, start=1):
            dst.set_band_description(i, name)
    return storage


def write_netcdf(cube, path: Path, options: dict, integral: bool = False) -> Storage | None:
    """A CF netCDF file, one variable per band (:func:`pgc.data.cf.cf_dataset`); with the
    option ``pgc_exchange``, the exact form federation members pass values in
    (:mod:`pgc.data.cube_file`)."""
    if options.get(cube_file.OPTION) is True:
        cube_file.write(cube.data, cube.valid, path)
        return None
    storage = storage_for(cube, integral)
    cf_dataset(cube, storage).to_netcdf(path, engine="netcdf4")
    return storage


def write_zarr(cube, path: Path, options: dict, integral: bool = False) -> Storage:
    """A Zarr store (a folder) with the variable ``values`` (CF attributes as netCDF's).
    Created, never overwritten (``mode="w-"``: a folder holding anything fails; the caller
    removes a store it may replace, :func:`pgc.data.safepaths.fresh_target`)."""
    storage = storage_for(cube, integral)
    dataset = cf_dataset(cube, storage, split_bands=False)
    dataset.to_zarr(path, mode="w-", consolidated=False)
    return storage


def write_json(cube, path: Path, options: dict, integral: bool = False) -> None:
    """Dimensions, labels (dates as ISO 8601) and values; no-data and non-finite numbers
    as null (JSON has no NaN). A vector cube also gives its features (``features``:
    properties, ids, geometries, aligned with the geometry dimension's labels)."""
    if is_cube(cube):
        data = cube.data
        out = {
            "dims": list(data.dims),
            "coords": {d: [plain(v) for v in data[d].values] for d in data.dims},
            "values": _finite(cube.to_python()),
        }
        table = feature_table(cube)
        if table is not None:
            out["features"] = json_features(table)
    else:
        out = _finite(cube)
    path.write_text(json.dumps(out, allow_nan=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    """What JSON cannot hold as it is: numpy values as Python's, dates as ISO 8601, arrays
    as lists, anything else as text."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    value = plain(value)
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def write_csv(cube, path: Path, options: dict, integral: bool = False) -> None:
    """One row per value, one column per dimension (dates as ISO 8601), then the
    properties of a vector cube's features (the row's geometry's), then ``value`` (empty:
    no data). A plain value: one column ``value``, a row per item of an array."""
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        if not is_cube(cube):
            out.writerow(["value"])
            for item in cube if isinstance(cube, list) else [cube]:
                out.writerow([_cell(item)])
            return
        data = cube.data
        table = feature_table(cube)
        names = table.property_names() if table is not None else []
        columns = [*data.dims, *(n if n not in data.dims else f"{n} (property)" for n in names)]
        out.writerow([*columns, "value" if "value" not in columns else "value (result)"])
        values = cube.filled().values.ravel()
        grids = np.meshgrid(*[np.arange(n) for n in data.shape], indexing="ij")
        labels = [data[d].values for d in data.dims]
        where = data.dims.index(table.dimension) if table is not None else None
        for row, value in zip(zip(*[g.ravel() for g in grids], strict=True), values, strict=True):
            cells = [label_text(labels[k][i]) for k, i in enumerate(row)]
            if table is not None:
                properties = table.properties[row[where]]
                cells += [_cell(properties.get(n)) for n in names]
            out.writerow([*cells, _cell(value)])


def _cell(value: Any) -> str:
    """A CSV cell: empty for no-data and non-finite numbers, JSON for objects."""
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def write_geojson(cube, path: Path, options: dict, integral: bool = False) -> None:
    """A vector cube as a GeoJSON FeatureCollection (:mod:`pgc.data.vector_output`)."""
    collection = feature_collection(cube)
    path.write_text(json.dumps(collection, allow_nan=False, default=_json_default) + "\n")


def _finite(values: Any) -> Any:
    if isinstance(values, list):
        return [_finite(v) for v in values]
    if isinstance(values, dict):
        return {k: _finite(v) for k, v in values.items()}
    if isinstance(values, float) and not np.isfinite(values):
        return None
    return values


WRITERS = {
    "gtiff": write_gtiff,
    "netcdf": write_netcdf,
    "zarr": write_zarr,
    "json": write_json,
    "csv": write_csv,
    "geojson": write_geojson,
}


def format_key(fmt: str) -> str:
    """The key of a format name in :data:`WRITERS` (:func:`pgc.formats.output_format`:
    case and aliases aside); an unknown name as it is, lower case."""
    return output_format(fmt) or fmt.lower()


def writer_for(fmt: str):
    """The writer of format ``fmt``; KeyError when pgc does not write it."""
    key = output_format(fmt)
    if key is None or key not in WRITERS:
        raise KeyError(fmt)
    return WRITERS[key]


def check_writable(value: Any, fmt: str) -> None:
    """ValueError unless format ``fmt`` can hold ``value``: GeoTIFF a raster cube with x and
    y, netCDF and Zarr a data cube, GeoJSON a vector cube; JSON and CSV anything."""
    key = format_key(fmt)
    title = OUTPUT_FORMATS[key].title if key in OUTPUT_FORMATS else fmt
    vector = is_cube(value) and feature_table(value) is not None
    if key in ("gtiff", "netcdf", "zarr") and not is_cube(value):
        raise ValueError(f"{title} holds data cubes; the result is {_kind(value)}")
    if key == "gtiff" and (vector or not {"x", "y"} <= set(value.dims)):
        dims = ", ".join(value.dims) or "none"
        raise ValueError(f"GeoTIFF holds raster cubes with x and y; the result has {dims}")
    if key == "geojson" and not vector:
        raise ValueError(f"GeoJSON holds vector cubes (geometries); the result is {_kind(value)}")


def is_cube(value: Any) -> bool:
    """Whether ``value`` is a data cube (:class:`pgc.executors.values.Cube`: values and
    validity; data/ sits below executors/ and knows it by its shape)."""
    return hasattr(value, "data") and hasattr(value, "valid") and hasattr(value, "to_python")


def _kind(value: Any) -> str:
    if is_cube(value):
        return "a vector cube" if feature_table(value) is not None else "a raster cube"
    return "an array" if isinstance(value, list) else "a single value"


def check_suffix(path: Path, fmt: str) -> None:
    """ValueError when ``path``'s suffix names another format than ``fmt`` (``x.nc`` for
    GTiff): a netCDF reader fails on a GeoTIFF named ``.nc``, so pgc refuses rather than
    write one (issue 18). An unknown suffix, or none, is the user's choice of name."""
    implied, key = format_for_suffix(path.suffix), output_format(fmt)
    if implied is None or key is None or implied == key or (implied, key) in COMPATIBLE_SUFFIXES:
        return
    want = OUTPUT_FORMATS[key]
    raise ValueError(
        f"its suffix {path.suffix} says {OUTPUT_FORMATS[implied].title}, but save_result's "
        f"format is {want.title}: name it {' or '.join(want.suffixes) or 'otherwise'}, or "
        f"save as {OUTPUT_FORMATS[implied].title}"
    )


def format_of_name(path: Path) -> str:
    """The format a file name implies (for a result without save_result); ValueError for
    a suffix that names none."""
    key = format_for_suffix(path.suffix)
    if key is None:
        known = ", ".join(s for f in OUTPUT_FORMATS.values() for s in f.suffixes)
        raise ValueError(
            f"the graph has no save_result, and the suffix {path.suffix or '(none)'!r} names "
            f"no format pgc writes ({known}): use one of them, or end the graph in save_result"
        )
    return OUTPUT_FORMATS[key].title
