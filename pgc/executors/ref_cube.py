"""Reference implementations of the data cube processes (issue 4's core set).

Dimension order and labels follow the types the IR inferred (``t``, ``bands``, ``y``,
``x`` from the catalog); filters keep a pixel when its centre is inside the extent and
``temporal_extent`` is left-closed, as the definitions say.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from ..errors import echo
from ..grid import OutsideCrs, bbox_in_crs
from .pixels import PixelArrays
from .ref_scalar import FLOAT, _as_float
from .reference import Call, Closure, ProcessError, implements
from .values import Cube, CubeArray, LabeledArray, zeroed


def _cube(call: Call, name: str = "data") -> Cube:
    value = call.get(name)
    if not isinstance(value, Cube):
        raise ProcessError("ProcessParameterInvalid", f"'{name}' must be a data cube.", name)
    return value


def _bbox(
    call: Call, argument: str, crs: str | None = None
) -> tuple[float, float, float, float] | None:
    """A bounding-box argument as (west, south, east, north), in ``crs`` when given."""
    extent = call.get(argument)
    if isinstance(extent, Cube) or (isinstance(extent, dict) and "west" not in extent):
        box, source = _geometry_bounds(call, extent, argument)  # GeoJSON or a vector cube
    elif isinstance(extent, dict):
        box = (extent["west"], extent["south"], extent["east"], extent["north"])
        source = str(extent.get("crs", 4326)).replace("EPSG:", "")
    else:
        return None
    try:
        return bbox_in_crs(box, source, crs) if crs is not None else box
    except OutsideCrs as exc:
        call.fail("ProcessParameterInvalid", f"The {argument} {exc}", argument)


def _geometry_bounds(call: Call, value: Any, argument: str) -> tuple[tuple, str]:
    """The bounding box of the geometries of GeoJSON or a vector cube, and its CRS."""
    from .ref_vector import _geometries, _shape

    geometries = _geometries(value, argument)
    boxes = [_shape(g, argument).bounds for g in geometries]
    boxes = [b for b in boxes if all(math.isfinite(v) for v in b)]  # empty: NaN bounds
    if not boxes:
        call.fail("NoDataAvailable", f"The geometries of '{argument}' are empty.", argument)
    west, south = min(b[0] for b in boxes), min(b[1] for b in boxes)
    east, north = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return (west, south, east, north), str(geometries.crs).replace("EPSG:", "")


@implements("load_collection")
def _load_collection(call: Call) -> Cube:

    catalog = call.context.catalog
    cid = call.get("id")
    if cid not in catalog:
        call.fail("CollectionNotFound", f"Collection '{cid}' does not exist.", "id")
    from ..data.access import ReadRefused

    try:
        return _read(call, catalog, cid)
    except ReadRefused as refused:  # the operator's file (a VRT, a symlink out): not the user's
        call.fail("Internal", f"Collection '{cid}' cannot be read: {refused}.")


def read_plan(call: Call, catalog: Any, cid: str):
    """What the load's extents and bands select of collection ``cid`` (a
    :class:`~pgc.data.reading.ReadPlan`); NoDataAvailable when that is nothing."""
    from ..data.reading import plan_read

    grid_crs = catalog.cube_type(cid).dimension("x").crs
    plan = plan_read(
        catalog,
        cid,
        call.get("bands"),
        _bbox(call, "spatial_extent", grid_crs),
        call.get("temporal_extent"),
    )
    if 0 in plan.shape:
        call.fail("NoDataAvailable", "There is no data for the given extents.")
    return plan


def _read(call: Call, catalog: Any, cid: str) -> Cube:
    """The part of collection ``cid`` the load's extents and bands select."""
    from ..data.reading import read_window

    plan = read_plan(call, catalog, cid)
    height, width = plan.window.shape
    data = plan.array(read_window(plan, slice(0, height), slice(0, width), call.context.stats))
    return Cube.from_nodata(data, plan.attrs.get("nodata"))


@implements("filter_bbox")
def _filter_bbox(call: Call) -> Cube:
    from .ref_vector import _is_vector, filter_bbox_vector

    cube = _cube(call)
    if _is_vector(cube):
        return filter_bbox_vector(cube, call.get("extent"))
    return _in_box(call, cube, "extent")


def _in_box(call: Call, cube: Cube, argument: str) -> Cube:
    """The pixels whose centres lie in the box; NoDataAvailable when there are none (as
    the type rule says when it can see it)."""
    west, south, east, north = _bbox(call, argument, cube.data.attrs.get("crs"))
    keep = {
        "x": (cube.data.x >= west) & (cube.data.x <= east),
        "y": (cube.data.y >= south) & (cube.data.y <= north),
    }
    picked = {d: np.flatnonzero(k) for d, k in keep.items()}
    if any(p.size == 0 for p in picked.values()):
        call.fail("NoDataAvailable", "The extent holds no pixel centre of the data.", argument)
    return cube.isel(picked)


