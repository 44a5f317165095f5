"""Reference implementations with geometries: vector data cubes and the raster processes that
take geometries (filter_spatial, aggregate_spatial, apply_polygon; mask_polygon in ref_more).

Vector data cubes
-----------------
A vector data cube is a :class:`~pgc.executors.values.Cube` with one dimension of type
``geometry`` (named ``geometry`` unless renamed; the name is ``attrs["geometry_dimension"]``)
whose labels are integers: a geometry's index in the GeoJSON it came from, as the type rules
say. What belongs to the labels travels in ``data.attrs``, keyed by label:

- ``attrs["geometries"]``: ``{label: GeoJSON geometry dict}`` (empty geometries included);
- ``attrs["crs"]``: the geometries' CRS, an EPSG code as a string (``"4326"``), or the WKT2
  text ``vector_reproject`` was given; rasters use ``attrs["crs"]`` the same way;
- ``attrs["properties"]``: ``{label: dict}``, every feature's GeoJSON properties (``{}`` for
  bare geometries), kept whether or not ``load_geojson`` made a ``properties`` dimension of
  some of them, because the definitions say feature properties are preserved;
- ``attrs["ids"]``: ``{label: id}`` for the features that have a GeoJSON ``id``.

Keying by label rather than by position keeps the attributes right when a process that knows
nothing about geometries subsets or reorders the geometry dimension (``filter_labels``,
``isel``): the geometry of a label is looked up, never counted. Labels that a process here
drops are also removed from the attributes. Not kept right: ``rename_labels`` on the
geometry dimension and ``rename_dimension`` of it (the attributes still name the old
labels/dimension), and element-wise processes elsewhere that drop xarray attributes.

The values of ``load_geojson``'s cube are the asked-for properties (dtype ``object``, no-data
where a feature lacks one); without ``properties`` the cube is one-dimensional and every value
is no-data. Processes computing values per geometry (``aggregate_spatial``) give float64.

>>> from pgc.runner import execute
>>> point = {"type": "Point", "coordinates": [4.4, 51.3]}
>>> graph = {"g": {"process_id": "load_geojson", "arguments": {"data": point}, "result": True}}
>>> cube = execute(graph).value
>>> cube.dims, cube.data.attrs["crs"], cube.data.attrs["geometries"][0] == point
(('geometry',), '4326', True)

Rasterization
-------------
GeoJSON arguments are in WGS84 (RFC 7946); vector cubes say their CRS. Geometries are
transformed to the raster's CRS and rasterized by :mod:`pgc.executors.spatial`, as the
definitions say: a polygon keeps a pixel when the pixel's centre intersects it (a centre on
its boundary counts), a point its closest pixel centre, a line the pixels it passes through.
The raster's x and y dimensions are found by their axis, whatever their names (:func:`planar`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ...grid import centres_within
from ..values import Cube, CubeArray, concat, in_chunks_of, in_compute_dtype, zeroed
from .loop import Call, ProcessError
from .scalar import FLOAT
from .table import implements

WGS84 = "4326"
EMPTY = {"type": "GeometryCollection", "geometries": []}
# Untrusted input: a tiny distance or a huge count must not exhaust memory.


# ---------------------------------------------------------------------------------------
# Geometries and what travels with them


@dataclass
class Features:
    """The geometries of a geometry dimension (GeoJSON dicts), in label order, with their CRS
    and their features' properties and ids (None: no id)."""

    geometries: list[dict]
    crs: str = WGS84
    labels: list = field(default_factory=list)
    properties: list[dict] = field(default_factory=list)
    ids: list = field(default_factory=list)
    dimension: str = "geometry"

    def __post_init__(self) -> None:
        n = len(self.geometries)
        self.labels = self.labels or list(range(n))
        self.properties = self.properties or [{} for _ in range(n)]
        self.ids = self.ids or [None] * n


class GeometryList(list):
    """GeoJSON geometries that know their CRS (what :func:`geometry_list` returns)."""

    def __init__(self, items: list[dict], crs: str = WGS84):
        super().__init__(items)
        self.crs = crs


