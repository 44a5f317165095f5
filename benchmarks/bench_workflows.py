"""Whole workflows, as users write them, through every way of running them (issue 23, part 4).

``python -m benchmarks workflows`` runs thirteen openEO process graphs -- ten written here with
the official openEO Python client the way its users write them, and the three of
``examples/`` -- on a synthetic Sentinel-2 L2A-like collection of 12 dates at several sizes,
each in a fresh process, through:

- ``run``: ``python -m pgc.cli run GRAPH -o OUT --stats`` with pgc's defaults (no
  ``--executor``), the collection given by ``PGC_COLLECTIONS``;
- ``reference``, ``numba``, ``dask``: the same with ``--executor NAME``;
- ``mem``: ``pgc.run(graph, parameters={...})`` on the same values held in memory as
  ``xarray.DataArray`` (the graph's ``load_collection`` nodes become its parameters, its
  ``save_result`` is dropped): pgc in the setting of the peer; ``mem-reference``,
  ``mem-numba``, ``mem-dask`` the same with ``executor=NAME`` (not run by default);
- ``openeo``: the openEO Python stack (openeo-pg-parser-networkx + openeo-processes-dask) on
  those in-memory values, run as :mod:`benchmarks.peer_openeo` runs it (its process registry
  and ``as_rastercube``: dask chunks of its ``load_stac``, float64 cast inside the compute).
  It cannot read pgc's collection (its ``load_collection`` needs a back-end's catalog), so
  it is given the arrays.
- ``openeo-run``: the same peer as a whole fresh process, as a user of that stack runs the
  workflow from a script (``python -m benchmarks.bench_workflows --peer-run GRAPH OUT
  FOLDER``): start Python, import the stack, open the Zarr store lazily with xarray (the
  bands and dates each ``load_collection`` asks for, chunked as the peer's ``load_stac``
  chunks, cast to float64 lazily), run the graph on them, write the result as the graph's
  ``save_result`` asks (GeoTIFF with rioxarray, netCDF with ``to_netcdf``, CSV or JSON of a
  vector cube with pandas). Like for like with ``run``.

Measured per run: wall time (the whole process for the CLI configurations and
``openeo-run``, start-up, reading and writing included; for the in-memory ones the call
alone, best of the warm repeats after a first run, the first run also kept), the process's
peak resident memory (``/usr/bin/time``'s maximum RSS of the child: the input arrays are in
it for the in-memory configurations), and the bytes read (``pgc run --stats``; the in-memory
configurations read nothing, their input size is given instead). A run past ``--timeout``
seconds or ``--memory-limit`` GB of resident memory (the process tree's, polled) is stopped
and recorded as ``timeout`` or ``out of memory``. Each result is summarized (values, finite
values, sum, min, max) and compared with the reference executor's, so a configuration that
computes something else is seen.

Data: bands B02, B03, B04, B08, B11, B12 and SCL (uint16, no-data 0, which no pixel holds) of
12 dates, every 15 days from 2023-03-01, on a grid of 10 m in EPSG:32631 whose corner is the
one of pgc's embedded sample (at 512 px it is the sample's grid, so the examples' field
polygons fall inside). Generated with a fixed seed (smooth land cover at 640 m, water,
clouds, cloud shadows and pixel noise) into a Zarr store with a STAC ``collection.json``
(as :mod:`benchmarks.zarr_sample`), cached under ``PGC_CACHE_DIR`` (or ``~/.cache/pgc``).

Results go to ``benchmarks/results/workflows.json`` (one row per workflow, size and
configuration; a partial run replaces only its rows, so runs can be resumed and merged), from
which ``workflows.md`` and ``workflows.png`` (time per workflow and configuration at 2048 px)
are written.

    python -m benchmarks workflows [--workflows a,b] [--sizes 512,2048] [--configs run,mem]
        [--timeout 300] [--memory-limit 18] [--repeat 2] [--report-only]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
COLLECTION_ID = "S2_WORKFLOWS"
VERSION = 1
SEED = 23
BANDS = ("B02", "B03", "B04", "B08", "B11", "B12", "SCL")
N_DATES = 12
X0, Y1, RES = 600000, 5695000, 10  # the grid's top-left corner (sample's), 10 m
COARSE = 64  # pixels of one cell of the smooth land cover
CLOUDS = (3, 8, 9, 10)  # SCL: cloud shadow, clouds medium and high probability, cirrus
CLEAR = (4, 5, 6)  # SCL: vegetation, not vegetated, water
CLI_CONFIGS = ("run", "reference", "numba", "dask")
MEM_CONFIGS = ("mem", "mem-reference", "mem-numba", "mem-dask")
CONFIGS = (*CLI_CONFIGS, *MEM_CONFIGS, "openeo", "openeo-run")
# timed as whole processes (start-up, reading, writing the output): run, repeated and warmed
# up alike
PROCESS_CONFIGS = (*CLI_CONFIGS, "openeo-run")
PEER_CONFIGS = ("openeo", "openeo-run")
# (pgc, peer) in the same setting: whole processes from the Zarr store to the output file;
# the call alone on the values in memory
LIKE_FOR_LIKE = (("run", "openeo-run"), ("mem", "openeo"))
DEFAULT_CONFIGS = ("run", "reference", "numba", "dask", "mem", "openeo", "openeo-run")
DEFAULT_SIZES = (512, 2048)
# The size that needs the dask executor here: at 4096 px the reference executor needed more
# than 18 GB for the composites, seasonal, merge and gap filling before issue 23 (from their
# peak at 2048 px: 5.4 to 9.9 GB, x 4; gap filling still does); 8192 px would need it for
# all, but its dask runs alone take about half an hour on 2 cores.
BIG = 4096
EXT = {"gtiff": ".tif", "netcdf": ".nc", "csv": ".csv", "json": ".json"}


# -- the data -------------------------------------------------------------------------------


def date_labels() -> list[str]:
    """Twelve dates, one every 15 days from 2023-03-01 (March to mid-August)."""
    import numpy as np

    start = np.datetime64("2023-03-01T10:30:00")
    return [f"{start + np.timedelta64(15 * i, 'D')}Z" for i in range(N_DATES)]


def folder(side: int, base: Path | None = None) -> Path:
    root = base or Path(os.environ.get("PGC_CACHE_DIR") or Path.home() / ".cache" / "pgc")
    return Path(root) / f"{COLLECTION_ID}_{side}px-v{VERSION}"


def extent(side: int) -> dict:
    """The whole grid as load_collection's spatial_extent (EPSG:32631)."""
    return {"west": X0, "south": Y1 - RES * side, "east": X0 + RES * side, "north": Y1,
            "crs": 32631}  # fmt: skip


def _lonlat(points: list[tuple[float, float]]) -> list[list[float]]:
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(32631, 4326, always_xy=True)
    return [[round(c, 7) for c in to_lonlat.transform(x, y)] for x, y in points]