@implements("filter_temporal")
def _filter_temporal(call: Call) -> Cube:
    cube = _cube(call)
    return _in_interval(cube, call.get("dimension") or "t", call.get("extent"))


def _in_interval(cube: Cube, dim: str, interval: list) -> Cube:
    """The labels of ``dim`` in the left-closed interval (an open end: null)."""
    start, end = interval
    t = cube.data[dim].values
    keep = np.ones(len(t), dtype=bool)
    if start is not None:
        keep &= t >= np.datetime64(str(start).rstrip("Z"))
    if end is not None:
        keep &= t < np.datetime64(str(end).rstrip("Z"))
    return cube.isel({dim: np.flatnonzero(keep)})


@implements("filter_bands")
def _filter_bands(call: Call) -> Cube:
    cube = _cube(call)
    bands = call.get("bands") or []
    return cube.sel({"bands": bands})


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
    if not isinstance(result, int | float):  # bool is an int
        raise ProcessError(
            "ProcessParameterInvalid",
            f"The callback must return one number or boolean per pixel, not {_kind(result)}.",
        )
    dtype = bool if isinstance(result, bool) else FLOAT  # a constant true stays a boolean
    return Cube(xr.full_like(like.data, result, dtype=dtype), xr.ones_like(like.data, dtype=bool))


def _kind(value: Any) -> str:
    if isinstance(value, CubeArray | PixelArrays | list | LabeledArray):
        return "an array"
    return f"a {type(value).__name__}"


@implements("reduce_dimension")
def _reduce_dimension(call: Call) -> Cube:
    cube = _cube(call)
    dim = call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    reducer = call.callback("reducer")
    if cube.data.sizes[dim] == 0:  # every pixel's array is the same empty array
        template = xr.zeros_like(cube.data.sum(dim), dtype=FLOAT)
        empty = reducer(data=LabeledArray([], []), context=call.get("context"))
        return _as_cube_like(empty, Cube(template, xr.ones_like(template, dtype=bool)))
    result = reducer(data=CubeArray(cube, dim), context=call.get("context"))
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
    x, y = (cube.sel({"bands": b}, drop=True) for b in (nir, red))
    with np.errstate(all="ignore"):
        data = (_as_float(x.data) - _as_float(y.data)) / (_as_float(x.data) + _as_float(y.data))
    valid = xr.broadcast(x.valid & y.valid, data)[0].transpose(*data.dims)
    result = Cube(data.where(valid, 0), valid)
    target = call.get("target_band")
    if target is None:
        return result
    if target in bands:
        call.fail("BandExists", f"A band '{target}' exists already.", "target_band")
    added = [result.data.expand_dims(bands=[target]), result.valid.expand_dims(bands=[target])]
    data = xr.concat([_as_float(cube.data), added[0]], dim="bands")
    every = cube.full_valid()  # the validity may lack the bands
    valid = xr.concat([every, added[1]], dim="bands")
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
        return Cube(zeroed(cube.data, ~hit), cube.valid & ~hit)
    data = xr.where(hit, replacement, _as_float(cube.data))
    return Cube(data.transpose(*cube.dims), (cube.valid | hit).transpose(*cube.dims))


@implements("save_result")
def _save_result(call: Call) -> bool:
    call.context.saved.append((_cube(call), call.get("format"), call.get("options") or {}))
    call.context.saved_nodes.append(call.node.id)
    return True


@implements("rename_labels")
def _rename_labels(call: Call) -> Cube:
    cube, dim = _cube(call), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    labels = [_plain(v) for v in cube.data[dim].values]
    target, source = list(call.get("target")), list(call.get("source") or [])
    if not source:
        if len(target) != len(labels):
            call.fail(
                "LabelMismatch",
                f"'target' has {len(target)} labels, the dimension {len(labels)}.",
                "target",
            )
        new = target
    else:
        if len(source) != len(target):
            call.fail("LabelMismatch", "'source' and 'target' differ in length.", "target")
        mapping = dict(zip(source, target, strict=True))
        missing = [s for s in source if s not in labels]
        if missing:
            call.fail("LabelNotAvailable", f"The dimension has no label '{missing[0]}'.", "source")
        new = [mapping.get(v, v) for v in labels]
    if len(set(map(str, new))) != len(new):
        call.fail("LabelExists", "The renamed labels are not distinct.", "target")
    from .ref_vector import relabeled

    data = cube.data.assign_coords({dim: new})
    data.attrs = relabeled(cube.data.attrs, dim, dict(zip(labels, new, strict=True)))
    return Cube(
        data, cube.valid.assign_coords({dim: new}) if dim in cube.valid.dims else cube.valid
    )


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


