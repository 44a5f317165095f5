"""Type rules of merging, resampling, band indices, ARD, vector cubes and results."""

from __future__ import annotations

from collections.abc import Sequence

from ...formats import OUTPUT_FORMATS, output_format
from ...grid import resampled_size
from ..types import Band
from .base import (
    ANY,
    Any,
    Callback,
    CubeType,
    Dimension,
    ObjectType,
    RuleContext,
    Type,
    callback_dtype,
    check_single_value,
    context_type,
    cube_argument,
    cube_value_type,
    dimension_argument,
    echo,
    literal_flag,
    literal_int,
    literal_str,
    math_dtype,
    number_or_none,
    present_argument,
    promoted_dtype,
    replace,
    rule,
    sizeless_dimension,
    sorted_labels,
    unknown_cube,
    with_computed_values,
    with_dimensions,
)

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
        "overlap_resolver",
        {"x": cube_value_type(c1), "y": cube_value_type(c2), "context": context_type(ctx)},
    )
    dtype = promoted_dtype(c1.dtype, c2.dtype)
    if isinstance(ctx.node.arg("overlap_resolver"), Callback):
        check_single_value(ctx, resolver, "overlap_resolver")
        dtype = promoted_dtype(dtype, callback_dtype(dtype, resolver))
    if c1.unknown_dimensions or c2.unknown_dimensions:
        return unknown_cube(c1, dtype, vector=c1.vector or c2.vector)
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
            present_argument(ctx, "overlap_resolver"),
        )
    bands = c1.bands + tuple(b for b in c2.bands if c1.band(b.name) is None)
    nodata = c1.nodata if c1.nodata == c2.nodata else None
    out = replace(c1, bands=bands, nodata=nodata, dtype=dtype)
    return with_dimensions(out, dims)


def _merge_dimension(d1: Dimension, d2: Dimension) -> Dimension:
    labelled = d1.labels is not None and d2.labels is not None
    if d1.type == "spatial" and d1.axis in ("x", "y") and not labelled:
        same_grid = d1.crs == d2.crs and d1.step == d2.step
        if not same_grid or d1.extent is None or d2.extent is None:
            return d1  # cube2 is resampled onto cube1's grid
        return replace(
            d1, extent=(min(d1.extent[0], d2.extent[0]), max(d1.extent[1], d2.extent[1]))
        )
    if d1.labels is None or d2.labels is None or d1.type == "geometry":
        # geometries: equal geometries share a label, which only their values can tell
        return replace(d1, labels=None, extent=None if d1.type == "spatial" else d1.extent)
    labels = d1.labels + tuple(v for v in d2.labels if v not in d1.labels)
    if d1.type in ("temporal", "spatial") and len(labels) > len(d1.labels):
        labels = _sorted_as(labels, d1.labels, d2.labels)
    extent = d1.extent
    if d1.extent is not None and d2.extent is not None:
        try:
            extent = (min(d1.extent[0], d2.extent[0]), max(d1.extent[1], d2.extent[1]))
        except TypeError:
            extent = None
    return replace(d1, labels=labels, extent=extent)


def _sorted_as(labels: Sequence, first: Sequence, second: Sequence) -> tuple:
    """``labels`` sorted as the definition keeps spatial and temporal labels, in the
    direction of cube1's labels (y often runs north to south), else of cube2's, else
    ascending (as the executor sorts them)."""
    ordered = sorted_labels(labels)
    for own in (first, second):
        if len(own) > 1:
            try:
                return ordered[::-1] if own[0] > own[-1] else ordered
            except TypeError:
                return ordered
    return ordered


