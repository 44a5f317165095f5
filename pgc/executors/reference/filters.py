"""Reference implementations of the filters of a data cube (filter_bbox, filter_temporal,
filter_bands, filter_labels), and what the loads cut their data with too: a spatial extent
as a bounding box (:func:`bbox_argument`), the pixels in a box (:func:`in_box`) and the
labels in a temporal interval (:func:`in_interval`). A pixel is kept when its centre is
inside the extent, and a temporal extent is left-closed, as the definitions say.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...data.bands import bands_of
from ...errors import echo
from ...grid import OutsideCrs, bbox_in_crs, centres_within
from ..values import Cube, dimensions_of_type
from .arguments import cube_argument
from .labels import callback_label
from .loop import Call
from .table import implements
from .temporal import filter_dimensions, temporal_extent, temporal_labels


def bbox_argument(
    call: Call, argument: str, crs: str | None = None
) -> tuple[float, float, float, float] | None:
    """A bounding-box argument as (west, south, east, north), in ``crs`` when given. For
    GeoJSON or a vector cube (load_collection's spatial extent), the bounding box of the
    geometries brought into ``crs`` (:func:`pgc.grid.geometries_bounds`)."""
    extent = call.get(argument)
    if is_geometries(extent):
        return _geometry_bounds(call, extent, argument, crs)
    if not isinstance(extent, dict):
        return None
    box = (extent["west"], extent["south"], extent["east"], extent["north"])
    source = str(extent.get("crs", 4326)).replace("EPSG:", "")
    try:
        return bbox_in_crs(box, source, crs) if crs is not None else box
    except OutsideCrs as exc:
        call.fail("ProcessParameterInvalid", f"The {argument} {exc}", argument)


def is_geometries(extent: Any) -> bool:
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


@implements("filter_bbox")
def _filter_bbox(call: Call) -> Cube:
    """Raster: the pixels whose centre intersects the box (its edges included); vector: the
    geometries fully within it. The definition names no error for a box that holds nothing:
    the result is then a cube whose spatial dimensions have no labels."""
    from .vector import filter_bbox_vector, is_vector_cube

    cube = cube_argument(call)
    if is_vector_cube(cube):
        return filter_bbox_vector(cube, call.get("extent"))
    return in_box(call, cube, "extent", empty_error=False)


def in_box(call: Call, cube: Cube, argument: str, empty_error: bool = True) -> Cube:
    """The pixels whose centres lie in the box (in the cube's CRS; edges included, with
    :func:`pgc.grid.centres_within`'s tolerance, as the type rules and readers count them),
    and the labels of a vertical axis between the box's ``base`` and ``height`` where it
    gives them. ``empty_error``: NoDataAvailable when no pixel is left (the loads)."""
    from ..spatial import axes, pixel_grid

    found = axes(cube)
    if "x" not in found and "y" not in found:
        call.fail("ProcessParameterInvalid", "The data cube has no spatial x or y dimension.",
                  "data")  # fmt: skip
    west, south, east, north = bbox_argument(call, argument, cube.data.attrs.get("crs"))
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
        cube = in_interval(cube, dim, call.get("extent"), "extent")
    return cube


def in_interval(cube: Cube, dim: str, interval: Any, argument: str = "temporal_extent") -> Cube:
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
