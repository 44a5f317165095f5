"""Type rules of the processes that create cubes (load_collection, load_* ...)."""

from __future__ import annotations

from ...grid import OutsideCrs, bbox_in_crs, window_for_bbox
from ..infer import UNKNOWN_CUBE
from ..types import Band
from .base import (
    Any,
    CubeType,
    Dimension,
    Label,
    RuleContext,
    Type,
    _check_interval,
    _in_interval,
    _indices,
    _list,
    _num,
    _str,
    echo,
    replace,
    rule,
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
    box in another CRS is first transformed to the cube's (:func:`pgc.grid.bbox_in_crs`),
    as the readers do.
    """
    if not isinstance(extent, dict) or not {"west", "south", "east", "north"} <= set(extent):
        return cube
    box = tuple(_num(extent[k]) for k in ("west", "south", "east", "north"))
    crs = str(extent.get("crs", 4326)).replace("EPSG:", "")
    xs, ys = cube.of_type("spatial", "x"), cube.of_type("spatial", "y")
    if None in box or not xs or not ys or cube.unknown_dimensions:
        return cube
    x, y = xs[0], ys[0]
    if not all(_on_grid(d) and d.crs is not None for d in (x, y)) or x.crs != y.crs:
        return cube
    if x.crs != crs:
        try:
            box = bbox_in_crs(box, crs, x.crs)  # type: ignore[arg-type]
        except OutsideCrs as exc:
            ctx.error("ProcessParameterInvalid", f"The {argument} {exc}", argument)
            return cube
        except Exception:  # noqa: BLE001 - an unknown CRS: keep the upper bound
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