def _overlaps(d1: Dimension, d2: Dimension) -> bool:
    """Whether two dimensions surely share labels (False when it cannot be told; for
    geometries it depends on the geometries, not on the labels)."""
    if d1.type == "geometry":
        return False
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
    cube = cube_argument(ctx)
    method = literal_str(ctx, "method") or "near"
    resolution = ctx.literal("resolution", 0)
    projection = ctx.literal("projection")
    align = literal_str(ctx, "align") or "upper-left"
    if isinstance(resolution, list):
        res = [number_or_none(r) for r in resolution[:2]] + [None] * (2 - len(resolution[:2]))
    else:
        res = [number_or_none(resolution)] * 2
    changed = False
    for axis, r in zip(("x", "y"), res, strict=True):
        for dim in cube.of_type("spatial", axis) if not cube.unknown_dimensions else []:
            new = _regrid(dim, r or None, projection, align)
            changed = changed or new != dim
            cube = cube.with_dimension(new)
    if cube.unknown_dimensions:
        changed = bool(res[0] or res[1] or projection is not None)
    if changed and method not in _SELECTING_METHODS:
        return with_computed_values(cube, math_dtype(cube.dtype))
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
    count = resampled_size(hi - lo, res)
    anchored_low = "left" in align if dim.axis == "x" else "lower" in align
    extent = (lo, lo + count * res) if anchored_low else (hi - count * res, hi)
    return replace(dim, step=res, extent=extent)


@rule("resample_cube_spatial")
def _resample_cube_spatial(ctx: RuleContext) -> Type:
    """x/y take the target's grid (extent, step, CRS); names stay."""
    cube = cube_argument(ctx)
    target = cube_argument(ctx, "target")
    method = literal_str(ctx, "method") or "near"
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
        return with_computed_values(cube, math_dtype(cube.dtype))
    return cube


@rule("resample_cube_temporal")
def _resample_cube_temporal(ctx: RuleContext) -> Type:
    """The temporal dimension(s) take the target's labels (nearest neighbour: dtype kept)."""
    cube = cube_argument(ctx)
    target = cube_argument(ctx, "target")
    name = dimension_argument(ctx)
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
    cube = cube_argument(ctx, missing={"bands": "DimensionAmbiguous"})
    if cube.unknown_dimensions:
        return unknown_cube(cube, math_dtype(cube.dtype))
    bands = cube.of_type("bands")
    if len(bands) != 1:
        ctx.error(
            "DimensionAmbiguous",
            f"The data cube must have exactly one bands dimension; it has {len(bands)}.",
            "data",
        )
    dim = bands[0]
    for arg, common in (("nir", "nir"), ("red", "red")):
        name = literal_str(ctx, arg) if ctx.node.arg(arg) is not None else common
        if (
            name is not None
            and dim.labels is not None
            and name not in dim.labels
            and not any(b.common_name == name for b in cube.bands)
        ):
            code = "NirBandAmbiguous" if arg == "nir" else "RedBandAmbiguous"
            ctx.error(code, f"The data cube has no band named or common-named {echo(name)}.", arg)
    target = literal_str(ctx, "target_band")
    dtype = math_dtype(cube.dtype)
    if target is None:
        return with_computed_values(
            with_dimensions(cube, [d for d in cube.dimensions if d is not dim]), dtype
        )
    if dim.labels is not None and target in dim.labels:
        ctx.error("BandExists", f"The data cube has a band {echo(target)} already.", "target_band")
    labels = None if dim.labels is None else (*dim.labels, target)
    cube = replace(
        cube.with_dimension(replace(dim, labels=labels)), bands=(*cube.bands, Band(target))
    )
    return with_computed_values(cube, dtype)


def _with_extra_bands(cube: CubeType, extra: Sequence[str], known: bool = True) -> CubeType:
    """``cube`` with bands appended (all its labels unknown when ``known`` is False)."""
    if cube.unknown_dimensions:
        return unknown_cube(cube, "float64")
    out = with_computed_values(cube, "float64")
    for dim in out.of_type("bands"):
        if dim.labels is None or not known:
            return out.with_dimension(replace(dim, labels=None))
        labels = dim.labels + tuple(e for e in extra if e not in dim.labels)
        out = out.with_dimension(replace(dim, labels=labels))
        meta = out.bands + tuple(Band(e) for e in extra if out.band(e) is None)
        return replace(out, bands=meta)
    return out


def _check_dem(ctx: RuleContext) -> None:
    dem = literal_str(ctx, "elevation_model")
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
    cube = cube_argument(ctx)
    _check_dem(ctx)
    flags = ("mask", "contributing_area", "local_incidence_angle", "ellipsoid_incidence_angle")
    values = {f: literal_flag(ctx, f, False) for f in flags}
    extra = [f for f in flags if values[f]]
    return _with_extra_bands(cube, extra, known=None not in values.values())


