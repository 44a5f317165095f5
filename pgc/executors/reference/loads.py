"""Reference implementations of the loads: load_collection (a collection of the run's
catalog) and load_stac (a STAC collection on the file system, or a federation member's
result), each cut to the extents and bands it is given; and :func:`read_plan` and
:func:`within_geometries`, which the dask executor's chunked load shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ...data.bands import bands_of
from ...errors import echo
from ..values import Cube, in_chunks_of, zeroed
from .filters import bbox_argument, in_box, in_interval, is_geometries
from .loop import Call
from .table import implements


def within_geometries(call: Call, cube: Cube, argument: str) -> Cube:
    """A loaded cube whose spatial extent was GeoJSON or a vector cube: the pixels of the
    geometries' bounding box whose centre intersects no polygon set to no-data (the
    load_collection definition); any other extent: the cube as it is. Lazy on dask arrays
    (the mask comes from the coordinates alone)."""
    extent = call.get(argument)
    if not is_geometries(extent):
        return cube
    from .vector import geometry_list, geometry_masks, in_cube_crs, planar

    x, y = planar(cube)
    masks = geometry_masks(cube, in_cube_crs(cube, geometry_list(extent, argument)))
    inside = np.any(masks, axis=0) if masks else np.zeros((cube.data.sizes[y], 0), bool)
    keep = in_chunks_of(xr.DataArray(inside, dims=(y, x)), cube.data)
    return Cube(zeroed(cube.data, keep), cube.full_valid() & keep)


@implements("load_collection")
def _load_collection(call: Call) -> Cube:

    catalog = call.context.catalog
    cid = call.get("id")
    if cid not in catalog:
        call.fail("CollectionNotFound", f"Collection '{cid}' does not exist.", "id")
    from ...data.access import ReadRefused

    try:
        return _read(call, catalog, cid)
    except ReadRefused as refused:  # the operator's file (a VRT, a symlink out): not the user's
        call.fail("Internal", f"Collection '{cid}' cannot be read: {refused}.")


def read_plan(call: Call, catalog: Any, cid: str):
    """What the load's extents and bands select of collection ``cid`` (a
    :class:`~pgc.data.reading.ReadPlan`); NoDataAvailable when that is nothing."""
    from ...data.reading import plan_read
    from ...ir.band_filter import UnknownBand

    if (catalog.canonical(cid) or cid) in catalog.sources:
        return _stac_plan(call, catalog, cid)
    grid_crs = catalog.cube_type(cid).dimension("x").crs
    try:
        plan = plan_read(
            catalog,
            cid,
            call.get("bands"),
            bbox_argument(call, "spatial_extent", grid_crs),
            call.get("temporal_extent"),
        )
    except UnknownBand as unknown:  # the type rule's error, for bands known only now
        call.fail("ProcessParameterInvalid",
                  f"Collection '{cid}' has no band {echo(unknown.name)}.", "bands")  # fmt: skip
    if 0 in plan.shape:
        call.fail("NoDataAvailable", "There is no data for the given extents.")
    return plan


def _stac_plan(call: Call, catalog: Any, cid: str):
    """The read plan of a STAC-backed collection: the items its extents and ``properties``
    select, on the grid its extent chooses (:mod:`pgc.data.stac`)."""
    from ...data.reading import plan_stac_read
    from ...data.stac import failures
    from ...data.stac.grid import NeedsExtent
    from ...ir.band_filter import UnknownBand
    from ...options import active

    has_extent = call.get("spatial_extent") is not None
    grid = call.get("pgc:grid")  # a resample_spatial it took over (pgc.passes.load_grid)
    lonlat = bbox_argument(call, "spatial_extent", "4326") if has_extent and not grid else None
    try:
        plan = plan_stac_read(
            catalog,
            cid,
            call.get("bands"),
            lonlat,
            lambda crs: bbox_argument(call, "spatial_extent", crs) if has_extent else None,
            call.get("temporal_extent"),
            property_conditions(call, catalog.sources[catalog.canonical(cid) or cid]),
            active().allowed_hosts,
            grid if isinstance(grid, dict) else None,
        )
    except NeedsExtent as exc:
        call.fail("ProcessParameterInvalid", f"Collection '{cid}' needs a spatial_extent: "
                  f"{exc}.", "spatial_extent")  # fmt: skip
    except UnknownBand as unknown:
        call.fail("ProcessParameterInvalid",
                  f"Collection '{cid}' has no band {echo(unknown.name)}.", "bands")  # fmt: skip
    except failures as exc:
        _source_failed(call, catalog, cid, exc)
    if 0 in plan.shape:
        call.fail("NoDataAvailable", "There is no data for the given extents.")
    size = int(np.prod(plan.shape)) * np.dtype(plan.dtype).itemsize
    call.within_budget(size, "max_cube_bytes", "bytes of loaded data", "spatial_extent")
    return plan


def _source_failed(call: Call, catalog: Any, cid: str, exc: Exception) -> None:
    """A STAC source that failed: the back-end's (Internal) for a collection of its
    catalog, the user's for a URL the graph gave (load_stac)."""
    source = catalog.sources.get(catalog.canonical(cid) or cid)
    if source is not None and not source.trusted:
        call.fail("ProcessParameterInvalid", f"The STAC collection at 'url': {exc}.", "url")
    call.fail("Internal", f"Collection '{cid}' cannot be read: {exc}.")


