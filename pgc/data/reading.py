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
from functools import lru_cache
from typing import Any

import numpy as np

from ..grid import bbox_in_crs, window_for_bbox
from ..ir.band_filter import select_bands
from ..ir.types import Band
from .bands import band_coords
from .catalog import Catalog, default_catalog


@dataclass
class ReadStats:
    bytes_read: int = 0
    reads: int = 0
    by_source: dict[str, int] = field(default_factory=dict)

    # the reads of STAC-backed collections (pgc.data.stac.load.StacRead): their bytes over
    # the network and pgc's estimate of them
    remote_reads: list = field(default_factory=list, repr=False)

    def add(self, nbytes: int, source: str) -> None:
        self.bytes_read += nbytes
        self.reads += 1
        self.by_source[source] = self.by_source.get(source, 0) + nbytes

    def remote(self, read: Any) -> None:
        """Count the network transfers of a STAC read (once, however many parts)."""
        if not any(r is read for r in self.remote_reads):
            self.remote_reads.append(read)

    def network(self) -> dict[str, int]:
        """Bytes received over the network for assets (``bytes``, in ``requests``), for STAC
        documents (``documents``: searches, static catalogs), and pgc's estimate of the
        assets' bytes (``estimate``: each asset's header and the compressed blocks its
        windows need), the assets' bytes per host (``by_host``); empty when nothing came over
        the network."""
        reads = self.remote_reads
        if not reads:
            return {}
        by_host: dict[str, int] = {}
        for r in reads:
            for host, n in r.files.transfer.by_host.items():
                by_host[host] = by_host.get(host, 0) + n
        return {
            "bytes": sum(r.files.transfer.bytes for r in reads),
            "requests": sum(r.files.transfer.requests for r in reads),
            "documents": sum(r.files.documents.bytes for r in reads),
            "estimate": sum(r.estimate() for r in reads),
            "by_host": by_host,  # the assets' bytes per host
        }


def _instant(value: str) -> str:
    return value + "T00:00:00Z" if len(value) == 10 else value


@dataclass(frozen=True)
class ReadPlan:
    """What a read selects: the window, the dates (positions), the bands, and what the
    values are (dtype, coordinates, attributes). :func:`read_window` reads any part of it,
    so a cube can also be read chunk by chunk (the dask executor)."""

    collection_id: str
    window: Any  # pgc.grid.Window
    dates: list[int]
    bands: list[str]
    dtype: str
    coords: dict
    attrs: dict
    items: list | None  # file-backed: the collection's items; None: the embedded sample
    store: Any = None  # a collection in one Zarr store: its path
    block: tuple[int, int] | None = None  # the storage's chunk (rows, columns), where it has one
    sample: str | None = None  # neither items nor store: the STAC's pgc:sample (None: the first)
    stac: Any = None  # a STAC-backed collection: its items by day (pgc.data.stac.load.StacRead)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.dates), len(self.bands), *self.window.shape)

    def array(self, values):
        """``values`` (numpy or dask, the plan's shape) as the labelled cube [t, bands, y, x]."""
        import xarray as xr

        dims = ("t", "bands", "y", "x")
        return xr.DataArray(values, dims=dims, coords=self.coords, attrs=dict(self.attrs))


def plan_read(
    catalog: Catalog,
    collection_id: str,
    bands: list[str] | None,
    bbox: tuple[float, float, float, float] | None,
    temporal_extent: list[Any] | None,
) -> ReadPlan:
    """The read of ``bands`` in ``bbox`` (grid CRS; None: everything) and the temporal
    extent, without reading."""
    cube = catalog.cube_type(collection_id)
    x, y, t = (cube.dimension(n) for n in ("x", "y", "t"))
    window = window_for_bbox(x.extent, y.extent, x.step, bbox)
    labels = list(t.labels)
    start, end = temporal_extent or [None, None]
    dates = [
        i
        for i, label in enumerate(labels)
        if (start is None or label >= _instant(start)) and (end is None or label < _instant(end))
    ]
    names = band_names(cube, bands)
    coords = _coords(cube, window, [labels[i] for i in dates], names)
    collection_id = catalog.canonical(collection_id) or collection_id  # an alias: its id
    store = catalog.stores.get(collection_id)
    return ReadPlan(collection_id, window, dates, names, cube.dtype, coords,
                    {"crs": x.crs, "nodata": cube.nodata},
                    catalog.items.get(collection_id), store,
                    _store_block(store, names) if store is not None else None,
                    catalog.stac(collection_id).get("pgc:sample"))  # fmt: skip