def invalid_argument(argument: str, message: str) -> ProcessError:
    """ProcessParameterInvalid naming ``argument``, with ``message``: what vector
    processes raise for GeoJSON or vector cubes they cannot read."""
    return ProcessError("ProcessParameterInvalid", message, argument)


def _from_geojson(geojson: Any, argument: str) -> Features:
    """The features of a GeoJSON object: one per Feature (a null geometry is empty) or one
    for a bare geometry. GeometryCollections are refused, as every definition says."""
    if not isinstance(geojson, dict):
        raise invalid_argument(argument, "Expected GeoJSON or a vector data cube.")
    kind = geojson.get("type")
    if kind == "GeometryCollection":
        raise invalid_argument(argument, "The GeoJSON type GeometryCollection is not supported.")
    if kind == "FeatureCollection":
        features = geojson.get("features")
        if not isinstance(features, list):
            raise invalid_argument(
                argument, "A GeoJSON FeatureCollection needs a list of features."
            )
    else:
        features = [geojson if kind == "Feature" else {"type": "Feature", "geometry": geojson}]
    geometries, properties, ids = [], [], []
    for feature in features:
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise invalid_argument(argument, "A GeoJSON FeatureCollection holds only Features.")
        geometry = feature.get("geometry") or EMPTY
        shapely_geometry(geometry, argument)  # fail early on malformed coordinates
        props = feature.get("properties")
        geometries.append(geometry)
        properties.append(dict(props) if isinstance(props, dict) else {})
        ids.append(feature.get("id"))
    return Features(geometries, WGS84, properties=properties, ids=ids)


def is_vector_cube(value: Any) -> bool:
    """Whether ``value`` is a vector data cube: a cube that carries its geometries in
    its attributes (see the module docstring)."""
    return isinstance(value, Cube) and "geometries" in value.data.attrs


def geometry_dimension_name(cube: Cube) -> str:
    """The name of a vector cube's geometry dimension (``geometry`` unless the
    cube says otherwise)."""
    return cube.data.attrs.get("geometry_dimension", "geometry")


def cube_features(cube: Cube, argument: str) -> Features:
    """The features of a vector cube, in the order of its geometry dimension's labels."""
    attrs, dim = cube.data.attrs, geometry_dimension_name(cube)
    if dim not in cube.dims:
        raise invalid_argument(argument, f"The vector data cube has no geometry dimension '{dim}'.")
    labels = cube.data[dim].values.tolist()
    missing = [label for label in labels if label not in attrs["geometries"]]
    if missing:
        raise invalid_argument(
            argument, f"The vector data cube has no geometry for label {missing[0]}."
        )
    return Features(
        [attrs["geometries"][label] for label in labels],
        str(attrs.get("crs", WGS84)),
        labels,
        [attrs.get("properties", {}).get(label, {}) for label in labels],
        [attrs.get("ids", {}).get(label) for label in labels],
        dim,
    )


def features_of(value: Any, argument: str) -> Features:
    """The features of an argument that is GeoJSON or a vector data cube."""
    if is_vector_cube(value):
        return cube_features(value, argument)
    if isinstance(value, Cube):
        raise invalid_argument(
            argument, "Expected a vector data cube (geometries), got a raster cube."
        )
    return _from_geojson(value, argument)


def vector_cube_argument(call: Call, name: str) -> Cube:
    """Argument ``name`` when it is a vector data cube; else ProcessParameterInvalid."""
    value = call.get(name)
    if not is_vector_cube(value):
        raise invalid_argument(name, f"'{name}' must be a vector data cube.")
    return value


def geometry_list(value: Any, argument: str = "geometries") -> GeometryList:
    """The geometries of GeoJSON or a vector cube, with their CRS (see :func:`in_cube_crs`)."""
    features = features_of(value, argument)
    return GeometryList(features.geometries, features.crs)


def vector_cube_attrs(features: Features) -> dict:
    """A vector cube's attributes for these features (see the module docstring)."""
    return {
        "crs": features.crs,
        "geometry_dimension": features.dimension,
        "geometries": dict(zip(features.labels, features.geometries, strict=True)),
        "properties": dict(zip(features.labels, features.properties, strict=True)),
        "ids": {k: v for k, v in zip(features.labels, features.ids, strict=True) if v is not None},
    }


