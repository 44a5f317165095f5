"""Reference implementations of the data cube processes (issue 4's core set).

Dimension order and labels follow the types the IR inferred (``t``, ``bands``, ``y``,
``x`` from the catalog); filters keep a pixel when its centre is inside the extent and
``temporal_extent`` is left-closed, as the definitions say.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ...data.bands import band_coords, bands_of, without_band_metadata
from ...dtypes import replaced_dtype
from ...errors import echo
from ...grid import OutsideCrs, bbox_in_crs, centres_within
from ..pixels import PixelArrays
from ..values import (
    Cube,
    CubeArray,
    LabeledArray,
    dimension_type,
    dimensions_of_type,
    in_chunks_of,
    in_compute_dtype,
    with_dimension_types,
    zeroed,
)
from .arguments import cube_argument
from .loop import Call, Closure, ProcessError
from .scalar import FLOAT
from .table import implements
from .temporal import filter_dimensions, temporal_extent, temporal_labels


def _bbox(
    call: Call, argument: str, crs: str | None = None
) -> tuple[float, float, float, float] | None:
    """A bounding-box argument as (west, south, east, north), in ``crs`` when given. For
    GeoJSON or a vector cube (load_collection's spatial extent), the bounding box of the
    geometries brought into ``crs`` (:func:`pgc.grid.geometries_bounds`)."""
    extent = call.get(argument)
    if _is_geometries(extent):
        return _geometry_bounds(call, extent, argument, crs)
    if not isinstance(extent, dict):
        return None
    box = (extent["west"], extent["south"], extent["east"], extent["north"])
    source = str(extent.get("crs", 4326)).replace("EPSG:", "")
    try:
        return bbox_in_crs(box, source, crs) if crs is not None else box
    except OutsideCrs as exc:
        call.fail("ProcessParameterInvalid", f"The {argument} {exc}", argument)


def _is_geometries(extent: Any) -> bool:
    """Whether a spatial extent is GeoJSON or a vector cube rather than a bounding box."""
    return isinstance(extent, Cube) or (isinstance(extent, dict) and "west" not in extent)


def _geometry_bounds(call: Call, value: Any, argument: str, crs: str | None) -> tuple:
    """The bounding box in ``crs`` (None: theirs) of the geometries of GeoJSON or a vector
    cube, which must be (multi) polygons ("Empty geometries are ignored"); NoDataAvailable
    when every one is empty."""
    from ...grid import geometries_bounds
    from .vector import geometry_list, shapely_geometry

    geometries = geometry_list(value, argument)
    for geometry in geometries:
        shape = shapely_geometry(geometry, argument)
        if not shape.is_empty and shape.geom_type not in ("Polygon", "MultiPolygon"):
            message = f"The {argument} must be polygons, not a {shape.geom_type}."
            call.fail("ProcessParameterInvalid", message, argument)
    source = str(geometries.crs).replace("EPSG:", "")
    try:
        box, _ = geometries_bounds(list(geometries), source, source if crs is None else crs)
    except ValueError as exc:
        call.fail("ProcessParameterInvalid", f"The {argument} cannot be placed: {exc}", argument)
    if box is None:
        call.fail("NoDataAvailable", f"The geometries of '{argument}' are empty.", argument)
    return box


def within_geometries(call: Call, cube: Cube, argument: str) -> Cube:
    """A loaded cube whose spatial extent was GeoJSON or a vector cube: the pixels of the
    geometries' bounding box whose centre intersects no polygon set to no-data (the
    load_collection definition); any other extent: the cube as it is. Lazy on dask arrays
    (the mask comes from the coordinates alone)."""
    extent = call.get(argument)
    if not _is_geometries(extent):
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

    grid_crs = catalog.cube_type(cid).dimension("x").crs
    try:
        plan = plan_read(
            catalog,
            cid,
            call.get("bands"),
            _bbox(call, "spatial_extent", grid_crs),
            call.get("temporal_extent"),
        )
    except UnknownBand as unknown:  # the type rule's error, for bands known only now
        call.fail("ProcessParameterInvalid",
                  f"Collection '{cid}' has no band {echo(unknown.name)}.", "bands")  # fmt: skip
    if 0 in plan.shape:
        call.fail("NoDataAvailable", "There is no data for the given extents.")
    return plan


def _read(call: Call, catalog: Any, cid: str) -> Cube:
    """The part of collection ``cid`` the load's extents and bands select."""
    from ...data.reading import read_window

    plan = read_plan(call, catalog, cid)
    height, width = plan.window.shape
    data = plan.array(read_window(plan, slice(0, height), slice(0, width), call.context.stats))
    return within_geometries(call, Cube.from_nodata(data, plan.attrs.get("nodata")),
                             "spatial_extent")  # fmt: skip