def stac(side: int) -> dict:
    """The collection's STAC document: datacube dimensions, raster bands, the Zarr asset."""
    from benchmarks.zarr_sample import ZARR_ASSETS, collection, cube_dimensions

    labels = date_labels()
    box = extent(side)
    corners = _lonlat([(box["west"], box["south"]), (box["east"], box["north"]),
                       (box["west"], box["north"]), (box["east"], box["south"])])  # fmt: skip
    lons, lats = [c[0] for c in corners], [c[1] for c in corners]
    names = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B11": "swir16",
             "B12": "swir22"}  # fmt: skip
    summaries = {
        "eo:bands": [
            {"name": b, **({"common_name": names[b]} if b in names else {})} for b in BANDS
        ],  # fmt: skip
        "raster:bands": [{"name": b, "data_type": "uint16", "nodata": 0} for b in BANDS],
    }
    dimensions = cube_dimensions((box["west"], box["east"]), (box["south"], box["north"]), RES,
                                 labels, BANDS)  # fmt: skip
    return collection(
        COLLECTION_ID, "Synthetic Sentinel-2 L2A-like bands (pgc's workflow benchmark).",
        [min(lons), min(lats), max(lons), max(lats)], labels, dimensions, summaries,
        assets=ZARR_ASSETS, links=[],
    )  # fmt: skip


