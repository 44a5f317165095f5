"""Type rules of the processes that create cubes (load_collection, load_* ...)."""

from __future__ import annotations

from ...errors import did_you_mean
from ...grid import OutsideCrs, bbox_in_crs, geometries_bounds, window_for_bbox
from ..infer import UNKNOWN_CUBE
from ..types import Band
from .base import (
    Any,
    CubeType,
    Dimension,
    Label,
    RuleContext,
    Type,
    check_temporal_interval,
    echo,
    hinted_error,
    in_temporal_interval,
    index_labels,
    label_hint,
    literal_list,
    literal_str,
    number_or_none,
    replace,
    rule,
    with_computed_values,
)

# ---------------------------------------------------------------------------------------
# Loading


@rule("load_collection")
def _load_collection(ctx: RuleContext) -> Type:
    """The collection's cube, narrowed to the extents and bands (NoDataAvailable if empty)."""
    cid = ctx.literal("id")
    catalog = ctx.env.catalog
    check_temporal_interval(ctx, ctx.literal("temporal_extent"), "temporal_extent")
    if not isinstance(cid, str) or catalog is None:
        return UNKNOWN_CUBE
    if cid not in catalog:
        ids = ", ".join(catalog.ids()[:10])
        names = [*catalog.ids(), *getattr(catalog, "aliases", {})]
        raise hinted_error(
            "CollectionNotFound", f"Collection {echo(cid)} does not exist; available: {ids}.",
            "id", did_you_mean(cid, names, n=3),
        )  # fmt: skip
    extent = ctx.literal("spatial_extent")
    # a STAC-backed collection's grid depends on the extent (pgc.data.stac.grid)
    load_type = getattr(catalog, "load_type", None)
    cube = load_type(cid, extent) if load_type is not None else catalog.cube_type(cid)
    grid = ctx.literal("pgc:grid")
    if isinstance(grid, dict):  # a resample_spatial the load took over (pgc.passes.load_grid)
        cube = on_grid(cube, grid)
    elif ctx.has("spatial_extent") and not ctx.is_literal("spatial_extent"):
        cube = sizeless_planar(cube)  # a vector cube, or values known at run time only
    elif isinstance(extent, dict) and "west" not in extent:  # GeoJSON: its polygons' box
        check_only_polygons(ctx, extent, "spatial_extent")
        cube = narrow_to_geometries(ctx, cube, "spatial_extent", empty_error=True)
    else:
        cube = narrow_spatial(ctx, cube, extent, "spatial_extent")
    cube = narrow_temporal(ctx, cube, ctx.literal("temporal_extent"))
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


def on_grid(cube: CubeType, grid: dict) -> CubeType:
    """The cube read onto ``grid`` (``pgc:grid`` of a load: crs, x and y extents, step,
    dtype)."""
    for dim in cube.dimensions:
        if dim.type == "spatial" and dim.axis in ("x", "y"):
            extent = tuple(grid[dim.axis])
            cube = cube.with_dimension(replace(dim, extent=extent, step=grid["step"],
                                               crs=str(grid["crs"])))  # fmt: skip
    dtype = grid.get("dtype")
    return with_computed_values(cube, dtype) if dtype and dtype != cube.dtype else cube


def narrow_spatial(
    ctx: RuleContext, cube: CubeType, extent: Any, argument: str, empty_error: bool = True
) -> CubeType:
    """x/y restricted to the pixels whose centres lie in a bounding box in the cube's CRS,
    and a vertical (z) dimension with labels to those in [``base``, ``height``].

    The pixel-centre rule is :func:`pgc.grid.window_for_bbox`, shared with the readers; a
    box in another CRS is first transformed to the cube's (:func:`pgc.grid.bbox_in_crs`),
    as the readers do. Where the box cannot be placed on the grid (no CRS, no extent), x and
    y have an unknown size. ``empty_error``: NoDataAvailable when no pixel is left (the
    loads; the filters name no error and leave dimensions without labels).
    """
    if cube.unknown_dimensions or not isinstance(extent, dict):
        return cube
    if not {"west", "south", "east", "north"} <= set(extent):
        return cube
    cube = _narrow_vertical(cube, extent)
    box = tuple(number_or_none(extent[k]) for k in ("west", "south", "east", "north"))
    crs = str(extent.get("crs", 4326)).replace("EPSG:", "")
    xs, ys = cube.of_type("spatial", "x"), cube.of_type("spatial", "y")
    if None in box or not xs or not ys:
        return sizeless_planar(cube)
    x, y = xs[0], ys[0]
    if not all(_on_grid(d) and d.crs is not None for d in (x, y)) or x.crs != y.crs:
        return sizeless_planar(cube)
    if x.crs != crs:
        try:
            box = bbox_in_crs(box, crs, x.crs)  # type: ignore[arg-type]
        except OutsideCrs as exc:
            ctx.error("ProcessParameterInvalid", f"The {argument} {exc}", argument)
            return cube
        except Exception:  # noqa: BLE001 - an unknown CRS: the size is not known
            return sizeless_planar(cube)
    x_extent = (float(x.extent[0]), float(x.extent[1]))  # type: ignore[index]
    y_extent = (float(y.extent[0]), float(y.extent[1]))  # type: ignore[index]
    dx, dy = float(x.step), float(y.step)  # type: ignore[arg-type]
    bbox = (box[0], box[1], box[2], box[3])
    cols = window_for_bbox(x_extent, y_extent, dx, bbox)  # type: ignore[arg-type]
    rows = window_for_bbox(x_extent, y_extent, dy, bbox)  # type: ignore[arg-type]
    if (cols.x1 <= cols.x0 or rows.y1 <= rows.y0) and empty_error:
        ctx.error(
            "NoDataAvailable",
            f"The {argument} holds no pixel centre of the data (x {x.extent}, y {y.extent} "
            f"in EPSG:{x.crs}).",
            argument,
        )
    nx, ny = round((x_extent[1] - x_extent[0]) / dx), round((y_extent[1] - y_extent[0]) / dy)
    c0, c1 = min(cols.x0, nx), min(cols.x1, nx)  # a box beyond the grid: no column
    r0, r1 = min(rows.y0, ny), min(rows.y1, ny)
    x_new = (x_extent[0] + c0 * dx, x_extent[0] + c1 * dx)
    y_new = (y_extent[1] - r1 * dy, y_extent[1] - r0 * dy)
    cube = cube.with_dimension(replace(x, extent=x_new))
    return cube.with_dimension(replace(y, extent=y_new))