@implements("filter_bbox")
def _filter_bbox(call: Call) -> Cube:
    """Raster: the pixels whose centre intersects the box (its edges included); vector: the
    geometries fully within it. The definition names no error for a box that holds nothing:
    the result is then a cube whose spatial dimensions have no labels."""
    from .vector import filter_bbox_vector, is_vector_cube

    cube = cube_argument(call)
    if is_vector_cube(cube):
        return filter_bbox_vector(cube, call.get("extent"))
    return _in_box(call, cube, "extent", empty_error=False)


def _in_box(call: Call, cube: Cube, argument: str, empty_error: bool = True) -> Cube:
    """The pixels whose centres lie in the box (in the cube's CRS; edges included, with
    :func:`pgc.grid.centres_within`'s tolerance, as the type rules and readers count them),
    and the labels of a vertical axis between the box's ``base`` and ``height`` where it
    gives them. ``empty_error``: NoDataAvailable when no pixel is left (the loads)."""
    from ..spatial import axes, pixel_grid

    found = axes(cube)
    if "x" not in found and "y" not in found:
        call.fail("ProcessParameterInvalid", "The data cube has no spatial x or y dimension.",
                  "data")  # fmt: skip
    west, south, east, north = _bbox(call, argument, cube.data.attrs.get("crs"))
    steps = {}
    if "x" in found and "y" in found:
        grid = pixel_grid(cube, found["x"], found["y"])
        steps = {"x": grid.dx, "y": grid.dy}
    ranges = {"x": (west, east), "y": (south, north)}
    picked = {}
    for axis in ("x", "y"):
        if axis in found:
            centres = np.asarray(cube.data[found[axis]].values, dtype="float64")
            step = steps.get(axis) or _step_of(centres)
            picked[found[axis]] = np.flatnonzero(centres_within(centres, *ranges[axis], step))
    extent = call.get(argument)
    if "z" in found and isinstance(extent, dict):
        picked[found["z"]] = _between(cube, found["z"], extent.get("base"), extent.get("height"))
    if empty_error and any(p.size == 0 for p in picked.values()):
        call.fail("NoDataAvailable", "The extent holds no pixel centre of the data.", argument)
    return cube.isel(picked)


def _step_of(centres: np.ndarray) -> float:
    return float(centres[1] - centres[0]) if len(centres) > 1 else 1.0


def _between(cube: Cube, dim: str, base: Any, height: Any) -> np.ndarray:
    """Positions of the labels of vertical ``dim`` in [base, height] (null: no bound)."""
    levels = np.asarray(cube.data[dim].values, dtype="float64")
    keep = np.ones(len(levels), dtype=bool)
    if isinstance(base, int | float) and not isinstance(base, bool):
        keep &= levels >= base
    if isinstance(height, int | float) and not isinstance(height, bool):
        keep &= levels <= height
    return np.flatnonzero(keep)


@implements("filter_temporal")
def _filter_temporal(call: Call) -> Cube:
    """The labels in the left-closed ``extent`` along ``dimension`` or, when it is null,
    along every temporal dimension (the definition). A named dimension that does not
    exist, or is not temporal, is DimensionNotAvailable (as in the type rule)."""
    cube = cube_argument(call)
    for dim in filter_dimensions(call, cube):
        cube = _in_interval(cube, dim, call.get("extent"), "extent")
    return cube


def _in_interval(cube: Cube, dim: str, interval: Any, argument: str = "temporal_extent") -> Cube:
    """The labels of ``dim`` in the left-closed interval (an open end: null), labels and
    bounds compared as instants (time zones honoured); TemporalExtentEmpty when the end is
    not later than the start."""
    start, end = temporal_extent(interval, argument)
    t = temporal_labels(cube, dim)
    keep = np.ones(len(t), dtype=bool)
    if start is not None:
        keep &= t >= start
    if end is not None:
        keep &= t < end
    return cube.isel({dim: np.flatnonzero(keep)})


@implements("filter_bands")
def _filter_bands(call: Call) -> Cube:
    """The bands picked by name, common name or wavelength range, in the order the
    definition gives (:func:`pgc.ir.band_filter.select_bands`, as the type rule); the
    metadata the loaders put on the values (:mod:`pgc.data.bands`) says the common names
    and wavelengths. The bands dimension is the cube's (only) one of type bands."""
    from ...ir.band_filter import BadRange, UnknownBand, select_bands

    cube = cube_argument(call)
    dims = dimensions_of_type(cube, "bands")
    if not dims:
        call.fail("DimensionMissing", "The data cube has no dimension of type bands.", "data")
    names, ranges = call.get("bands") or [], call.get("wavelengths") or []
    if not names and not ranges:
        call.fail(
            "BandFilterParameterMissing",
            "filter_bands needs band names in 'bands' or ranges in 'wavelengths'.",
        )
    for argument, value in (("bands", names), ("wavelengths", ranges)):
        if not isinstance(value, list):
            call.fail("ProcessParameterInvalid", f"'{argument}' must be an array.", argument)
    dim = dims[0]
    try:
        picked = select_bands(bands_of(cube.data, dim), names, ranges)
    except UnknownBand as unknown:
        call.fail("ProcessParameterInvalid",
                  f"The data cube has no band {echo(unknown.name)}.", "bands")  # fmt: skip
    except BadRange as bad:
        call.fail("ProcessParameterInvalid",
                  f"A wavelength range must be two numbers, not {echo(bad.args[0])}.",
                  "wavelengths")  # fmt: skip
    return cube.isel({dim: picked})