def ensure(side: int, base: Path | None = None) -> Path:
    """The collection's folder at ``side`` x ``side`` pixels, generated first if it is not
    there (into a temporary folder renamed when complete)."""
    out = folder(side, base)
    if (out / "collection.json").is_file():
        return out
    import numpy as np

    from benchmarks.zarr_sample import band_arrays

    partial = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    block = min(1024, side)
    arrays = band_arrays(partial / "cube.zarr", BANDS, N_DATES, side, block)
    rng = np.random.default_rng(SEED)
    cells = -(-side // COARSE) + 1
    green = rng.random((cells, cells))  # how green each 640 m cell is at the season's peak
    water = rng.random((cells, cells)) < 0.06
    for t in range(N_DATES):
        cover = rng.random((cells, cells))  # < 0.18 cloudy, < 0.23 shadow
        season = 0.35 + 0.65 * math.sin(math.pi * (t + 1) / (N_DATES + 1))
        for row in range(0, side, block):
            rows = min(block, side - row)
            for name, values in _strip(rng, green, water, cover, season, row, rows, side):
                arrays[name][t, row : row + rows, :] = values
    (partial / "collection.json").write_text(json.dumps(stac(side), indent=1), "utf-8")
    try:
        partial.rename(out)
    except OSError:  # written by another process meanwhile
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
    return out


def _strip(rng, green, water, cover, season, row, rows, side):
    """Rows ``row``..``row + rows`` of one date's bands, as (band, uint16 array) pairs."""
    import numpy as np

    y = (row + np.arange(rows)) // COARSE
    x = np.arange(side) // COARSE

    def fine(coarse):  # cells to pixels
        return coarse[np.ix_(y, x)]

    g = fine(green) * season
    wet, c = fine(water), fine(cover)
    cloud, shadow = c < 0.18, (c >= 0.18) & (c < 0.23)
    base = {  # reflectance x 10000 of vegetation (g = 1) to bare soil (g = 0)
        "B02": 700 - 450 * g, "B03": 900 - 350 * g, "B04": 1400 - 1100 * g,
        "B08": 1500 + 2500 * g, "B11": 2600 - 1000 * g, "B12": 2000 - 1000 * g,
    }  # fmt: skip
    water_value = {"B02": 500, "B03": 450, "B04": 300, "B08": 200, "B11": 90, "B12": 60}
    for name, value in base.items():
        band = value.astype(np.uint16) + rng.integers(1, 200, size=(rows, side), dtype=np.uint16)
        band[wet] = water_value[name] + (band[wet] % 50)
        band[shadow] //= 3
        band[cloud] = 6000 + (band[cloud] % 1500)
        yield name, band
    scl = np.where(g > 0.35, 4, 5).astype(np.uint16)
    scl[wet] = 6
    scl[shadow] = 3
    scl[cloud] = np.where(c[cloud] < 0.06, 10, np.where(c[cloud] < 0.12, 8, 9))
    yield "SCL", scl


def read_bands(where: Path, bands: list[str], dates: list[int], *, lazy: bool = False) -> Any:
    """The collection's values as a (t, bands, y, x) uint16 ``xarray.DataArray`` with the
    dates ``dates`` (indices) and ``bands``: what load_collection of the whole grid gives,
    held in memory; CRS written as rioxarray writes it (``spatial_ref``).

    With ``lazy`` nothing is read here: the store is opened with ``xarray.open_zarr`` and the
    values are dask arrays chunked as the peer's ``load_stac`` chunks (one date of one band
    over the whole plane, ``peer_openeo.LOAD_STAC_CHUNKS``), read when computed, as a user
    of xarray opens a Zarr store."""
    import numpy as np
    import pandas as pd
    import rioxarray  # noqa: F401 - the .rio accessor
    import xarray as xr

    if lazy:
        from benchmarks.peer_openeo import LOAD_STAC_CHUNKS

        chunks = {d: LOAD_STAC_CHUNKS[d] for d in ("t", "y", "x")}
        store = xr.open_zarr(where / "cube.zarr", chunks=chunks, consolidated=False)
        picked = store[list(bands)].isel(t=list(dates)).to_dataarray("bands")
        cube = picked.transpose("t", "bands", "y", "x")
    else:
        import zarr

        group = zarr.open_group(where / "cube.zarr", mode="r")
        data = np.empty((len(dates), len(bands), *group[bands[0]].shape[-2:]), dtype=np.uint16)
        for j, band in enumerate(bands):
            array = group[band]
            for i, t in enumerate(dates):
                data[i, j] = array[t]
        cube = xr.DataArray(data, dims=("t", "bands", "y", "x"))
    side = cube.shape[-1]
    labels = [date_labels()[t] for t in dates]
    coords = {
        "t": pd.to_datetime([d.rstrip("Z") for d in labels]).values,
        "bands": list(bands),
        "y": Y1 - RES / 2 - RES * np.arange(side),
        "x": X0 + RES / 2 + RES * np.arange(side),
    }
    return cube.assign_coords(coords).rio.write_crs("EPSG:32631")


# -- the workflows --------------------------------------------------------------------------


def fields(side: int, n: int = 10) -> dict:
    """n x n field polygons over the grid, as GeoJSON in longitude/latitude (as users give
    them): each a quadrilateral inside its cell, corners moved by a fixed seed."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    cell = RES * side / n
    features = []
    for i in range(n):
        for j in range(n):
            x, y = X0 + j * cell, Y1 - (i + 1) * cell
            jitter = rng.uniform(0.1, 0.3, size=(4, 2)) * cell
            ring = [(x + jitter[0, 0], y + jitter[0, 1]),
                    (x + cell - jitter[1, 0], y + jitter[1, 1]),
                    (x + cell - jitter[2, 0], y + cell - jitter[2, 1]),
                    (x + jitter[3, 0], y + cell - jitter[3, 1])]  # fmt: skip
            coords = _lonlat(ring)
            features.append({"type": "Feature", "properties": {"field_id": f"f{i * n + j}"},
                             "geometry": {"type": "Polygon",
                                          "coordinates": [[*coords, coords[0]]]}})  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def _load(side: int, bands: list[str]) -> Any:
    from openeo.rest.datacube import DataCube

    return DataCube.load_collection(
        COLLECTION_ID, connection=None, bands=bands, spatial_extent=extent(side),
        temporal_extent=["2023-03-01", "2023-09-01"],
    )  # fmt: skip


def _clouds(cube: Any) -> Any:
    """True where SCL says cloud or shadow, as users write it: ``(scl == 3) | ...``."""
    scl = cube.band("SCL")
    mask = scl == CLOUDS[0]
    for code in CLOUDS[1:]:
        mask = mask | (scl == code)
    return mask


def composite_median(side: int) -> dict:
    """Cloud-masked median RGB composite over the 12 dates, saved as GeoTIFF."""
    cube = _load(side, ["B02", "B03", "B04", "SCL"])
    rgb = cube.filter_bands(["B02", "B03", "B04"]).mask(_clouds(cube)).median_time()
    return rgb.save_result(format="GTiff").flat_graph()


def ndvi_monthly(side: int) -> dict:
    """Monthly mean NDVI (aggregate_temporal_period), saved as netCDF."""
    cube = _load(side, ["B04", "B08"]).ndvi(nir="B08", red="B04")
    monthly = cube.aggregate_temporal_period(period="month", reducer="mean")
    return monthly.save_result(format="netCDF").flat_graph()


def seasonal(side: int) -> dict:
    """Cloud-masked seasonal median composites of four bands (period "season")."""
    cube = _load(side, ["B02", "B03", "B04", "B08", "SCL"])
    bands = cube.filter_bands(["B02", "B03", "B04", "B08"]).mask(_clouds(cube))
    seasons = bands.aggregate_temporal_period(period="season", reducer="median")
    return seasons.save_result(format="netCDF").flat_graph()


def zonal_stats(side: int) -> dict:
    """Mean NDVI per field (100 polygons) and date: aggregate_spatial, saved as CSV."""
    cube = _load(side, ["B04", "B08"]).ndvi(nir="B08", red="B04")
    stats = cube.aggregate_spatial(geometries=fields(side), reducer="mean")
    return stats.save_result(format="CSV").flat_graph()


def kernel_smooth(side: int) -> dict:
    """Bands smoothed with a 3x3 mean (apply_kernel), NDVI, maximum over time."""
    cube = _load(side, ["B04", "B08"])
    smooth = cube.apply_kernel(kernel=[[1, 1, 1], [1, 1, 1], [1, 1, 1]], factor=1 / 9)
    best = smooth.ndvi(nir="B08", red="B04").max_time()
    return best.save_result(format="GTiff").flat_graph()


def resample_20m(side: int) -> dict:
    """Four bands resampled to 20 m (average), median over time."""
    cube = _load(side, ["B02", "B03", "B04", "B08"])
    coarse = cube.resample_spatial(resolution=20, method="average")
    # after resample_spatial the client (0.53, no connection) keeps only x and y in its
    # metadata and refuses median_time(): the reducer is given as the process graph it makes
    median = {"median1": {"process_id": "median", "arguments": {"data": {"from_parameter":
              "data"}}, "result": True}}  # fmt: skip
    coarse = coarse.process("reduce_dimension", data=coarse, dimension="t",
                            reducer={"process_graph": median})  # fmt: skip
    return coarse.save_result(format="GTiff").flat_graph()


def resample_4326(side: int) -> dict:
    """Maximum NDVI over time, reprojected to EPSG:4326 (bilinear) for export."""
    cube = _load(side, ["B04", "B08"]).ndvi(nir="B08", red="B04").max_time()
    lonlat = cube.resample_spatial(resolution=0, projection=4326, method="bilinear")
    return lonlat.save_result(format="GTiff").flat_graph()


def merge(side: int) -> dict:
    """Merge of two cubes: visible bands and an NDVI band (merge_cubes), mean over time."""
    visible = _load(side, ["B02", "B03", "B04"])
    ndvi = _load(side, ["B04", "B08"]).ndvi(nir="B08", red="B04", target_band="NDVI")
    merged = visible.merge_cubes(ndvi.filter_bands(["NDVI"])).mean_time()
    return merged.save_result(format="netCDF").flat_graph()


def gap_fill(side: int) -> dict:
    """Cloud-masked NDVI time series, gaps filled over time (array_interpolate_linear via
    apply_dimension), saved as netCDF."""
    from openeo.processes import array_interpolate_linear

    cube = _load(side, ["B04", "B08", "SCL"])
    ndvi = cube.ndvi(nir="B08", red="B04").mask(_clouds(cube))
    filled = ndvi.apply_dimension(dimension="t", process=array_interpolate_linear)
    return filled.save_result(format="netCDF").flat_graph()


def count_clear(side: int) -> dict:
    """Number of clear observations per pixel: count with a condition callback."""
    from openeo.processes import count, or_

    def clear(x):
        test = x == CLEAR[0]
        for code in CLEAR[1:]:
            test = or_(test, x == code)
        return test

    scl = _load(side, ["SCL"]).band("SCL")
    n = scl.reduce_dimension(dimension="t", reducer=lambda data: count(data, condition=clear))
    return n.save_result(format="GTiff").flat_graph()


def example(name: str, side: int) -> dict:
    """``examples/NAME.json`` on this collection: its load_collection reads the whole grid
    (its own bands and dates), everything else as it is."""
    document = json.loads((ROOT / "examples" / f"{name}.json").read_text("utf-8"))
    graph = document["process_graph"]
    for node in graph.values():
        if node["process_id"] == "load_collection":
            node["arguments"]["id"] = COLLECTION_ID
            node["arguments"]["spatial_extent"] = extent(side)
    return graph


WORKFLOWS = {
    f.__name__: f
    for f in (composite_median, ndvi_monthly, seasonal, zonal_stats, kernel_smooth,
              resample_20m, resample_4326, merge, gap_fill, count_clear)
}  # fmt: skip
EXAMPLES = ("evi", "ndvi_composite", "crop_features")
NAMES = (*WORKFLOWS, *EXAMPLES)


def graph_of(name: str, side: int) -> dict:
    """The flat process graph of workflow ``name`` at ``side`` px, ending in save_result."""
    if name in WORKFLOWS:
        return WORKFLOWS[name](side)
    if name in EXAMPLES:
        return example(name, side)
    raise ValueError(f"unknown workflow {name!r}; known: {', '.join(NAMES)}")


def output_suffix(graph: dict) -> str:
    formats = [n["arguments"].get("format", "") for n in graph.values()
               if n["process_id"] == "save_result"]  # fmt: skip
    return EXT.get(formats[-1].lower(), ".out") if formats else ".nc"


def in_memory(graph: dict) -> tuple[dict, dict[str, dict]]:
    """The graph reading its data from parameters: each ``load_collection`` node becomes a
    parameter of its node id (what it loads returned beside: ``{id: arguments}``), and
    ``save_result`` is dropped (its data becomes the result)."""
    nodes = copy.deepcopy(graph)
    loads = {k: n["arguments"] for k, n in nodes.items() if n["process_id"] == "load_collection"}
    for key, node in list(nodes.items()):
        if node["process_id"] != "save_result":
            continue
        del nodes[key]
        source = node["arguments"]["data"]["from_node"]
        if node.get("result"):
            nodes[source]["result"] = True
    for key in loads:
        del nodes[key]

    def swap(value):
        if isinstance(value, dict):
            if set(value) == {"from_node"} and value["from_node"] in loads:
                return {"from_parameter": value["from_node"]}
            if "process_graph" in value:  # a callback: its references are its own
                return value
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    nodes = {k: {**n, "arguments": swap(n["arguments"])} for k, n in nodes.items()}
    parameters = [{"name": k, "schema": {"type": "object", "subtype": "datacube"}}
                  for k in loads]  # fmt: skip
    return {"process_graph": nodes, "parameters": parameters}, loads


def dates_of(load: dict) -> list[int]:
    """The indices of the dates inside load_collection's temporal_extent (end excluded)."""
    start, end = load.get("temporal_extent") or [None, None]
    after = [start is None or d[:10] >= start[:10] for d in date_labels()]
    before = [end is None or d[:10] < end[:10] for d in date_labels()]
    return [i for i, (a, b) in enumerate(zip(after, before, strict=True)) if a and b]


# -- summaries of results -------------------------------------------------------------------


def summarize(values: Any) -> dict:
    """What is compared between configurations, whatever the layout: number of values and of
    finite ones, their sum, minimum and maximum (float64)."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64).ravel()
    finite = a[np.isfinite(a)]
    return {
        "n": int(a.size),
        "finite": int(finite.size),
        "sum": float(finite.sum()) if finite.size else 0.0,
        "min": float(finite.min()) if finite.size else None,
        "max": float(finite.max()) if finite.size else None,
    }


def summarize_result(value: Any) -> dict:
    """``summarize`` of what pgc.run or the peer returned: a DataArray (raster or vector
    cube), a Dataset (xvec's vector cube: its data variables), numbers."""
    import numpy as np
    import xarray as xr

    if isinstance(value, xr.Dataset):
        parts = [np.asarray(v.values, dtype=np.float64).ravel() for v in value.data_vars.values()]
        return summarize(np.concatenate(parts) if parts else [])
    if isinstance(value, xr.DataArray):
        return summarize(value.values)
    return summarize(value)


def summarize_file(path: Path) -> dict:
    """``summarize`` of an output file: every band of a GeoTIFF, every numeric data variable
    of a netCDF (coordinates and grid mapping apart), the numeric value columns of a CSV
    (not ids, dates or geometry)."""
    import numpy as np

    if path.suffix == ".tif":
        import rasterio

        with rasterio.open(path) as src:
            data = src.read(masked=False).astype(np.float64)
            if src.nodata is not None and not math.isnan(src.nodata):
                data[data == src.nodata] = np.nan
        return summarize(data)
    if path.suffix == ".nc":
        import xarray as xr

        with xr.open_dataset(path, chunks={}) as ds:
            names = [k for k, v in ds.data_vars.items()
                     if v.ndim >= 2 and np.issubdtype(v.dtype, np.number)]  # fmt: skip
            if "bands" not in ds.dims and len(names) == 1:
                return summarize(ds[names[0]].values)
            return summarize(np.concatenate([ds[k].values.ravel() for k in names]))
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        skip = {"feature_index", "index", "geometry", "t", "date", "field_id", "id", "bands"}
        columns = [c for c in (rows[0] if rows else {}) if c not in skip]
        values = [_number(r[c]) for r in rows for c in columns]
        return summarize([v for v in values if v is not None])
    raise ValueError(f"no summary for {path.name}")


def _number(text: str) -> float | None:
    if text in ("", "nan", "NaN", "null"):
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return None


def same(a: dict | None, b: dict | None, rtol: float = 1e-6) -> bool:
    """Whether two summaries say the same values (sums to ``rtol``)."""
    if not a or not b:
        return False
    if a["finite"] != b["finite"]:
        return False
    close = [math.isclose(a[k], b[k], rel_tol=rtol, abs_tol=1e-9)
             for k in ("sum", "min", "max") if a[k] is not None and b[k] is not None]  # fmt: skip
    return all(close) and (a["min"] is None) == (b["min"] is None)


# -- one run --------------------------------------------------------------------------------


def _watch(process: subprocess.Popen, timeout: float, limit_bytes: float) -> str:
    """Wait for ``process``; stop its tree past ``timeout`` s or ``limit_bytes`` resident
    (polled every 0.2 s). "ok" (it ended by itself), "timeout" or "out of memory"."""
    import psutil

    start = time.monotonic()
    root = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            rss = sum(p.memory_info().rss for p in tree if p.is_running())
        except psutil.Error:
            rss = 0
        over = "timeout" if time.monotonic() - start > timeout else None
        over = over or ("out of memory" if rss > limit_bytes else None)
        if over:
            for p in reversed(tree):
                with contextlib.suppress(psutil.Error):
                    p.kill()
            process.wait()
            return over
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)  # returns as soon as it ends: the wall time stays exact
    return "ok"


def _timed(command: list[str], env: dict, timeout: float, limit_gb: float,
           stdin: str | None = None) -> dict:  # fmt: skip
    """Run ``command`` under /usr/bin/time: status, wall seconds, peak RSS (MB), output."""
    with tempfile.TemporaryDirectory() as tmp:
        usage = Path(tmp) / "usage"
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        full = ["/usr/bin/time", "-f", "%M %e", "-o", str(usage), *command]
        with out.open("w") as o, err.open("w") as e:
            start = time.perf_counter()
            process = subprocess.Popen(full, stdin=subprocess.PIPE, stdout=o, stderr=e,
                                       env=env, cwd=ROOT, text=True)  # fmt: skip
            if stdin is not None:
                process.stdin.write(stdin)
            process.stdin.close()
            status = _watch(process, timeout, limit_gb * 1e9)
            wall = time.perf_counter() - start
        peak_mb = None
        if usage.is_file():
            words = usage.read_text().split()
            if len(words) >= 2 and words[-2].isdigit():
                peak_mb = int(words[-2]) / 1024
        if status == "ok" and process.returncode != 0:
            status = "error"
        return {"status": status, "wall_s": wall, "peak_mb": peak_mb,
                "stdout": out.read_text(), "stderr": err.read_text()}  # fmt: skip


def _environment(where: Path) -> dict:
    env = dict(os.environ)
    # every process finds pgc's bytecode compiled (as an installed package has it,
    # :func:`compile_bytecode`), and writes what is missing: with
    # PYTHONDONTWRITEBYTECODE set, each ``pgc run`` compiled its 77 modules anew (0.16 s)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PGC_COLLECTIONS"] = str(where)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def compile_bytecode() -> None:
    """pgc's and the harness's bytecode written before any timed process, as ``pip install``
    writes an installed package's: no configuration pays for compiling them."""
    import compileall

    for package in ("pgc", "benchmarks"):
        compileall.compile_dir(ROOT / package, quiet=1)


def _error_text(done: dict) -> str:
    lines = [line for line in (done["stderr"] + done["stdout"]).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(("Command exited", "Command termi"))]
    return " | ".join(lines[-3:])[:600]


def run_cli(name: str, side: int, config: str, where: Path, *, timeout: float,
            limit_gb: float, repeat: int, warmup: bool = False) -> dict:  # fmt: skip
    """``python -m pgc.cli run`` of workflow ``name``, or the peer's script for
    ``openeo-run`` (``--peer-run``): one row (best of ``repeat``, after an untimed run with
    ``warmup``)."""
    graph = graph_of(name, side)
    row: dict[str, Any] = {"workflow": name, "size": side, "config": config, "times": []}
    with tempfile.TemporaryDirectory(prefix="pgc-wf-") as tmp:
        path = Path(tmp) / f"{name}.json"
        path.write_text(json.dumps({"process_graph": graph}), "utf-8")
        out = Path(tmp) / f"{name}{output_suffix(graph)}"
        command = [sys.executable, "-m", "pgc.cli", "run", str(path), "-o", str(out),
                   "--overwrite", "--stats"]  # fmt: skip
        if config == "openeo-run":
            command = [sys.executable, "-m", "benchmarks.bench_workflows", "--peer-run",
                       str(path), str(out), str(where)]  # fmt: skip
        elif config != "run":
            command += ["--executor", config]
        if warmup:
            warm(where, graph)
            _timed(command, _environment(where), timeout, limit_gb)
        for _ in range(repeat):
            if row["times"] and row["times"][-1] > 20:  # one long run is enough
                break
            warm(where, graph)
            done = _timed(command, _environment(where), timeout, limit_gb)
            row["status"] = done["status"]
            if done["status"] != "ok":
                row["error"] = _error_text(done) if done["status"] == "error" else ""
                row["time_s"] = done["wall_s"] if done["status"] == "timeout" else None
                row["peak_mb"] = done["peak_mb"]
                return row
            row["times"].append(done["wall_s"])
            row["peak_mb"] = max(row.get("peak_mb") or 0, done["peak_mb"] or 0)
            if config in CLI_CONFIGS:
                row["stats"] = done["stdout"].strip()
                row["bytes_read"] = _bytes_read(done["stdout"])
        row["time_s"] = min(row["times"])
        row["summary"] = summarize_file(out)
    return row


def warm(where: Path, graph: dict) -> None:
    """Read the files of the bands ``graph`` loads, so that every CLI run finds them in the
    page cache (a run that used most of the memory before evicts them, and a read from this
    machine's disk then took twice the time of the run from the cache: 21 s against 12 s)."""
    bands = {b for n in graph.values() if n["process_id"] == "load_collection"
             for b in n["arguments"].get("bands") or BANDS}  # fmt: skip
    for band in sorted(bands):
        for path in sorted((where / "cube.zarr" / band).rglob("*")):
            if path.is_file():
                with path.open("rb") as f:
                    while f.read(1 << 24):
                        pass


def _bytes_read(stats: str) -> int | None:
    for line in stats.splitlines():
        if line.startswith("bytes read:") and line.rstrip().endswith(" B)"):
            return int(line.rsplit("(", 1)[1].split()[0])
    return None


def run_in_memory(name: str, side: int, config: str, where: Path, *, timeout: float,
                  limit_gb: float, repeat: int) -> dict:  # fmt: skip
    """pgc.run or the peer on the values in memory, in a fresh process: one row."""
    graph, loads = in_memory(graph_of(name, side))
    request = {"config": config, "graph": graph, "folder": str(where), "repeat": repeat,
               "loads": {k: {"bands": v["bands"], "dates": dates_of(v)}
                         for k, v in loads.items()}}  # fmt: skip
    command = [sys.executable, "-m", "benchmarks.bench_workflows", "--child"]
    done = _timed(command, _environment(where), timeout, limit_gb, stdin=json.dumps(request))
    row: dict[str, Any] = {"workflow": name, "size": side, "config": config,
                           "status": done["status"], "peak_mb": done["peak_mb"]}  # fmt: skip
    if done["status"] != "ok":
        row["error"] = _error_text(done) if done["status"] == "error" else ""
        row["time_s"] = done["wall_s"] if done["status"] == "timeout" else None
        return row
    report = json.loads(done["stdout"].strip().splitlines()[-1])
    row.update(report)
    row["time_s"] = min(report["times"])
    return row


def _child() -> int:
    """The fresh process of ``run_in_memory``: read the request, load the arrays (not
    timed), run once (``first_s``) and ``repeat`` times more if the first took under 20 s;
    print one JSON line."""
    import warnings

    warnings.filterwarnings("ignore")
    request = json.loads(sys.stdin.read())
    where, config = Path(request["folder"]), request["config"]
    cubes = {k: read_bands(where, v["bands"], v["dates"]) for k, v in request["loads"].items()}
    if config == "openeo":
        run = _peer(request["graph"], cubes)
    else:
        import pgc

        executor = {} if config == "mem" else {"executor": config.removeprefix("mem-")}

        def run():
            return pgc.run(request["graph"], parameters=cubes, **executor)

    times = []
    start = time.perf_counter()
    result = run()
    times.append(time.perf_counter() - start)
    for _ in range(request["repeat"] if times[0] < 20 else 0):
        del result
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    report = {"first_s": times[0], "times": times[1:] or times,
              "input_bytes": sum(int(c.nbytes) for c in cubes.values()),
              "summary": summarize_result(result)}  # fmt: skip
    print(json.dumps(report))
    return 0


def _peer(graph: dict, cubes: dict) -> Any:
    """The openEO Python stack run as benchmarks.peer_openeo.runner runs it (the registry of
    openeo-processes-dask, each call parsing anew, cubes as dask float64), generalised to
    a graph with several parameters (merge loads twice)."""
    from openeo_pg_parser_networkx import OpenEOProcessGraph

    from benchmarks.peer_openeo import as_rastercube, process_registry

    data = {k: as_rastercube(c) for k, c in cubes.items()}

    def run():
        parsed = OpenEOProcessGraph(pg_data=copy.deepcopy(graph))
        execute = parsed.to_callable(process_registry=process_registry())
        result = execute(named_parameters=data)
        return result.compute() if hasattr(result, "compute") else result

    return run


def peer_run(graph_path: Path, out: Path, where: Path) -> int:
    """The process of ``openeo-run``: the workflow as a user of the openEO Python stack runs
    it from a script. The graph's ``load_collection`` nodes become its parameters as for
    ``openeo`` (``in_memory``), given the bands and dates each asks for, opened lazily from
    the Zarr store at ``where`` (``read_bands(lazy=True)``: chunks of the peer's load_stac,
    cast to float64 lazily by ``as_rastercube``); the graph is run and computed as ``_peer``
    runs it, and the result written to ``out`` as the graph's ``save_result`` asks
    (``write_result``)."""
    import warnings

    warnings.filterwarnings("ignore")  # as _child: the stack's warnings are not the result
    document = json.loads(graph_path.read_text("utf-8"))
    graph, loads = in_memory(document["process_graph"])
    cubes = {k: read_bands(where, v["bands"], dates_of(v), lazy=True) for k, v in loads.items()}
    write_result(_peer(graph, cubes)(), out, output_suffix(document["process_graph"]))
    return 0


def write_result(result: Any, out: Path, suffix: str) -> None:
    """The peer's result written as xarray's users write one: ``suffix`` ".tif" a GeoTIFF
    (``rio.to_raster``; its first dimension, when it has three, gives the bands), ".nc"
    netCDF (``to_netcdf``), ".csv" or ".json" a table of the vector cube's values, one row
    per geometry (and date), without its non-dimension coordinates (``spatial_ref``).
    openeo-processes-dask leaves attributes no format can hold (a dict, a CRS object): they
    are dropped first."""
    import xarray as xr

    if isinstance(result, xr.DataArray | xr.Dataset):
        result = result.copy(deep=False)
        result.attrs = {}
    if suffix == ".tif":
        result.rio.to_raster(out)
    elif suffix == ".nc":
        result.to_netcdf(out)
    elif suffix in (".csv", ".json"):
        plain = result.reset_coords(drop=True)
        if isinstance(plain, xr.DataArray):
            plain = plain.to_dataset(name=plain.name or "value")
        table = plain.to_dataframe().reset_index()
        if suffix == ".csv":
            table.to_csv(out, index=False)
        else:
            table.to_json(out, orient="records", date_format="iso", default_handler=str)
    else:
        raise ValueError(f"no writer for {suffix!r}")


def predicted(rows: list[dict], name: str, side: int, config: str, timeout: float,
              limit_gb: float) -> dict | None:  # fmt: skip
    """A "skipped" row when the largest smaller size measured says this run would pass the
    timeout (time x pixels ratio, over 1.5 x ``timeout``) or the memory limit (growth over
    the process's 250 MB at start, x pixels ratio, over 1.3 x ``limit_gb``); else None."""
    measured = ("ok", "timeout", "out of memory")
    smaller = [r for r in rows if (r["workflow"], r["config"]) == (name, config)
               and r["size"] < side and r["status"] in measured]  # fmt: skip
    if not smaller:
        return None
    last = max(smaller, key=lambda r: r["size"])
    ratio = (side / last["size"]) ** 2
    seconds = (last.get("time_s") or 0) * ratio
    peak = 250 + ((last.get("peak_mb") or 250) - 250) * ratio
    why = None
    if last["status"] == "timeout" or seconds > 1.5 * timeout:
        then = _seconds(last["time_s"] or 0) + (", timeout" if last["status"] == "timeout" else "")
        why = f"predicted {seconds:.0f} s from {last['size']} px ({then})"
    elif last["status"] == "out of memory" or peak > 1.3 * limit_gb * 1024:
        why = f"predicted {_mb(peak)} from {last['size']} px ({_mb(last.get('peak_mb'))})"
    if why is None:
        return None
    return {"workflow": name, "size": side, "config": config, "status": "skipped",
            "error": f"not run: {why}", "predicted_s": seconds, "predicted_mb": peak,
            "time_s": None, "peak_mb": None}  # fmt: skip


def measure(name: str, side: int, config: str, where: Path, warmup: bool = False,
            **limits: Any) -> dict:  # fmt: skip
    """One row: workflow ``name`` at ``side`` px through ``config`` (``warmup``: whole
    process runs only, see ``--warmup``)."""
    if config in PROCESS_CONFIGS:
        return run_cli(name, side, config, where, warmup=warmup, **limits)
    return run_in_memory(name, side, config, where, **limits)


# -- results --------------------------------------------------------------------------------


def load_results(path: Path) -> list[dict]:
    return json.loads(path.read_text("utf-8"))["rows"] if path.is_file() else []


def merge_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` with the rows of ``new`` replacing those of the same workflow, size, config."""
    key = lambda r: (r["workflow"], r["size"], r["config"])  # noqa: E731
    rows = {key(r): r for r in old}
    rows.update({key(r): r for r in new})
    order = {n: i for i, n in enumerate(NAMES)}
    return sorted(rows.values(), key=lambda r: (r["size"], order.get(r["workflow"], 99),
                                                 CONFIGS.index(r["config"])))  # fmt: skip


def save_results(path: Path, rows: list[dict]) -> None:
    import platform

    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                       f"{_memory_gb():.0f} GB", "python": platform.python_version(),
            "commit": _commit()}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n", "utf-8")


def _commits_of(rows: list[dict]) -> str:
    """Which commit each row was measured at (rows measured before rows kept it: not
    recorded), when they were not all measured at one."""
    counts = Counter(row.get("commit") or "not recorded" for row in rows)
    if len(counts) < 2:
        return ""
    def rows_of(n: int) -> str:
        return f"{n} row" if n == 1 else f"{n} rows"

    parts = [f"{c}: {rows_of(n)}" for c, n in counts.items() if c != "not recorded"]
    if "not recorded" in counts:
        parts.append(f"earlier, not recorded: {rows_of(counts['not recorded'])}")
    return "Rows measured at " + "; ".join(parts) + "."


def _memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def _commit() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout.strip()


# -- the report -----------------------------------------------------------------------------


def _cell(row: dict | None, with_read: bool = True) -> str:
    if row is None:
        return ""
    if row["status"] == "skipped":
        if row.get("predicted_s", 0) > 0 and "s from" in row.get("error", ""):
            return f"not run (≈{_seconds(row['predicted_s'])} predicted)"
        return f"not run (≈{_mb(row.get('predicted_mb'))} predicted)"
    if row["status"] != "ok":
        return {
            "timeout": f"timeout ({_seconds(row['time_s'] or 0)})",
            "out of memory": "out of memory",
        }.get(row["status"], "**fails**")
    text = f"{_seconds(row['time_s'])}, {_mb(row.get('peak_mb'))}"
    if with_read and row.get("bytes_read") is not None:
        text += f", read {_mb(row['bytes_read'] / 2**20)}"
    return text


def _seconds(s: float) -> str:
    return f"{s:.2f} s" if s < 10 else f"{s:.0f} s"


def _mb(mb: float | None) -> str:
    if mb is None:
        return "?"
    return f"{mb:.0f} MB" if mb < 1000 else f"{mb / 1024:.1f} GB"


def _check(row: dict | None, truth: dict | None) -> str:
    if row is None or row["status"] != "ok" or truth is None:
        return ""
    return "" if same(row.get("summary"), truth.get("summary")) else "≠"


def report(rows: list[dict], meta: dict) -> str:
    """The Markdown report of ``rows``."""
    sizes = sorted({r["size"] for r in rows})
    configs = [c for c in CONFIGS if any(r["config"] == c for r in rows)]
    by = {(r["workflow"], r["size"], r["config"]): r for r in rows}
    names = [n for n in NAMES if any(r["workflow"] == n for r in rows)]
    lines = [
        "# Whole workflows: pgc run, each executor, and the openEO Python stack",
        "",
        f"Measured by `python -m benchmarks workflows` ({meta.get('machine', '')}, Python "
        f"{meta.get('python', '')}, pgc at {meta.get('commit', '')}), each run in a fresh "
        "process, one at a time. Written from `workflows.json`; see "
        "`benchmarks/bench_workflows.py` for the workflows and how each is run. "
        + _commits_of(rows),
        "",
        "- **run**, **reference**, **numba**, **dask**: `python -m pgc.cli run GRAPH -o OUT "
        "--stats` on the Zarr collection (defaults, or `--executor NAME`): the wall time of "
        "the whole process (start-up, reading, writing the output), best of the repeats.",
        "- **mem** (and **mem-NAME**): `pgc.run(graph, parameters={...})` on the same values "
        "held in memory as uint16 `xarray.DataArray`s (load_collection nodes as parameters, "
        "no save_result); **openeo**: the openEO Python stack (openeo-pg-parser-networkx + "
        "openeo-processes-dask, as `benchmarks/peer_openeo.py` runs it) on those values: "
        "it cannot read pgc's collection. Time of the call alone, best of the warm repeats.",
        "- **openeo-run**: the same peer as a whole process, as its users run a workflow "
        "from a script: start Python, import the stack, open the Zarr store lazily with "
        "xarray (the bands and dates load_collection asks for, chunked as its `load_stac` "
        "chunks, cast to float64 lazily), run the graph, write the output file in the "
        "format save_result asks (rioxarray, `to_netcdf`, pandas). Measured as **run** is: "
        "wall time of the process, best of the repeats; like for like with **run**.",
        "- Cells: time, peak resident memory of the process (in-memory configurations: the "
        "input is in it), bytes read (pgc run --stats). `≠`: the result's summary (count of "
        "finite values, sum, min, max) differs from the reference executor's.",
        "",
        "Data: B02, B03, B04, B08, B11, B12, SCL (uint16) of 12 dates every 15 days from "
        "2023-03-01, 10 m in EPSG:32631, generated with a fixed seed into an uncompressed "
        f"Zarr store ({_mb(len(BANDS) * N_DATES * 2 * 512**2 / 2**20)} at 512 px, "
        f"{_mb(len(BANDS) * N_DATES * 2 * 2048**2 / 2**20)} at 2048 px, "
        f"{_mb(len(BANDS) * N_DATES * 2 * BIG**2 / 2**20)} at {BIG} px); each workflow "
        "loads the bands it needs. Before each whole-process run (CLI configurations and "
        "openeo-run) the files of those bands are read once (untimed), so that every "
        "configuration finds them in the page cache, and pgc's bytecode is compiled first, as "
        "an installed package's is (rows of b0c3a41 and earlier were measured in an environment "
        "with PYTHONDONTWRITEBYTECODE set: each pgc process compiled its modules anew, "
        "about 0.16 s). At "
        f"{BIG} px, the size that needs the dask executor on this machine (the reference "
        "executor needed more than 18 GB for the memory-heavy workflows before issue 23; "
        "`run` chooses its executor per plan), its table shows what was measured. A run "
        "over the timeout or the "
        "memory limit is stopped; one that the size below predicts to pass either by far "
        "(time x pixel ratio) is not run. At 2048 px and above each whole-process configuration "
        "runs once. On this VM the first process to take gigabytes after lighter ones runs 20 to "
        "40% slower (the same reference run: 19 s first, then 15 s, 15 s): `run`, the first "
        "configuration of each workflow, was measured after an untimed warm-up run (`--warmup`); "
        "the machine is also shared with other sessions' test runs, so two configurations running "
        "the same executor still differ by up to ~20%.",
        "",
    ]
    for side in sizes:
        lines += [f"## {side} x {side} px, 12 dates", ""]
        inputs = [r.get("input_bytes") for r in rows if r["size"] == side and r.get("input_bytes")]
        if inputs:
            lines += [f"In-memory inputs: {_mb(min(inputs) / 2**20)} to "
                      f"{_mb(max(inputs) / 2**20)} of uint16.", ""]  # fmt: skip
        here = [r for r in rows if r["size"] == side]
        cols = [c for c in configs if any(r["config"] == c for r in here)]
        pairs = [(a, b) for a, b in LIKE_FOR_LIKE if a in cols and b in cols]
        peer = "".join(f" {a} / {b} |" for a, b in pairs)
        lines += ["| workflow | " + " | ".join(cols) + " |" + peer,
                  "|---" * (len(cols) + 1 + len(pairs)) + "|"]  # fmt: skip
        for name in [n for n in names if any(r["workflow"] == n for r in here)]:
            truth = _truth(by, name, side)
            cells = []
            for c in cols:
                row = by.get((name, side, c))
                mark = _check(row, truth) if c not in ("reference", "mem-reference") else ""
                cells.append(_cell(row, c in CLI_CONFIGS) + (f" {mark}" if mark else ""))
            ratio = "".join(f" {_ratio(by, name, side, a, b)} |" for a, b in pairs)
            lines.append(f"| {name} | " + " | ".join(cells) + " |" + ratio)
        lines.append("")
    lines += _fixed_costs(by, names, sizes)
    lines += _growth(by, names, sizes, configs)
    lines += _peer_ratios(by, names, sizes, configs)
    lines += _failures(rows)
    if any(r["size"] == 2048 for r in rows):
        lines += ["## Plot", "", "![time per workflow at 2048 px](workflows.png)", ""]
    return "\n".join(lines).rstrip() + "\n"