@implements("merge_cubes")
def _merge_cubes(call: Call) -> Cube:
    """The union of two cubes' labels. Where both cubes have a value for the same labels
    (the same pixel, date and band) the overlap resolver combines them; it is required
    when there is any such overlap. A cube whose dimensions are a subset of the other's
    (a DEM and a time series) is merged into every step of the missing dimensions.

    Labels: spatial and temporal dimensions stay sorted (in cube1's direction); others
    keep cube1's order with cube2's new labels appended."""
    a, b = _cube(call, "cube1"), _cube(call, "cube2")
    dims = list(a.dims if set(a.dims) >= set(b.dims) else b.dims)  # as the type rule says
    if not set(dims) >= set(a.dims) | set(b.dims):
        call.fail(
            "ProcessParameterInvalid",
            "The data cubes are not compatible: neither has all the other's dimensions.",
            "cube2",
        )
    labels = {d: _merged_labels(a, b, d) for d in dims}
    (da, va, has_a), (db, vb, has_b) = (_on_labels(c, dims, labels) for c in (a, b))
    both = has_a & has_b
    resolver = call.args.get("overlap_resolver")
    data = xr.where(has_a, da, db)
    valid = xr.where(has_a, va, vb)
    if bool(both.any()):
        if not isinstance(resolver, Closure):
            call.fail(
                "OverlapResolverMissing",
                "Overlapping data cubes, but no overlap resolver has been specified.",
                "overlap_resolver",
            )
        resolved = _as_cube_like(
            resolver(x=Cube(da, va), y=Cube(db, vb), context=call.get("context")), Cube(da, va)
        )
        data = xr.where(both, _as_float(resolved.data), data)
        valid = xr.where(both, resolved.valid, valid)
    return Cube(data.where(valid, 0).transpose(*dims), valid.transpose(*dims))


def _merged_labels(a: Cube, b: Cube, dim: str) -> np.ndarray:
    if dim not in b.dims:
        return a.data[dim].values
    if dim not in a.dims:
        return b.data[dim].values
    first, second = a.data[dim].values, b.data[dim].values
    kinds = {np.issubdtype(v.dtype, np.datetime64) for v in (first, second) if len(v)}
    if len(kinds) > 1:  # dates and text ('2023-01', as aggregate_temporal_period labels)
        other = second if np.issubdtype(first.dtype, np.datetime64) else first
        raise ProcessError(
            "ProcessParameterInvalid",
            f"The data cubes are not compatible: the labels of '{dim}' are dates in one cube "
            f"and not in the other ({echo(str(other[0]))}); merge cubes aggregated alike.",
            "cube2",
        )
    if not len(first):  # no labels: no kind of its own (an empty text array, say)
        first = first.astype(second.dtype)
    if not len(second):
        second = second.astype(first.dtype)
    new = second[~np.isin(second, first)]
    merged = np.concatenate([first, new])
    ordered = dim in ("x", "y") or np.issubdtype(merged.dtype, np.datetime64)
    if ordered and len(new):
        descending = len(first) > 1 and first[0] > first[-1]
        merged = np.sort(merged)[::-1] if descending else np.sort(merged)
    return merged


def _on_labels(cube: Cube, dims: list[str], labels: dict) -> tuple:
    """``cube``'s values and validity on the merged labels, and where it has labels."""
    data = _as_float(cube.data)
    valid = cube.full_valid()
    has = xr.ones_like(data, dtype=bool)
    own = {d: labels[d] for d in cube.dims}
    data = data.reindex(own, fill_value=0.0)
    valid = valid.reindex(own, fill_value=False)
    has = has.reindex(own, fill_value=False)
    extra = {d: labels[d] for d in dims if d not in cube.dims}
    if extra:
        data, valid, has = (v.expand_dims(extra) for v in (data, valid, has))
    return data.transpose(*dims), valid.transpose(*dims), has.transpose(*dims)


# apply_kernel's border modes as numpy's padding modes
PAD_MODES = {
    "replicate": "edge",
    "reflect": "symmetric",
    "reflect_pixel": "reflect",
    "wrap": "wrap",
}