@implements("apply")
def _apply(call: Call) -> Any:
    cube = cube_argument(call)
    result = call.callback("process")(x=cube, context=call.get("context"))
    return as_cube_like(result, cube)


def as_cube_like(result: Any, like: Cube) -> Cube:
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
    """The cube without ``dimension``, each pixel's array along it reduced to one value;
    the other dimensions keep their order, labels and types. The reducer sees the labels,
    not the band metadata (:mod:`pgc.data.bands`), which goes with the dimension."""
    cube = cube_argument(call)
    dim = call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    bands = tuple(bands_of(cube.data, dim)) if dimension_type(cube, dim) == "bands" else ()
    cube = Cube(without_band_metadata(cube.data, dim), without_band_metadata(cube.valid, dim))
    reducer = call.callback("reducer")
    if cube.data.sizes[dim] == 0:  # every pixel's array is the same empty array
        template = xr.zeros_like(cube.data.sum(dim), dtype=FLOAT)
        empty = reducer(data=LabeledArray([], []), context=call.get("context"))
        return as_cube_like(empty, Cube(template, xr.ones_like(template, dtype=bool)))
    result = reducer(data=CubeArray(cube, dim, bands), context=call.get("context"))
    reduced = cube.data.isel({dim: 0}, drop=True)
    out = as_cube_like(result, Cube(reduced, xr.ones_like(reduced, dtype=bool)))
    if dim in out.dims:
        call.fail(
            "ProcessParameterInvalid", "The reducer must return one value per pixel.", "reducer"
        )
    return out


@implements("ndvi")
def _ndvi(call: Call) -> Cube:
    cube = cube_argument(call)
    bands = list(cube.data.bands.values)
    nir, red = call.get("nir", "nir"), call.get("red", "red")
    nir, red = (_band_by_name(call, cube, n, a) for n, a in ((nir, "nir"), (red, "red")))
    x, y = (cube.sel({"bands": b}, drop=True) for b in (nir, red))
    with np.errstate(all="ignore"):
        data = (in_compute_dtype(x.data) - in_compute_dtype(y.data)) / (
            in_compute_dtype(x.data) + in_compute_dtype(y.data)
        )
    valid = xr.broadcast(x.valid & y.valid, data)[0].transpose(*data.dims)
    result = Cube(data.where(valid, 0), valid)
    target = call.get("target_band")
    if target is None:
        return result
    if target in bands:
        call.fail("BandExists", f"A band '{target}' exists already.", "target_band")
    from ...data.bands import with_blank_metadata

    added = [result.data.expand_dims(bands=[target]), result.valid.expand_dims(bands=[target])]
    added = [with_blank_metadata(a, cube.data, "bands") for a in added]
    data = xr.concat([in_compute_dtype(cube.data), added[0]], dim="bands")
    every = cube.full_valid()  # the validity may lack the bands
    valid = xr.concat([every, added[1]], dim="bands")
    return Cube(data.transpose(*cube.dims), valid.transpose(*cube.dims))


def _band_by_name(call: Call, cube: Cube, name: str, argument: str) -> str:
    from ...data.bands import band_named

    band = band_named(cube.data, "bands", name)
    if band is not None:
        return band
    code = "NirBandAmbiguous" if argument == "nir" else "RedBandAmbiguous"
    call.fail(code, f"The data cube has no band named '{name}'.", argument)


@implements("mask")
def _mask(call: Call) -> Cube:
    """The pixels of ``data`` whose pixel in ``mask`` is non-zero (NaN included) or true
    replaced by ``replacement`` (null: no-data); no-data in the mask replaces nothing. The
    mask's x and y are brought onto data's grid (resample_cube_spatial, ``near``) where they
    differ; its other dimensions must be data's, with the same type and labels (in any
    order), else IncompatibleDataCubes; data's dimensions the mask lacks take the mask as
    it is for each of their labels."""
    cube, mask = cube_argument(call), cube_argument(call, "mask")
    hit = _mask_hits(call, cube, _aligned_mask(call, cube, mask))
    return replace_where(cube, hit, call.get("replacement"), keep_nodata=False)


