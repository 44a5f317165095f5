"""Reading collections: windowed reads with byte accounting, as labelled xarray cubes.

A read asks for bands, a bounding box (pixel centres inside, openEO's rule, see
:mod:`pgc.grid`) and a left-closed temporal interval, and is told exactly what came from
disk: the optimizer is measured by these counts (``pgc run --stats``).

>>> stats = ReadStats()
>>> cube = read_collection(default_catalog(), "SENTINEL2_L2A_SAMPLE", ["B04"],
...                        (600000, 5694900, 600050, 5695000), ["2023-06-01", "2023-07-01"], stats)
>>> cube.dims, cube.shape, stats.bytes_read
(('t', 'bands', 'y', 'x'), (1, 1, 10, 5), 100)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..grid import window_for_bbox
from .catalog import Catalog, default_catalog


@dataclass
class ReadStats:
    bytes_read: int = 0
    reads: int = 0
    by_source: dict[str, int] = field(default_factory=dict)

    def add(self, nbytes: int, source: str) -> None:
        self.bytes_read += nbytes
        self.reads += 1
        self.by_source[source] = self.by_source.get(source, 0) + nbytes


def _instant(value: str) -> str:
    return value + "T00:00:00Z" if len(value) == 10 else value


def read_collection(
    catalog: Catalog,
    collection_id: str,
    bands: list[str] | None,
    bbox: tuple[float, float, float, float] | None,
    temporal_extent: list[Any] | None,
    stats: ReadStats | None = None,
):
    """The requested part of a collection as an ``xarray.DataArray`` [t, bands, y, x].

    ``bbox`` is (west, south, east, north) in the collection's CRS; None reads everything.
    Coordinates: ``t`` as numpy datetime64, ``bands`` names, ``y``/``x`` pixel centres.
    """
    import xarray as xr

    from . import sample

    cube = catalog.cube_type(collection_id)
    x, y, t, b = (cube.dimension(n) for n in ("x", "y", "t", "bands"))
    window = window_for_bbox(x.extent, y.extent, x.step, bbox)
    labels = list(t.labels)
    start, end = temporal_extent or [None, None]
    dates = [
        i
        for i, label in enumerate(labels)
        if (start is None or label >= _instant(start)) and (end is None or label < _instant(end))
    ]
    names = list(bands) if bands else list(b.labels)
    if collection_id in catalog.items:
        items = catalog.items[collection_id]
        values = read_items([items[i] for i in dates], names, window, cube.dtype, stats)
    else:
        values = sample.read(names, window, dates, stats)
    step = x.step
    xs = x.extent[0] + (np.arange(window.x0, window.x1) + 0.5) * step
    ys = y.extent[1] - (np.arange(window.y0, window.y1) + 0.5) * step
    times = np.array([np.datetime64(labels[i].rstrip("Z")) for i in dates], dtype="datetime64[ns]")
    return xr.DataArray(
        values,
        dims=("t", "bands", "y", "x"),
        coords={"t": times, "bands": names, "y": ys, "x": xs},
        attrs={"crs": x.crs, "nodata": cube.nodata},
    )


def read_items(items, bands: list[str], window, dtype: str, stats: ReadStats | None):
    """Windowed reads of each band's asset of each item: [t, bands, y, x].

    GeoTIFF/COG assets are read with rasterio; netCDF (``.nc``) and Zarr (``.zarr``)
    assets with xarray, lazily, selecting the window before loading. An asset holds one
    band (a variable named like the band, or its only variable) on the collection's grid,
    rows north to south.
    """
    out = np.zeros((len(items), len(bands), *window.shape), dtype=dtype)
    for i, item in enumerate(items):
        for j, band in enumerate(bands):
            part = _read_asset(item.assets[band], band, window)
            out[i, j] = part
            if stats is not None:
                stats.add(part.size * part.dtype.itemsize, str(item.assets[band]))
    return out


def _read_asset(path, band: str, window) -> np.ndarray:
    suffix = str(path).rstrip("/").rsplit(".", 1)[-1].lower()
    if suffix in ("nc", "zarr"):
        import xarray as xr

        opened = (
            xr.open_zarr(path)
            if suffix == "zarr"
            else xr.open_dataset(path, engine="netcdf4", mask_and_scale=False)
        )
        with opened as dataset:
            variable = dataset[band] if band in dataset else dataset[next(iter(dataset))]
            rows, cols = variable.dims[-2:]
            part = variable.isel(
                {rows: slice(window.y0, window.y1), cols: slice(window.x0, window.x1)}
            )
            return np.asarray(part.values).reshape(window.shape)
    import rasterio
    from rasterio.windows import Window as RasterioWindow

    box = RasterioWindow(window.x0, window.y0, window.x1 - window.x0, window.y1 - window.y0)
    with rasterio.open(path) as src:
        return src.read(1, window=box)


__all__ = ["ReadStats", "default_catalog", "read_collection", "read_items"]