def with_features(cube: Cube, features: Features) -> Cube:
    """``cube`` (labels as in ``features``) carrying ``features`` instead of its own."""
    data = cube.data.copy(deep=False)
    data.attrs = {**cube.data.attrs, **vector_cube_attrs(features)}
    return Cube(data, cube.valid)


def _select(cube: Cube, features: Features, positions: list[int]) -> Cube:
    """The geometries at ``positions`` of the geometry dimension (labels kept)."""
    dim = features.dimension
    valid = cube.full_valid()
    picked = Cube(cube.data.isel({dim: positions}), valid.isel({dim: positions}))
    kept = Features(
        [features.geometries[i] for i in positions],
        features.crs,
        [features.labels[i] for i in positions],
        [features.properties[i] for i in positions],
        [features.ids[i] for i in positions],
        dim,
    )
    return with_features(picked, kept)


def shapely_geometry(geometry: Any, argument: str = "geometries") -> Any:
    """A GeoJSON geometry as a shapely geometry; malformed GeoJSON is the user's error."""
    from shapely.geometry import shape

    try:
        return shape(geometry)
    except Exception as exc:  # shapely raises KeyError, TypeError, GeometryTypeError ...
        raise invalid_argument(argument, f"Invalid GeoJSON geometry: {exc}.") from None


def as_geojson(geometry: Any) -> dict:
    """A shapely geometry as a GeoJSON dict with lists (empty: no coordinates)."""
    import shapely

    if geometry.is_empty:
        kind = geometry.geom_type
        return dict(EMPTY) if kind == "GeometryCollection" else {"type": kind, "coordinates": []}
    return json.loads(shapely.to_geojson(geometry))


# ---------------------------------------------------------------------------------------
# Coordinate reference systems


def _crs_text(crs: Any) -> str:
    """A CRS as rasterio reads it: ``EPSG:n`` for codes, WKT as it is."""
    text = str(crs)
    return f"EPSG:{text}" if text.isdigit() else text


def projection_crs(projection: Any, argument: str) -> str:
    """A ``projection`` argument as the CRS attribute (EPSG code as text, or WKT)."""
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    if isinstance(projection, bool) or not isinstance(projection, int | str):
        raise invalid_argument(argument, f"Expected an EPSG code or WKT2, got {projection!r}.")
    code = str(projection).replace("EPSG:", "")
    try:
        CRS.from_user_input(_crs_text(code))
    except CRSError as exc:
        raise invalid_argument(argument, f"Unknown coordinate reference system: {exc}.") from None
    return code


def _in_metres(crs: str) -> bool:
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    try:
        unit, factor = CRS.from_user_input(_crs_text(crs)).units_factor
    except CRSError:  # a CRS pgc cannot read has no unit it knows
        return False
    return unit in ("metre", "meter", "m") and factor == 1.0


def check_metres(features: Features, argument: str) -> None:
    """UnitMismatch unless the geometries' CRS is in metres (vector_buffer, ..._points)."""
    if not _in_metres(features.crs):
        raise ProcessError(
            "UnitMismatch",
            f"The unit of the geometries' reference system ({_crs_text(features.crs)}) is not "
            f"metres, but '{argument}' is in metres; use vector_reproject first.",
            argument,
        )


def transform_geometries(
    geometries: list[dict], source: str, target: str, argument: str = "geometries"
) -> list[dict]:
    """Geometries from CRS ``source`` to ``target`` (empty ones as they are)."""
    from rasterio.warp import transform_geom

    if str(source) == str(target):
        return list(geometries)
    src, dst = _crs_text(source), _crs_text(target)
    try:
        return [
            g if shapely_geometry(g).is_empty else transform_geom(src, dst, g) for g in geometries
        ]
    except Exception as exc:  # rasterio's CPLE errors: coordinates the CRS cannot hold
        raise invalid_argument(
            argument, f"The geometries cannot be transformed from {src} to {dst}: {exc}."
        ) from None