def _aligned_mask(call: Call, cube: Cube, mask: Cube) -> Cube:
    """``mask`` on ``cube``'s x/y grid and dimension names, its other labels in cube's
    order; IncompatibleDataCubes for a dimension that does not match."""
    from ..spatial import horizontal

    (x, y), (mx, my) = horizontal(cube), horizontal(mask)
    if None not in (x, y, mx, my) and not _same_grid(cube, mask, (x, y), (mx, my)):
        from .resample import Grid, warp

        mask = warp(mask, Grid.of(mask), Grid.of(cube), "near")
    names = {a: b for a, b in ((mx, x), (my, y)) if a is not None and b is not None and a != b}
    if names:
        mask = Cube(mask.data.rename(names), mask.full_valid().rename(names))
    for dim in mask.dims:
        planar = dim in (x, y) and dim in cube.dims
        problem = None if planar else _mismatch(cube, mask, dim)
        if problem:
            message = f"The data cube and the mask are incompatible: {problem}."
            call.fail("IncompatibleDataCubes", message, "mask")
        mask = _on_labels_of(mask, cube, dim, reorder=not planar)
    return mask


def _same_grid(cube: Cube, mask: Cube, dims: tuple, mask_dims: tuple) -> bool:
    """Whether the mask's x and y are data's (labels equal up to float noise, and the same
    CRS where both say one)."""
    crs = (cube.data.attrs.get("crs"), mask.data.attrs.get("crs"))
    if None not in crs and str(crs[0]) != str(crs[1]):
        return False
    for ours, theirs in zip(dims, mask_dims, strict=True):
        a = np.asarray(cube.data[ours].values, dtype="float64")
        b = np.asarray(mask.data[theirs].values, dtype="float64")
        if a.shape != b.shape:
            return False
        step = abs(float(a[1] - a[0])) if len(a) > 1 else 1.0
        if not np.allclose(a, b, rtol=0, atol=1e-9 * step):
            return False
    return True


def _mismatch(cube: Cube, mask: Cube, dim: str) -> str | None:
    """Why the mask's non-planar dimension ``dim`` does not match data's, or None."""
    from ..values import dimension_type

    if dim not in cube.dims:
        return f"the mask has a dimension '{dim}' that the data lacks"
    kinds = dimension_type(cube, dim), dimension_type(mask, dim)
    if kinds[0] != kinds[1]:
        return f"dimension '{dim}' is {kinds[0]} in data but {kinds[1]} in the mask"
    ours, theirs = cube.data[dim].values, mask.data[dim].values
    if len(ours) != len(theirs) or set(ours.tolist()) != set(theirs.tolist()):
        return f"the labels of dimension '{dim}' differ"
    return None


def _on_labels_of(mask: Cube, cube: Cube, dim: str, reorder: bool) -> Cube:
    """The mask with ``dim``'s labels exactly data's, so that xarray aligns nothing more:
    ``reorder``, the same labels in data's order; else (x, y on the same grid) data's
    coordinates for the mask's."""
    labels = cube.data[dim].values
    data, valid = mask.data, mask.full_valid()
    if reorder:
        order = {v: i for i, v in enumerate(mask.data[dim].values.tolist())}
        positions = [order[v] for v in labels.tolist()]
        data, valid = data.isel({dim: positions}), valid.isel({dim: positions})
    return Cube(data.assign_coords({dim: labels}), valid.assign_coords({dim: labels}))


def _mask_hits(call: Call, cube: Cube, mask: Cube) -> xr.DataArray:
    """Where the (aligned) mask replaces: valid and non-zero or true."""
    values = mask.data
    if values.dtype == object:
        try:
            values = values.astype("float64")
        except (TypeError, ValueError):
            call.fail("ProcessParameterInvalid", "The mask must hold numbers or booleans.",
                      "mask")  # fmt: skip
    hit = values if values.dtype == bool else values != 0
    return hit & mask.full_valid()


def replace_where(cube: Cube, hit: xr.DataArray, replacement: Any, keep_nodata: bool) -> Cube:
    """``cube`` with the pixels where ``hit`` (over some of its dimensions) is true replaced
    by ``replacement`` (None: no-data), in :func:`pgc.dtypes.replaced_dtype`'s dtype, as the
    type rules say. ``keep_nodata``: no-data pixels stay no-data (mask_polygon's definition:
    "No data values in data will be left untouched")."""
    hit = xr.broadcast(hit, cube.data)[0].transpose(*cube.dims)
    valid = cube.full_valid()
    if replacement is None:
        return Cube(zeroed(cube.data, ~hit), valid & ~hit)
    dtype = np.dtype(replaced_dtype(str(cube.data.dtype), replacement))
    where = hit & valid if keep_nodata else hit
    other = xr.DataArray(np.array(replacement, dtype=dtype))  # a 0-d array: text stays text
    data = cube.data.astype(dtype).where(~where, other).astype(dtype)
    return Cube(data, valid if keep_nodata else valid | hit)


@implements("save_result")
def _save_result(call: Call) -> bool:
    call.context.saved.append((cube_argument(call), call.get("format"), call.get("options") or {}))
    call.context.saved_nodes.append(call.node.id)
    return True