def stages(stats: str) -> dict[str, float]:
    """Seconds per stage from ``pgc run --stats`` (``time: validate 1 ms, ..., run 456 ms``)."""
    units = {"µs": 1e-6, "ms": 1e-3, "s": 1.0}
    for line in stats.splitlines():
        if line.startswith("time:"):
            out = {}
            for part in line.removeprefix("time:").split(","):
                words = part.split()
                if len(words) == 3 and words[2] in units:
                    out[words[0]] = float(words[1]) * units[words[2]]
            return out
    return {}


def _fixed_costs(by, names, sizes) -> list[str]:
    """Where the time of `pgc run` goes: wall time against the stages --stats times."""
    side = min(sizes)
    rows = [(n, by.get((n, side, "run"))) for n in names]
    rows = [(n, r) for n, r in rows if _ok(r) and stages(r.get("stats", ""))]
    if not rows:
        return []
    lines = [f"## Where `pgc run`'s time goes ({side} px, defaults)", "",
             "Stages as `--stats` times them; the rest of the wall time is the process: "
             "interpreter start, imports, catalog, exit.", "",
             "| workflow | wall | compile (validate .. passes) | run | write | rest |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for name, row in rows:
        st = stages(row["stats"])
        compile_s = sum(v for k, v in st.items() if k not in ("run", "write"))
        rest = row["time_s"] - sum(st.values())
        lines.append(f"| {name} | {_seconds(row['time_s'])} | {_seconds(compile_s)} | "
                     f"{_seconds(st.get('run', 0))} | {_seconds(st.get('write', 0))} | "
                     f"{_seconds(rest)} |")  # fmt: skip
    return [*lines, ""]


def _truth(by: dict, name: str, side: int) -> dict | None:
    """What the other results are compared with: the reference executor's, else another
    pgc configuration's (where the reference was not run)."""
    for config in ("reference", "mem-reference", "run", "mem", "numba", "dask"):
        row = by.get((name, side, config))
        if _ok(row) and row.get("summary"):
            return row
    return None


def _ok(row: dict | None) -> bool:
    return row is not None and row["status"] == "ok" and row.get("time_s")


def _ratio(by: dict, name: str, side: int, config: str = "mem", peer: str = "openeo",
           key: str = "time_s") -> str:  # fmt: skip
    """``config``'s ``key`` (time or peak memory) over ``peer``'s, or "" if either failed."""
    a, b = by.get((name, side, config)), by.get((name, side, peer))
    if not (_ok(a) and _ok(b) and a.get(key) and b.get(key)):
        return ""
    return f"{a[key] / b[key]:.2f}"


def _growth(by, names, sizes, configs) -> list[str]:
    pairs = list(zip(sizes, sizes[1:], strict=False))
    if not pairs:
        return []
    lines = ["## Growth with size", "",
             "Time at the larger size over time at the smaller (16 times the pixels from "
             "512 to 2048 px: 16 is linear; less where fixed costs dominate).", ""]  # fmt: skip
    for small, large in pairs:

        def growth(name, c, small=small, large=large):
            a, b = by.get((name, small, c)), by.get((name, large, c))
            return f"{b['time_s'] / a['time_s']:.1f}" if _ok(a) and _ok(b) else ""

        cols = [c for c in configs if any(growth(n, c) for n in names)]
        if not cols:
            continue
        lines += [f"### {large} px / {small} px", "",
                  "| workflow | " + " | ".join(cols) + " |",
                  "|---" * (len(cols) + 1) + "|"]  # fmt: skip
        for name in names:
            cells = [growth(name, c) for c in cols]
            if any(cells):
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _peer_ratios(by, names, sizes, configs) -> list[str]:
    """Each pgc configuration over the peer in the same setting: time of the like-for-like
    pairs (``LIKE_FOR_LIKE``), their peak memory, then the other executors' time (whole
    processes over ``openeo-run``, in-memory calls over ``openeo``)."""
    if not any(p in configs for p in PEER_CONFIGS):
        return []
    others = [(c, "openeo-run") for c in CLI_CONFIGS if c in configs]
    others += [(c, "openeo") for c in MEM_CONFIGS if c in configs]
    others = [pair for pair in others if pair not in LIKE_FOR_LIKE]
    keys = [(a, b, key) for key in ("time_s", "peak_mb") for a, b in LIKE_FOR_LIKE]
    keys += [(a, b, "time_s") for a, b in others]
    lines = ["## pgc / openEO stack", "",
             "Time of each pgc configuration over the peer's in the same setting, same "
             "workflow and size (< 1: pgc is faster). **run / openeo-run**: whole processes "
             "from the same Zarr store to the same output format (start-up, imports, "
             "reading, computing, writing); **mem / openeo**: the call alone, on the same "
             "values already in memory (no start-up, reading or writing on either side). "
             "The other executors likewise (CLI over openeo-run, mem-NAME over openeo). "
             "*peak*: the processes' peak resident memory, same pairs (the in-memory "
             "processes hold their input).", ""]  # fmt: skip
    for side in sizes:
        cells_of = {k: [_ratio(by, n, side, *k) for n in names] for k in keys}
        shown = [k for k, cells in cells_of.items() if any(cells)]
        if not shown:
            continue
        head = [f"{'peak ' if key == 'peak_mb' else ''}{a} / {b}" for a, b, key in shown]
        lines += [f"### {side} px", "", "| workflow | " + " | ".join(head) + " |",
                  "|---" * (len(head) + 1) + "|"]  # fmt: skip
        for i, name in enumerate(names):
            cells = [cells_of[k][i] for k in shown]
            if any(cells):
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def _failures(rows: list[dict]) -> list[str]:
    bad = [r for r in rows if r["status"] != "ok"]
    if not bad:
        return []
    lines = ["## Failures", "", "| workflow | size | config | status | message |",
             "|---|---|---|---|---|"]  # fmt: skip
    for r in bad:
        default = {"out of memory": "stopped: its resident memory passed the limit",
                   "timeout": "stopped: it ran past the timeout"}  # fmt: skip
        message = (r.get("error") or default.get(r["status"], "")).replace("|", "\\|")
        lines.append(f"| {r['workflow']} | {r['size']} | {r['config']} | {r['status']} | "
                     f"{message} |")  # fmt: skip
    return [*lines, ""]


def plot(rows: list[dict], path: Path, side: int = 2048) -> bool:
    """Bars of time per workflow and configuration at ``side`` px (log scale); False when
    matplotlib is missing or there is nothing at that size."""
    chosen = [r for r in rows if r["size"] == side and _ok(r)]
    if not chosen:
        return False
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in NAMES if any(r["workflow"] == n for r in chosen)]
    configs = [c for c in CONFIGS if any(r["config"] == c for r in chosen)]
    by = {(r["workflow"], r["config"]): r["time_s"] for r in chosen}
    width = 0.8 / len(configs)
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(names)), 4.5))
    for i, c in enumerate(configs):
        xs = [j + (i - (len(configs) - 1) / 2) * width for j in range(len(names))]
        ys = [by.get((n, c), float("nan")) for n in names]
        ax.bar(xs, ys, width, label=c)
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("seconds (log)")
    ax.set_title(f"Time per workflow at {side} x {side} px, 12 dates (no bar: failed or not run)")
    ax.legend(ncol=len(configs), fontsize="small", loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_report(json_path: Path, md_path: Path) -> None:
    data = json.loads(json_path.read_text("utf-8"))
    md_path.write_text(report(data["rows"], data.get("meta", {})), "utf-8")
    plot(data["rows"], md_path.with_suffix(".png"))


# -- the command ----------------------------------------------------------------------------


def _names(text: str, known: tuple, what: str) -> list[str]:
    chosen = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)}; known: {', '.join(known)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks workflows",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--workflows", default=",".join(NAMES), help="names, comma-separated")
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help=f"sides in pixels, comma-separated ({BIG} needs dask here)",
    )
    parser.add_argument(
        "--configs", default=",".join(DEFAULT_CONFIGS), help=f"of {', '.join(CONFIGS)}"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds per run")
    parser.add_argument("--memory-limit", type=float, default=18, help="GB per run")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="warm repeats in memory; whole-process runs at <= 512 px run this often",
    )
    parser.add_argument("--data", type=Path, help="where the collections are cached")
    parser.add_argument("--results", type=Path, default=RESULTS / "workflows.json")
    parser.add_argument("--out", type=Path, help="the report (default: beside --results)")
    parser.add_argument("--no-predict", action="store_true",
                        help="run even what a smaller size predicts to time out or run out "
                             "of memory")  # fmt: skip
    parser.add_argument(
        "--warmup",
        action="store_true",
        help="an untimed run before each workflow's first whole-process configuration: on "
        "this VM the first process to take gigabytes after lighter ones ran 20 to 40%% slower",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite the report")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--peer-run", nargs=3, type=Path, help=argparse.SUPPRESS,
                        metavar=("GRAPH", "OUT", "COLLECTION"))  # fmt: skip
    args = parser.parse_args(argv)
    if args.child:
        return _child()
    if args.peer_run:
        return peer_run(*args.peer_run)
    out = args.out or args.results.with_suffix(".md")
    if args.report_only:
        write_report(args.results, out)
        return 0
    names = _names(args.workflows, NAMES, "workflows")
    configs = _names(args.configs, CONFIGS, "configs")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    peers = [c for c in configs if c in PEER_CONFIGS]
    if peers:
        from benchmarks.peer_openeo import available

        reason = available()
        if reason:
            print(f"{', '.join(peers)} skipped: {reason}", file=sys.stderr)
            configs = [c for c in configs if c not in peers]
    commit = _commit()  # the code every row of this run measures
    compile_bytecode()
    for side in sizes:
        start = time.perf_counter()
        where = ensure(side, args.data)
        print(f"{side} px: collection at {where} ({time.perf_counter() - start:.1f} s)",
              flush=True)  # fmt: skip
        for name in names:
            warmed = not args.warmup
            for config in configs:
                repeat = args.repeat if config not in PROCESS_CONFIGS else (
                    args.repeat if side <= 512 else 1)  # fmt: skip
                skip = None if args.no_predict else predicted(
                    load_results(args.results), name, side, config, args.timeout,
                    args.memory_limit)  # fmt: skip
                first = not warmed and config in PROCESS_CONFIGS and skip is None
                warmed = warmed or first
                row = skip or measure(name, side, config, where, timeout=args.timeout,
                                      limit_gb=args.memory_limit, repeat=repeat,
                                      warmup=first)  # fmt: skip
                print(f"  {name:16} {config:14} {_cell(row) or row['status']}"
                      + (f"  [{row.get('error', '')[:160]}]" if row["status"] == "error" else ""),
                      flush=True)  # fmt: skip
                row["commit"] = commit
                rows = merge_rows(load_results(args.results), [row])
                save_results(args.results, rows)
    write_report(args.results, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