def in_cube_crs(cube: Cube, geometries: list[dict]) -> list[dict]:
    """Geometries (WGS84 unless a :class:`GeometryList` says otherwise) in ``cube``'s CRS."""
    crs = cube.data.attrs.get("crs")
    if crs is None:
        return list(geometries)
    return transform_geometries(geometries, getattr(geometries, "crs", WGS84), str(crs))


# ---------------------------------------------------------------------------------------
# Rasterization


def planar(cube: Any, argument: str = "data") -> tuple[str, str]:
    """The names of a raster cube's x and y dimensions (:func:`pgc.executors.spatial.axes`);
    ProcessParameterInvalid for what is not a raster cube with both."""
    from ..spatial import horizontal

    if not isinstance(cube, Cube) or is_vector_cube(cube):
        raise invalid_argument(argument, f"'{argument}' must be a raster data cube.")
    x, y = horizontal(cube)
    if x is None or y is None:
        raise invalid_argument(
            argument, f"'{argument}' needs spatial dimensions for the x and y axes."
        )
    return x, y


def geometry_masks(cube: Cube, geometries: list[dict]) -> list[np.ndarray]:
    """For each geometry, a boolean [y, x] array of the pixels it selects (empty: none)."""
    return list(_each_mask(cube, geometries))


def _each_mask(cube: Cube, geometries: list[dict]) -> Iterator[np.ndarray]:
    """The masks of :func:`geometry_masks` one at a time (one grid's mask in memory, not one per
    geometry: a thousand fields on a large grid would not fit). The rules are the
    definitions' (:mod:`pgc.executors.spatial`): a polygon selects the pixels whose centre
    intersects it (boundary included), a point the closest pixel centre, a line every pixel
    it passes through."""
    from ..spatial import pixel_grid, selected_pixels

    grid = pixel_grid(cube, *planar(cube))
    for g in geometries:
        yield selected_pixels(grid, shapely_geometry(g))