@implements("rename_labels")
def _rename_labels(call: Call) -> Cube:
    """The labels of ``dimension`` renamed, in place (order and data unchanged).

    As the definition says: an empty ``source`` (the default) renames the labels by
    position, which needs labels enumerated 0, 1, 2, ... (else LabelsNotEnumerated) and
    one target per label (else LabelMismatch); otherwise ``source`` and ``target`` have the
    same length (LabelMismatch) and every source is a label (LabelNotAvailable). A target
    that is already a label of the dimension is LabelExists (the definition: "If a target
    dimension label already exists in the data cube"), so a swap is refused too. Temporal
    labels compare as instants ('2020-01-01' is '2020-01-01T00:00:00Z'), and the targets of
    a temporal dimension must be dates. The dimension keeps its type and band metadata."""
    cube, dim = cube_argument(call), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    target, source = call.get("target"), call.get("source") or []
    for argument, value in (("target", target), ("source", source)):
        if not isinstance(value, list):
            call.fail("ProcessParameterInvalid", f"'{argument}' must be an array.", argument)
    temporal = dimension_type(cube, dim) == "temporal"
    labels = [v if isinstance(v, np.datetime64) else _plain(v) for v in cube.data[dim].values]
    keys = [_label_key(v, temporal) for v in labels]
    if not source:
        if any(_label_text_of(v) != str(i) for i, v in enumerate(labels)):
            call.fail("LabelsNotEnumerated",
                      f"The labels of '{dim}' are not enumerated (0, 1, 2, ...); give the "
                      "labels to rename in 'source'.", "source")  # fmt: skip
        if len(target) != len(labels):
            call.fail("LabelMismatch",
                      f"'target' has {len(target)} labels, the dimension {len(labels)}.",
                      "target")  # fmt: skip
        mapping = dict(zip(keys, target, strict=True))
    else:
        if len(source) != len(target):
            call.fail("LabelMismatch", f"'source' has {len(source)} labels, 'target' "
                      f"{len(target)}.", "target")  # fmt: skip
        wanted = [_label_key(v, temporal) for v in source]
        missing = [v for v, k in zip(source, wanted, strict=True) if k not in keys]
        if missing:
            call.fail("LabelNotAvailable", f"The dimension has no label {echo(missing[0])}.",
                      "source")  # fmt: skip
        mapping = dict(zip(wanted, target, strict=True))
    taken = [v for v in target if _label_key(v, temporal) in keys]
    if taken:
        call.fail("LabelExists", f"Dimension '{dim}' has a label {echo(taken[0])} already.",
                  "target")  # fmt: skip
    new = [mapping.get(k, v) for k, v in zip(keys, labels, strict=True)]
    return _relabeled(call, cube, dim, labels, new)


def _relabeled(call: Call, cube: Cube, dim: str, labels: list, new: list) -> Cube:
    """``cube`` with ``new`` as the labels of ``dim``: dates where the labels were dates,
    the coordinate's attributes (the dimension's type) and band metadata kept."""
    from .vector import relabeled

    old = cube.data[dim]
    if np.issubdtype(old.dtype, np.datetime64):
        values = np.array(
            [v if isinstance(v, np.datetime64) else _temporal_label(call, v, "target")
             for v in new], dtype="datetime64[ns]",
        )  # fmt: skip
    elif len({type(v) for v in new} - {int, float}) > 1 or (
        any(isinstance(v, str) for v in new) and any(not isinstance(v, str) for v in new)
    ):
        values = np.array(new, dtype=object)  # text and numbers: each label as it is
    else:
        values = np.array(new) if new else old.values[:0]
    coord = xr.DataArray(values, dims=[dim], attrs=dict(old.attrs))
    data = cube.data.assign_coords({dim: coord})
    data.attrs = relabeled(cube.data.attrs, dim, dict(zip(labels, new, strict=True)))
    valid = cube.valid.assign_coords({dim: coord}) if dim in cube.valid.dims else cube.valid
    return Cube(data, valid)


def _label_key(label: Any, temporal: bool) -> Any:
    """What a label is compared by: an instant for temporal labels (any RFC 3339 spelling
    of it, or a datetime64), else the label itself."""
    if not temporal:
        return _plain(label)
    if isinstance(label, np.datetime64):
        return callback_label(label)
    if not isinstance(label, str) or len(label) < 10 or not label[:4].isdigit():
        return label  # not a date (as _temporal_label and the type rules read them)
    try:
        import pandas as pd

        moment = pd.Timestamp(label)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        return label
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC").tz_localize(None)
    return callback_label(moment.as_unit("ns").to_datetime64())