@implements("apply_kernel")
def _apply_kernel(call: Call) -> Cube:
    cube = _cube(call)
    kernel = np.asarray(call.get("kernel"), dtype=FLOAT)
    if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        call.fail(
            "KernelDimensionsUneven",
            "The kernel needs an odd number of rows and columns.",
            "kernel",
        )
    factor = call.get("factor", 1)
    border = call.get("border", 0)
    replace_invalid = call.get("replace_invalid", 0)
    data = _as_float(cube.data).transpose(..., "y", "x")
    valid = cube.full_valid().transpose(..., "y", "x")
    values = np.where(valid.values & np.isfinite(data.values), data.values, replace_invalid)
    ky, kx = kernel.shape[0] // 2, kernel.shape[1] // 2
    pad = [(0, 0)] * (values.ndim - 2) + [(ky, ky), (kx, kx)]
    if isinstance(border, int | float) and not isinstance(border, bool):
        padded = np.pad(values, pad, mode="constant", constant_values=border)
    else:
        if border not in PAD_MODES:
            call.fail("ProcessParameterInvalid", f"Unknown border mode '{border}'.", "border")
        padded = np.pad(values, pad, mode=PAD_MODES[border])
    out = np.zeros_like(values)
    height, width = values.shape[-2:]
    call.within_budget(kernel.size, "max_kernel_cells", "kernel cells", "kernel")
    for i in range(kernel.shape[0]):  # correlation with the kernel, as written
        call.context.check_time()
        for j in range(kernel.shape[1]):
            if kernel[i, j]:
                out += kernel[i, j] * padded[..., i : i + height, j : j + width]
    result = data.copy(data=out * factor).transpose(*cube.dims)
    return Cube(result, xr.ones_like(result, dtype=bool))


@implements("load_stac")
def _load_stac(call: Call) -> Cube:
    """A STAC collection (``collection.json`` and its items) that the embedding
    application's resolver maps to the local file system; pgc does no network I/O."""
    from ..data.access import ReadRefused
    from ..data.catalog import Catalog
    from ..federation import exchange

    url = str(call.get("url"))
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


def _filtered(call: Call, cube: Cube) -> Cube:
    """A loaded cube cut to load_stac's extents and bands (those it was given)."""
    dims = set(cube.dims)
    bands = call.get("bands")
    if bands:
        missing = [b for b in bands if "bands" not in dims or b not in cube.data.bands.values]
        if missing:
            call.fail("BandNotAvailable", f"The collection has no band '{missing[0]}'.", "bands")
        cube = cube.sel({"bands": list(bands)})
    extent = call.get("spatial_extent")
    if extent is not None and {"x", "y"} <= dims:
        cube = _in_box(call, cube, "spatial_extent")
    interval = call.get("temporal_extent")
    if interval is not None and "t" in dims:
        cube = _in_interval(cube, "t", interval)
    return cube


@implements("filter_labels")
def _filter_labels(call: Call) -> Cube:
    """Keep the labels of ``dimension`` for which the condition is true."""
    cube, dim = _cube(call), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    condition = call.callback("condition")
    labels = cube.data[dim].values
    keep = [
        i
        for i, label in enumerate(labels)
        if condition(value=_label_value(label), context=call.get("context")) is True
    ]
    return cube.isel({dim: keep})


def _label_value(label: Any) -> Any:
    """A label as the callback sees it: temporal labels as RFC 3339 strings."""
    if isinstance(label, np.datetime64):
        return str(label.astype("datetime64[s]")) + "Z"
    return _plain(label)


@implements("dimension_labels")
def _dimension_labels(call: Call) -> list:
    cube, dim = _cube(call), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    return [_label_value(v) for v in cube.data[dim].values]


def _temporal_label(call: Call, label: Any, argument: str) -> np.datetime64:
    """A label of a temporal dimension: a date or date-time (RFC 3339), as UTC."""
    import pandas as pd

    try:
        if not isinstance(label, str):
            raise TypeError
        moment = pd.Timestamp(label)
        if moment.tzinfo is not None:
            moment = moment.tz_convert("UTC").tz_localize(None)
        return moment.as_unit("ns").to_datetime64()  # out of range: an error, not a wrap
    except (TypeError, ValueError, OverflowError):
        call.fail(
            "ProcessParameterInvalid",
            f"A temporal label must be a date or date-time between the years 1678 and 2261, "
            f"got {echo(label)}.",
            argument,
        )


@implements("add_dimension")
def _add_dimension(call: Call) -> Cube:
    cube, name, label = _cube(call), call.get("name"), call.get("label")
    if name in cube.dims:
        call.fail("DimensionExists", f"The data cube has a dimension '{name}' already.", "name")
    if call.get("type", "other") == "temporal":
        label = _temporal_label(call, label, "label")
    # The new dimension comes first (the openEO conformance vectors; the type rule agrees).
    data = cube.data.expand_dims({name: [label]}, axis=0)
    valid = cube.full_valid().expand_dims({name: [label]}, axis=0)
    return Cube(data, valid)


@implements("drop_dimension")
def _drop_dimension(call: Call) -> Cube:
    cube, name = _cube(call), call.get("name")
    if name not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{name}'.", "name")
    if cube.data.sizes[name] > 1:
        call.fail(
            "DimensionLabelCountMismatch", f"Dimension '{name}' has more than one label.", "name"
        )
    valid = cube.full_valid()
    return Cube(cube.data.isel({name: 0}, drop=True), valid.isel({name: 0}, drop=True))