def property_conditions(call: Call, source: Any) -> list:
    """load_collection's ``properties`` as search conditions: each callback tests an item
    property's value (``eo:cloud_cover`` is the collection's cloud-cover property)."""
    from ...data.stac.search import Condition, simple_comparison
    from .loop import Closure

    properties = call.get("properties")
    if not isinstance(properties, dict):
        return []
    conditions = []
    for name, callback in properties.items():
        if not isinstance(callback, Closure):
            call.fail("ProcessParameterInvalid",
                      f"The property {echo(name)} needs a condition (a child process graph).",
                      "properties")  # fmt: skip
        found = simple_comparison(callback.graph)
        prop = source.cloud_cover if name == "eo:cloud_cover" else str(name)
        op, bound = found if found is not None else (None, None)

        def test(value: Any, callback: Closure = callback) -> Any:
            return callback(value=value)

        conditions.append(Condition(prop, test, op, bound))
    return conditions


def _read(call: Call, catalog: Any, cid: str) -> Cube:
    """The part of collection ``cid`` the load's extents and bands select."""
    from ...data.reading import read_window
    from ...data.stac import failures

    plan = read_plan(call, catalog, cid)
    height, width = plan.window.shape
    try:
        values = read_window(plan, slice(0, height), slice(0, width), call.context.stats)
    except failures as exc:
        _source_failed(call, catalog, cid, exc)
    data = plan.array(values)
    return within_geometries(call, Cube.from_nodata(data, plan.attrs.get("nodata")),
                             "spatial_extent")  # fmt: skip


@implements("load_stac")
def _load_stac(call: Call) -> Cube:
    """A STAC collection (``collection.json`` and its items) that the embedding
    application's resolver maps to the local file system; pgc does no network I/O."""
    from ...data.access import ReadRefused
    from ...data.catalog import Catalog
    from .. import exchange

    url = str(call.get("url"))
    resolver = call.context.resolver
    if url.lower().startswith(("http://", "https://")) and (
        resolver is None or resolver(url) is None
    ):
        return _load_remote_stac(call, url)
    path = call.resolve(url, "url")  # resolved, inside the run's read roots
    folder = path.parent if path.suffix == ".json" else path
    # the collection folder is the root of every href in it (pgc.data.access)
    try:
        if not (folder / "collection.json").is_file():
            call.fail("ProcessParameterInvalid", "There is no STAC collection.json at 'url'.",
                      "url")  # fmt: skip
        if exchange.is_exchange(folder):  # one whole cube (a federation member's result)
            return _filtered(call, exchange.read(folder))
        catalog = Catalog()
        cid = catalog.add_folder(folder)
        return _read(call, catalog, cid)
    except ReadRefused as refused:  # says which item or asset and why, not where
        call.fail("ProcessParameterInvalid", f"The STAC collection at 'url': {refused}.", "url")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        call.fail("ProcessParameterInvalid",
                  f"The STAC collection at 'url' cannot be read ({type(exc).__name__}).",
                  "url")  # fmt: skip