def plan_stac_read(
    catalog: Catalog,
    collection_id: str,
    bands: list[str] | None,
    lonlat: tuple[float, float, float, float] | None,
    box_in: Any,
    temporal_extent: list[Any] | None,
    conditions: list | None = None,
    allowed: tuple[str, ...] = (),
    grid: dict | None = None,
) -> ReadPlan:
    """The read of a STAC-backed collection (:mod:`pgc.data.stac`): the grid chosen for the
    extent (``lonlat``: its lon/lat box; ``box_in(crs)``: its box in ``crs``), the items
    found for it, the dates, and the ``properties`` ``conditions``
    (:class:`pgc.data.stac.search.Condition`). Searches, but reads no pixel.
    :class:`~pgc.data.stac.grid.NeedsExtent` when the grid needs an extent and there is none.
    ``grid``: the grid a resample_spatial the load took over asks for (``pgc:grid``,
    :mod:`pgc.passes.load_grid`), read whole."""
    from ..grid import Window
    from ..ir.typerules.loading import on_grid
    from .stac.grid import grid_crs
    from .stac.load import plan_stac

    cid = catalog.canonical(collection_id) or collection_id
    source = catalog.sources[cid]
    if grid is not None:
        crs = str(grid["crs"])
        box = (grid["x"][0], grid["y"][0], grid["x"][1], grid["y"][1])
        lonlat = bbox_in_crs(box, crs, "4326")
        cube = on_grid(catalog.cube_type(cid), grid)
        x, y = cube.dimension("x"), cube.dimension("y")
        window = Window(0, y.size, 0, x.size)
    else:
        crs = grid_crs(source.crs, lonlat)
        box = box_in(crs)
        if box is None:  # no extent: the collection's own
            box = bbox_in_crs(source.spatial_extent, "4326", crs)
        cube = catalog.cube_type(cid, (crs, box))
        x, y = cube.dimension("x"), cube.dimension("y")
        window = window_for_bbox(x.extent, y.extent, x.step, box)
    names = band_names(cube, bands)
    start, end = temporal_extent or [None, None]
    overviews = source.overviews and (grid is None or grid.get("method") == "average")
    read = plan_stac(source, cube, names, crs, lonlat, (start, end), conditions or [],
                     allowed, overviews)  # fmt: skip
    dates = list(range(len(read.labels)))
    coords = _coords(cube, window, read.labels, names)
    nodata = float("nan") if np.dtype(cube.dtype).kind == "f" else cube.nodata
    return ReadPlan(cid, window, dates, names, cube.dtype, coords,
                    {"crs": crs, "nodata": nodata}, None, stac=read)  # fmt: skip


def _coords(cube: Any, window: Any, labels: list[str], names: list[str]) -> dict:
    """The coordinates of a read: ``t`` (the dates' labels as datetime64), the band names
    and their metadata, and the pixel centres of ``window`` on the cube's x/y grid."""
    x, y = cube.dimension("x"), cube.dimension("y")
    step = x.step
    return {
        "t": np.array([np.datetime64(label.rstrip("Z")) for label in labels], "datetime64[ns]"),
        "bands": names,
        "y": y.extent[1] - (np.arange(window.y0, window.y1) + 0.5) * step,
        "x": x.extent[0] + (np.arange(window.x0, window.x1) + 0.5) * step,
        **band_coords("bands", [cube.band(n) or Band(n) for n in names]),
    }


def band_names(cube: Any, bands: list[str] | None) -> list[str]:
    """The names of the bands ``bands`` asks for (names or common names, the definition of
    ``load_collection``; :func:`pgc.ir.band_filter.select_bands`), in the order asked; all
    bands when it asks for none. Raises :class:`~pgc.ir.band_filter.UnknownBand`."""
    labels = list(cube.dimension("bands").labels)
    if not bands:
        return labels
    meta = [cube.band(str(n)) or Band(str(n)) for n in labels]
    return [labels[i] for i in select_bands(meta, bands)]