def _window(mask: np.ndarray, x: str = "x", y: str = "y") -> dict[str, slice] | None:
    """The smallest [y, x] window holding every True pixel of ``mask`` (None: none)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return {y: slice(rows[0], rows[-1] + 1), x: slice(cols[0], cols[-1] + 1)}


def _span(keep: np.ndarray) -> slice:
    """The positions from the first to the last True of ``keep`` (none: an empty slice)."""
    found = np.flatnonzero(keep)
    return slice(found[0], found[-1] + 1) if found.size else slice(0, 0)


@implements("filter_spatial")
def _filter_spatial(call: Call) -> Cube:
    """The pixels in the geometries' bounding box (in the cube's CRS), plus any pixel a
    point or line selects beyond it (its closest pixel centre may lie just outside the box);
    of those, the ones no geometry selects become no-data. Empty geometries are ignored.
    The definition names no error when nothing is left: the cube then has no x (or y)
    labels."""
    from ..spatial import pixel_grid, selected_pixels

    cube = call.get("data")
    x, y = planar(cube)
    geometries = in_cube_crs(cube, geometry_list(call.get("geometries")))
    shapes = [s for s in (shapely_geometry(g) for g in geometries) if not s.is_empty]
    grid = pixel_grid(cube, x, y)
    inside = np.zeros(grid.shape, dtype=bool)
    for shape in shapes:
        inside |= selected_pixels(grid, shape)
    if shapes:
        import shapely

        west, south, east, north = shapely.union_all(shapes).bounds
        cols = centres_within(grid.x, west, east, grid.dx) | inside.any(axis=0)
        rows = centres_within(grid.y, south, north, grid.dy) | inside.any(axis=1)
    else:  # no geometry: no bounding box, no pixel
        cols, rows = np.zeros(grid.shape[1], bool), np.zeros(grid.shape[0], bool)
    window = {y: _span(rows), x: _span(cols)}
    part = cube.isel(window)  # the validity may lack x and y (or be one value)
    keep = xr.DataArray(inside[window[y], window[x]], dims=(y, x))
    keep = in_chunks_of(keep, part.data)
    valid = part.valid & keep
    order = [d for d in part.data.dims if d in valid.dims]
    return Cube(zeroed(part.data, keep), valid.transpose(*order))


# ---------------------------------------------------------------------------------------
# aggregate_spatial


@implements("aggregate_spatial")
def _aggregate_spatial(call: Call) -> Cube:
    return aggregate_spatial(call)


# the pixels of one geometry: their number, and values and validity along "pixel"
Pixels = tuple[int, Any, Any]


def aggregate_spatial(call: Call, gather: Callable[[list[Pixels]], list[Pixels]] | None = None):
    """One value per geometry (no-data for empty ones and ones without pixels); x and y
    give way to the geometry dimension, which keeps the geometries' labels, CRS and
    properties. With ``target_dimension``, also the pixel counts.

    ``gather`` gets every geometry's pixels before they are reduced (the dask executor
    computes them, from a chunked cube, in one computation)."""
    cube = call.get("data")
    x, y = planar(cube)
    features = features_of(call.get("geometries"), "geometries")
    target = call.get("target_dimension")
    others = [d for d in cube.dims if d not in (x, y)]
    if target is not None and target in (*others, features.dimension):
        call.fail(
            "TargetDimensionExists",
            f"The result has a dimension '{target}' already.",
            "target_dimension",
        )
    template = _without_planar(cube, x, y)
    geometries = in_cube_crs(cube, GeometryList(features.geometries, features.crs))
    pixels = [_pixels(cube, mask, x, y) for mask in _each_mask(cube, geometries)]
    if gather is not None:
        pixels = gather(pixels)
    parts = [_aggregate_one(call, of, template, target is not None) for of in pixels]
    out = _stack(parts, features, template, target)
    where = [d in (x, y) for d in cube.dims]
    at = where.index(True) if True in where else len(where)
    order = [*others[:at], features.dimension, *others[at:]]
    order += [target] if target is not None else []
    out = Cube(out.data.transpose(*order), out.valid.transpose(*order))
    out.data.attrs = {k: v for k, v in cube.data.attrs.items() if k != "nodata"}
    return with_features(out, features)


def _without_planar(cube: Cube, x: str, y: str) -> xr.DataArray:
    """An array of the cube's other dimensions (a template): its first pixel, or zeros
    where a filter left x or y without labels."""
    if cube.data.sizes[x] and cube.data.sizes[y]:
        return cube.data.isel({x: 0, y: 0}, drop=True)
    others = [d for d in cube.dims if d not in (x, y)]
    coords = {d: cube.data[d] for d in others if d in cube.data.coords}
    shape = [cube.data.sizes[d] for d in others]
    return xr.DataArray(np.zeros(shape, dtype=FLOAT), dims=others, coords=coords)


def _pixels(cube: Cube, mask: np.ndarray, x: str = "x", y: str = "y") -> Pixels:
    """The pixels of ``cube`` where ``mask`` is true, along a dimension "pixel"."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return 0, None, None
    pick = {y: xr.DataArray(rows, dims="pixel"), x: xr.DataArray(cols, dims="pixel")}
    data = in_compute_dtype(cube.data).isel(pick).drop_vars([x, y], errors="ignore")
    valid = cube.full_valid().isel(pick).drop_vars([x, y], errors="ignore")
    return rows.size, data, valid


def _aggregate_one(call: Call, pixels: Pixels, template: xr.DataArray, counts: bool) -> Cube:
    """The reducer's value over the pixels of one geometry (and the counts when asked)."""
    size, data, valid = pixels
    if size == 0:  # no pixel centre in the geometry: no-data, no pixels counted
        value = Cube(xr.zeros_like(template, dtype=FLOAT), xr.zeros_like(template, dtype=bool))
        return _with_counts(value, 0, xr.zeros_like(template, dtype=FLOAT)) if counts else value
    result = call.callback("reducer")(
        data=CubeArray(Cube(data, valid), "pixel"), context=call.get("context")
    )
    if not isinstance(result, Cube):  # the same number for every pixel of the other dims
        ok = result is not None
        result = Cube(
            xr.full_like(template, result if ok else 0, dtype=FLOAT),
            xr.full_like(template, ok, dtype=bool),
        )
    if not counts:
        return result
    return _with_counts(result, size, valid.sum("pixel").astype(FLOAT))


