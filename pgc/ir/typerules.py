"""Type rules, one per process id: how each process maps argument types to its result type.

:data:`RULES` maps every process id in ``specs/`` to a rule (a function of a
:class:`~pgc.ir.infer.RuleContext`). Rules state the process's effect on a cube's
dimensions, labels, extents, dtype and bands, following the process definitions, and raise
the definition's exceptions (``DimensionNotAvailable``, ``BandExists`` ...) when the types
already show the problem; where the definition names none, the openEO API's
``ProcessParameterInvalid`` (or ``NoDataAvailable``). Every rule first checks that no
argument computed by another node has a type its parameter schema rules out (a data cube
where a number is expected ...).

Conventions the rules share:

- dtype policy (the reference executor's): processes that only select or move values
  (filters, renames, ``resample_*`` with a selecting method, ``mask``) keep the dtype; any
  computation (a callback, band math, an average) gives float64 (float32 stays float32),
  except that a callback whose result is surely boolean gives ``bool`` (no-data in boolean
  cubes is the executor's business). Computed values lose the bands' raw-value metadata
  (nodata, scale, offset).
- Callback parameters see a cube's values as ``number|null`` (``boolean|null`` for bool
  cubes) and as ``any`` when the cube or its dtype is unknown.
- Array lengths: an :class:`ArrayType` whose ``dimension`` is ``d`` has one element per
  label of the cube dimension ``d``; an unlabeled array whose ``labels`` are not None
  carries its indices ``0..n-1`` there, i.e. its length (see :func:`_length`).
- Geometry dimensions label geometries by their index in the GeoJSON they come from.

>>> from pgc.specs import load_specs
>>> sorted(RULES) == load_specs().ids()
True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ..errors import echo
from ..grid import window_for_bbox
from .infer import UNKNOWN_CUBE, RuleContext, type_from_schema
from .nodes import ArrayValue, Callback, Literal
from .types import (
    ANY,
    ITEMSIZE,
    ArrayType,
    Band,
    CubeType,
    Dimension,
    Label,
    ObjectType,
    ScalarType,
    Type,
    promote,
    union,
)

Rule = Callable[[RuleContext], Type]
RULES: dict[str, Rule] = {}

BOOLEAN = ScalarType.of("boolean", "null")
NUMBER = ScalarType.of("number", "null")
INTEGER = ScalarType.of("integer")
STRING = ScalarType.of("string")
NULL = ScalarType.of("null")


def rule(*process_ids: str):
    """Register a rule for ``process_ids``; it runs after the generic argument check."""

    def register(fn: Rule) -> Rule:
        @functools.wraps(fn)
        def checked(ctx: RuleContext) -> Type:
            _check_arguments(ctx)
            return fn(ctx)

        for pid in process_ids:
            RULES[pid] = checked
        return fn

    return register


def from_returns(ctx: RuleContext) -> Type:
    """The type the definition's return schema describes (when it says everything)."""
    spec = ctx.env.specs.get(ctx.node.process_id)
    return type_from_schema(spec.returns) if spec is not None else ANY


# Processes whose return schema already says everything there is to know statically.
FROM_RETURNS = (
    "array_contains", "array_find", "array_find_label", "date_difference", "e",
    "export_collection", "export_workspace", "is_infinite", "is_nan", "is_nodata",
    "is_valid", "normalized_difference", "pi", "run_ogcapi", "run_ogcapi_externally",
    "run_udf", "run_udf_externally", "stac_modify", "text_concat", "text_find",
)  # fmt: skip
rule(*FROM_RETURNS)(from_returns)


# ---------------------------------------------------------------------------------------
# Arguments: generic checks and literal access


def _check_arguments(ctx: RuleContext) -> None:
    """ProcessParameterInvalid for a computed argument whose type its schema rules out.

    Literals were checked by the validator; here only values computed by other nodes or
    passed as parameters are checked, and only for certain mismatches (a cube where a
    number is expected, a string where a number is expected ...). Booleans pass where
    numbers are expected, as numpy treats them.
    """
    spec = ctx.env.specs.get(ctx.node.process_id)
    if spec is None:
        return
    for name, value in ctx.node.arguments:
        if isinstance(value, Literal | Callback):
            continue
        param = spec.parameter(name)
        if param is None:
            continue
        t = ctx.type(name)
        if t is None or _accepts(param.schema, t):
            continue
        ctx.error(
            "ProcessParameterInvalid",
            f"Argument {echo(name)} must be {_schema_text(param.schema)}, but it is {t}.",
            name,
        )


_CUBE_SUBTYPES = ("datacube", "raster-cube", "vector-cube")
_KIND_FAMILY = {
    "integer": {"integer", "number", "boolean"},
    "number": {"integer", "number", "boolean"},
    "boolean": {"boolean", "integer", "number"},
    "string": {"string", "date", "datetime"},
    "date": {"string", "date", "datetime"},
    "datetime": {"string", "date", "datetime"},
    "null": {"null"},
}


def _accepts(schema: Any, t: Type) -> bool:
    """Whether a value of type ``t`` may satisfy ``schema`` (False only when it surely cannot)."""
    if t == ANY or (isinstance(t, ScalarType) and not t.kinds):
        return True
    for s in schema if isinstance(schema, list) else [schema]:
        if not isinstance(s, dict):
            return True
        alternatives = list(s.get("anyOf", [])) + list(s.get("oneOf", []))
        if alternatives and _accepts(alternatives, t):
            return True
        if "type" not in s:
            if not alternatives:
                return True  # {} or a description only: anything
            continue
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if isinstance(t, CubeType):
            if "object" in types and s.get("subtype") in _CUBE_SUBTYPES:
                return True
        elif isinstance(t, ArrayType):
            if "array" in types:
                return True
        elif isinstance(t, ObjectType):
            if "object" in types and s.get("subtype") not in ("process-graph",):
                return True
        elif isinstance(t, ScalarType):
            allowed: set[str] = set()
            for k in types:
                allowed |= _KIND_FAMILY.get(k, set())
            if t.kinds & allowed:
                return True
        else:
            return True
    return False


def _schema_text(schema: Any) -> str:
    t = type_from_schema(schema)
    if isinstance(t, CubeType):
        return "a data cube"
    return str(t) if t != ANY else "of another type"


def _present(ctx: RuleContext, name: str) -> str | None:
    """``name`` when the argument is in the document (even as null), for error pointers."""
    return name if ctx.node.arg(name) is not None else None


def _str(ctx: RuleContext, name: str) -> str | None:
    value = ctx.literal(name)
    return value if isinstance(value, str) else None


