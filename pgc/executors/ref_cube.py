"""Reference implementations of the data cube processes (issue 4's core set).

Dimension order and labels follow the types the IR inferred (``t``, ``bands``, ``y``,
``x`` from the catalog); filters keep a pixel when its centre is inside the extent and
``temporal_extent`` is left-closed, as the definitions say.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .ref_scalar import FLOAT, _as_float
from .reference import Call, ProcessError, implements
from .values import Cube, CubeArray


def _cube(call: Call, name: str = "data") -> Cube:
    value = call.get(name)
    if not isinstance(value, Cube):
        raise ProcessError("ProcessParameterInvalid", f"'{name}' must be a data cube.", name)
    return value


def _bbox(extent: Any) -> tuple[float, float, float, float] | None:
    if not isinstance(extent, dict):
        return None
    return (extent["west"], extent["south"], extent["east"], extent["north"])


@implements("load_collection")
def _load_collection(call: Call) -> Cube:
    from ..data.reading import read_collection

    catalog = call.context.catalog
    cid = call.get("id")
    if cid not in catalog:
        call.fail("CollectionNotFound", f"Collection '{cid}' does not exist.", "id")
    extent = call.get("spatial_extent")
    crs = str(extent.get("crs", 4326)) if isinstance(extent, dict) else None
    grid_crs = catalog.cube_type(cid).dimension("x").crs
    if crs is not None and crs.replace("EPSG:", "") != grid_crs:
        call.fail(
            "ProcessParameterInvalid",
            f"spatial_extent in CRS {crs} is not supported yet "
            f"by the reference executor; give it in the collection's CRS {grid_crs}.",
            "spatial_extent",
        )
    data = read_collection(
        catalog,
        cid,
        call.get("bands"),
        _bbox(extent),
        call.get("temporal_extent"),
        call.context.stats,
    )
    if 0 in data.shape:
        call.fail("NoDataAvailable", "There is no data for the given extents.")
    return Cube.from_nodata(data, data.attrs.get("nodata"))


@implements("filter_bbox")
def _filter_bbox(call: Call) -> Cube:
    cube = _cube(call)
    west, south, east, north = _bbox(call.get("extent"))
    keep = {
        "x": (cube.data.x >= west) & (cube.data.x <= east),
        "y": (cube.data.y >= south) & (cube.data.y <= north),
    }
    return Cube(
        cube.data.isel({d: np.flatnonzero(k) for d, k in keep.items()}),
        cube.valid.isel({d: np.flatnonzero(k) for d, k in keep.items() if d in cube.valid.dims}),
    )


@implements("filter_temporal")
def _filter_temporal(call: Call) -> Cube:
    cube = _cube(call)
    dim = call.get("dimension") or "t"
    start, end = call.get("extent")
    t = cube.data[dim].values
    keep = np.ones(len(t), dtype=bool)
    if start is not None:
        keep &= t >= np.datetime64(start.rstrip("Z"))
    if end is not None:
        keep &= t < np.datetime64(end.rstrip("Z"))
    idx = {dim: np.flatnonzero(keep)}
    return Cube(cube.data.isel(idx), cube.valid.isel(idx) if dim in cube.valid.dims else cube.valid)


@implements("filter_bands")
def _filter_bands(call: Call) -> Cube:
    cube = _cube(call)
    bands = call.get("bands") or []
    return Cube(cube.data.sel(bands=bands), cube.valid.sel(bands=bands))


@implements("apply")
def _apply(call: Call) -> Any:
    cube = _cube(call)
    result = call.callback("process")(x=cube, context=call.get("context"))
    return _as_cube_like(result, cube)


def _as_cube_like(result: Any, like: Cube) -> Cube:
    """A callback's result over every pixel, as a cube shaped like ``like``."""
    if isinstance(result, Cube):
        data, valid = xr.broadcast(result.data, like.data)[0], None
        valid = xr.broadcast(result.valid, like.data)[0]
        return Cube(data.transpose(*like.dims), valid.transpose(*like.dims))
    if result is None:
        return Cube(xr.zeros_like(like.data, dtype=FLOAT), xr.zeros_like(like.data, dtype=bool))
    return Cube(xr.full_like(like.data, result, dtype=FLOAT), xr.ones_like(like.data, dtype=bool))


@implements("reduce_dimension")
def _reduce_dimension(call: Call) -> Cube:
    cube = _cube(call)
    dim = call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    result = call.callback("reducer")(data=CubeArray(cube, dim), context=call.get("context"))
    reduced = cube.data.isel({dim: 0}, drop=True)
    out = _as_cube_like(result, Cube(reduced, xr.ones_like(reduced, dtype=bool)))
    if dim in out.dims:
        call.fail(
            "ProcessParameterInvalid", "The reducer must return one value per pixel.", "reducer"
        )
    return out


@implements("ndvi")
def _ndvi(call: Call) -> Cube:
    cube = _cube(call)
    bands = list(cube.data.bands.values)
    nir, red = call.get("nir", "nir"), call.get("red", "red")
    nir, red = (_band_by_name(call, cube, n, a) for n, a in ((nir, "nir"), (red, "red")))
    x, y = (_as_float(cube.data.sel(bands=b, drop=True)) for b in (nir, red))
    with np.errstate(all="ignore"):
        data = (x - y) / (x + y)
    valid = cube.valid.sel(bands=nir, drop=True) & cube.valid.sel(bands=red, drop=True)
    result = Cube(data.where(valid, 0), valid)
    target = call.get("target_band")
    if target is None:
        return result
    if target in bands:
        call.fail("BandExists", f"A band '{target}' exists already.", "target_band")
    added = [result.data.expand_dims(bands=[target]), result.valid.expand_dims(bands=[target])]
    data = xr.concat([_as_float(cube.data), added[0]], dim="bands")
    valid = xr.concat([cube.valid, added[1]], dim="bands")
    return Cube(data.transpose(*cube.dims), valid.transpose(*cube.dims))


def _band_by_name(call: Call, cube: Cube, name: str, argument: str) -> str:
    bands = list(cube.data.bands.values)
    if name in bands:
        return name
    common = cube.data.attrs.get("common_names", {})
    for band, common_name in common.items():
        if common_name == name and band in bands:
            return band
    code = "NirBandAmbiguous" if argument == "nir" else "RedBandAmbiguous"
    call.fail(code, f"The data cube has no band named '{name}'.", argument)


@implements("mask")
def _mask(call: Call) -> Cube:
    cube, mask = _cube(call), _cube(call, "mask")
    replacement = call.get("replacement")
    hit = mask.valid & (mask.data.astype(bool))
    hit = xr.broadcast(hit, cube.data)[0].transpose(*cube.dims)
    if replacement is None:
        return Cube(cube.data.where(~hit, 0), cube.valid & ~hit)
    data = xr.where(hit, replacement, _as_float(cube.data))
    return Cube(data.transpose(*cube.dims), (cube.valid | hit).transpose(*cube.dims))


@implements("save_result")
def _save_result(call: Call) -> bool:
    call.context.saved.append((_cube(call), call.get("format"), call.get("options") or {}))
    return True