COUNT_LABELS = ["value", "total_count", "valid_count"]


def _with_counts(value: Cube, total: int, valid_count: xr.DataArray) -> Cube:
    """``value`` with the target dimension's three labels (counts are never no-data)."""
    data = in_compute_dtype(xr.broadcast(value.data, valid_count)[0])
    # the counts on the values' coordinates (a validity may have fewer: one true for a
    # cube without no-data has none of the bands' metadata)
    counted = xr.broadcast(valid_count, data)[0].transpose(*data.dims)
    items = [data, xr.full_like(data, total, dtype=FLOAT),
             data.copy(data=np.asarray(counted.values, dtype=FLOAT))]  # fmt: skip
    valid = xr.broadcast(value.valid, data)[0]
    ones = xr.ones_like(valid)
    stacked = xr.concat(items, dim="__counts__").assign_coords(__counts__=COUNT_LABELS)
    return Cube(stacked, xr.concat([valid, ones, ones], dim="__counts__"))


def _stack(parts: list[Cube], features: Features, template: xr.DataArray, target: Any) -> Cube:
    """The per-geometry results along the geometry dimension (then ``target``'s name)."""
    name = features.dimension
    if not parts:
        return _no_geometries(template, name, target)
    stacked = concat(parts, name, features.labels, [name, *parts[0].data.dims])
    data, valid = stacked.data, stacked.valid
    if target is not None:
        data, valid = data.rename(__counts__=target), valid.rename(__counts__=target)
    return Cube(data, valid)


def _no_geometries(template: xr.DataArray, name: str, target: Any) -> Cube:
    """The result for an empty FeatureCollection: a geometry dimension without labels."""
    dims, shape = (*template.dims, name), (*template.shape, 0)
    coords = {**template.coords, name: np.zeros(0, dtype=int)}
    if target is not None:
        dims, shape = (*dims, target), (*shape, len(COUNT_LABELS))
        coords[target] = COUNT_LABELS
    data = xr.DataArray(np.zeros(shape), dims=dims, coords=coords)
    return Cube(data, xr.zeros_like(data, dtype=bool))


# ---------------------------------------------------------------------------------------
# apply_polygon


@implements("apply_polygon")
def _apply_polygon(call: Call) -> Cube:
    """``process`` runs on each polygon's pixels (its smallest pixel window, pixels outside
    the polygon set to ``mask_value``); its values are written back inside the polygon, and
    every pixel outside all polygons becomes ``mask_value`` (null: no-data)."""
    cube = call.get("data")
    x, y = planar(cube)
    polygons = polygon_list(features_of(call.get("geometries"), "geometries"))
    masks = geometry_masks(cube, in_cube_crs(cube, polygons))
    if masks and (np.sum(masks, axis=0) > 1).any():
        call.fail(
            "GeometriesOverlap",
            "A pixel centre lies in more than one polygon; the polygons must not overlap.",
            "geometries",
        )
    mask_value = call.get("mask_value")
    results = []
    for mask in masks:
        window = _window(mask, x, y)
        if window is None:  # no pixel centre in this polygon: nothing to process
            continue
        sub = _masked(cube, window, mask[window[y], window[x]], mask_value)
        result = call.callback("process")(data=sub, context=call.get("context"))
        results.append((window, mask, _conformed(result, sub)))
    return _write_back(cube, results, mask_value, (y, x))


def polygon_list(features: Features, argument: str = "geometries") -> GeometryList:
    """The non-empty geometries, which must be (multi) polygons, at least one (apply_polygon,
    mask_polygon: "containing at least one polygon"; "Empty geometries are ignored")."""
    polygons = []
    for geometry in features.geometries:
        shape = shapely_geometry(geometry, argument)
        if shape.is_empty:  # the definition: empty geometries are ignored
            continue
        if shape.geom_type not in ("Polygon", "MultiPolygon"):
            raise invalid_argument(argument, f"Expected polygons, got a {shape.geom_type}.")
        polygons.append(geometry)
    if not polygons:
        raise invalid_argument(argument, f"'{argument}' contains no polygon.")
    return GeometryList(polygons, features.crs)