def _int(ctx: RuleContext, name: str) -> int | None:
    value = ctx.literal(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _list(ctx: RuleContext, name: str) -> list | None:
    value = ctx.literal(name)
    return value if isinstance(value, list) else None


def _labels(ctx: RuleContext, name: str) -> list[Label] | None:
    """A literal list of labels (strings and numbers); None when it is not one."""
    values = _list(ctx, name)
    if values is None or not all(_is_label(v) for v in values):
        return None
    return values


def _is_label(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _flag(ctx: RuleContext, name: str, default: bool | None) -> bool | None:
    """A boolean literal argument; ``default`` when absent; None when computed or null."""
    value = ctx.node.arg(name)
    if value is None:
        return default
    if isinstance(value, Literal) and isinstance(value.value, bool):
        return value.value
    return None


def _context(ctx: RuleContext) -> Type:
    return ctx.type("context") or ANY


# ---------------------------------------------------------------------------------------
# Cubes: shapes, values, dtypes


def _cube(ctx: RuleContext, name: str = "data", missing: dict[str, str] | None = None) -> CubeType:
    """Argument ``name`` as a cube that has the dimensions its parameter schema requires.

    ``missing`` maps a dimension type to the definition's exception for its absence
    (``{"bands": "DimensionMissing"}``); others give ProcessParameterInvalid.
    """
    cube = ctx.cube(name)
    if cube.unknown_dimensions:
        return cube
    spec = ctx.env.specs.get(ctx.node.process_id)
    param = spec.parameter(name) if spec is not None else None
    shapes = _shapes(param.schema) if param is not None else []
    if not shapes:
        return cube
    lacking = [_lacking(cube, shape) for shape in shapes]
    if any(not lack for lack in lacking):
        return cube
    first = lacking[0][0]
    code = (missing or {}).get(first.get("type", ""), "ProcessParameterInvalid")
    wanted = " or ".join(
        "a data cube with " + " and ".join(_shape_text(d) for d in shape) for shape in shapes
    )
    has = ", ".join(d.describe() for d in cube.dimensions) or "no dimensions"
    ctx.error(code, f"Argument {echo(name)} must be {wanted}; it has {has}.", name)


def _shapes(schema: Any) -> list[list[dict]]:
    """The dimension requirements of the data cube alternatives of a parameter schema."""
    out = []
    for s in schema if isinstance(schema, list) else [schema]:
        if not isinstance(s, dict) or s.get("subtype") not in _CUBE_SUBTYPES:
            continue
        dims = s.get("dimensions")
        if not isinstance(dims, list):
            return []  # an alternative without requirements accepts every cube
        out.append([d for d in dims if isinstance(d, dict)])
    return out


def _lacking(cube: CubeType, shape: list[dict]) -> list[dict]:
    missing = []
    for need in shape:
        kind = need.get("type")
        axes = need.get("axis")
        if isinstance(axes, list) and axes:
            if any(not cube.of_type(kind, axis) for axis in axes):
                missing.append(need)
        elif not cube.of_type(kind):
            missing.append(need)
    return missing


def _shape_text(need: dict) -> str:
    axes = need.get("axis")
    if isinstance(axes, list) and axes:
        return "spatial dimensions " + " and ".join(str(a) for a in axes)
    return f"a {need.get('type')} dimension"


def _values(cube: CubeType) -> Type:
    """The type of one value of ``cube``, as its callbacks see it."""
    if cube.unknown_dimensions or cube.dtype not in ITEMSIZE:
        return ANY
    return BOOLEAN if cube.dtype == "bool" else NUMBER


def _float(dtype: str) -> str:
    """The dtype of band math on ``dtype`` values: float64 (the reference's policy)."""
    return dtype if dtype in ("float32", "float64") else "float64"


_BOOLEAN_KINDS = (frozenset({"boolean"}), frozenset({"boolean", "null"}))


def _result_dtype(dtype: str, result: Type) -> str:
    """The dtype of values a callback computes from ``dtype`` values."""
    if isinstance(result, ArrayType):
        result = result.item
    if isinstance(result, ScalarType) and result.kinds in _BOOLEAN_KINDS:
        return "bool"
    if isinstance(result, CubeType) and not result.unknown_dimensions:
        return result.dtype
    return _float(dtype)


def _promote(*dtypes: str) -> str:
    try:
        return promote(*dtypes)
    except (TypeError, ValueError):
        return "float64"


def _computed(cube: CubeType, dtype: str) -> CubeType:
    """``cube`` with computed values of ``dtype``: raw-value band metadata no longer applies."""
    bands = tuple(replace(b, nodata=None, scale=None, offset=None) for b in cube.bands)
    return replace(cube, dtype=dtype, bands=bands, nodata=None)


def _reshape(cube: CubeType, dims: Iterable[Dimension]) -> CubeType:
    """``cube`` with these dimensions; band metadata and the vector flag follow them."""
    dims = tuple(dims)
    has_bands = any(d.type == "bands" for d in dims)
    return replace(
        cube,
        dimensions=dims,
        bands=cube.bands if has_bands else (),
        vector=any(d.type == "geometry" for d in dims),
    )


def _unknown(cube: CubeType, dtype: str | None = None, vector: bool | None = None) -> CubeType:
    return CubeType(
        unknown_dimensions=True,
        dtype=dtype or cube.dtype,
        vector=cube.vector if vector is None else vector,
    )


def _dim_name(ctx: RuleContext, name: str = "dimension") -> str | None:
    return _str(ctx, name)


def _label_type(dim: Dimension | None) -> Type:
    """The type of one label of ``dim`` (``filter_labels`` conditions, ``array_labels``)."""
    if dim is None:
        return ScalarType.of("number", "string")
    if dim.labels:
        kinds: set[str] = set()
        for label in dim.labels:
            kinds.add(_label_kind(label, dim.type == "temporal"))
        return ScalarType(frozenset(kinds))
    if dim.type == "spatial":
        return ScalarType.of("number")
    if dim.type in ("bands", "temporal"):
        return STRING
    return ScalarType.of("number", "string")


def _label_kind(label: Any, temporal: bool = False) -> str:
    if isinstance(label, bool):
        return "boolean"
    if isinstance(label, int):
        return "integer"
    if isinstance(label, float):
        return "number"
    if temporal and isinstance(label, str) and _instant(label) is not None:
        return "datetime" if len(label) > 10 else "date"
    return "string"


def _sizeless(dim: Dimension) -> Dimension:
    """``dim`` with fewer (or the same) labels, which are not known statically."""
    extent = None if dim.type == "spatial" else dim.extent
    return replace(dim, labels=None, extent=extent)


def _indices(n: int | None) -> tuple[int, ...] | None:
    return None if n is None or n < 0 else tuple(range(n))


def _label_text(value: Any) -> str:
    """A label as text (``flatten_dimensions``): integral numbers without a fraction."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sort_labels(labels: Iterable[Label]) -> tuple[Label, ...]:
    items = list(dict.fromkeys(labels))
    try:
        return tuple(sorted(items))  # type: ignore[type-var]
    except TypeError:
        return tuple(sorted(items, key=lambda v: (type(v).__name__, str(v))))


# ---------------------------------------------------------------------------------------
# Time


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 date or date-time as an aware datetime (dates: midnight UTC)."""
    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            moment = datetime.fromisoformat(text + "T00:00:00")
        else:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _in_interval(label: Any, start: Any, end: Any) -> bool:
    """Left-closed interval [start, end) on ISO 8601 instants (dates: midnight UTC)."""
    moment = _instant(label)
    if moment is None:
        return True  # not a date: cannot tell, keep
    lo, hi = _instant(start), _instant(end)
    if lo is not None and moment < lo:
        return False
    return not (hi is not None and moment >= hi)


def _check_interval(ctx: RuleContext, interval: Any, argument: str) -> None:
    """TemporalExtentEmpty when the interval's end is not later than its start."""
    if not isinstance(interval, list) or len(interval) != 2:
        return
    lo, hi = _instant(interval[0]), _instant(interval[1])
    if lo is not None and hi is not None and hi <= lo:
        ctx.error(
            "TemporalExtentEmpty",
            f"The temporal interval [{interval[0]}, {interval[1]}) is empty: its end must be "
            "later than its start.",
            argument,
        )


# ---------------------------------------------------------------------------------------
# Loading


@rule("load_collection")
def _load_collection(ctx: RuleContext) -> Type:
    """The collection's cube, narrowed to the extents and bands (NoDataAvailable if empty)."""
    cid = ctx.literal("id")
    catalog = ctx.env.catalog
    _check_interval(ctx, ctx.literal("temporal_extent"), "temporal_extent")
    if not isinstance(cid, str) or catalog is None:
        return UNKNOWN_CUBE
    if cid not in catalog:
        ids = ", ".join(catalog.ids()[:10])
        ctx.error(
            "CollectionNotFound", f"Collection {echo(cid)} does not exist; available: {ids}.", "id"
        )
    cube = catalog.cube_type(cid)
    cube = _narrow_spatial(ctx, cube, ctx.literal("spatial_extent"), "spatial_extent")
    cube = _narrow_temporal(ctx, cube, ctx.literal("temporal_extent"))
    for dim in cube.of_type("temporal"):
        if dim.labels == ():
            ctx.error(
                "NoDataAvailable",
                f"Collection {echo(cid)} has no data in the temporal extent.",
                "temporal_extent",
            )
    bands = ctx.literal("bands")
    if isinstance(bands, list):
        cube = _select_bands(ctx, cube, bands, "bands")
    return cube


def _narrow_spatial(ctx: RuleContext, cube: CubeType, extent: Any, argument: str) -> CubeType:
    """x/y restricted to the pixels whose centres lie in a bounding box in the cube's CRS.

    The pixel-centre rule is :func:`pgc.grid.window_for_bbox`, shared with the readers; a
    box in another CRS leaves the sizes unchanged (an upper bound).
    """
    if not isinstance(extent, dict) or not {"west", "south", "east", "north"} <= set(extent):
        return cube
    box = tuple(_num(extent[k]) for k in ("west", "south", "east", "north"))
    crs = str(extent.get("crs", 4326)).replace("EPSG:", "")
    xs, ys = cube.of_type("spatial", "x"), cube.of_type("spatial", "y")
    if None in box or not xs or not ys or cube.unknown_dimensions:
        return cube
    x, y = xs[0], ys[0]
    if not all(_on_grid(d) and d.crs == crs for d in (x, y)):
        return cube
    x_extent = (float(x.extent[0]), float(x.extent[1]))  # type: ignore[index]
    y_extent = (float(y.extent[0]), float(y.extent[1]))  # type: ignore[index]
    dx, dy = float(x.step), float(y.step)  # type: ignore[arg-type]
    bbox = (box[0], box[1], box[2], box[3])
    cols = window_for_bbox(x_extent, y_extent, dx, bbox)  # type: ignore[arg-type]
    rows = window_for_bbox(x_extent, y_extent, dy, bbox)  # type: ignore[arg-type]
    if cols.x1 <= cols.x0 or rows.y1 <= rows.y0:
        ctx.error(
            "NoDataAvailable",
            f"The {argument} holds no pixel centre of the data (x {x.extent}, y {y.extent} "
            f"in EPSG:{x.crs}).",
            argument,
        )
    x_new = (x_extent[0] + cols.x0 * dx, x_extent[0] + cols.x1 * dx)
    y_new = (y_extent[1] - rows.y1 * dy, y_extent[1] - rows.y0 * dy)
    cube = cube.with_dimension(replace(x, extent=x_new))
    return cube.with_dimension(replace(y, extent=y_new))


def _on_grid(dim: Dimension) -> bool:
    """Whether a spatial dimension has numeric extent and a positive step."""
    step, extent = dim.step, dim.extent
    return (
        isinstance(step, int | float)
        and step > 0
        and extent is not None
        and all(_num(v) is not None for v in extent)
    )


def _narrow_temporal(
    ctx: RuleContext, cube: CubeType, extent: Any, dimension: str | None = None
) -> CubeType:
    """Keep the labels of the temporal dimensions (or ``dimension``) inside [start, end)."""
    if not isinstance(extent, list) or len(extent) != 2:
        return cube
    start, end = extent
    for dim in cube.of_type("temporal"):
        if dim.labels is None or (dimension is not None and dim.name != dimension):
            continue
        kept = tuple(t for t in dim.labels if _in_interval(t, start, end))
        cube = cube.with_dimension(replace(dim, labels=kept))
    return cube


def _select_bands(ctx: RuleContext, cube: CubeType, names: list, argument: str) -> CubeType:
    """The bands named (or common-named) in ``names``, in that order, without repeats."""
    bands_dims = cube.of_type("bands")
    if not bands_dims or cube.unknown_dimensions:
        return cube
    dim = bands_dims[0]
    known = list(dim.labels or ())
    chosen: list[Label] = []
    for name in names:
        if not isinstance(name, str):
            continue
        common = [b.name for b in cube.bands if b.common_name == name]
        if name in known:
            picked = [name]
        elif common:
            picked = common
        elif dim.labels is not None:
            ctx.error(
                "ProcessParameterInvalid",
                f"The data cube has no band {echo(name)}; it has "
                + (", ".join(str(k) for k in known) or "none")
                + ".",
                argument,
            )
        else:
            picked = [name]  # unknown labels: the user's name stands
        chosen.extend(p for p in picked if p not in chosen)
    return _with_bands(cube, dim, tuple(chosen))


def _with_bands(cube: CubeType, dim: Dimension, labels: tuple[Label, ...] | None) -> CubeType:
    """``cube`` whose bands dimension ``dim`` has ``labels`` (metadata follows them)."""
    cube = cube.with_dimension(replace(dim, labels=labels))
    if labels is None:
        return cube
    meta = {b.name: b for b in cube.bands}
    return replace(cube, bands=tuple(meta.get(str(n), Band(str(n))) for n in labels))


@rule("load_stac")
def _load_stac(ctx: RuleContext) -> Type:
    """A cube whose dimensions are known only when the data is read."""
    _check_interval(ctx, ctx.literal("temporal_extent"), "temporal_extent")
    return UNKNOWN_CUBE


_VECTOR_FORMATS = {"geojson", "geoparquet", "parquet", "shapefile", "esri shapefile", "gpkg"}
_RASTER_ONLY_FORMATS = {"gtiff", "geotiff", "cog", "png", "jpeg", "jpg"}


@rule("load_url", "load_uploaded_files")
def _load_file(ctx: RuleContext) -> Type:
    """A cube known only when read: a vector cube for vector formats."""
    fmt = _str(ctx, "format")
    vector = fmt is not None and fmt.lower() in _VECTOR_FORMATS
    return replace(UNKNOWN_CUBE, vector=vector)


@rule("load_geojson")
def _load_geojson(ctx: RuleContext) -> Type:
    """A vector cube: one geometry label per geometry, plus a ``properties`` dimension."""
    data = ctx.literal("data")
    if isinstance(data, dict) and data.get("type") == "GeometryCollection":
        ctx.error(
            "ProcessParameterInvalid",
            "load_geojson does not support GeoJSON GeometryCollections.",
            "data",
        )
    count = _count_geometries(data)
    dims = [Dimension("geometry", "geometry", labels=_indices(count), crs="4326")]
    properties = _list(ctx, "properties")
    if properties is None and ctx.has("properties"):
        return CubeType(unknown_dimensions=True, dtype="object", vector=True)
    if properties:
        names = tuple(str(p) for p in properties)
        labels: tuple[Label, ...] | None = names
        if len(names) == 1:
            # One property: its name, or the indices of the longest array it holds.
            values = [f.get(names[0]) for f in _feature_properties(data)]
            arrays = [len(v) for v in values if isinstance(v, list)]
            if arrays:
                labels = _indices(max(arrays))
            elif not isinstance(data, dict):
                labels = None
        dims.append(Dimension("properties", "other", labels=labels))
    return CubeType(tuple(dims), dtype="object", vector=True)


def _count_geometries(geojson: Any) -> int | None:
    """How many geometries (dimension labels) a GeoJSON object holds, when it shows them."""
    if not isinstance(geojson, dict):
        return None
    kind = geojson.get("type")
    if kind == "FeatureCollection":
        features = geojson.get("features")
        return len(features) if isinstance(features, list) else None
    return 1 if kind in _GEOJSON_SINGLES else None


_GEOJSON_SINGLES = ("Feature", "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                    "MultiPolygon", "GeometryCollection")  # fmt: skip


def _feature_properties(geojson: Any) -> list[dict]:
    if not isinstance(geojson, dict):
        return []
    features = geojson.get("features") if geojson.get("type") == "FeatureCollection" else [geojson]
    out = []
    for f in features if isinstance(features, list) else []:
        props = f.get("properties") if isinstance(f, dict) else None
        out.append(props if isinstance(props, dict) else {})
    return out


@rule("create_data_cube")
def _create_data_cube(ctx: RuleContext) -> Type:
    """A cube without dimensions."""
    return CubeType((), dtype="float64")


# ---------------------------------------------------------------------------------------
# Filters and masks: dtype kept


@rule("filter_bbox")
def _filter_bbox(ctx: RuleContext) -> Type:
    """x/y restricted to the box (raster); fewer geometries (vector)."""
    cube = _cube(ctx)
    if cube.vector and not cube.unknown_dimensions:
        return _reshape(
            cube, [_sizeless(d) if d.type == "geometry" else d for d in cube.dimensions]
        )
    return _narrow_spatial(ctx, cube, ctx.literal("extent"), "extent")


@rule("filter_temporal")
def _filter_temporal(ctx: RuleContext) -> Type:
    """Temporal labels inside [start, end) (all temporal dimensions or ``dimension``)."""
    cube = _cube(ctx, missing={"temporal": "DimensionNotAvailable"})
    extent = ctx.literal("extent")
    _check_interval(ctx, extent, "extent")
    name = _dim_name(ctx)
    if name is not None:
        dim = ctx.dimension(cube, name)
        if dim is not None and dim.type != "temporal":
            ctx.error(
                "DimensionNotAvailable", f"Dimension {echo(name)} is not temporal.", "dimension"
            )
    return _narrow_temporal(ctx, cube, extent, name)


@rule("filter_bands")
def _filter_bands(ctx: RuleContext) -> Type:
    """The bands chosen by name, common name or wavelength range, in the order asked."""
    cube = _cube(ctx, missing={"bands": "DimensionMissing"})
    bands, wavelengths = ctx.literal("bands"), ctx.literal("wavelengths")
    given_bands = ctx.has("bands") and bands != []
    given_waves = ctx.has("wavelengths") and wavelengths != []
    if not given_bands and not given_waves:
        ctx.error(
            "BandFilterParameterMissing",
            "filter_bands needs band names in 'bands' or ranges in 'wavelengths'.",
            _present(ctx, "bands"),
        )
    if cube.unknown_dimensions:
        return cube
    dim = cube.of_type("bands")[0]
    if (given_bands and not isinstance(bands, list)) or (
        given_waves and not isinstance(wavelengths, list)
    ):
        return _with_bands(cube, dim, None)
    chosen = list(_select_bands(ctx, cube, bands or [], "bands").of_type("bands")[0].labels or ())
    if given_waves:
        if dim.labels is None or not cube.bands:
            return _with_bands(cube, dim, None)
        for band in cube.bands:
            if band.name not in chosen and _in_ranges(band.wavelength, wavelengths):
                chosen.append(band.name)
    return _with_bands(cube, dim, tuple(chosen))


def _in_ranges(wavelength: float | None, ranges: list) -> bool:
    if wavelength is None:
        return False
    for r in ranges:
        if isinstance(r, list) and len(r) == 2:
            lo, hi = _num(r[0]), _num(r[1])
            if lo is not None and hi is not None and lo <= wavelength <= hi:
                return True
    return False


@rule("filter_labels")
def _filter_labels(ctx: RuleContext) -> Type:
    """Fewer (or the same) labels along ``dimension``; which ones is known at run time."""
    cube = ctx.cube()
    name = _dim_name(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    ctx.callback("condition", {"value": _label_type(dim), "context": _context(ctx)})
    if dim is None:
        return cube
    return cube.with_dimension(_sizeless(dim))


@rule("filter_spatial")
def _filter_spatial(ctx: RuleContext) -> Type:
    """x/y restricted to the geometries' bounding box (WGS 84 grids; else an upper bound)."""
    cube = _cube(ctx)
    _geometries(ctx, "geometries")
    box = _geojson_bbox(ctx.literal("geometries"))
    xs = cube.of_type("spatial", "x") if not cube.unknown_dimensions else []
    if box is None or not xs or not isinstance(xs[0].step, int | float):
        return cube
    # Points and lines select the closest pixel centres: widen by half a pixel.
    half = xs[0].step / 2
    box = {**box, "west": box["west"] - half, "south": box["south"] - half,
           "east": box["east"] + half, "north": box["north"] + half}  # fmt: skip
    return _narrow_spatial(ctx, cube, box, "geometries")


def _geojson_bbox(geojson: Any) -> dict | None:
    """The WGS 84 bounding box of a GeoJSON object's coordinates."""
    if not isinstance(geojson, dict):
        return None
    xs: list[float] = []
    ys: list[float] = []
    stack: list[Any] = [geojson]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.get(k) for k in ("features", "geometry", "geometries", "coordinates"))
        elif isinstance(item, list):
            if len(item) >= 2 and _num(item[0]) is not None and _num(item[1]) is not None:
                xs.append(float(item[0]))
                ys.append(float(item[1]))
            else:
                stack.extend(item)
    if not xs:
        return None
    return {"west": min(xs), "south": min(ys), "east": max(xs), "north": max(ys), "crs": 4326}


def _geometries(ctx: RuleContext, name: str) -> Dimension:
    """The geometry dimension that argument ``name`` (GeoJSON or a vector cube) brings."""
    t = ctx.type(name)
    if isinstance(t, CubeType):
        cube = _cube(ctx, name)
        dims = cube.of_type("geometry") if not cube.unknown_dimensions else []
        if dims:
            return dims[0]
        return Dimension("geometry", "geometry")
    count = _count_geometries(ctx.literal(name))
    return Dimension("geometry", "geometry", labels=_indices(count), crs="4326")


@rule("filter_vector")
def _filter_vector(ctx: RuleContext) -> Type:
    """Fewer (or the same) geometries; everything else unchanged."""
    cube = _cube(ctx)
    _cube(ctx, "geometries")
    if cube.unknown_dimensions:
        return cube
    return _reshape(cube, [_sizeless(d) if d.type == "geometry" else d for d in cube.dimensions])


@rule("mask")
def _mask(ctx: RuleContext) -> Type:
    """``data`` unchanged in shape; the mask's non-x/y dimensions must match data's."""
    cube = _cube(ctx)
    mask = _cube(ctx, "mask")
    if not cube.unknown_dimensions and not mask.unknown_dimensions:
        for d in mask.dimensions:
            if d.type == "spatial" and d.axis in ("x", "y"):
                continue  # aligned implicitly by resample_cube_spatial
            own = cube.dimension(d.name)
            problem = None
            if own is None:
                problem = f"the mask has a dimension {echo(d.name)} that the data lacks"
            elif own.type != d.type:
                problem = f"dimension {echo(d.name)} is {own.type} in data but {d.type} in the mask"
            elif own.labels is not None and d.labels is not None and own.labels != d.labels:
                problem = f"the labels of dimension {echo(d.name)} differ"
            if problem:
                ctx.error(
                    "IncompatibleDataCubes",
                    f"The data cube and the mask are incompatible: {problem} (data has "
                    f"{', '.join(cube.names) or 'no dimensions'}).",
                    "mask",
                )
    return _replaced(ctx, cube, "replacement")


def _replaced(ctx: RuleContext, cube: CubeType, argument: str) -> CubeType:
    """``cube`` after some values are replaced by ``argument`` (default: no-data)."""
    value = _num(ctx.literal(argument))
    if value is not None and not value.is_integer():
        return cube.with_dtype(_float(cube.dtype))
    return cube


@rule("mask_polygon")
def _mask_polygon(ctx: RuleContext) -> Type:
    """``data`` unchanged in shape; values outside (inside) the polygons replaced."""
    cube = _cube(ctx)
    if isinstance(ctx.type("mask"), CubeType):
        _cube(ctx, "mask")
    return _replaced(ctx, cube, "replacement")


@rule("trim_cube")
def _trim_cube(ctx: RuleContext) -> Type:
    """Every dimension may lose labels that hold only no-data; which ones is unknown."""
    cube = ctx.cube()
    if cube.unknown_dimensions:
        return cube
    return _reshape(cube, [_sizeless(d) for d in cube.dimensions])


# ---------------------------------------------------------------------------------------
# Dimensions and labels


@rule("add_dimension")
def _add_dimension(ctx: RuleContext) -> Type:
    """A new last dimension with the single ``label`` (DimensionExists if named so)."""
    cube = ctx.cube()
    name = _str(ctx, "name")
    kind = _str(ctx, "type") or "other"
    kind = kind if kind in ("spatial", "temporal", "bands", "geometry", "other") else "other"
    label = ctx.literal("label")
    if cube.unknown_dimensions or name is None:
        return _unknown(cube, vector=cube.vector or kind == "geometry")
    if cube.dimension(name) is not None:
        ctx.error(
            "DimensionExists",
            f"The data cube has a dimension {echo(name)} already; it has {', '.join(cube.names)}.",
            "name",
        )
    axis = None
    if kind == "spatial":
        taken = {d.axis for d in cube.of_type("spatial")}
        axis = next((a for a in ("x", "y", "z") if a not in taken), None)
        if axis is None:
            ctx.error(
                "DimensionExists",
                "The data cube has spatial dimensions for all axes (x, y, z) already.",
                "type",
            )
    labels = (label,) if isinstance(label, str | int | float) else None
    dim = Dimension(name, kind, axis=axis, labels=labels)
    out = _reshape(cube, (*cube.dimensions, dim))
    if kind == "bands" and not cube.of_type("bands") and labels is not None:
        out = replace(out, bands=(Band(str(label)),))
    return out


@rule("drop_dimension")
def _drop_dimension(ctx: RuleContext) -> Type:
    """The cube without ``name``, which must have a single label left."""
    cube = ctx.cube()
    name = _str(ctx, "name")
    dim = ctx.dimension(cube, name, "name") if name is not None else None
    if dim is None:
        return cube if cube.unknown_dimensions else _unknown(cube)
    if dim.size is not None and dim.size > 1:
        ctx.error(
            "DimensionLabelCountMismatch",
            f"Dimension {echo(name)} has {dim.size} labels; only a dimension with a single "
            "label can be dropped (reduce it or filter it to one label first).",
            "name",
        )
    return _reshape(cube, [d for d in cube.dimensions if d.name != name])


@rule("rename_dimension")
def _rename_dimension(ctx: RuleContext) -> Type:
    """Dimension ``source`` called ``target``; everything else unchanged."""
    cube = ctx.cube()
    source, target = _str(ctx, "source"), _str(ctx, "target")
    dim = ctx.dimension(cube, source, "source") if source is not None else None
    if cube.unknown_dimensions:
        return cube
    if target is not None and cube.dimension(target) is not None:
        ctx.error(
            "DimensionExists",
            f"The data cube has a dimension {echo(target)} already; it has "
            f"{', '.join(cube.names)}.",
            "target",
        )
    if dim is None or target is None:
        return _unknown(cube)
    dims = [replace(d, name=target) if d.name == source else d for d in cube.dimensions]
    return _reshape(cube, dims)


@rule("rename_labels")
def _rename_labels(ctx: RuleContext) -> Type:
    """The labels of ``dimension`` renamed from ``source`` (or the indices) to ``target``.

    Decided where the definition is open: an empty ``source`` needs as many targets as
    labels; LabelExists is raised when the renamed labels would not be distinct (so
    swapping two labels is allowed).
    """
    cube = ctx.cube()
    name = _dim_name(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    target = _labels(ctx, "target")
    source = _labels(ctx, "source") if ctx.has("source") else []
    if source is not None and target is not None and source and len(source) != len(target):
        ctx.error(
            "LabelMismatch",
            f"'source' has {len(source)} labels but 'target' has {len(target)}.",
            "target",
        )
    if dim is None or target is None or source is None:
        return cube if dim is None else cube.with_dimension(replace(dim, labels=None))
    labels = dim.labels
    if labels is None:
        return cube.with_dimension(replace(dim, labels=None))
    if not source:
        if any(_label_text(v) != str(i) for i, v in enumerate(labels)):
            ctx.error(
                "LabelsNotEnumerated",
                f"The labels of dimension {echo(name)} are not enumerated (0, 1, 2, ...); "
                "give the labels to rename in 'source'.",
                _present(ctx, "source") or "dimension",
            )
        if len(target) != len(labels):
            ctx.error(
                "LabelMismatch",
                f"Dimension {echo(name)} has {len(labels)} labels but 'target' has {len(target)}.",
                "target",
            )
        mapping = dict(zip(labels, target, strict=True))
    else:
        for s in source:
            if s not in labels:
                ctx.error(
                    "LabelNotAvailable",
                    f"Dimension {echo(name)} has no label {echo(s)}; it has "
                    + ", ".join(_label_text(v) for v in labels[:20])
                    + ".",
                    "source",
                )
        mapping = dict(zip(source, target, strict=True))
    renamed = tuple(mapping.get(v, v) for v in labels)
    if len(set(renamed)) != len(renamed):
        clash = next(v for v in renamed if renamed.count(v) > 1)
        ctx.error(
            "LabelExists",
            f"Dimension {echo(name)} would have the label {echo(clash)} twice.",
            "target",
        )
    out = cube.with_dimension(replace(dim, labels=renamed))
    if dim.type == "bands":
        meta = {b.name: b for b in cube.bands}
        bands = tuple(
            replace(meta[str(old)], name=str(new)) if str(old) in meta else Band(str(new))
            for old, new in zip(labels, renamed, strict=True)
        )
        out = replace(out, bands=bands)
    return out


@rule("dimension_labels")
def _dimension_labels(ctx: RuleContext) -> Type:
    """An array with one label of ``dimension`` per element."""
    cube = ctx.cube()
    name = _dim_name(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    if dim is None:
        return ArrayType(ScalarType.of("number", "string"))
    n = len(dim.labels) if dim.labels is not None else None
    return ArrayType(_label_type(dim), labels=_indices(n), dimension=dim.name)


@rule("flatten_dimensions")
def _flatten_dimensions(ctx: RuleContext) -> Type:
    """``dimensions`` merged into ``target_dimension`` (type other) where the first was."""
    cube = ctx.cube()
    names = _list(ctx, "dimensions")
    target = _str(ctx, "target_dimension")
    sep = _str(ctx, "label_separator")
    sep = "~" if sep is None else sep
    if cube.unknown_dimensions or names is None or target is None:
        return _unknown(cube)
    dims: list[Dimension] = []
    for n in names:
        if not isinstance(n, str):
            return _unknown(cube)
        if any(d.name == n for d in dims):
            ctx.error(
                "ProcessParameterInvalid", f"Dimension {echo(n)} is listed twice.", "dimensions"
            )
        dim = ctx.dimension(cube, n, "dimensions")
        if dim is not None:
            dims.append(dim)
    if cube.dimension(target) is not None:
        ctx.error(
            "TargetDimensionExists",
            f"The data cube has a dimension {echo(target)} already; it has "
            f"{', '.join(cube.names)}.",
            "target_dimension",
        )
    if not dims:
        return cube
    gone = {d.name for d in dims}
    first = min(cube.names.index(n) for n in gone)  # no removed dimension comes before it
    out = [d for d in cube.dimensions if d.name not in gone]
    out.insert(first, Dimension(target, "other", labels=_joined(dims, sep)))
    return _reshape(cube, out)


def _joined(dims: Sequence[Dimension], sep: str) -> tuple[str, ...] | None:
    """Labels of the flattened dimension: the product of the labels, joined by ``sep``."""
    combos: list[str] = [""]
    for i, d in enumerate(dims):
        if d.labels is None:
            return None
        combos = [(c + sep if i else "") + _label_text(label) for c in combos for label in d.labels]
    return tuple(combos)


@rule("unflatten_dimension")
def _unflatten_dimension(ctx: RuleContext) -> Type:
    """``dimension`` split into ``target_dimensions`` (type other) at its place."""
    cube = ctx.cube()
    name = _dim_name(ctx)
    targets = _list(ctx, "target_dimensions")
    sep = _str(ctx, "label_separator")
    sep = "~" if sep is None else sep
    dim = ctx.dimension(cube, name) if name is not None else None
    if dim is None or targets is None or not all(isinstance(t, str) for t in targets):
        return _unknown(cube) if not cube.unknown_dimensions else cube
    for t in targets:
        if cube.dimension(t) is not None:
            ctx.error(
                "TargetDimensionExists",
                f"The data cube has a dimension {echo(t)} already; it has {', '.join(cube.names)}.",
                "target_dimensions",
            )
    parts: list[list[str]] | None = None
    if dim.labels is not None and targets and sep:
        split = [_label_text(v).split(sep) for v in dim.labels]
        if any(len(p) != len(targets) for p in split):
            bad = next(v for v, p in zip(dim.labels, split, strict=True) if len(p) != len(targets))
            ctx.error(
                "ProcessParameterInvalid",
                f"Label {echo(bad)} of dimension {echo(name)} does not split into "
                f"{len(targets)} parts at {echo(sep)}.",
                "target_dimensions",
            )
        parts = [list(dict.fromkeys(p[i] for p in split)) for i in range(len(targets))]
        size = 1
        for p in parts:
            size *= len(p)
        if size != len(dim.labels):
            parts = None  # not a full grid: the labels per dimension cannot be told
    new = [
        Dimension(t, "other", labels=tuple(parts[i]) if parts is not None else None)
        for i, t in enumerate(targets)
    ]
    at = cube.names.index(dim.name)
    dims = list(cube.dimensions[:at]) + new + list(cube.dimensions[at + 1 :])
    return _reshape(cube, dims)


# ---------------------------------------------------------------------------------------
# Reducing and applying


@rule("reduce_dimension")
def _reduce_dimension(ctx: RuleContext) -> Type:
    """The cube without ``dimension``; the reducer sees a labeled array along it."""
    cube = ctx.cube()
    name = _dim_name(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    data = ArrayType(
        _values(cube), labeled=True, labels=dim.labels if dim else None, dimension=name
    )
    result = ctx.callback("reducer", {"data": data, "context": _context(ctx)})
    _single_value(ctx, result, "reducer")
    dtype = _result_dtype(cube.dtype, result)
    if cube.unknown_dimensions or dim is None:
        return _unknown(cube, dtype)
    return _computed(_reshape(cube, [d for d in cube.dimensions if d.name != name]), dtype)


def _single_value(ctx: RuleContext, result: Type, argument: str) -> None:
    if isinstance(result, ArrayType | CubeType):
        ctx.error(
            "ProcessParameterInvalid",
            f"The {argument} must compute a single value, but it gives {result}.",
            argument,
        )


@rule("reduce_spatial")
def _reduce_spatial(ctx: RuleContext) -> Type:
    """The cube without its x and y dimensions."""
    cube = _cube(ctx)
    data = ArrayType(_values(cube))
    result = ctx.callback("reducer", {"data": data, "context": _context(ctx)})
    _single_value(ctx, result, "reducer")
    dtype = _result_dtype(cube.dtype, result)
    if cube.unknown_dimensions:
        return _unknown(cube, dtype)
    kept = [d for d in cube.dimensions if not (d.type == "spatial" and d.axis in ("x", "y"))]
    return _computed(_reshape(cube, kept), dtype)


@rule("apply")
def _apply(ctx: RuleContext) -> Type:
    """Same dimensions; each value replaced by the callback's result."""
    cube = ctx.cube()
    result = ctx.callback("process", {"x": _values(cube), "context": _context(ctx)})
    _single_value(ctx, result, "process")
    return _computed(cube, _result_dtype(cube.dtype, result))


@rule("apply_dimension")
def _apply_dimension(ctx: RuleContext) -> Type:
    """The arrays along ``dimension`` replaced by the callback's arrays.

    Without a (different) ``target_dimension`` the dimension keeps name and type, and its
    labels, extent and reference system only when the callback's array has one value per
    label; otherwise the labels are 0..n-1. A new ``target_dimension`` (type other) takes
    the source's place; an existing one (with a single label) is filled and the source is
    dropped.
    """
    cube = ctx.cube()
    name = _dim_name(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    data = ArrayType(
        _values(cube), labeled=True, labels=dim.labels if dim else None, dimension=name
    )
    result = ctx.callback("process", {"data": data, "context": _context(ctx)})
    if isinstance(result, ScalarType | CubeType) and (
        not isinstance(result, ScalarType) or result.kinds
    ):
        ctx.error(
            "ProcessParameterInvalid",
            f"The process must return an array, but it gives {result}.",
            "process",
        )
    dtype = _result_dtype(cube.dtype, result)
    if cube.unknown_dimensions or dim is None:
        return _unknown(cube, dtype)
    same_length = isinstance(result, ArrayType) and result.dimension == name and name is not None
    labels = _indices(_length(result))
    target = _str(ctx, "target_dimension")
    if target is None or target == name:
        if same_length:
            return _computed(cube, dtype)
        new = Dimension(dim.name, dim.type, axis=dim.axis, labels=labels)
        dims = [new if d.name == name else d for d in cube.dimensions]
        out = _computed(_reshape(cube, dims), dtype)
        if dim.type == "bands":  # the bands are now 0..n-1 and carry no metadata
            out = replace(out, bands=tuple(Band(str(v)) for v in labels or ()))
        return out
    existing = cube.dimension(target)
    if existing is not None:
        if existing.size is not None and existing.size > 1:
            ctx.error(
                "ProcessParameterInvalid",
                f"The target dimension {echo(target)} exists with {existing.size} labels; "
                "an existing target dimension must have a single label.",
                "target_dimension",
            )
        filled = Dimension(existing.name, existing.type, axis=existing.axis, labels=labels)
        dims = [filled if d.name == target else d for d in cube.dimensions if d.name != name]
    else:
        new = Dimension(target, "other", labels=labels)
        dims = [new if d.name == name else d for d in cube.dimensions]
    return _computed(_reshape(cube, dims), dtype)


def _length(t: Type | None) -> int | None:
    """The number of elements of an array type, when known."""
    if isinstance(t, ArrayType) and t.labels is not None:
        return len(t.labels)
    return None


@rule("apply_kernel")
def _apply_kernel(ctx: RuleContext) -> Type:
    """Same dimensions; a weighted sum over x/y (KernelDimensionsUneven)."""
    cube = _cube(ctx)
    kernel = _list(ctx, "kernel")
    if kernel is not None:
        rows = [len(r) for r in kernel if isinstance(r, list)]
        if len(kernel) % 2 == 0 or any(n % 2 == 0 for n in rows):
            shape = f"{len(kernel)} x {rows[0] if rows else 0}"
            ctx.error(
                "KernelDimensionsUneven",
                f"Each level of the kernel must have an uneven number of elements; it is {shape}.",
                "kernel",
            )
    return _computed(cube, _float(cube.dtype))


@rule("apply_neighborhood")
def _apply_neighborhood(ctx: RuleContext) -> Type:
    """Same dimensions; the callback sees windows and may not change the cube's shape."""
    cube = _cube(ctx)
    window = cube
    sizes = {}
    for argument in ("size", "overlap"):
        for entry in _list(ctx, argument) or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("dimension"), str):
                continue
            ctx.dimension(cube, entry["dimension"], argument)
            sizes.setdefault(entry["dimension"], {})[argument] = entry
    if not cube.unknown_dimensions:
        window = _reshape(cube, [_window(d, sizes.get(d.name)) for d in cube.dimensions])
    result = ctx.callback("process", {"data": window, "context": _context(ctx)})
    shape = [(d.name, d.type) for d in cube.dimensions]
    if (
        isinstance(result, CubeType)
        and not result.unknown_dimensions
        and not cube.unknown_dimensions
        and [(d.name, d.type) for d in result.dimensions] != shape
    ):
        ctx.error(
            "DataCubePropertiesImmutable",
            f"The process must keep the dimensions {', '.join(cube.names)}; it gives "
            f"{', '.join(result.names) or 'none'}.",
            "process",
        )
    return _computed(cube, _result_dtype(cube.dtype, result))


def _window(dim: Dimension, size: dict | None) -> Dimension:
    """One neighbourhood of ``dim``: ``size`` pixels plus twice the overlap, where known."""
    if size is None:
        return dim
    step = dim.step if isinstance(dim.step, int | float) and dim.step > 0 else None
    if dim.type != "spatial" or step is None or dim.extent is None or dim.size is None:
        return _sizeless(dim)
    value, overlap = (_pixels(size.get(k), step) for k in ("size", "overlap"))
    if not value:
        return _sizeless(dim)
    count = min(value, dim.size) + 2 * (overlap or 0)
    return replace(dim, extent=(dim.extent[0], dim.extent[0] + count * step))


def _pixels(entry: Any, step: float) -> float | None:
    """A chunk size (``{"value": 64, "unit": "px"}`` or metres) in pixels."""
    if not isinstance(entry, dict):
        return None
    value = _num(entry.get("value"))
    if value is None:
        return None
    return value / step if entry.get("unit") == "m" else value


@rule("apply_polygon")
def _apply_polygon(ctx: RuleContext) -> Type:
    """Same dimensions; the callback sees the pixels of one polygon at a time."""
    cube = _cube(ctx)
    _cube(ctx, "geometries")
    result = ctx.callback("process", {"data": cube, "context": _context(ctx)})
    out = _computed(cube, _result_dtype(cube.dtype, result))
    return _replaced(ctx, out, "mask_value")


@rule("predict_curve")
def _predict_curve(ctx: RuleContext) -> Type:
    """Predicted values: ``dimension`` gets ``labels`` (unknown when not in ``parameters``)."""
    cube = ctx.cube("parameters")
    ctx.callback("function", {"x": ScalarType.of("number"), "parameters": ArrayType(NUMBER)})
    name = _dim_name(ctx)
    labels = _labels(ctx, "labels")
    dim = cube.dimension(name) if name is not None else None
    if cube.unknown_dimensions or dim is None:
        return _unknown(cube, "float64")
    new = replace(dim, labels=tuple(labels) if labels is not None else dim.labels)
    if labels is not None and new.type == "spatial":
        new = replace(new, extent=None)
    return _computed(cube.with_dimension(new), "float64")


# ---------------------------------------------------------------------------------------
# Aggregation


def _temporal_dimension(ctx: RuleContext, cube: CubeType) -> Dimension | None:
    """The temporal dimension named in ``dimension`` or the only one (TooManyDimensions)."""
    if cube.unknown_dimensions:
        return None
    name = _dim_name(ctx)
    if name is not None:
        dim = ctx.dimension(cube, name)
        if dim is not None and dim.type != "temporal":
            ctx.error(
                "DimensionNotAvailable", f"Dimension {echo(name)} is not temporal.", "dimension"
            )
        return dim
    temporal = cube.of_type("temporal")
    if not temporal:
        ctx.error("DimensionNotAvailable", "The data cube has no temporal dimension.", "data")
    if len(temporal) > 1:
        ctx.error(
            "TooManyDimensions",
            "The data cube has several temporal dimensions ("
            + ", ".join(d.name for d in temporal)
            + "); name one in 'dimension'.",
            _present(ctx, "dimension"),
        )
    return temporal[0]


@rule("aggregate_temporal")
def _aggregate_temporal(ctx: RuleContext) -> Type:
    """The temporal dimension gets one label per interval: ``labels`` or interval starts."""
    cube = _cube(ctx, missing={"temporal": "DimensionNotAvailable"})
    dim = _temporal_dimension(ctx, cube)
    intervals = _list(ctx, "intervals")
    for interval in intervals or []:
        _check_interval(ctx, interval, "intervals")
    labels = _labels(ctx, "labels") if ctx.has("labels") else []
    names: tuple[Label, ...] | None = None
    if labels:
        if intervals is not None and len(labels) != len(intervals):
            ctx.error(
                "ProcessParameterInvalid",
                f"There are {len(labels)} labels for {len(intervals)} intervals.",
                "labels",
            )
        names = tuple(labels)
    elif labels is not None and intervals is not None:
        starts = [i[0] if isinstance(i, list) and i else None for i in intervals]
        names = tuple(starts) if all(_is_label(v) for v in starts) else None
    if names is not None and len(set(names)) != len(names):
        ctx.error(
            "DistinctDimensionLabelsRequired",
            "The labels of the intervals are not distinct"
            + ("" if labels else " (interval starts); give distinct ones in 'labels'")
            + ".",
            "labels" if labels else "intervals",
        )
    data = ArrayType(_values(cube), labeled=True)
    result = ctx.callback("reducer", {"data": data, "context": _context(ctx)})
    _single_value(ctx, result, "reducer")
    dtype = _result_dtype(cube.dtype, result)
    if dim is None:
        return _unknown(cube, dtype)
    new = replace(dim, labels=names, extent=None, step=None)
    return _computed(cube.with_dimension(new), dtype)


@rule("aggregate_temporal_period")
def _aggregate_temporal_period(ctx: RuleContext) -> Type:
    """The temporal dimension gets one label per period (which ones: known at run time)."""
    cube = _cube(ctx, missing={"temporal": "DimensionNotAvailable"})
    dim = _temporal_dimension(ctx, cube)
    data = ArrayType(_values(cube), labeled=True)
    result = ctx.callback("reducer", {"data": data, "context": _context(ctx)})
    _single_value(ctx, result, "reducer")
    dtype = _result_dtype(cube.dtype, result)
    if dim is None:
        return _unknown(cube, dtype)
    return _computed(cube.with_dimension(replace(dim, labels=None, step=None)), dtype)


# Labels of the periods (normals: climatological_normal's output, anomaly's input).
_PERIOD_LABELS: dict[str, tuple[str, ...]] = {
    "hour": tuple(f"{i:02d}" for i in range(24)),
    "day": tuple(f"{i:03d}" for i in range(1, 367)),
    "week": tuple(f"{i:02d}" for i in range(1, 54)),
    "dekad": tuple(f"{i:02d}" for i in range(37)),
    "month": tuple(f"{i:02d}" for i in range(1, 13)),
    "season": ("djf", "mam", "jja", "son"),
    "tropical-season": ("ndjfma", "mjjaso"),
}
# Labels of aggregate_temporal_period's output, which anomaly's data must have.
_PERIOD_PATTERNS = {
    "hour": r"\d{4}-\d{2}-\d{2}-\d{2}",
    "day": r"\d{4}-\d{3}",
    "week": r"\d{4}-\d{2}",
    "dekad": r"\d{4}-\d{2}",
    "month": r"\d{4}-\d{2}",
    "season": r"\d{4}-(djf|mam|jja|son)",
    "tropical-season": r"\d{4}-(ndjfma|mjjaso)",
    "year": r"\d{4}",
    "decade": r"\d{3}0",
    "decade-ad": r"\d{3}1",
}


def _one_temporal(ctx: RuleContext, cube: CubeType, argument: str) -> Dimension | None:
    if cube.unknown_dimensions:
        return None
    temporal = cube.of_type("temporal")
    if len(temporal) != 1:
        ctx.error(
            "ProcessParameterInvalid",
            f"Argument {echo(argument)} must have exactly one temporal dimension; it has "
            f"{len(temporal)}.",
            argument,
        )
    return temporal[0]


@rule("climatological_normal")
def _climatological_normal(ctx: RuleContext) -> Type:
    """The temporal dimension becomes the period's labels (``01``..``12`` for month ...)."""
    cube = _cube(ctx, missing={"temporal": "ProcessParameterInvalid"})
    dim = _one_temporal(ctx, cube, "data")
    years = _list(ctx, "climatology_period") if ctx.has("climatology_period") else [1981, 2010]
    if dim is not None and dim.labels and years and len(years) == 2:
        have = sorted({str(v)[:4] for v in dim.labels if _instant(v) is not None})
        lo, hi = str(years[0]), str(years[1])
        if have and not any(lo <= y <= hi for y in have):
            # Decided: the definition wants the data to span the period; pgc rejects only
            # data with no label in it (nothing to average), partial spans pass.
            ctx.error(
                "NoDataAvailable",
                f"The data has no labels in the climatology period {lo}-{hi}; it covers "
                f"{have[0]}-{have[-1]}.",
                _present(ctx, "climatology_period") or "data",
            )
    if dim is None:
        return _unknown(cube, _float(cube.dtype))
    period = _str(ctx, "period")
    labels: tuple[Label, ...] | None = {
        "day": _PERIOD_LABELS["day"][:365],
        "month": _PERIOD_LABELS["month"],
        "season": _PERIOD_LABELS["season"],
        "tropical-season": _PERIOD_LABELS["tropical-season"],
        "climatology-period": ("climatology-period",),
    }.get(period or "")
    new = replace(dim, labels=labels, extent=None, step=None)
    return _computed(cube.with_dimension(new), _float(cube.dtype))


@rule("anomaly")
def _anomaly(ctx: RuleContext) -> Type:
    """Same dimensions as ``data``; normals and data must carry the period's labels."""
    cube = _cube(ctx, missing={"temporal": "ProcessParameterInvalid"})
    normals = _cube(ctx, "normals", missing={"temporal": "ProcessParameterInvalid"})
    period = _str(ctx, "period")
    dim = _one_temporal(ctx, cube, "data")
    ndim = _one_temporal(ctx, normals, "normals")
    if ndim is not None and ndim.labels is not None and period is not None:
        allowed = _PERIOD_LABELS.get(period)
        bad = [v for v in ndim.labels if allowed is not None and v not in allowed]
        if period in ("single-period", "climatology-period") and len(ndim.labels) != 1:
            bad = list(ndim.labels)
        if period in ("year", "decade", "decade-ad"):
            bad = [v for v in ndim.labels if not re.fullmatch(r"\d{4}", str(v))]
        if bad:
            ctx.error(
                "ProcessParameterInvalid",
                f"The normals do not have the labels of period {echo(period)}: "
                f"{', '.join(str(v) for v in bad[:5])}.",
                "normals",
            )
    pattern = _PERIOD_PATTERNS.get(period or "")
    if dim is not None and dim.labels is not None and pattern is not None:
        bad = [v for v in dim.labels if not re.fullmatch(pattern, str(v))]
        if bad:
            ctx.error(
                "ProcessParameterInvalid",
                f"The data's temporal labels must be those of period {echo(period)} "
                f"(aggregate_temporal_period computes them); it has {echo(str(bad[0]))}.",
                "data",
            )
    return _computed(cube, _float(_promote(cube.dtype, normals.dtype)))


@rule("aggregate_spatial")
def _aggregate_spatial(ctx: RuleContext) -> Type:
    """A vector cube: x and y replaced by the geometries' dimension (one label each)."""
    cube = _cube(ctx)
    geometry = _geometries(ctx, "geometries")
    data = ArrayType(_values(cube))
    result = ctx.callback("reducer", {"data": data, "context": _context(ctx)})
    _single_value(ctx, result, "reducer")
    dtype = _result_dtype(cube.dtype, result)
    if cube.unknown_dimensions:
        return _unknown(cube, dtype, vector=True)
    planar = [d.type == "spatial" and d.axis in ("x", "y") for d in cube.dimensions]
    at = planar.index(True) if True in planar else len(planar)
    dims = [d for d, p in zip(cube.dimensions, planar, strict=True) if not p]
    dims.insert(at, geometry)
    target = _str(ctx, "target_dimension")
    if target is not None:
        if any(d.name == target for d in dims):
            ctx.error(
                "TargetDimensionExists",
                f"The result has a dimension {echo(target)} already; it has "
                f"{', '.join(d.name for d in dims)}.",
                "target_dimension",
            )
        dims.append(Dimension(target, "other", labels=("value", "total_count", "valid_count")))
    return _computed(_reshape(cube, dims), dtype)


@rule("aggregate_spatial_window")
def _aggregate_spatial_window(ctx: RuleContext) -> Type:
    """x/y in windows of ``size`` pixels: step times size, pixels per window size (pad/trim)."""
    cube = _cube(ctx)
    data = ArrayType(_values(cube))
    result = ctx.callback("reducer", {"data": data, "context": _context(ctx)})
    _single_value(ctx, result, "reducer")
    dtype = _result_dtype(cube.dtype, result)
    size = _list(ctx, "size")
    if cube.unknown_dimensions:
        return _unknown(cube, dtype)
    trim = ctx.literal("boundary", "pad") == "trim"
    align = ctx.literal("align", "upper-left")
    align = align if isinstance(align, str) else "upper-left"
    for axis, factor in zip(("x", "y"), size if isinstance(size, list) else [], strict=False):
        f = _num(factor)
        for dim in cube.of_type("spatial", axis):
            cube = cube.with_dimension(_coarser(dim, f, trim, align))
    return _computed(cube, dtype)


def _coarser(dim: Dimension, factor: float | None, trim: bool, align: str) -> Dimension:
    step = dim.step if isinstance(dim.step, int | float) and dim.step > 0 else None
    if factor is None or factor < 1 or step is None:
        return _sizeless(dim)
    new_step = step * factor
    n = dim.size
    if n is None or dim.extent is None:
        return replace(dim, step=new_step, extent=None)
    count = n // int(factor) if trim else -(-n // int(factor))
    lo, hi = dim.extent
    anchored_low = "left" in align if dim.axis == "x" else "lower" in align
    if anchored_low:
        return replace(dim, step=new_step, extent=(lo, lo + count * new_step))
    return replace(dim, step=new_step, extent=(hi - count * new_step, hi))


# ---------------------------------------------------------------------------------------
# Combining and resampling


@rule("merge_cubes")
def _merge_cubes(ctx: RuleContext) -> Type:
    """The union of two cubes whose dimensions nest; labels united per dimension.

    One cube's dimensions must be a subset of the other's (the definition's examples);
    shared dimensions must have the same type. x/y take cube1's grid unless both grids
    match (then the extents unite). Temporal and spatial labels are sorted; other labels
    keep cube1's order with cube2's new labels appended. Overlap (every shared dimension
    overlaps) without an ``overlap_resolver`` is OverlapResolverMissing.
    """
    c1, c2 = ctx.cube("cube1"), ctx.cube("cube2")
    resolver = ctx.callback(
        "overlap_resolver", {"x": _values(c1), "y": _values(c2), "context": _context(ctx)}
    )
    dtype = _promote(c1.dtype, c2.dtype)
    if isinstance(ctx.node.arg("overlap_resolver"), Callback):
        _single_value(ctx, resolver, "overlap_resolver")
        dtype = _promote(dtype, _result_dtype(dtype, resolver))
    if c1.unknown_dimensions or c2.unknown_dimensions:
        return _unknown(c1, dtype, vector=c1.vector or c2.vector)
    if c1.vector != c2.vector:
        ctx.error(
            "ProcessParameterInvalid", "A vector and a raster data cube cannot be merged.", "cube2"
        )
    n1, n2 = set(c1.names), set(c2.names)
    if not (n1 >= n2 or n2 >= n1):
        ctx.error(
            "ProcessParameterInvalid",
            "The data cubes are not compatible: neither has all the other's dimensions "
            f"(cube1: {', '.join(c1.names)}; cube2: {', '.join(c2.names)}).",
            "cube2",
        )
    base = c1 if n1 >= n2 else c2
    dims = []
    overlap = bool(n1 & n2)  # proven below for every shared dimension
    for d in base.dimensions:
        d1, d2 = c1.dimension(d.name), c2.dimension(d.name)
        if d1 is None or d2 is None:
            dims.append(d)
            continue
        if d1.type != d2.type:
            ctx.error(
                "ProcessParameterInvalid",
                f"Dimension {echo(d.name)} is {d1.type} in cube1 but {d2.type} in cube2.",
                "cube2",
            )
        dims.append(_merge_dimension(d1, d2))
        overlap = overlap and _overlaps(d1, d2)
    if overlap and not isinstance(ctx.node.arg("overlap_resolver"), Callback):
        ctx.error(
            "OverlapResolverMissing",
            "The data cubes overlap (every shared dimension has common labels); give an "
            "overlap_resolver.",
            _present(ctx, "overlap_resolver"),
        )
    bands = c1.bands + tuple(b for b in c2.bands if c1.band(b.name) is None)
    nodata = c1.nodata if c1.nodata == c2.nodata else None
    out = replace(c1, bands=bands, nodata=nodata, dtype=dtype)
    return _reshape(out, dims)


def _merge_dimension(d1: Dimension, d2: Dimension) -> Dimension:
    if d1.type == "spatial" and d1.axis in ("x", "y"):
        same_grid = d1.crs == d2.crs and d1.step == d2.step
        if not same_grid or d1.extent is None or d2.extent is None:
            return d1  # cube2 is resampled onto cube1's grid
        return replace(
            d1, extent=(min(d1.extent[0], d2.extent[0]), max(d1.extent[1], d2.extent[1]))
        )
    if d1.labels is None or d2.labels is None:
        return replace(d1, labels=None, extent=None if d1.type == "spatial" else d1.extent)
    if d1.type in ("temporal", "spatial"):
        labels = _sort_labels((*d1.labels, *d2.labels))
    else:
        labels = d1.labels + tuple(v for v in d2.labels if v not in d1.labels)
    extent = d1.extent
    if d1.extent is not None and d2.extent is not None:
        try:
            extent = (min(d1.extent[0], d2.extent[0]), max(d1.extent[1], d2.extent[1]))
        except TypeError:
            extent = None
    return replace(d1, labels=labels, extent=extent)


def _overlaps(d1: Dimension, d2: Dimension) -> bool:
    """Whether two dimensions surely share labels (False when it cannot be told)."""
    if d1.labels is not None and d2.labels is not None:
        return bool(set(d1.labels) & set(d2.labels))
    if d1.type == "spatial" and None not in (d1.extent, d2.extent) and d1.crs == d2.crs:
        try:
            return d1.extent[0] < d2.extent[1] and d2.extent[0] < d1.extent[1]
        except TypeError:
            return False
    return False


# Resampling methods that pick one of the input values (the dtype stays).
_SELECTING_METHODS = {"near", "mode", "min", "max", "med", "q1", "q3"}


@rule("resample_spatial")
def _resample_spatial(ctx: RuleContext) -> Type:
    """x/y on a new grid: ``resolution`` sets the step (size = extent / resolution, anchored
    at ``align``), a new ``projection`` sets the CRS (extent unknown without reprojection)."""
    cube = _cube(ctx)
    method = _str(ctx, "method") or "near"
    resolution = ctx.literal("resolution", 0)
    projection = ctx.literal("projection")
    align = _str(ctx, "align") or "upper-left"
    if isinstance(resolution, list):
        res = [_num(r) for r in resolution[:2]] + [None] * (2 - len(resolution[:2]))
    else:
        res = [_num(resolution)] * 2
    changed = False
    for axis, r in zip(("x", "y"), res, strict=True):
        for dim in cube.of_type("spatial", axis) if not cube.unknown_dimensions else []:
            new = _regrid(dim, r or None, projection, align)
            changed = changed or new != dim
            cube = cube.with_dimension(new)
    if cube.unknown_dimensions:
        changed = bool(res[0] or res[1] or projection is not None)
    if changed and method not in _SELECTING_METHODS:
        return _computed(cube, _float(cube.dtype))
    return cube


def _regrid(dim: Dimension, res: float | None, projection: Any, align: str) -> Dimension:
    crs = dim.crs
    if projection is not None and str(projection).replace("EPSG:", "") != dim.crs:
        crs = str(projection).replace("EPSG:", "")
    reprojected = crs != dim.crs
    if reprojected:
        dim = replace(dim, crs=crs, extent=None, step=res)
        return dim
    if res is None or res <= 0 or res == dim.step:
        return dim
    if dim.extent is None:
        return replace(dim, step=res)
    lo, hi = dim.extent
    count = max(1, round(abs(hi - lo) / res))
    anchored_low = "left" in align if dim.axis == "x" else "lower" in align
    extent = (lo, lo + count * res) if anchored_low else (hi - count * res, hi)
    return replace(dim, step=res, extent=extent)


@rule("resample_cube_spatial")
def _resample_cube_spatial(ctx: RuleContext) -> Type:
    """x/y take the target's grid (extent, step, CRS); names stay."""
    cube = _cube(ctx)
    target = _cube(ctx, "target")
    method = _str(ctx, "method") or "near"
    if cube.unknown_dimensions:
        return cube
    for axis in ("x", "y"):
        ours = cube.of_type("spatial", axis)
        theirs = [] if target.unknown_dimensions else target.of_type("spatial", axis)
        for dim in ours:
            if theirs:
                new = replace(theirs[0], name=dim.name)
            else:
                new = replace(dim, labels=None, extent=None, step=None, crs=None)
            cube = cube.with_dimension(new)
    if method not in _SELECTING_METHODS:
        return _computed(cube, _float(cube.dtype))
    return cube


@rule("resample_cube_temporal")
def _resample_cube_temporal(ctx: RuleContext) -> Type:
    """The temporal dimension(s) take the target's labels (nearest neighbour: dtype kept)."""
    cube = _cube(ctx)
    target = _cube(ctx, "target")
    name = _dim_name(ctx)
    if cube.unknown_dimensions:
        return cube
    if target.unknown_dimensions:
        if name is not None:
            ctx.dimension(cube, name)
        for d in cube.of_type("temporal"):
            if name is None or d.name == name:
                cube = cube.with_dimension(replace(d, labels=None, extent=None, step=None))
        return cube
    if name is not None:
        ours, theirs = cube.dimension(name), target.dimension(name)
        if ours is None or theirs is None:
            where = "data" if ours is None else "target"
            ctx.error(
                "DimensionNotAvailable",
                f"Dimension {echo(name)} does not exist in {where}.",
                "dimension",
            )
        if ours.type != "temporal" or theirs.type != "temporal":
            ctx.error(
                "DimensionMismatch",
                f"Dimension {echo(name)} must be temporal in both data cubes.",
                "dimension",
            )
        pairs = [(ours, theirs)]
    else:
        pairs = [
            (d, target.dimension(d.name))
            for d in cube.of_type("temporal")
            if target.dimension(d.name) is not None and target.dimension(d.name).type == "temporal"
        ]
        if not pairs:
            ctx.error(
                "DimensionMismatch",
                "The data cubes have no temporal dimension with the same name (data: "
                f"{', '.join(d.name for d in cube.of_type('temporal')) or 'none'}; target: "
                f"{', '.join(d.name for d in target.of_type('temporal')) or 'none'}).",
                "target",
            )
    for ours, theirs in pairs:
        cube = cube.with_dimension(replace(theirs, name=ours.name))
    return cube


# ---------------------------------------------------------------------------------------
# Bands: indices and analysis-ready data


@rule("ndvi")
def _ndvi(ctx: RuleContext) -> Type:
    """(nir - red) / (nir + red): bands dropped, or appended as ``target_band``."""
    cube = _cube(ctx, missing={"bands": "DimensionAmbiguous"})
    if cube.unknown_dimensions:
        return _unknown(cube, _float(cube.dtype))
    bands = cube.of_type("bands")
    if len(bands) != 1:
        ctx.error(
            "DimensionAmbiguous",
            f"The data cube must have exactly one bands dimension; it has {len(bands)}.",
            "data",
        )
    dim = bands[0]
    for arg, common in (("nir", "nir"), ("red", "red")):
        name = _str(ctx, arg) if ctx.node.arg(arg) is not None else common
        if (
            name is not None
            and dim.labels is not None
            and name not in dim.labels
            and not any(b.common_name == name for b in cube.bands)
        ):
            code = "NirBandAmbiguous" if arg == "nir" else "RedBandAmbiguous"
            ctx.error(code, f"The data cube has no band named or common-named {echo(name)}.", arg)
    target = _str(ctx, "target_band")
    dtype = _float(cube.dtype)
    if target is None:
        return _computed(_reshape(cube, [d for d in cube.dimensions if d is not dim]), dtype)
    if dim.labels is not None and target in dim.labels:
        ctx.error("BandExists", f"The data cube has a band {echo(target)} already.", "target_band")
    labels = None if dim.labels is None else (*dim.labels, target)
    cube = replace(
        cube.with_dimension(replace(dim, labels=labels)), bands=(*cube.bands, Band(target))
    )
    return _computed(cube, dtype)


def _with_extra_bands(cube: CubeType, extra: Sequence[str], known: bool = True) -> CubeType:
    """``cube`` with bands appended (all its labels unknown when ``known`` is False)."""
    if cube.unknown_dimensions:
        return _unknown(cube, "float64")
    out = _computed(cube, "float64")
    for dim in out.of_type("bands"):
        if dim.labels is None or not known:
            return out.with_dimension(replace(dim, labels=None))
        labels = dim.labels + tuple(e for e in extra if e not in dim.labels)
        out = out.with_dimension(replace(dim, labels=labels))
        meta = out.bands + tuple(Band(e) for e in extra if out.band(e) is None)
        return replace(out, bands=meta)
    return out


def _check_dem(ctx: RuleContext) -> None:
    dem = _str(ctx, "elevation_model")
    catalog = ctx.env.catalog
    if dem is not None and catalog is not None and dem not in catalog:
        ctx.error(
            "DigitalElevationModelInvalid",
            f"The elevation model {echo(dem)} is not a collection of this back-end.",
            "elevation_model",
        )


@rule("sar_backscatter")
def _sar_backscatter(ctx: RuleContext) -> Type:
    """Backscatter per input band, plus the bands the flags ask for."""
    cube = _cube(ctx)
    _check_dem(ctx)
    flags = ("mask", "contributing_area", "local_incidence_angle", "ellipsoid_incidence_angle")
    values = {f: _flag(ctx, f, False) for f in flags}
    extra = [f for f in flags if values[f]]
    return _with_extra_bands(cube, extra, known=None not in values.values())


@rule("ard_normalized_radar_backscatter")
def _ard_normalized_radar_backscatter(ctx: RuleContext) -> Type:
    """gamma0 per input band, plus ``mask`` and ``local_incidence_angle`` and flagged bands."""
    cube = _cube(ctx)
    _check_dem(ctx)
    contributing = _flag(ctx, "contributing_area", False)
    ellipsoid = _flag(ctx, "ellipsoid_incidence_angle", False)
    extra = ["mask"] + ["contributing_area"] * bool(contributing) + ["local_incidence_angle"]
    extra += ["ellipsoid_incidence_angle"] * bool(ellipsoid)
    return _with_extra_bands(cube, extra, known=contributing is not None and ellipsoid is not None)


@rule("ard_surface_reflectance")
def _ard_surface_reflectance(ctx: RuleContext) -> Type:
    """Reflectance per input band plus method-dependent quality bands (labels unknown)."""
    cube = _cube(ctx)
    _check_dem(ctx)
    return _with_extra_bands(cube, ("incomplete-testing", "saturation", "cloud", "shadow"), False)


@rule("atmospheric_correction")
def _atmospheric_correction(ctx: RuleContext) -> Type:
    """Same dimensions and bands; reflectances computed (float)."""
    cube = _cube(ctx)
    _check_dem(ctx)
    return _with_extra_bands(cube, ())


@rule("cloud_detection")
def _cloud_detection(ctx: RuleContext) -> Type:
    """Same dimensions; the bands become the method's disturbances (cloud, shadow ...)."""
    cube = _cube(ctx)
    if cube.unknown_dimensions:
        return _unknown(cube, "float64")
    out = _computed(cube, "float64")
    for dim in out.of_type("bands"):
        out = out.with_dimension(replace(dim, labels=None))
    return replace(out, bands=())


# ---------------------------------------------------------------------------------------
# Vector cubes


# Geographic CRSs (degrees): distances in metres do not apply (UnitMismatch).
_GEOGRAPHIC_CRS = {"4326", "4258", "4269", "4267", "4283", "4674", "CRS84", "OGC:CRS84"}


def _check_metres(ctx: RuleContext, cube: CubeType, argument: str) -> None:
    for dim in cube.of_type("geometry") if not cube.unknown_dimensions else []:
        if dim.crs is not None and dim.crs.replace("EPSG:", "") in _GEOGRAPHIC_CRS:
            ctx.error(
                "UnitMismatch",
                f"The geometries are in EPSG:{dim.crs}, whose unit is degrees, but "
                f"{echo(argument)} is in metres; reproject them with vector_reproject first.",
                argument,
            )


@rule("vector_buffer")
def _vector_buffer(ctx: RuleContext) -> Type:
    """Same geometries (now polygons); the CRS must be in metres."""
    cube = _cube(ctx, "geometries")
    _check_metres(ctx, cube, "distance")
    return cube


@rule("vector_reproject")
def _vector_reproject(ctx: RuleContext) -> Type:
    """The geometry dimension(s) (or ``dimension``) get the ``projection``'s CRS."""
    cube = _cube(ctx)
    name = _dim_name(ctx)
    projection = ctx.literal("projection")
    if cube.unknown_dimensions:
        return cube
    if name is not None:
        dim = ctx.dimension(cube, name)
        if dim is not None and dim.type != "geometry":
            ctx.error(
                "DimensionNotAvailable",
                f"Dimension {echo(name)} is not a geometry dimension.",
                "dimension",
            )
    crs = str(projection).replace("EPSG:", "") if projection is not None else None
    for dim in cube.of_type("geometry"):
        if name is None or dim.name == name:
            cube = cube.with_dimension(replace(dim, crs=crs))
    return cube


@rule("vector_to_random_points")
def _vector_to_random_points(ctx: RuleContext) -> Type:
    """Points per geometry: the same geometries when grouped, an unknown number otherwise."""
    cube = _cube(ctx)
    total = _int(ctx, "total_count")
    for dim in cube.of_type("geometry") if not cube.unknown_dimensions else []:
        if total is not None and dim.size is not None and total < dim.size:
            ctx.error(
                "CountMismatch",
                f"total_count {total} is lower than the number of geometries ({dim.size}).",
                "total_count",
            )
    return _points(ctx, cube)


def _points(ctx: RuleContext, cube: CubeType) -> CubeType:
    if cube.unknown_dimensions or _flag(ctx, "group", True):
        return cube
    return _reshape(cube, [_sizeless(d) if d.type == "geometry" else d for d in cube.dimensions])


@rule("vector_to_regular_points")
def _vector_to_regular_points(ctx: RuleContext) -> Type:
    """Points per geometry at a distance in metres (UnitMismatch for degrees)."""
    cube = _cube(ctx)
    _check_metres(ctx, cube, "distance")
    return _points(ctx, cube)


# ---------------------------------------------------------------------------------------
# Results and development


@rule("save_result")
def _save_result(ctx: RuleContext) -> Type:
    """A STAC resource; raster-only formats reject vector and empty cubes."""
    cube = ctx.cube()
    given = _str(ctx, "format") or ""
    fmt = given.lower()
    if not cube.unknown_dimensions and fmt in _RASTER_ONLY_FORMATS:
        if cube.vector:
            ctx.error(
                "FormatUnsuitable",
                f"Format {echo(given)} stores rasters; the data is a vector cube.",
                "format",
            )
        empty = [d.name for d in cube.dimensions if d.size == 0]
        if empty:
            ctx.error(
                "DataCubeEmpty",
                f"Format {echo(given)} cannot store an empty data cube (dimension "
                f"{echo(empty[0])} has no labels).",
                "data",
            )
    return ObjectType("stac")


@rule("inspect")
def _inspect(ctx: RuleContext) -> Type:
    """Its input, unchanged."""
    return ctx.type("data") or ANY


# ---------------------------------------------------------------------------------------
# Scalars: math


def _scalar_kinds(t: Type | None) -> frozenset[str] | None:
    """The kinds of a scalar type; None when it is not (surely) a scalar."""
    return t.kinds if isinstance(t, ScalarType) and t.kinds else None


def _nullable(t: Type | None) -> bool:
    kinds = _scalar_kinds(t)
    return kinds is None or "null" in kinds


def _numeric(ctx: RuleContext, names: Sequence[str], closed: bool) -> Type:
    """number (integer when ``closed`` and all operands are integers); null when one may be."""
    types = [ctx.type(n) for n in names]
    kinds = [_scalar_kinds(t) for t in types]
    if any(k == frozenset({"null"}) for k in kinds):
        return NULL
    integral = closed and all(k is not None and k - {"null"} <= {"integer"} for k in kinds)
    null = any(_nullable(t) for t in types)
    base = "integer" if integral else "number"
    return ScalarType.of(base, "null") if null else ScalarType.of(base)


def _unary(closed: bool, name: str = "x") -> Rule:
    def unary(ctx: RuleContext) -> Type:
        return _numeric(ctx, [name], closed)

    unary.__doc__ = "number|null like x" + (" (integers stay integers)" if closed else "")
    return unary


rule("absolute", "sgn")(_unary(closed=True))
rule("arccos", "arcosh", "arcsin", "arctan", "arsinh", "artanh", "cos", "cosh", "ln", "sin",
     "sinh", "sqrt", "tan", "tanh")(_unary(closed=False))  # fmt: skip
rule("exp")(_unary(closed=False, name="p"))


@rule("add", "subtract", "multiply", "mod")
def _integer_closed(ctx: RuleContext) -> Type:
    """Integers give integers; null when an operand may be null."""
    return _numeric(ctx, ["x", "y"], closed=True)


@rule("divide")
def _divide(ctx: RuleContext) -> Type:
    """number (IEEE 754: x / 0 is an infinity or NaN, never DivisionByZero here)."""
    return _numeric(ctx, ["x", "y"], closed=False)


@rule("power")
def _power(ctx: RuleContext) -> Type:
    """number; null when base or p may be null."""
    return _numeric(ctx, ["base", "p"], closed=False)


@rule("log")
def _log(ctx: RuleContext) -> Type:
    """number; null when x or base may be null."""
    return _numeric(ctx, ["x", "base"], closed=False)


@rule("arctan2")
def _arctan2(ctx: RuleContext) -> Type:
    """number; null when y or x may be null."""
    return _numeric(ctx, ["y", "x"], closed=False)


@rule("ceil", "floor", "int")
def _to_integer(ctx: RuleContext) -> Type:
    """integer; null when x may be null."""
    return ScalarType.of("integer", "null") if _nullable(ctx.type("x")) else INTEGER


@rule("round")
def _round(ctx: RuleContext) -> Type:
    """Like x: integers stay integers."""
    return _numeric(ctx, ["x"], closed=True)


@rule("clip")
def _clip(ctx: RuleContext) -> Type:
    """x clamped into [min, max] (MinMaxSwapped when max < min)."""
    lo, hi = _num(ctx.literal("min")), _num(ctx.literal("max"))
    if lo is not None and hi is not None and hi < lo:
        ctx.error("MinMaxSwapped", f"max ({hi:g}) is less than min ({lo:g}).", "max")
    result = _numeric(ctx, ["x", "min", "max"], closed=True)
    kinds = result.kinds if isinstance(result, ScalarType) else frozenset()
    null = _nullable(ctx.type("x"))
    base = "integer" if "integer" in kinds else "number"
    return ScalarType.of(base, "null") if null else ScalarType.of(base)


@rule("linear_scale_range")
def _linear_scale_range(ctx: RuleContext) -> Type:
    """number; null when x may be null."""
    return NUMBER if _nullable(ctx.type("x")) else ScalarType.of("number")


@rule("nan")
def _nan(ctx: RuleContext) -> Type:
    """NaN is a number."""
    return ScalarType.of("number")


@rule("constant")
def _constant(ctx: RuleContext) -> Type:
    """Its argument."""
    return ctx.type("x") or ANY


# ---------------------------------------------------------------------------------------
# Scalars: comparison, logic, text, dates


def _predicate(*names: str) -> Rule:
    def predicate(ctx: RuleContext) -> Type:
        if any(_nullable(ctx.type(n)) for n in names):
            return BOOLEAN
        return ScalarType.of("boolean")

    predicate.__doc__ = f"boolean; null when {' or '.join(names)} may be null."
    return predicate


rule("eq", "neq", "gt", "gte", "lt", "lte", "and", "or", "xor")(_predicate("x", "y"))
rule("not", "between", "date_between")(_predicate("x"))
rule("text_begins", "text_contains", "text_ends")(_predicate("data"))


@rule("if")
def _if(ctx: RuleContext) -> Type:
    """accept or reject (null by default); one of them when ``value`` is a literal."""
    accept = ctx.type("accept") or ANY
    reject = ctx.type("reject") if ctx.node.arg("reject") is not None else NULL
    reject = reject or NULL
    if ctx.is_literal("value"):
        return accept if ctx.node.literal("value") is True else reject
    return union(accept, reject)


@rule("date_shift")
def _date_shift(ctx: RuleContext) -> Type:
    """A date stays a date for whole days and longer; otherwise a date-time."""
    unit = _str(ctx, "unit")
    date = ctx.literal("date")
    kinds = _scalar_kinds(ctx.type("date")) or frozenset()
    is_date = (isinstance(date, str) and len(date.strip()) == 10) or kinds == {"date"}
    is_datetime = (isinstance(date, str) and len(date.strip()) > 10) or kinds == {"datetime"}
    whole_days = unit in ("day", "week", "month", "year")
    if is_date and whole_days:
        return ScalarType.of("date")
    if is_datetime or (is_date and unit is not None):
        return ScalarType.of("datetime")
    return ScalarType.of("date", "datetime")


# ---------------------------------------------------------------------------------------
# Arrays


def _array(ctx: RuleContext, name: str = "data") -> ArrayType | None:
    """Argument ``name`` as an array type, with its length when a literal shows it."""
    value = ctx.node.arg(name)
    if isinstance(value, Literal) and isinstance(value.value, list):
        t = ctx.type(name)
        item = t.item if isinstance(t, ArrayType) else ANY
        return ArrayType(item, labels=_indices(len(value.value)))
    if isinstance(value, ArrayValue):
        t = ctx.type(name)
        item = t.item if isinstance(t, ArrayType) else ANY
        return ArrayType(item, labels=_indices(len(value.items)))
    t = ctx.type(name)
    return t if isinstance(t, ArrayType) else None


def _item(ctx: RuleContext, name: str = "data") -> Type:
    a = _array(ctx, name)
    return a.item if a is not None else ANY


def _element_label_type(a: ArrayType | None) -> Type:
    if a is None or not a.labeled:
        return ScalarType.of("number", "string", "null") if a is None else NULL
    if a.labels:
        return ScalarType(frozenset(_label_kind(v) for v in a.labels))
    return ScalarType.of("number", "string")


def _with_null(t: Type) -> Type:
    return t.with_null() if isinstance(t, ScalarType) else t


def _numbers(item: Type, closed: bool) -> ScalarType:
    """Results computed from numbers of type ``item``: integer when closed over integers."""
    kinds = _scalar_kinds(item)
    integral = (
        closed and kinds is not None and kinds - {"null"} <= {"integer"} and bool(kinds - {"null"})
    )
    return ScalarType.of("integer" if integral else "number", "null")


@rule("array_element")
def _array_element(ctx: RuleContext) -> Type:
    """The element's type: the array's item type (ArrayElementNotAvailable on known arrays)."""
    a = _array(ctx)
    has_index, has_label = ctx.has("index"), ctx.has("label")
    if has_index and has_label:
        ctx.error(
            "ArrayElementParameterConflict",
            "Give either 'index' or 'label', not both.",
            "label",
        )
    if not has_index and not has_label:
        ctx.error(
            "ArrayElementParameterMissing",
            "array_element needs 'index' or 'label'.",
            _present(ctx, "index") or _present(ctx, "label"),
        )
    nodata = _flag(ctx, "return_nodata", False)
    if has_label and a is not None and not a.labeled:
        ctx.error(
            "ArrayNotLabeled",
            "The array is not labeled; use 'index' instead of 'label'.",
            "label",
        )
    index, label = _int(ctx, "index"), ctx.literal("label")
    if a is not None and a.labels is not None and nodata is False:
        if index is not None and not 0 <= index < len(a.labels):
            ctx.error(
                "ArrayElementNotAvailable",
                f"The array has {len(a.labels)} elements; index {index} does not exist.",
                "index",
            )
        if has_label and a.labeled and label is not None and not _has_label(a.labels, label):
            shown = ", ".join(_label_text(v) for v in a.labels[:20])
            ctx.error(
                "ArrayElementNotAvailable",
                f"The array has no label {echo(label)}; it has {shown}.",
                "label",
            )
    item = a.item if a is not None else ANY
    return _with_null(item) if nodata is not False else item


def _has_label(labels: Sequence[Label], label: Any) -> bool:
    if label in labels:
        return True
    moment = _instant(label)
    return moment is not None and any(_instant(v) == moment for v in labels)


@rule("first", "last")
def _first_last(ctx: RuleContext) -> Type:
    """An element: the item type, or null (all no-data)."""
    return _with_null(_item(ctx))


@rule("min", "max")
def _min_max(ctx: RuleContext) -> Type:
    """One of the numbers (integers stay integers), or null."""
    return _numbers(_item(ctx), closed=True)


@rule("sum", "product")
def _sum_product(ctx: RuleContext) -> Type:
    """Integers sum to integers; null when all values are no-data."""
    return _numbers(_item(ctx), closed=True)


@rule("mean", "median", "sd", "variance")
def _statistic(ctx: RuleContext) -> Type:
    """number|null."""
    return NUMBER


@rule("all", "any")
def _all_any(ctx: RuleContext) -> Type:
    """boolean; null only when no-data values are not ignored."""
    return ScalarType.of("boolean") if _flag(ctx, "ignore_nodata", True) else BOOLEAN


@rule("count")
def _count(ctx: RuleContext) -> Type:
    """A non-negative integer; the condition sees each element."""
    ctx.callback("condition", {"x": _item(ctx), "context": _context(ctx)})
    return INTEGER


@rule("extrema")
def _extrema(ctx: RuleContext) -> Type:
    """[min, max]: two numbers (or two nulls)."""
    return ArrayType(_numbers(_item(ctx), closed=True), labels=(0, 1))


@rule("quantiles")
def _quantiles(ctx: RuleContext) -> Type:
    """One number per probability (or q - 1 of them)."""
    has_p, has_q = ctx.has("probabilities"), ctx.has("q")
    if has_p and has_q:
        ctx.error(
            "QuantilesParameterConflict", "Give either 'probabilities' or 'q', not both.", "q"
        )
    if not has_p and not has_q:
        ctx.error(
            "QuantilesParameterMissing",
            "quantiles needs 'probabilities' or 'q'.",
            _present(ctx, "probabilities") or _present(ctx, "q"),
        )
    probabilities = ctx.literal("probabilities")
    n = None
    if isinstance(probabilities, list):
        numbers = [_num(p) for p in probabilities]
        if _ascending(numbers) is False:
            ctx.error(
                "AscendingProbabilitiesRequired",
                "The probabilities must be sorted in ascending order.",
                "probabilities",
            )
        n = len(probabilities)
    elif _int(ctx, "probabilities") is not None:
        n = _int(ctx, "probabilities") - 1  # type: ignore[operator]
    elif _int(ctx, "q") is not None:
        n = _int(ctx, "q") - 1  # type: ignore[operator]
    return ArrayType(NUMBER, labels=_indices(n))


def _ascending(numbers: list[float | None]) -> bool | None:
    """Whether the numbers strictly ascend; None when one is not a number."""
    if any(n is None for n in numbers):
        return None
    return all(a < b for a, b in zip(numbers, numbers[1:], strict=False))  # type: ignore[operator]


@rule("cummax", "cummin", "cumsum", "cumproduct")
def _cumulative(ctx: RuleContext) -> Type:
    """Same length and labels; integers stay integers."""
    a = _array(ctx) or ArrayType()
    return replace(a, item=_numbers(a.item, closed=True))


@rule("array_interpolate_linear")
def _array_interpolate_linear(ctx: RuleContext) -> Type:
    """Same length and labels; numbers."""
    a = _array(ctx) or ArrayType()
    return replace(a, item=NUMBER)


@rule("array_apply")
def _array_apply(ctx: RuleContext) -> Type:
    """Same length and labels; each element replaced by the callback's result."""
    a = _array(ctx) or ArrayType()
    params = {
        "x": a.item,
        "index": INTEGER,
        "label": _element_label_type(_array(ctx)),
        "context": _context(ctx),
    }
    result = ctx.callback("process", params)
    return replace(a, item=result)


@rule("array_filter")
def _array_filter(ctx: RuleContext) -> Type:
    """Fewer (or the same) elements, labels kept but not known statically."""
    a = _array(ctx) or ArrayType()
    params = {
        "x": a.item,
        "index": INTEGER,
        "label": _element_label_type(_array(ctx)),
        "context": _context(ctx),
    }
    ctx.callback("condition", params)
    return ArrayType(a.item, labeled=a.labeled)


@rule("array_append")
def _array_append(ctx: RuleContext) -> Type:
    """One more element; labeled arrays get ``label`` or the next index (LabelExists)."""
    a = _array(ctx)
    value = ctx.type("value") or ANY
    label = ctx.literal("label")
    if label is not None and a is not None and not a.labeled:
        ctx.error("ArrayNotLabeled", "A label can only be given for a labeled array.", "label")
    if a is None:
        return ArrayType(ANY)
    labels = None
    known_label = not ctx.has("label") or _is_label(label)
    if a.labels is not None and (known_label or not a.labeled):
        new = label if a.labeled and label is not None else len(a.labels)
        if a.labeled and new in a.labels:
            ctx.error(
                "LabelExists",
                f"The array has the label {echo(new)} already.",
                _present(ctx, "label") or "data",
            )
        labels = (*a.labels, new) if a.labeled else _indices(len(a.labels) + 1)
    return ArrayType(union(a.item, value), labeled=a.labeled, labels=labels)


@rule("array_concat")
def _array_concat(ctx: RuleContext) -> Type:
    """array1 then array2; labels kept only if both are labeled (ArrayLabelConflict)."""
    a, b = _array(ctx, "array1"), _array(ctx, "array2")
    if a is None or b is None:
        item = union(a.item if a else ANY, b.item if b else ANY)
        return ArrayType(item)
    labeled = a.labeled and b.labeled
    labels = None
    if a.labels is not None and b.labels is not None:
        if labeled:
            common = [v for v in b.labels if v in a.labels]
            if common:
                ctx.error(
                    "ArrayLabelConflict",
                    f"Both arrays have the label {echo(common[0])}.",
                    "array2",
                )
            labels = a.labels + b.labels
        else:
            labels = _indices(len(a.labels) + len(b.labels))
    return ArrayType(union(a.item, b.item), labeled=labeled, labels=labels)


@rule("array_create")
def _array_create(ctx: RuleContext) -> Type:
    """``data`` repeated ``repeat`` times."""
    a = _array(ctx) if ctx.node.arg("data") is not None else ArrayType(ANY, labels=())
    repeat = _int(ctx, "repeat") if ctx.node.arg("repeat") is not None else 1
    if a is None:
        return ArrayType(ANY)
    n = _length(a)
    count = n * repeat if n is not None and repeat is not None else None
    return ArrayType(a.item, labels=_indices(count))


@rule("array_create_labeled")
def _array_create_labeled(ctx: RuleContext) -> Type:
    """A labeled array with ``labels`` (ArrayLengthMismatch)."""
    a = _array(ctx)
    labels = _labels(ctx, "labels")
    n = _length(a)
    if labels is not None and n is not None and n != len(labels):
        ctx.error(
            "ArrayLengthMismatch",
            f"There are {n} values but {len(labels)} labels.",
            "labels",
        )
    item = a.item if a is not None else ANY
    return ArrayType(item, labeled=True, labels=tuple(labels) if labels is not None else None)


@rule("array_labels")
def _array_labels(ctx: RuleContext) -> Type:
    """The labels of a labeled array, else the indices: one per element."""
    a = _array(ctx)
    if a is None:
        return ArrayType(ScalarType.of("number", "string"))
    n = _indices(_length(a))
    if not a.labeled:
        return ArrayType(INTEGER, labels=n, dimension=a.dimension)
    item = ScalarType(frozenset(_label_kind(v) for v in a.labels)) if a.labels else None
    return ArrayType(item or ScalarType.of("number", "string"), labels=n, dimension=a.dimension)


@rule("array_modify")
def _array_modify(ctx: RuleContext) -> Type:
    """``length`` elements from ``index`` replaced by ``values`` (ArrayElementNotAvailable)."""
    a, v = _array(ctx), _array(ctx, "values")
    index = _int(ctx, "index")
    length = _int(ctx, "length") if ctx.node.arg("length") is not None else 0
    n, m = _length(a), _length(v)
    if index is not None and n is not None and index > n:
        ctx.error(
            "ArrayElementNotAvailable",
            f"The array has {n} elements; it cannot be modified at index {index}.",
            "index",
        )
    item = union(a.item if a else ANY, v.item if v else ANY)
    if a is None or v is None:
        return ArrayType(item)
    labeled = (a.labeled and v.labeled) or (a.labeled and m == 0) or (v.labeled and n == 0)
    if a.labeled and v.labeled and a.labels is not None and v.labels is not None:
        common = [x for x in v.labels if x in a.labels]
        if common:
            ctx.error(
                "ArrayLabelConflict", f"Both arrays have the label {echo(common[0])}.", "values"
            )
    labels = None
    if None not in (n, m, index, length):
        count = n - min(length, max(0, n - index)) + m  # type: ignore[operator]
        if labeled and a.labels is not None and v.labels is not None:
            labels = a.labels[:index] + v.labels + a.labels[index + length :]
        else:
            labels = _indices(count)
    return ArrayType(item, labeled=labeled, labels=labels)


@rule("order")
def _order(ctx: RuleContext) -> Type:
    """Indices; as many as elements unless no-data values are dropped (the default)."""
    a = _array(ctx)
    keeps = _flag(ctx, "nodata", None) is not None
    if a is None or not keeps:
        return ArrayType(INTEGER)
    return ArrayType(INTEGER, labels=_indices(_length(a)), dimension=a.dimension)


@rule("sort")
def _sort(ctx: RuleContext) -> Type:
    """The elements sorted; as many as given unless no-data values are dropped (default)."""
    a = _array(ctx)
    keeps = _flag(ctx, "nodata", None) is not None
    if a is None:
        return ArrayType(ANY)
    if not keeps:
        kinds = _scalar_kinds(a.item)
        item = ScalarType(kinds - {"null"}) if kinds and kinds - {"null"} else a.item
        return ArrayType(item)
    return ArrayType(a.item, labels=_indices(_length(a)), dimension=a.dimension)


@rule("rearrange")
def _rearrange(ctx: RuleContext) -> Type:
    """``data``'s elements in the given order: one per entry of ``order``."""
    a, o = _array(ctx), _array(ctx, "order")
    item = a.item if a is not None else ANY
    if o is None:
        return ArrayType(item)
    return ArrayType(item, labels=_indices(_length(o)), dimension=o.dimension)


@rule("fit_curve")
def _fit_curve(ctx: RuleContext) -> Type:
    """The fitted parameters: one number per initial guess."""
    guess = _array(ctx, "parameters")
    n = _length(guess)
    params = ArrayType(ScalarType.of("number"), labels=_indices(n))
    ctx.callback("function", {"x": NUMBER, "parameters": params})
    return ArrayType(ScalarType.of("number"), labels=_indices(n))


__all__ = ["FROM_RETURNS", "RULES", "rule", "from_returns", "CubeType"]
