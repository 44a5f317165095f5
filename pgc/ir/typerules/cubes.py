"""Type rules that select, mask and reshape dimensions and labels."""

from __future__ import annotations

from collections.abc import Sequence

from ...dtypes import replaced_dtype
from ..band_filter import BadRange, UnknownBand, select_bands
from ..types import Band
from .base import (
    Any,
    ArrayType,
    CubeType,
    Dimension,
    RuleContext,
    ScalarType,
    Type,
    check_temporal_interval,
    context_type,
    cube_argument,
    dimension_argument,
    dimension_label_type,
    echo,
    hinted_error,
    index_labels,
    is_label_value,
    label_as_text,
    label_hint,
    literal_labels,
    literal_list,
    literal_str,
    number_or_none,
    parse_instant,
    present_argument,
    replace,
    rule,
    sizeless_dimension,
    unknown_cube,
    with_dimensions,
)
from .loading import (
    check_only_polygons,
    coordinate_bytes,
    count_geometries,
    narrow_spatial,
    narrow_temporal,
    narrow_to_geometries,
    sizeless_planar,
    with_band_labels,
)

# ---------------------------------------------------------------------------------------
# Filters and masks: dtype kept


@rule("filter_bbox")
def _filter_bbox(ctx: RuleContext) -> Type:
    """x/y restricted to the box (raster); fewer geometries (vector)."""
    cube = cube_argument(ctx)
    if cube.vector and not cube.unknown_dimensions:
        return with_dimensions(
            cube, [sizeless_dimension(d) if d.type == "geometry" else d for d in cube.dimensions]
        )
    extent = ctx.literal("extent")
    if not isinstance(extent, dict):  # known at run time only
        return sizeless_planar(cube)
    return narrow_spatial(ctx, cube, extent, "extent", empty_error=False)


@rule("filter_temporal")
def _filter_temporal(ctx: RuleContext) -> Type:
    """Temporal labels inside [start, end) (all temporal dimensions or ``dimension``)."""
    cube = cube_argument(ctx, missing={"temporal": "DimensionNotAvailable"})
    extent = ctx.literal("extent")
    check_temporal_interval(ctx, extent, "extent")
    name = dimension_argument(ctx)
    if name is not None:
        dim = ctx.dimension(cube, name)
        if dim is not None and dim.type != "temporal":
            ctx.error(
                "DimensionNotAvailable", f"Dimension {echo(name)} is not temporal.", "dimension"
            )
    for dim in () if cube.unknown_dimensions else cube.of_type("temporal"):
        if name is None or dim.name == name:
            dated(ctx, dim)
    return narrow_temporal(ctx, cube, extent, name)


def dated(ctx: RuleContext, dim: Dimension | None, argument: str = "data") -> None:
    """ProcessParameterInvalid when ``dim``'s known labels are not all dates or
    date-times (aggregate_temporal_period's '2023-01', times of day): the processes that
    compare or group dates cannot place them (the reference executor says the same)."""
    if dim is None or dim.labels is None:
        return
    bad = [v for v in dim.labels if parse_instant(v) is None]
    if bad:
        ctx.error(
            "ProcessParameterInvalid",
            f"The labels of {echo(dim.name)} must be dates; it has {echo(str(bad[0]))} "
            "(labels of periods, from aggregate_temporal_period say: give this process the "
            "dates).",
            argument,
        )


@rule("filter_bands")
def _filter_bands(ctx: RuleContext) -> Type:
    """The bands chosen by name, common name or wavelength range, in the order the
    definition gives (:func:`pgc.ir.band_filter.select_bands`, which the executors apply
    to the same metadata on the values); labels unknown when the bands' labels or the
    criteria are."""
    cube = cube_argument(ctx, missing={"bands": "DimensionMissing"})
    bands, wavelengths = ctx.literal("bands"), ctx.literal("wavelengths")
    given_bands = ctx.has("bands") and bands != []
    given_waves = ctx.has("wavelengths") and wavelengths != []
    if not given_bands and not given_waves:
        ctx.error(
            "BandFilterParameterMissing",
            "filter_bands needs band names in 'bands' or ranges in 'wavelengths'.",
            present_argument(ctx, "bands"),
        )
    if cube.unknown_dimensions:
        return cube
    dim = cube.of_type("bands")[0]
    computed = (given_bands and not isinstance(bands, list)) or (
        given_waves and not isinstance(wavelengths, list)
    )  # known at run time only
    if dim.labels is None or computed:
        return with_band_labels(cube, dim, None)
    meta = [cube.band(str(label)) or Band(str(label)) for label in dim.labels]
    try:
        picked = select_bands(meta, bands or [], wavelengths or [])
    except UnknownBand as unknown:
        raise hinted_error(
            "ProcessParameterInvalid",
            f"The data cube has no band {echo(unknown.name)}; it has "
            + (", ".join(str(b) for b in dim.labels) or "none")
            + " (and the common names "
            + (", ".join(b.common_name for b in meta if b.common_name) or "none")
            + ").",
            "bands",
            label_hint(unknown.name, dim.labels, meta),
        ) from None
    except BadRange as bad:
        ctx.error(
            "ProcessParameterInvalid",
            f"A wavelength range must be two numbers, not {echo(bad.args[0])}.",
            "wavelengths",
        )
    return with_band_labels(cube, dim, tuple(dim.labels[i] for i in picked))