def _masked(cube: Cube, window: dict, inside: np.ndarray, mask_value: Any) -> Cube:
    """The cube's ``window`` ({y: rows, x: columns}), pixels outside the polygon replaced
    with ``mask_value``."""
    keep = xr.DataArray(inside, dims=tuple(window))
    data, valid = cube.data.isel(window), cube.full_valid().isel(window)
    if mask_value is None:
        return Cube(data.where(keep, 0).astype(data.dtype), (valid & keep).transpose(*data.dims))
    if isinstance(mask_value, str):  # numbers and text mix only as Python objects
        data = data.astype(object)
    filled = xr.where(keep, data, mask_value, keep_attrs=True)
    return Cube(filled.transpose(*data.dims), (valid | ~keep).transpose(*data.dims))


def _conformed(result: Any, sub: Cube) -> Cube:
    """The process's result, checked against the sub cube and in its dimension order.
    Labels may change (the definition allows it); dimensions and sizes may not."""
    if not isinstance(result, Cube):
        raise invalid_argument("process", "The process must return a data cube.")
    if sorted(result.dims) != sorted(sub.dims) or any(
        result.data.sizes[d] != sub.data.sizes[d] for d in sub.dims
    ):
        raise invalid_argument(
            "process",
            f"The process must keep the dimensions and their sizes: got "
            f"{dict(result.data.sizes)}, expected {dict(sub.data.sizes)}.",
        )
    valid = result.full_valid()
    return Cube(result.data.transpose(*sub.dims), valid.transpose(*sub.dims))


def _write_back(cube: Cube, results: list, mask_value: Any, planar_dims: tuple) -> Cube:
    """``mask_value`` everywhere, then each result inside its polygon (results are written
    by position: the output keeps the input's labels)."""
    dims = cube.dims
    dtypes = [r.data.dtype for _, _, r in results] or [cube.data.dtype]
    if isinstance(mask_value, str):
        dtype = np.dtype(object)
    elif mask_value is None:
        dtype = np.result_type(*dtypes)
    else:
        dtype = np.result_type(*dtypes, np.asarray(mask_value).dtype)
    values = np.full(cube.data.shape, 0 if mask_value is None else mask_value, dtype=dtype)
    valid = np.full(cube.data.shape, mask_value is not None)
    for window, mask, result in results:
        inside = xr.DataArray(mask[tuple(window.values())], dims=planar_dims)
        inside = xr.broadcast(inside, result.data)[0].transpose(*dims).values
        index = tuple(window.get(d, slice(None)) for d in dims)
        values[index] = np.where(inside, result.data.values, values[index])
        valid[index] = np.where(inside, result.valid.values, valid[index])
    attrs = {k: v for k, v in cube.data.attrs.items() if k != "nodata"}
    data = xr.DataArray(values, dims=dims, coords=cube.data.coords, attrs=attrs)
    return Cube(data, xr.DataArray(valid, dims=dims, coords=cube.data.coords))


# ---------------------------------------------------------------------------------------
# load_geojson


@implements("load_geojson")
def _load_geojson(call: Call) -> Cube:
    """A vector cube with one label per geometry and, for ``properties``, a ``properties``
    dimension holding their values (object dtype; missing values are no-data)."""
    return geojson_cube(call.get("data"), call.get("properties", []))


def geojson_cube(geojson: Any, names: Any) -> Cube:
    """The vector cube of a GeoJSON object with the values of the properties ``names``."""
    features = _from_geojson(geojson, "data")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise invalid_argument("properties", "Expected a list of property names.")
    labels = features.labels
    if not names:
        values = np.full(len(labels), None, dtype=object)
        data = xr.DataArray(values, dims=["geometry"], coords={"geometry": labels})
        return with_features(Cube(data, xr.zeros_like(data, dtype=bool)), features)
    columns, rows = _property_table(features.properties, names)
    values = np.full((len(labels), len(columns)), None, dtype=object)
    for i, row in enumerate(rows):
        values[i, : len(row)] = row
    coords = {"geometry": labels, "properties": columns}
    data = xr.DataArray(values, dims=["geometry", "properties"], coords=coords)
    valid = xr.DataArray(values != None, dims=data.dims, coords=coords)  # noqa: E711
    return with_features(Cube(data, valid), features)