def _label_text_of(label: Any) -> str:
    """A label as text, integral numbers without a fraction (0.0 is enumerated as 0)."""
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


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
    a, b = cube_argument(call, "cube1"), cube_argument(call, "cube2")
    dims = list(a.dims if set(a.dims) >= set(b.dims) else b.dims)  # as the type rule says
    if not set(dims) >= set(a.dims) | set(b.dims):
        call.fail(
            "ProcessParameterInvalid",
            "The data cubes are not compatible: neither has all the other's dimensions.",
            "cube2",
        )
    kinds = _merged_types(call, a, b, dims)
    b, vector_attrs = _vector_pair(call, a, b)
    bands = {d: _merged_bands(a, b, d) for d in dims if kinds[d] == "bands"}
    a, b = (Cube(without_band_metadata(c.data), without_band_metadata(c.valid)) for c in (a, b))
    labels = {d: _merged_labels(a, b, d, kinds[d]) for d in dims}
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
        resolved = as_cube_like(
            resolver(x=Cube(da, va), y=Cube(db, vb), context=call.get("context")), Cube(da, va)
        )
        data = xr.where(both, in_compute_dtype(resolved.data), data)
        valid = xr.where(both, resolved.valid, valid)
    data, valid = data.where(valid, 0).transpose(*dims), valid.transpose(*dims)
    for dim, metadata in bands.items():
        data = data.assign_coords(band_coords(dim, metadata))
    if vector_attrs is not None:
        data.attrs = vector_attrs
    return with_dimension_types(Cube(data, valid), kinds)


def _vector_pair(call: Call, a: Cube, b: Cube) -> tuple[Cube, dict | None]:
    """Vector cubes: cube2 with its geometry labels made cube1's where the geometries are
    equal (the definition: "The equality for geometries follows the definition in the
    Simple Features standard"), new labels after cube1's elsewhere, and the merged cube's
    attributes (geometries in cube1's CRS). "It is not possible to merge a vector and a
    raster data cube"; different base geometry types are IncompatibleGeometryTypes.
    Rasters: cube2 as it is, and None."""
    from .vector import (
        Features,
        cube_features,
        is_vector_cube,
        shapely_geometry,
        transform_geometries,
        vector_cube_attrs,
    )

    if not is_vector_cube(a) and not is_vector_cube(b):
        return b, None
    if not (is_vector_cube(a) and is_vector_cube(b)):
        call.fail("ProcessParameterInvalid", "A vector and a raster data cube cannot be merged.",
                  "cube2")  # fmt: skip
    fa, fb = cube_features(a, "cube1"), cube_features(b, "cube2")
    if fa.dimension != fb.dimension:
        call.fail("ProcessParameterInvalid", f"The geometry dimensions are named differently "
                  f"('{fa.dimension}', '{fb.dimension}').", "cube2")  # fmt: skip
    moved = transform_geometries(fb.geometries, fb.crs, fa.crs, "cube2")
    shapes_a = [shapely_geometry(g, "cube1") for g in fa.geometries]
    shapes_b = [shapely_geometry(g, "cube2") for g in moved]
    kinds_a, kinds_b = _base_types(shapes_a), _base_types(shapes_b)
    if kinds_a and kinds_b and kinds_a != kinds_b:
        call.fail("IncompatibleGeometryTypes",
                  f"The geometry types are not compatible and can't be merged: "
                  f"{', '.join(sorted(kinds_a))} and {', '.join(sorted(kinds_b))}.",
                  "cube2")  # fmt: skip
    merged = Features(list(fa.geometries), fa.crs, list(fa.labels), list(fa.properties),
                      list(fa.ids), fa.dimension)  # fmt: skip
    new_labels = []
    for i, shape in enumerate(shapes_b):
        same = [la for la, sa in zip(fa.labels, shapes_a, strict=True)
                if not shape.is_empty and sa.equals(shape)]  # fmt: skip
        if same:
            new_labels.append(same[0])
            continue
        label = len(merged.labels)
        while label in merged.labels:
            label += 1
        new_labels.append(label)
        merged.labels.append(label)
        merged.geometries.append(moved[i])
        merged.properties.append(fb.properties[i])
        merged.ids.append(fb.ids[i])
    dim = fa.dimension
    coord = xr.DataArray(np.array(new_labels), dims=[dim], attrs=dict(b.data[dim].attrs))
    valid = b.valid.assign_coords({dim: coord}) if dim in b.valid.dims else b.valid
    relabelled = Cube(b.data.assign_coords({dim: coord}), valid)
    return relabelled, {**a.data.attrs, **vector_cube_attrs(merged)}


def _base_types(shapes: list) -> set[str]:
    """The base geometry types (Point, LineString, Polygon) of shapely geometries: a multi
    geometry is its base type; empty geometries have none."""
    from ..spatial import simple_parts

    kinds = {part.geom_type for s in shapes for part in simple_parts(s)}
    return {"LineString" if k == "LinearRing" else k for k in kinds}