def _load_remote_stac(call: Call, url: str) -> Cube:
    """load_stac of a STAC collection over HTTP, on a host the run allows
    (:attr:`pgc.Options.allowed_hosts`; none by default): read as a STAC-backed collection
    (:mod:`pgc.data.stac`), its bands the collection's ``item_assets``."""
    import json

    from ...data.catalog import Catalog
    from ...data.stac import failures
    from ...data.stac.config import source_of_collection
    from ...data.stac.http import HttpFiles
    from ...data.stac.job_results import exchanged_asset
    from ...data.stac.search import MAX_JSON
    from ...hosts import HostPolicy
    from ...options import active

    allowed = active().allowed_hosts
    if not allowed:
        call.fail("FeatureUnsupported", "pgc does no network I/O for 'url': the back-end "
                  "allows no host (allowed_hosts), and its resolver does not give this URL.",
                  "url")  # fmt: skip
    files = HttpFiles(HostPolicy(allowed))
    try:
        document = json.loads(files.get(url, MAX_JSON))
        asset = exchanged_asset(url, document)  # another member's job result?
        if asset is not None:
            return _filtered(call, _exchanged(call, files, *asset))
        source = source_of_collection(url, document if isinstance(document, dict) else {})
    except (*failures, ValueError) as exc:  # refused or failed; not JSON or no item_assets
        call.fail("ProcessParameterInvalid", f"The STAC collection at 'url': {exc}.", "url")
    catalog = Catalog()
    catalog.add_source(source)
    return _read(call, catalog, source.id)


def _exchanged(call: Call, files: Any, href: str, size: int | None) -> Cube:
    """The cube another member's batch job saved for this run (:mod:`pgc.data.stac.job_results`),
    downloaded within the budget of one value: a file the results say is larger is
    refused before the download, one that grows beyond it during the download too."""
    from ...data.stac.job_results import download_cube

    limits = call.context.limits
    limit = limits.max_cube_bytes if limits is not None else None
    if limit is not None and size is not None:
        call.within_budget(size, "max_cube_bytes", "bytes of an exchanged file", "url")
    values, valid, download = download_cube(files, href, limit if limit is not None else 2**40)
    call.context.stats.remote(download)
    call.within_budget(int(values.nbytes), "max_cube_bytes", "bytes of loaded data", "url")
    return Cube(values, valid)


def _filtered(call: Call, cube: Cube) -> Cube:
    """A loaded cube cut to load_stac's extents and bands (those it was given)."""
    from ...ir.band_filter import UnknownBand, select_bands

    dims = set(cube.dims)
    bands = call.get("bands")
    if bands:
        if "bands" not in dims:
            call.fail("ProcessParameterInvalid", "The collection has no bands dimension.", "bands")
        try:  # names or common names, in the order given (as load_collection reads them)
            picked = select_bands(bands_of(cube.data, "bands"), bands)
        except UnknownBand as exc:
            call.fail(
                "ProcessParameterInvalid", f"The collection has no band {echo(exc.name)}.", "bands"
            )
        cube = cube.isel({"bands": picked})
    extent = call.get("spatial_extent")
    if extent is not None and {"x", "y"} <= dims:
        cube = in_box(call, cube, "spatial_extent")
    interval = call.get("temporal_extent")
    if interval is not None and "t" in dims:
        cube = in_interval(cube, "t", interval)
    return cube