@rule("ard_normalized_radar_backscatter")
def _ard_normalized_radar_backscatter(ctx: RuleContext) -> Type:
    """gamma0 per input band, plus ``mask`` and ``local_incidence_angle`` and flagged bands."""
    cube = cube_argument(ctx)
    _check_dem(ctx)
    contributing = literal_flag(ctx, "contributing_area", False)
    ellipsoid = literal_flag(ctx, "ellipsoid_incidence_angle", False)
    extra = ["mask"] + ["contributing_area"] * bool(contributing) + ["local_incidence_angle"]
    extra += ["ellipsoid_incidence_angle"] * bool(ellipsoid)
    return _with_extra_bands(cube, extra, known=contributing is not None and ellipsoid is not None)


@rule("ard_surface_reflectance")
def _ard_surface_reflectance(ctx: RuleContext) -> Type:
    """Reflectance per input band plus method-dependent quality bands (labels unknown)."""
    cube = cube_argument(ctx)
    _check_dem(ctx)
    return _with_extra_bands(cube, ("incomplete-testing", "saturation", "cloud", "shadow"), False)


@rule("atmospheric_correction")
def _atmospheric_correction(ctx: RuleContext) -> Type:
    """Same dimensions and bands; reflectances computed (float)."""
    cube = cube_argument(ctx)
    _check_dem(ctx)
    return _with_extra_bands(cube, ())


@rule("cloud_detection")
def _cloud_detection(ctx: RuleContext) -> Type:
    """Same dimensions; the bands become the method's disturbances (cloud, shadow ...)."""
    cube = cube_argument(ctx)
    if cube.unknown_dimensions:
        return unknown_cube(cube, "float64")
    out = with_computed_values(cube, "float64")
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
    cube = cube_argument(ctx, "geometries")
    _check_metres(ctx, cube, "distance")
    return cube


@rule("vector_reproject")
def _vector_reproject(ctx: RuleContext) -> Type:
    """The geometry dimension(s) (or ``dimension``) get the ``projection``'s CRS."""
    cube = cube_argument(ctx)
    name = dimension_argument(ctx)
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
    cube = cube_argument(ctx)
    total = literal_int(ctx, "total_count")
    for dim in cube.of_type("geometry") if not cube.unknown_dimensions else []:
        if total is not None and dim.size is not None and total < dim.size:
            ctx.error(
                "CountMismatch",
                f"total_count {total} is lower than the number of geometries ({dim.size}).",
                "total_count",
            )
    return _points(ctx, cube)


def _points(ctx: RuleContext, cube: CubeType) -> CubeType:
    if cube.unknown_dimensions or literal_flag(ctx, "group", True):
        return cube
    return with_dimensions(
        cube, [sizeless_dimension(d) if d.type == "geometry" else d for d in cube.dimensions]
    )


@rule("vector_to_regular_points")
def _vector_to_regular_points(ctx: RuleContext) -> Type:
    """Points per geometry at a distance in metres (UnitMismatch for degrees)."""
    cube = cube_argument(ctx)
    _check_metres(ctx, cube, "distance")
    return _points(ctx, cube)


# ---------------------------------------------------------------------------------------
# Results and development


@rule("save_result")
def _save_result(ctx: RuleContext) -> Type:
    """A STAC resource. What a format can hold is :data:`pgc.formats.OUTPUT_FORMATS`': a
    vector cube in a format without geometries is FormatUnsuitable, an empty cube in a
    GeoTIFF (at least one row, column and band) DataCubeEmpty. A format pgc does not
    write at all was refused by the validator (FormatUnsupported)."""
    cube = ctx.cube()
    given = literal_str(ctx, "format") or ""
    fmt = OUTPUT_FORMATS.get(output_format(given) or "")
    if fmt is not None and not cube.unknown_dimensions:
        if cube.vector and not fmt.vector:
            ctx.error(
                "FormatUnsuitable",
                f"Format {echo(given)} stores rasters; the data is a vector cube.",
                "format",
            )
        if not cube.vector and not fmt.raster:
            ctx.error(
                "FormatUnsuitable",
                f"Format {echo(given)} stores vector cubes; the data is a raster cube.",
                "format",
            )
        empty = [d.name for d in cube.dimensions if d.size == 0]
        if empty and fmt.key == "gtiff":
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