def _property_table(properties: list[dict], names: list[str]) -> tuple[list, list[list]]:
    """The ``properties`` dimension's labels and each feature's values, as the definition
    says: one scalar property is one label; one array property gives index labels up to the
    longest array (a scalar where others are arrays counts as a one-item array); several
    properties are one label each."""
    if len(names) > 1:
        return list(names), [[p.get(n) for n in names] for p in properties]
    values = [p.get(names[0]) for p in properties]
    lengths = [len(v) for v in values if isinstance(v, list)]
    if not lengths:
        return list(names), [[v] for v in values]
    rows = [v if isinstance(v, list) else ([] if v is None else [v]) for v in values]
    return list(range(max(lengths))), rows


# ---------------------------------------------------------------------------------------
# filter_vector, vector_buffer, vector_reproject

# candidate <relation> base: e.g. "within" keeps the candidates within the base geometries.
RELATIONS = ("intersects", "disjoint", "equals", "touches", "crosses", "overlaps", "contains",
             "within")  # fmt: skip


@implements("filter_vector")
def _filter_vector(call: Call) -> Cube:
    """The geometries of ``data`` for which ``candidate <relation> union(geometries)``
    holds; empty candidates are removed. Labels, values and properties are kept."""
    import shapely

    cube = vector_cube_argument(call, "data")
    candidates = cube_features(cube, "data")
    base = features_of(call.get("geometries"), "geometries")
    relation = call.get("relation", "intersects")
    if relation not in RELATIONS:
        raise invalid_argument(
            "relation", f"Unknown relation '{relation}'; one of {', '.join(RELATIONS)}."
        )
    shapes = [
        shapely_geometry(g) for g in transform_geometries(base.geometries, base.crs, candidates.crs)
    ]
    union = shapely.union_all(shapes) if shapes else shapely.GeometryCollection()
    predicate = getattr(shapely, relation)
    keep = [
        i
        for i, g in enumerate(candidates.geometries)
        if not (shape := shapely_geometry(g)).is_empty and bool(predicate(shape, union))
    ]
    return _select(cube, candidates, keep)


def filter_bbox_vector(cube: Cube, extent: dict) -> Cube:
    """filter_bbox of a vector cube: the geometries fully within the box (the box is
    transformed to the geometries' CRS; empty geometries go)."""
    features = cube_features(cube, "data")
    west, south, east, north = (extent[k] for k in ("west", "south", "east", "north"))
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    box = {"type": "Polygon", "coordinates": [ring]}
    source = str(extent.get("crs", WGS84)).replace("EPSG:", "")
    area = shapely_geometry(
        transform_geometries([box], source, features.crs, "extent")[0], "extent"
    )
    keep = [
        i
        for i, g in enumerate(features.geometries)
        if not shapely_geometry(g).is_empty and shapely_geometry(g).within(area)
    ]
    return _select(cube, features, keep)


def renamed_dimension(attrs: dict, source: str, target: str) -> dict:
    """A vector cube's attributes after rename_dimension of its geometry dimension."""
    if attrs.get("geometries") is None or attrs.get("geometry_dimension", "geometry") != source:
        return attrs
    return {**attrs, "geometry_dimension": target}


def relabeled(attrs: dict, dimension: str, mapping: dict) -> dict:
    """A vector cube's attributes after rename_labels of its geometry dimension: the
    per-label tables keyed by the new labels."""
    if attrs.get("geometries") is None or attrs.get("geometry_dimension", "geometry") != dimension:
        return attrs
    out = dict(attrs)
    for key in ("geometries", "properties", "ids"):
        if isinstance(attrs.get(key), dict):
            out[key] = {mapping.get(k, k): v for k, v in attrs[key].items()}
    return out