def narrow_to_geometries(
    ctx: RuleContext, cube: CubeType, argument: str, empty_error: bool
) -> CubeType:
    """x/y restricted to the pixels whose centres lie in the bounding box of the GeoJSON
    geometries of ``argument`` (WGS 84) brought into the cube's CRS, as the executor places
    them (:func:`pgc.grid.geometries_bounds`), widened by half a pixel where points or lines
    select their closest pixel centres beyond it. No geometry: no pixel (``empty_error``:
    NoDataAvailable). Unknown sizes where the geometries are not a GeoJSON literal."""
    items = geojson_geometries(ctx.literal(argument))
    xs, ys = cube.of_type("spatial", "x"), cube.of_type("spatial", "y")
    if cube.unknown_dimensions or not xs or not ys:
        return cube
    x, y = xs[0], ys[0]
    if items is None or x.crs is None:
        return sizeless_planar(cube)
    try:
        box, reach = geometries_bounds(items, "4326", x.crs)
    except ValueError:  # the executor says what is wrong with them
        return sizeless_planar(cube)
    if box is None:
        if empty_error:
            ctx.error("NoDataAvailable", f"The geometries of {argument} are empty.", argument)
        return _no_pixels(cube, x, y)
    if reach and isinstance(x.step, int | float) and isinstance(y.step, int | float):
        hx, hy = x.step / 2, y.step / 2
        box = (box[0] - hx, box[1] - hy, box[2] + hx, box[3] + hy)
    keys = ("west", "south", "east", "north")
    extent = {**dict(zip(keys, box, strict=True)), "crs": x.crs}
    return narrow_spatial(ctx, cube, extent, argument, empty_error)


def check_only_polygons(ctx: RuleContext, geojson: Any, argument: str) -> None:
    """The definition's GeoJSON spatial extents: "A Polygon or MultiPolygon geometry, a
    Feature with a Polygon or MultiPolygon geometry, or a FeatureCollection ..." (empty
    geometries are ignored)."""
    for geometry in geojson_geometries(geojson) or []:
        kind = geometry.get("type")
        empty = not geometry.get("coordinates") and kind != "GeometryCollection"
        if kind not in ("Polygon", "MultiPolygon") and not empty:
            ctx.error(
                "ProcessParameterInvalid",
                f"The {argument} must be polygons; it has a {echo(str(kind))}.",
                argument,
            )


def geojson_geometries(geojson: Any) -> list[dict] | None:
    """The geometries of a GeoJSON geometry, Feature or FeatureCollection (a Feature without
    a geometry: none), or None when it is not one of those."""
    if not isinstance(geojson, dict) or "west" in geojson:
        return None
    kind = geojson.get("type")
    features = geojson.get("features") if kind == "FeatureCollection" else [geojson]
    if not isinstance(features, list):
        return None
    out = []
    for item in features:
        if not isinstance(item, dict):
            return None
        geometry = item.get("geometry") if item.get("type") == "Feature" else item
        if geometry is None:
            continue
        if not isinstance(geometry, dict):
            return None
        out.append(geometry)
    return out


def _no_pixels(cube: CubeType, x: Dimension, y: Dimension) -> CubeType:
    """``cube`` whose x and y have no pixel left."""
    if x.extent is None or y.extent is None:
        return sizeless_planar(cube)
    cube = cube.with_dimension(replace(x, extent=(x.extent[0], x.extent[0])))
    return cube.with_dimension(replace(y, extent=(y.extent[1], y.extent[1])))