def _merged_types(call: Call, a: Cube, b: Cube, dims: list[str]) -> dict[str, str]:
    """The type of each dimension of the merge; a dimension both cubes have must have the
    same type in both (the definition: "All dimensions share the same properties, such as
    name, type ..."), else ProcessParameterInvalid (as the type rule)."""
    kinds = {}
    for dim in dims:
        kind = dimension_type(a if dim in a.dims else b, dim)
        if dim in a.dims and dim in b.dims and dimension_type(b, dim) != kind:
            call.fail("ProcessParameterInvalid",
                      f"Dimension '{dim}' is {kind} in cube1 but {dimension_type(b, dim)} in "
                      "cube2.", "cube2")  # fmt: skip
        kinds[dim] = kind
    return kinds


def _merged_bands(a: Cube, b: Cube, dim: str) -> list:
    """The band metadata (:mod:`pgc.data.bands`) along ``dim`` of the merge: cube1's bands,
    then cube2's new ones (the labels' order, :func:`_merged_labels`)."""
    first = bands_of(a.data, dim) if dim in a.dims else []
    second = bands_of(b.data, dim) if dim in b.dims else []
    names = {band.name for band in first}
    return first + [band for band in second if band.name not in names]


def _merged_labels(a: Cube, b: Cube, dim: str, kind: str = "other") -> np.ndarray:
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
    # spatial and temporal labels have an order of their own (the definition)
    ordered = kind in ("spatial", "temporal") or np.issubdtype(merged.dtype, np.datetime64)
    if ordered and len(new):  # in cube1's direction (y runs north to south), else cube2's
        own = first if len(first) > 1 else second
        descending = len(own) > 1 and own[0] > own[-1]
        merged = np.sort(merged)[::-1] if descending else np.sort(merged)
    return merged


def _on_labels(cube: Cube, dims: list[str], labels: dict) -> tuple:
    """``cube``'s values and validity on the merged labels, and where it has labels."""
    data = in_compute_dtype(cube.data)
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
def reference_apply_kernel(call: Call) -> Cube:
    """Each pixel the sum of the kernel's weights times its neighbours along x and y (the
    kernel's rows along y, its columns along x, as the cube runs; correlation, as written),
    times ``factor``. No-data, NaN, infinities and values that are not numbers count as
    ``replace_invalid``, booleans as 0 and 1; beyond the edges, ``border``. Every weight
    multiplies (a zero weight on an infinite border or replacement gives NaN)."""
    from .vector import planar

    cube = cube_argument(call)
    x, y = planar(cube)
    kernel = _kernel(call)
    factor = call.get("factor", 1)
    border = call.get("border", 0)
    replace_invalid = call.get("replace_invalid", 0)
    constant = isinstance(border, int | float) and not isinstance(border, bool)
    if not constant and border not in PAD_MODES:
        call.fail("ProcessParameterInvalid", f"Unknown border mode '{border}'.", "border")
    call.within_budget(kernel.size, "max_kernel_cells", "kernel cells", "kernel")
    data = _kernel_values(cube).transpose(..., y, x)
    valid = cube.full_valid().transpose(..., y, x)
    values = np.where(valid.values & np.isfinite(data.values), data.values, replace_invalid)
    values = values.astype(data.dtype)
    if 0 in values.shape:  # no pixel: nothing to weigh
        result = data.copy(data=values).transpose(*cube.dims)
        return Cube(result, xr.ones_like(result, dtype=bool))
    ky, kx = kernel.shape[0] // 2, kernel.shape[1] // 2
    pad = [(0, 0)] * (values.ndim - 2) + [(ky, ky), (kx, kx)]
    if constant:
        padded = np.pad(values, pad, mode="constant", constant_values=border)
    else:
        padded = np.pad(values, pad, mode=PAD_MODES[border])
    finite = bool(np.isfinite(padded).all())  # then a zero weight adds nothing
    out = np.zeros_like(values)
    height, width = values.shape[-2:]
    with np.errstate(all="ignore"):
        for i in range(kernel.shape[0]):  # correlation with the kernel, as written
            call.context.check_time()
            for j in range(kernel.shape[1]):
                if kernel[i, j] or not finite:
                    out += kernel[i, j] * padded[..., i : i + height, j : j + width]
        out = out * factor
    result = data.copy(data=out).transpose(*cube.dims)
    return Cube(result, xr.ones_like(result, dtype=bool))


def _kernel(call: Call) -> np.ndarray:
    """The kernel as a 2-D array of weights: KernelDimensionsUneven when a level has an
    even number of elements (the definition), ProcessParameterInvalid when it is not a
    rectangle of numbers."""
    kernel = call.get("kernel")
    rows = kernel if isinstance(kernel, list) else None
    if rows is None or not all(isinstance(r, list) for r in rows):
        call.fail("ProcessParameterInvalid", "The kernel must be an array of arrays.", "kernel")
    if len(rows) % 2 == 0 or any(len(r) % 2 == 0 for r in rows):
        call.fail(
            "KernelDimensionsUneven",
            "Each level of the kernel must have an uneven number of elements.",
            "kernel",
        )
    if len({len(r) for r in rows}) != 1:
        call.fail("ProcessParameterInvalid", "The kernel's rows differ in length.", "kernel")
    numbers = all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
        for r in rows
        for v in r
    )
    if not numbers:
        call.fail("ProcessParameterInvalid", "The kernel's weights must be numbers.", "kernel")
    return np.asarray(rows, dtype=FLOAT)