def read_window(plan: ReadPlan, rows: slice, cols: slice, stats: ReadStats | None = None):
    """The values [t, bands, y, x] of the plan's window rows ``rows`` and columns ``cols``
    (positions within the window)."""
    from ..grid import Window
    from . import sample

    w = plan.window
    part = Window(w.y0 + rows.start, w.y0 + rows.stop, w.x0 + cols.start, w.x0 + cols.stop)
    if plan.stac is not None:
        from .stac.load import read_part

        nodata = plan.attrs.get("nodata")
        return read_part(plan.stac, part, plan.dates, plan.dtype, nodata, stats)
    if plan.store is not None:
        return read_store(plan.store, plan.bands, plan.dates, part, plan.dtype, stats)
    if plan.items is not None:
        items = [plan.items[i] for i in plan.dates]
        return read_items(items, plan.bands, part, plan.dtype, stats)
    return sample.read(plan.bands, part, plan.dates, stats, plan.sample)


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
    plan = plan_read(catalog, collection_id, bands, bbox, temporal_extent)
    height, width = plan.window.shape
    return plan.array(read_window(plan, slice(0, height), slice(0, width), stats))


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
            part = _read_asset(item.assets[band], band, window, item.access)
            out[i, j] = part
            if stats is not None:
                stats.add(part.size * part.dtype.itemsize, str(item.assets[band]))
    return out


def read_store(store, bands: list[str], dates: list[int], window, dtype: str, stats):
    """Windowed reads of a Zarr store with an array [t, y, x] per band: [t, bands, y, x].
    Only the storage chunks the window and dates touch are read."""
    group = _open_store(str(store))
    out = np.empty((len(dates), len(bands), *window.shape), dtype=dtype)
    rows, cols = slice(window.y0, window.y1), slice(window.x0, window.x1)
    times = as_slice(dates)
    for j, band in enumerate(bands):
        _read_into(group[band], (times, rows, cols), out[:, j])
        if stats is not None:
            stats.add(out[:, j].nbytes, f"{store}/{band}")
    return out


def _read_into(array, selection: tuple, out: np.ndarray) -> None:
    """``array``'s orthogonal ``selection`` written into ``out`` (a view of the read's
    result) by Zarr itself: no temporary of the selection's size to allocate and copy."""
    from zarr.core.buffer import default_buffer_prototype

    target = default_buffer_prototype().nd_buffer.from_numpy_array(out)
    array.get_orthogonal_selection(selection, out=target)


@lru_cache(maxsize=16)
def _open_store(path: str):
    """The Zarr group at ``path``, opened once per process (a store's metadata is read
    once, not for every chunk of every read)."""
    import zarr

    return zarr.open_group(path, mode="r")


def _store_block(store, bands: list[str]) -> tuple[int, int]:
    """The rows and columns of a storage chunk of the store's arrays (the first band's)."""
    chunks = _open_store(str(store))[bands[0]].chunks
    return int(chunks[-2]), int(chunks[-1])


def as_slice(positions: Any) -> Any:
    """Consecutive positions (a list or an array of ints) as a slice, which selects a view
    in numpy and is faster for Zarr; other positions as they are."""
    n = len(positions)
    if n and np.array_equal(positions, np.arange(positions[0], positions[0] + n)):
        return slice(int(positions[0]), int(positions[0]) + n)
    return positions


def _read_asset(path, band: str, window, access=None) -> np.ndarray:
    """One band's window of an asset, opened only through :mod:`pgc.data.access` (checked
    against the folders its item was checked against; GeoTIFF through the GTiff driver
    only, no sidecars, no network)."""
    from .access import ReadAccess

    access = access if access is not None else ReadAccess.of(path)
    suffix = str(path).rstrip("/").rsplit(".", 1)[-1].lower()
    what = f"the asset of band {band!r}"
    if suffix in ("nc", "zarr"):
        opened = (
            access.open_zarr(path, what)
            if suffix == "zarr"
            else access.open_netcdf(path, what, mask_and_scale=False)
        )
        with opened as dataset:
            variable = dataset[band] if band in dataset else dataset[next(iter(dataset))]
            rows, cols = variable.dims[-2:]
            part = variable.isel(
                {rows: slice(window.y0, window.y1), cols: slice(window.x0, window.x1)}
            )
            return np.asarray(part.values).reshape(window.shape)
    from rasterio.windows import Window as RasterioWindow

    box = RasterioWindow(window.x0, window.y0, window.x1 - window.x0, window.y1 - window.y0)
    with access.open_raster(path, what) as src:
        return src.read(1, window=box)


__all__ = [
    "ReadPlan",
    "ReadStats",
    "default_catalog",
    "plan_read",
    "plan_stac_read",
    "read_collection",
    "read_items",
    "read_store",
    "read_window",
]