def sizeless_planar(cube: CubeType) -> CubeType:
    """``cube`` whose x and y keep some of their pixels, which is not known statically."""
    for dim in cube.of_type("spatial"):
        if dim.axis in ("x", "y"):
            cube = cube.with_dimension(replace(dim, labels=None, extent=None))
    return cube


def _narrow_vertical(cube: CubeType, extent: dict) -> CubeType:
    """A z dimension's labels in [``base``, ``height``] (null: no bound), where known."""
    base, height = number_or_none(extent.get("base")), number_or_none(extent.get("height"))
    if base is None and height is None:
        return cube
    for dim in cube.of_type("spatial", "z"):
        if dim.labels is None or not all(number_or_none(v) is not None for v in dim.labels):
            cube = cube.with_dimension(replace(dim, labels=None, extent=None))
            continue
        kept = tuple(
            v for v in dim.labels
            if (base is None or number_or_none(v) >= base)
            and (height is None or number_or_none(v) <= height)
        )  # fmt: skip
        cube = cube.with_dimension(replace(dim, labels=kept))
    return cube


def _on_grid(dim: Dimension) -> bool:
    """Whether a spatial dimension has numeric extent and a positive step."""
    step, extent = dim.step, dim.extent
    return (
        isinstance(step, int | float)
        and step > 0
        and extent is not None
        and all(number_or_none(v) is not None for v in extent)
    )


def narrow_temporal(
    ctx: RuleContext, cube: CubeType, extent: Any, dimension: str | None = None
) -> CubeType:
    """Keep the labels of the temporal dimensions (or ``dimension``) inside [start, end)."""
    if not isinstance(extent, list) or len(extent) != 2:
        return cube
    start, end = extent
    for dim in cube.of_type("temporal"):
        if dim.labels is None or (dimension is not None and dim.name != dimension):
            continue
        kept = tuple(t for t in dim.labels if in_temporal_interval(t, start, end))
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
            raise hinted_error(
                "ProcessParameterInvalid",
                f"The data cube has no band {echo(name)}; it has "
                + (", ".join(str(k) for k in known) or "none")
                + ".",
                argument,
                label_hint(name, known, cube.bands),
            )
        else:
            picked = [name]  # unknown labels: the user's name stands
        chosen.extend(p for p in picked if p not in chosen)
    return with_band_labels(cube, dim, tuple(chosen))


def with_band_labels(cube: CubeType, dim: Dimension, labels: tuple[Label, ...] | None) -> CubeType:
    """``cube`` whose bands dimension ``dim`` has ``labels`` (metadata follows them)."""
    cube = cube.with_dimension(replace(dim, labels=labels))
    if labels is None:
        return cube
    meta = {b.name: b for b in cube.bands}
    return replace(cube, bands=tuple(meta.get(str(n), Band(str(n))) for n in labels))


@rule("load_stac")
def _load_stac(ctx: RuleContext) -> Type:
    """A cube whose dimensions are known only when the data is read."""
    check_temporal_interval(ctx, ctx.literal("temporal_extent"), "temporal_extent")
    return UNKNOWN_CUBE


_VECTOR_FORMATS = {"geojson", "geoparquet", "parquet", "shapefile", "esri shapefile", "gpkg"}


@rule("load_url", "load_uploaded_files")
def _load_file(ctx: RuleContext) -> Type:
    """A cube known only when read: a vector cube for vector formats."""
    fmt = literal_str(ctx, "format")
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
    count = count_geometries(data)
    dims = [Dimension("geometry", "geometry", labels=index_labels(count), crs="4326")]
    properties = literal_list(ctx, "properties")
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
                labels = index_labels(max(arrays))
            elif not isinstance(data, dict):
                labels = None
        dims.append(Dimension("properties", "other", labels=labels))
    return CubeType(tuple(dims), dtype="object", vector=True,
                    geometry_bytes=coordinate_bytes(data))  # fmt: skip


def coordinate_bytes(geojson: Any) -> int | None:
    """8 bytes per number in the ``coordinates`` of a GeoJSON object (None: not GeoJSON
    pgc can count). Iterative: the nesting is bounded by the input limits anyway."""
    if not isinstance(geojson, dict):
        return None
    numbers, stack = 0, [geojson]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            coordinates = value.get("coordinates")
            if coordinates is not None:
                stack.append(("coordinates", coordinates))
            stack.extend(v for k, v in value.items() if k in ("features", "geometry",
                                                               "geometries"))  # fmt: skip
        elif isinstance(value, tuple):
            inner = [value[1]]
            while inner:
                item = inner.pop()
                if isinstance(item, list):
                    inner.extend(item)
                elif isinstance(item, int | float) and not isinstance(item, bool):
                    numbers += 1
        elif isinstance(value, list):
            stack.extend(value)
    return numbers * 8


def count_geometries(geojson: Any) -> int | None:
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