def _kernel_values(cube: Cube) -> xr.DataArray:
    """The cube's values as numbers for apply_kernel: booleans as 0/1, anything that is not
    a number (text, in an object cube) as NaN, which counts as invalid."""
    if cube.data.dtype != object:
        return in_compute_dtype(cube.data)

    def number(v: Any) -> float:
        if isinstance(v, bool | np.bool_):
            return float(v)
        return float(v) if isinstance(v, int | float | np.number) else np.nan

    values = np.vectorize(number, otypes=[FLOAT])(cube.data.values)
    return in_compute_dtype(cube.data.copy(data=values))


@implements("load_stac")
def _load_stac(call: Call) -> Cube:
    """A STAC collection (``collection.json`` and its items) that the embedding
    application's resolver maps to the local file system; pgc does no network I/O."""
    from ...data.access import ReadRefused
    from ...data.catalog import Catalog
    from .. import exchange

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
        cube = _in_box(call, cube, "spatial_extent")
    interval = call.get("temporal_extent")
    if interval is not None and "t" in dims:
        cube = _in_interval(cube, "t", interval)
    return cube


@implements("filter_labels")
def _filter_labels(call: Call) -> Cube:
    """Keep the labels of ``dimension`` for which the condition is true."""
    cube, dim = cube_argument(call), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    condition = call.callback("condition")
    labels = cube.data[dim].values
    keep = [
        i
        for i, label in enumerate(labels)
        if condition(value=callback_label(label), context=call.get("context")) is True
    ]
    return cube.isel({dim: keep})


def callback_label(label: Any) -> Any:
    """A label as the callback sees it: temporal labels as RFC 3339 strings."""
    if isinstance(label, np.datetime64):
        return str(label.astype("datetime64[s]")) + "Z"
    return _plain(label)


@implements("dimension_labels")
def _dimension_labels(call: Call) -> list:
    cube, dim = cube_argument(call), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    return [callback_label(v) for v in cube.data[dim].values]


def _temporal_label(call: Call, label: Any, argument: str) -> np.datetime64:
    """A label of a temporal dimension: a date or date-time (RFC 3339), as UTC. Text that
    does not start with a four-digit year and a month and day ('2020', '1') is not one (as
    the type rules read dates)."""
    import pandas as pd

    try:
        if not isinstance(label, str) or len(label) < 10 or not label[:4].isdigit():
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


_DIMENSION_TYPES = ("spatial", "temporal", "bands", "geometry", "other")


@implements("add_dimension")
def _add_dimension(call: Call) -> Cube:
    """A new dimension ``name`` of ``type`` with the single ``label``, said on the values
    (:func:`with_dimension_types`: the fallback by name would make a dimension ``x`` of
    type other spatial). DimensionExists for a name the cube has, and for a spatial one
    when the cube has spatial dimensions for all three axes."""
    cube, name, label = cube_argument(call), call.get("name"), call.get("label")
    kind = call.get("type") or "other"
    if kind not in _DIMENSION_TYPES:
        call.fail("ProcessParameterInvalid", f"Unknown dimension type {echo(kind)}.", "type")
    if name in cube.dims:
        call.fail("DimensionExists", f"The data cube has a dimension '{name}' already.", "name")
    if kind == "spatial" and len(dimensions_of_type(cube, "spatial")) >= 3:
        call.fail("DimensionExists",
                  "The data cube has spatial dimensions for all axes (x, y, z) already.",
                  "type")  # fmt: skip
    if isinstance(label, bool) or not isinstance(label, int | float | str):
        call.fail("ProcessParameterInvalid", "The label must be a number or a string.", "label")
    if kind == "temporal":
        label = _temporal_label(call, label, "label")
    # The new dimension comes first (the openEO conformance vectors; the type rule agrees).
    data = cube.data.expand_dims({name: [label]}, axis=0)
    valid = cube.full_valid().expand_dims({name: [label]}, axis=0)
    return with_dimension_types(Cube(data, valid), {name: kind})


@implements("drop_dimension")
def _drop_dimension(call: Call) -> Cube:
    cube, name = cube_argument(call), call.get("name")
    if name not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{name}'.", "name")
    if cube.data.sizes[name] > 1:
        call.fail(
            "DimensionLabelCountMismatch", f"Dimension '{name}' has more than one label.", "name"
        )
    valid = cube.full_valid()
    return Cube(cube.data.isel({name: 0}, drop=True), valid.isel({name: 0}, drop=True))