@rule("filter_labels")
def _filter_labels(ctx: RuleContext) -> Type:
    """Fewer (or the same) labels along ``dimension``; which ones is known at run time."""
    cube = ctx.cube()
    name = dimension_argument(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    ctx.callback("condition", {"value": dimension_label_type(dim), "context": context_type(ctx)})
    if dim is None:
        return cube
    return cube.with_dimension(sizeless_dimension(dim))


@rule("filter_spatial")
def _filter_spatial(ctx: RuleContext) -> Type:
    """x/y restricted to the pixels whose centres lie in the geometries' bounding box (the
    geometries in the cube's CRS), widened by half a pixel where points or lines select
    their closest pixel centres beyond it; no pixel when every geometry is empty (the
    definition names no error). Unknown sizes where the geometries come at run time."""
    cube = cube_argument(ctx)
    geometry_dimension_of(ctx, "geometries")
    if cube.unknown_dimensions:
        return cube
    if isinstance(ctx.type("geometries"), CubeType):
        return sizeless_planar(cube)
    return narrow_to_geometries(ctx, cube, "geometries", empty_error=False)


def geojson_bbox(geojson: Any) -> dict | None:
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
            if (
                len(item) >= 2
                and number_or_none(item[0]) is not None
                and number_or_none(item[1]) is not None
            ):
                xs.append(float(item[0]))
                ys.append(float(item[1]))
            else:
                stack.extend(item)
    if not xs:
        return None
    return {"west": min(xs), "south": min(ys), "east": max(xs), "north": max(ys), "crs": 4326}


def geometry_dimension_of(ctx: RuleContext, name: str) -> Dimension:
    """The geometry dimension that argument ``name`` (GeoJSON or a vector cube) brings."""
    t = ctx.type(name)
    if isinstance(t, CubeType):
        cube = cube_argument(ctx, name)
        dims = cube.of_type("geometry") if not cube.unknown_dimensions else []
        if dims:
            return dims[0]
        return Dimension("geometry", "geometry")
    _refuse_collection(ctx, name)
    count = count_geometries(ctx.literal(name))
    return Dimension("geometry", "geometry", labels=index_labels(count), crs="4326")


def geometry_bytes_of(ctx: RuleContext, name: str) -> int | None:
    """The bytes of the coordinates of the geometries argument ``name`` brings: a vector
    cube's (its type's), or 8 per number of literal GeoJSON; None when not known."""
    t = ctx.type(name)
    if isinstance(t, CubeType):
        return t.geometry_bytes
    return coordinate_bytes(ctx.literal(name))


def _refuse_collection(ctx: RuleContext, name: str) -> None:
    """The definitions take GeoJSON geometries, features and feature collections, not
    GeometryCollections (as the executor refuses them)."""
    literal = ctx.literal(name)
    if isinstance(literal, dict) and literal.get("type") == "GeometryCollection":
        ctx.error(
            "ProcessParameterInvalid",
            "GeoJSON GeometryCollections are not supported; give a FeatureCollection.",
            name,
        )


@rule("filter_vector")
def _filter_vector(ctx: RuleContext) -> Type:
    """Fewer (or the same) geometries; everything else unchanged."""
    cube = cube_argument(ctx)
    cube_argument(ctx, "geometries")
    if cube.unknown_dimensions:
        return cube
    return with_dimensions(
        cube, [sizeless_dimension(d) if d.type == "geometry" else d for d in cube.dimensions]
    )


@rule("mask")
def _mask(ctx: RuleContext) -> Type:
    """``data`` unchanged in shape; the mask's non-x/y dimensions must match data's."""
    cube = cube_argument(ctx)
    mask = cube_argument(ctx, "mask")
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
            elif (
                own.labels is not None
                and d.labels is not None
                and (len(own.labels) != len(d.labels) or set(own.labels) != set(d.labels))
            ):  # the same labels, in any order (the executor aligns them by label)
                problem = f"the labels of dimension {echo(d.name)} differ"
            if problem:
                ctx.error(
                    "IncompatibleDataCubes",
                    f"The data cube and the mask are incompatible: {problem} (data has "
                    f"{', '.join(cube.names) or 'no dimensions'}).",
                    "mask",
                )
    return with_replaced_values(ctx, cube, "replacement")


def with_replaced_values(ctx: RuleContext, cube: CubeType, argument: str) -> CubeType:
    """``cube`` after some values are replaced by ``argument`` (default: no-data), in the
    dtype the executors give (:func:`pgc.dtypes.replaced_dtype`)."""
    value = ctx.literal(argument)
    if value is not None and not isinstance(value, bool | int | float | str):
        return cube  # known at run time only
    return cube.with_dtype(replaced_dtype(cube.dtype, value))


@rule("mask_polygon")
def _mask_polygon(ctx: RuleContext) -> Type:
    """``data`` unchanged in shape; values outside (inside) the polygons replaced."""
    cube = cube_argument(ctx)
    if isinstance(ctx.type("mask"), CubeType):
        cube_argument(ctx, "mask")
    else:
        _refuse_collection(ctx, "mask")
        check_only_polygons(ctx, ctx.literal("mask"), "mask")
    return with_replaced_values(ctx, cube, "replacement")


@rule("trim_cube")
def _trim_cube(ctx: RuleContext) -> Type:
    """Every dimension may lose labels that hold only no-data; which ones is unknown."""
    cube = ctx.cube()
    if cube.unknown_dimensions:
        return cube
    return with_dimensions(cube, [sizeless_dimension(d) for d in cube.dimensions])


# ---------------------------------------------------------------------------------------
# Dimensions and labels


@rule("add_dimension")
def _add_dimension(ctx: RuleContext) -> Type:
    """A new last dimension with the single ``label`` (DimensionExists if named so)."""
    cube = ctx.cube()
    name = literal_str(ctx, "name")
    kind = literal_str(ctx, "type") or "other"
    kind = kind if kind in ("spatial", "temporal", "bands", "geometry", "other") else "other"
    label = ctx.literal("label")
    if cube.unknown_dimensions or name is None:
        return unknown_cube(cube, vector=cube.vector or kind == "geometry")
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
    labels = (label,) if is_label_value(label) else None
    if kind == "temporal" and labels is not None:  # a date, written as the executor does
        if parse_instant(label) is None:
            ctx.error(
                "ProcessParameterInvalid",
                f"The label of a temporal dimension must be a date or date-time, not "
                f"{echo(label)}.",
                "label",
            )
        labels = (label_as_text(label, True),)
    dim = Dimension(name, kind, axis=axis, labels=labels)
    out = with_dimensions(cube, (dim, *cube.dimensions))  # first, as the conformance vectors show
    if kind == "bands" and not cube.of_type("bands") and labels is not None:
        out = replace(out, bands=(Band(str(label)),))
    return out


@rule("drop_dimension")
def _drop_dimension(ctx: RuleContext) -> Type:
    """The cube without ``name``, which must have a single label left."""
    cube = ctx.cube()
    name = literal_str(ctx, "name")
    dim = ctx.dimension(cube, name, "name") if name is not None else None
    if dim is None:
        return cube if cube.unknown_dimensions else unknown_cube(cube)
    if dim.size is not None and dim.size > 1:
        ctx.error(
            "DimensionLabelCountMismatch",
            f"Dimension {echo(name)} has {dim.size} labels; only a dimension with a single "
            "label can be dropped (reduce it or filter it to one label first).",
            "name",
        )
    return with_dimensions(cube, [d for d in cube.dimensions if d.name != name])


@rule("rename_dimension")
def _rename_dimension(ctx: RuleContext) -> Type:
    """Dimension ``source`` called ``target``; everything else unchanged."""
    cube = ctx.cube()
    source, target = literal_str(ctx, "source"), literal_str(ctx, "target")
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
        return unknown_cube(cube)
    dims = [replace(d, name=target) if d.name == source else d for d in cube.dimensions]
    return with_dimensions(cube, dims)


@rule("rename_labels")
def _rename_labels(ctx: RuleContext) -> Type:
    """The labels of ``dimension`` renamed from ``source`` (or the indices) to ``target``.

    As the definition says (and the executor does): an empty ``source`` renames by
    position and needs labels enumerated 0, 1, 2, ... (LabelsNotEnumerated) and one target
    per label (LabelMismatch); else ``source`` and ``target`` have one length (LabelMismatch)
    and every source is a label (LabelNotAvailable); a target that is already a label is
    LabelExists. Temporal labels compare as instants, written in RFC 3339 UTC; the targets
    of a temporal dimension must be dates.
    """
    cube = ctx.cube()
    name = dimension_argument(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    target = literal_labels(ctx, "target")
    source = literal_labels(ctx, "source") if ctx.has("source") else []
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
    # dates (not aggregate_temporal_period's '2023-01'): they compare as instants
    temporal = dim.type == "temporal" and all(parse_instant(v) is not None for v in labels)
    if temporal:
        bad = [v for v in target if parse_instant(v) is None]
        if bad:
            ctx.error(
                "ProcessParameterInvalid",
                f"The labels of the temporal dimension {echo(name)} must be dates or "
                f"date-times; {echo(bad[0])} is not.",
                "target",
            )
        target = [label_as_text(v, True) for v in target]
        source = [label_as_text(v, True) for v in source]
    keys = [label_as_text(v, True) if temporal else v for v in labels]
    if not source:
        if any(label_as_text(v) != str(i) for i, v in enumerate(labels)):
            ctx.error(
                "LabelsNotEnumerated",
                f"The labels of dimension {echo(name)} are not enumerated (0, 1, 2, ...); "
                "give the labels to rename in 'source'.",
                present_argument(ctx, "source") or "dimension",
            )
        if len(target) != len(labels):
            ctx.error(
                "LabelMismatch",
                f"Dimension {echo(name)} has {len(labels)} labels but 'target' has {len(target)}.",
                "target",
            )
        mapping = dict(zip(keys, target, strict=True))
    else:
        for s in source:
            if s not in keys:
                ctx.error(
                    "LabelNotAvailable",
                    f"Dimension {echo(name)} has no label {echo(s)}; it has "
                    + ", ".join(label_as_text(v) for v in labels[:20])
                    + ".",
                    "source",
                )
        mapping = dict(zip(source, target, strict=True))
    taken = [v for v in target if v in keys]
    if taken:
        ctx.error(
            "LabelExists",
            f"Dimension {echo(name)} has the label {echo(taken[0])} already.",
            "target",
        )
    renamed = tuple(mapping.get(k, v) for k, v in zip(keys, labels, strict=True))
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
    name = dimension_argument(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    if dim is None:
        return ArrayType(ScalarType.of("number", "string"))
    n = len(dim.labels) if dim.labels is not None else None
    return ArrayType(dimension_label_type(dim), labels=index_labels(n), dimension=dim.name)


@rule("flatten_dimensions")
def _flatten_dimensions(ctx: RuleContext) -> Type:
    """``dimensions`` merged into ``target_dimension`` (type other) where the first was."""
    cube = ctx.cube()
    names = literal_list(ctx, "dimensions")
    target = literal_str(ctx, "target_dimension")
    sep = literal_str(ctx, "label_separator")
    sep = "~" if sep is None else sep
    if cube.unknown_dimensions or names is None or target is None:
        return unknown_cube(cube)
    dims: list[Dimension] = []
    for n in names:
        if not isinstance(n, str):
            return unknown_cube(cube)
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
    return with_dimensions(cube, out)


def _joined(dims: Sequence[Dimension], sep: str) -> tuple[str, ...] | None:
    """Labels of the flattened dimension: the product of the labels, joined by ``sep``."""
    combos: list[str] = [""]
    for i, d in enumerate(dims):
        if d.labels is None:
            return None
        texts = [label_as_text(label, d.type == "temporal") for label in d.labels]
        combos = [(c + sep if i else "") + text for c in combos for text in texts]
    return tuple(combos)


@rule("unflatten_dimension")
def _unflatten_dimension(ctx: RuleContext) -> Type:
    """``dimension`` split into ``target_dimensions`` (type other) at its place."""
    cube = ctx.cube()
    name = dimension_argument(ctx)
    targets = literal_list(ctx, "target_dimensions")
    sep = literal_str(ctx, "label_separator")
    sep = "~" if sep is None else sep
    dim = ctx.dimension(cube, name) if name is not None else None
    if dim is None or targets is None or not all(isinstance(t, str) for t in targets):
        return unknown_cube(cube) if not cube.unknown_dimensions else cube
    for t in targets:
        if cube.dimension(t) is not None:
            ctx.error(
                "TargetDimensionExists",
                f"The data cube has a dimension {echo(t)} already; it has {', '.join(cube.names)}.",
                "target_dimensions",
            )
    parts: list[list[str]] | None = None
    if dim.labels is not None and targets and sep:
        split = [label_as_text(v).split(sep) for v in dim.labels]
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
    return with_dimensions(cube, dims)
