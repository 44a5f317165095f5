"""Type rules of the processes that run callbacks over cubes and aggregate them."""

from __future__ import annotations

import re

from ...periods import (
    CLIMATOLOGICAL_NORMALS,
    NORMAL_LABELS,
    PERIOD_PATTERNS,
    PERIODS,
    periods_between,
    time_of_day,
)
from ..types import Band
from .base import (
    NUMBER,
    Any,
    ArrayType,
    CubeType,
    Dimension,
    Label,
    RuleContext,
    ScalarType,
    Type,
    array_length,
    callback_dtype,
    check_single_value,
    check_temporal_interval,
    context_type,
    cube_argument,
    cube_value_type,
    dimension_argument,
    echo,
    index_labels,
    is_label_value,
    literal_labels,
    literal_list,
    literal_str,
    math_dtype,
    number_or_none,
    parse_instant,
    present_argument,
    promoted_dtype,
    replace,
    rule,
    sizeless_dimension,
    unknown_cube,
    with_computed_values,
    with_dimensions,
)
from .cubes import (
    dated,
    geometry_bytes_of,
    geometry_dimension_of,
    with_replaced_values,
)

# ---------------------------------------------------------------------------------------
# Reducing and applying


def _reducer_dtype(ctx: RuleContext, cube: CubeType, data: ArrayType) -> str:
    """The dtype a cube gets from its ``reducer`` seeing ``data``; the reducer must give one
    value per array (the processes that reduce with a callback share this)."""
    result = ctx.callback("reducer", {"data": data, "context": context_type(ctx)})
    check_single_value(ctx, result, "reducer")
    return callback_dtype(cube.dtype, result)


@rule("reduce_dimension")
def _reduce_dimension(ctx: RuleContext) -> Type:
    """The cube without ``dimension``; the reducer sees a labeled array along it."""
    cube = ctx.cube()
    name = dimension_argument(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    data = _along(cube, dim, name)
    dtype = _reducer_dtype(ctx, cube, data)
    if cube.unknown_dimensions or dim is None:
        return unknown_cube(cube, dtype)
    return with_computed_values(
        with_dimensions(cube, [d for d in cube.dimensions if d.name != name]), dtype
    )


def _along(cube: CubeType, dim: Dimension | None, name: str | None) -> ArrayType:
    """The labeled array a callback sees along dimension ``name`` of ``cube`` (with the
    bands' metadata along a bands dimension: common names pick bands)."""
    bands = cube.bands if dim is not None and dim.type == "bands" else ()
    return ArrayType(
        cube_value_type(cube),
        labeled=True,
        labels=dim.labels if dim else None,
        dimension=name,
        bands=tuple(bands),
    )


@rule("reduce_spatial")
def _reduce_spatial(ctx: RuleContext) -> Type:
    """The cube without its x and y dimensions."""
    cube = cube_argument(ctx)
    data = ArrayType(cube_value_type(cube))
    dtype = _reducer_dtype(ctx, cube, data)
    if cube.unknown_dimensions:
        return unknown_cube(cube, dtype)
    kept = [d for d in cube.dimensions if not (d.type == "spatial" and d.axis in ("x", "y"))]
    return with_computed_values(with_dimensions(cube, kept), dtype)


@rule("apply")
def _apply(ctx: RuleContext) -> Type:
    """Same dimensions; each value replaced by the callback's result."""
    cube = ctx.cube()
    result = ctx.callback("process", {"x": cube_value_type(cube), "context": context_type(ctx)})
    check_single_value(ctx, result, "process")
    return with_computed_values(cube, callback_dtype(cube.dtype, result))


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
    name = dimension_argument(ctx)
    dim = ctx.dimension(cube, name) if name is not None else None
    data = _along(cube, dim, name)
    result = ctx.callback("process", {"data": data, "context": context_type(ctx)})
    if isinstance(result, ScalarType | CubeType) and (
        not isinstance(result, ScalarType) or result.kinds
    ):
        ctx.error(
            "ProcessParameterInvalid",
            f"The process must return an array, but it gives {result}.",
            "process",
        )
    dtype = callback_dtype(cube.dtype, result)
    if cube.unknown_dimensions or dim is None:
        return unknown_cube(cube, dtype)
    length = array_length(result)
    if length == 0 and dim.size != 0:
        ctx.error(
            "ProcessParameterInvalid",
            "The process must return an array with at least one element, but it gives none.",
            "process",
        )
    same_length = (isinstance(result, ArrayType) and result.dimension == name) or (
        length is not None and length == dim.size
    )
    labels = index_labels(length)
    target = literal_str(ctx, "target_dimension")
    if target is None or target == name:
        if same_length:
            return with_computed_values(cube, dtype)
        new = Dimension(dim.name, dim.type, axis=dim.axis, labels=labels)
        dims = [new if d.name == name else d for d in cube.dimensions]
        out = with_computed_values(with_dimensions(cube, dims), dtype)
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
    return with_computed_values(with_dimensions(cube, dims), dtype)


@rule("apply_kernel")
def _apply_kernel(ctx: RuleContext) -> Type:
    """Same dimensions; a weighted sum over x/y (KernelDimensionsUneven)."""
    cube = cube_argument(ctx)
    kernel = literal_list(ctx, "kernel")
    if kernel is not None:
        rows = [len(r) for r in kernel if isinstance(r, list)]
        ctx.within_budget(sum(rows), "max_kernel_cells", "kernel cells", "kernel")
        if len(kernel) % 2 == 0 or any(n % 2 == 0 for n in rows):
            shape = f"{len(kernel)} x {rows[0] if rows else 0}"
            ctx.error(
                "KernelDimensionsUneven",
                f"Each level of the kernel must have an uneven number of elements; it is {shape}.",
                "kernel",
            )
    return with_computed_values(cube, math_dtype(cube.dtype))


@rule("apply_neighborhood")
def _apply_neighborhood(ctx: RuleContext) -> Type:
    """Same dimensions; the callback sees windows and may not change the cube's shape."""
    cube = cube_argument(ctx)
    window = cube
    sizes = {}
    for argument in ("size", "overlap"):
        for entry in literal_list(ctx, argument) or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("dimension"), str):
                continue
            ctx.dimension(cube, entry["dimension"], argument)
            sizes.setdefault(entry["dimension"], {})[argument] = entry
    if not cube.unknown_dimensions:
        window = with_dimensions(cube, [_window(d, sizes.get(d.name)) for d in cube.dimensions])
    result = ctx.callback("process", {"data": window, "context": context_type(ctx)})
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
    return with_computed_values(cube, callback_dtype(cube.dtype, result))


def _window(dim: Dimension, size: dict | None) -> Dimension:
    """One neighbourhood of ``dim``: ``size`` pixels plus twice the overlap, where known."""
    if size is None:
        return dim
    step = dim.step if isinstance(dim.step, int | float) and dim.step > 0 else None
    if dim.type != "spatial" or step is None or dim.extent is None or dim.size is None:
        return sizeless_dimension(dim)
    value, overlap = (_pixels(size.get(k), step) for k in ("size", "overlap"))
    if not value:
        return sizeless_dimension(dim)
    count = min(value, dim.size) + 2 * (overlap or 0)
    return replace(dim, extent=(dim.extent[0], dim.extent[0] + count * step))


def _pixels(entry: Any, step: float) -> float | None:
    """A chunk size (``{"value": 64, "unit": "px"}`` or metres) in pixels."""
    if not isinstance(entry, dict):
        return None
    value = number_or_none(entry.get("value"))
    if value is None:
        return None
    return value / step if entry.get("unit") == "m" else value


@rule("apply_polygon")
def _apply_polygon(ctx: RuleContext) -> Type:
    """Same dimensions; the callback sees the pixels of one polygon at a time."""
    cube = cube_argument(ctx)
    cube_argument(ctx, "geometries")
    result = ctx.callback("process", {"data": cube, "context": context_type(ctx)})
    out = with_computed_values(cube, callback_dtype(cube.dtype, result))
    return with_replaced_values(ctx, out, "mask_value")


@rule("predict_curve")
def _predict_curve(ctx: RuleContext) -> Type:
    """Predicted values: ``dimension`` gets ``labels`` (unknown when not in ``parameters``)."""
    cube = ctx.cube("parameters")
    ctx.callback("function", {"x": ScalarType.of("number"), "parameters": ArrayType(NUMBER)})
    name = dimension_argument(ctx)
    labels = literal_labels(ctx, "labels")
    dim = cube.dimension(name) if name is not None else None
    if cube.unknown_dimensions or dim is None:
        return unknown_cube(cube, "float64")
    new = replace(dim, labels=tuple(labels) if labels is not None else dim.labels)
    if labels is not None and new.type == "spatial":
        new = replace(new, extent=None)
    return with_computed_values(cube.with_dimension(new), "float64")


# ---------------------------------------------------------------------------------------
# Aggregation


def _temporal_dimension(ctx: RuleContext, cube: CubeType) -> Dimension | None:
    """The temporal dimension named in ``dimension`` or the only one (TooManyDimensions)."""
    if cube.unknown_dimensions:
        return None
    name = dimension_argument(ctx)
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
            present_argument(ctx, "dimension"),
        )
    return temporal[0]


@rule("aggregate_temporal")
def _aggregate_temporal(ctx: RuleContext) -> Type:
    """The temporal dimension gets one label per interval: ``labels`` or interval starts."""
    cube = cube_argument(ctx, missing={"temporal": "DimensionNotAvailable"})
    dim = _temporal_dimension(ctx, cube)
    intervals = literal_list(ctx, "intervals")
    for interval in intervals or []:
        check_temporal_interval(ctx, interval, "intervals")
        times = [time_of_day(v) for v in interval] if isinstance(interval, list) else []
        if any(t is not None for t in times) and None in times and None not in interval:
            ctx.error(
                "ProcessParameterInvalid",
                f"The interval {echo(str(interval))} mixes a time of day with a date.",
                "intervals",
            )
    labels = literal_labels(ctx, "labels") if ctx.has("labels") else []
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
        if any(isinstance(i, list) and i and i[0] is None for i in intervals):
            ctx.error(
                "ProcessParameterInvalid",
                "An interval without a start has no default label; give the intervals 'labels'.",
                "intervals",
            )
        names = tuple(starts) if all(is_label_value(v) for v in starts) else None
    # the same instant written twice ('2020-01-01', '2020-01-01T00:00:00Z') is one label
    keys = [parse_instant(v) or v for v in names] if names is not None else []
    if len(set(keys)) != len(keys):
        ctx.error(
            "DistinctDimensionLabelsRequired",
            "The labels of the intervals are not distinct"
            + ("" if labels else " (interval starts); give distinct ones in 'labels'")
            + ".",
            "labels" if labels else "intervals",
        )
    data = ArrayType(cube_value_type(cube), labeled=True)
    dtype = _reducer_dtype(ctx, cube, data)
    if dim is None:
        return unknown_cube(cube, dtype)
    new = replace(dim, labels=names, extent=None, step=None)
    return with_computed_values(cube.with_dimension(new), dtype)


@rule("aggregate_temporal_period")
def _aggregate_temporal_period(ctx: RuleContext) -> Type:
    """The temporal dimension (its name, type and place kept) gets one label per period,
    from the first date's period to the last's (:func:`pgc.periods.periods_between`, as
    the reference computes them; unknown when the dates are)."""
    cube = cube_argument(ctx, missing={"temporal": "DimensionNotAvailable"})
    dim = _temporal_dimension(ctx, cube)
    dated(ctx, dim)
    data = ArrayType(cube_value_type(cube), labeled=True)
    dtype = _reducer_dtype(ctx, cube, data)
    if dim is None:
        return unknown_cube(cube, dtype)
    period = literal_str(ctx, "period")
    labels: tuple[Label, ...] | None = None
    if dim.labels is not None and period in PERIODS:
        moments = [parse_instant(v) for v in dim.labels]
        labels = tuple(periods_between(min(moments), max(moments), period)) if moments else ()
    new = replace(dim, labels=labels, extent=None, step=None)
    return with_computed_values(cube.with_dimension(new), dtype)


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
    cube = cube_argument(ctx, missing={"temporal": "ProcessParameterInvalid"})
    dim = _one_temporal(ctx, cube, "data")
    years = (
        literal_list(ctx, "climatology_period") if ctx.has("climatology_period") else [1981, 2010]
    )
    if years and len(years) == 2 and all(isinstance(y, int) for y in years) and years[0] > years[1]:
        ctx.error(
            "ProcessParameterInvalid",
            f"The climatology period's first year {years[0]} is after its last {years[1]}.",
            "climatology_period",
        )
    not_dates = [v for v in dim.labels or () if parse_instant(v) is None] if dim is not None else []
    if not_dates:  # period labels ('2023-djf'): the normals average dates, by their period
        ctx.error(
            "ProcessParameterInvalid",
            f"The data's temporal labels must be dates; it has {echo(not_dates[0])} (labels "
            "of aggregate_temporal_period's periods, say: give climatological_normal the dates).",
            "data",
        )
        return unknown_cube(cube, math_dtype(cube.dtype))
    if dim is not None and dim.labels and years and len(years) == 2:
        have = sorted({str(v)[:4] for v in dim.labels if parse_instant(v) is not None})
        lo, hi = str(years[0]), str(years[1])
        if have and not any(lo <= y <= hi for y in have):
            # Decided: the definition wants the data to span the period; pgc rejects only
            # data with no label in it (nothing to average), partial spans pass.
            ctx.error(
                "NoDataAvailable",
                f"The data has no labels in the climatology period {lo}-{hi}; it covers "
                f"{have[0]}-{have[-1]}.",
                present_argument(ctx, "climatology_period") or "data",
            )
    if dim is None:
        return unknown_cube(cube, math_dtype(cube.dtype))
    period = literal_str(ctx, "period")
    labels: tuple[Label, ...] | None = CLIMATOLOGICAL_NORMALS.get(period or "")
    new = replace(dim, labels=labels, extent=None, step=None)
    return with_computed_values(cube.with_dimension(new), math_dtype(cube.dtype))


@rule("anomaly")
def _anomaly(ctx: RuleContext) -> Type:
    """Same dimensions as ``data``; normals and data must carry the period's labels."""
    cube = cube_argument(ctx, missing={"temporal": "ProcessParameterInvalid"})
    normals = cube_argument(ctx, "normals", missing={"temporal": "ProcessParameterInvalid"})
    period = literal_str(ctx, "period")
    dim = _one_temporal(ctx, cube, "data")
    ndim = _one_temporal(ctx, normals, "normals")
    if ndim is not None and ndim.labels is not None and period is not None:
        allowed = NORMAL_LABELS.get(period)
        bad = [v for v in ndim.labels if allowed is not None and v not in allowed]
        if period in ("single-period", "climatology-period") and len(ndim.labels) != 1:
            bad = list(ndim.labels)
        if period in ("year", "decade", "decade-ad"):  # YYYY, YYY0, YYY1
            bad = [v for v in ndim.labels if not re.fullmatch(PERIOD_PATTERNS[period], str(v))]
        if bad:
            ctx.error(
                "ProcessParameterInvalid",
                f"The normals do not have the labels of period {echo(period)}: "
                f"{', '.join(str(v) for v in bad[:5])}.",
                "normals",
            )
    pattern = PERIOD_PATTERNS.get(period or "")
    if dim is not None and dim.labels is not None and pattern is not None:
        bad = [v for v in dim.labels if not re.fullmatch(pattern, str(v))]
        if bad:
            ctx.error(
                "ProcessParameterInvalid",
                f"The data's temporal labels must be those of period {echo(period)} "
                f"(aggregate_temporal_period computes them); it has {echo(str(bad[0]))}.",
                "data",
            )
    return with_computed_values(cube, math_dtype(promoted_dtype(cube.dtype, normals.dtype)))


@rule("aggregate_spatial")
def _aggregate_spatial(ctx: RuleContext) -> Type:
    """A vector cube: x and y replaced by the geometries' dimension (one label each)."""
    cube = cube_argument(ctx)
    geometry = geometry_dimension_of(ctx, "geometries")
    data = ArrayType(cube_value_type(cube))
    dtype = _reducer_dtype(ctx, cube, data)
    if cube.unknown_dimensions:
        return unknown_cube(cube, dtype, vector=True)
    planar = [d.type == "spatial" and d.axis in ("x", "y") for d in cube.dimensions]
    at = planar.index(True) if True in planar else len(planar)
    dims = [d for d, p in zip(cube.dimensions, planar, strict=True) if not p]
    dims.insert(at, geometry)
    target = literal_str(ctx, "target_dimension")
    if target is not None:
        if any(d.name == target for d in dims):
            ctx.error(
                "TargetDimensionExists",
                f"The result has a dimension {echo(target)} already; it has "
                f"{', '.join(d.name for d in dims)}.",
                "target_dimension",
            )
        dims.append(Dimension(target, "other", labels=("value", "total_count", "valid_count")))
    cube = replace(cube, geometry_bytes=geometry_bytes_of(ctx, "geometries"))
    return with_computed_values(with_dimensions(cube, dims), dtype)


@rule("aggregate_spatial_window")
def _aggregate_spatial_window(ctx: RuleContext) -> Type:
    """x/y in windows of ``size`` pixels: step times size, pixels per window size (pad/trim)."""
    cube = cube_argument(ctx)
    data = ArrayType(cube_value_type(cube))
    dtype = _reducer_dtype(ctx, cube, data)
    size = literal_list(ctx, "size")
    if cube.unknown_dimensions:
        return unknown_cube(cube, dtype)
    trim = ctx.literal("boundary", "pad") == "trim"
    align = ctx.literal("align", "upper-left")
    align = align if isinstance(align, str) else "upper-left"
    for axis, factor in zip(("x", "y"), size if isinstance(size, list) else [], strict=False):
        f = number_or_none(factor)
        for dim in cube.of_type("spatial", axis):
            cube = cube.with_dimension(_coarser(dim, f, trim, align))
    return with_computed_values(cube, dtype)


def _coarser(dim: Dimension, factor: float | None, trim: bool, align: str) -> Dimension:
    step = dim.step if isinstance(dim.step, int | float) and dim.step > 0 else None
    if factor is None or factor < 1 or step is None:
        return sizeless_dimension(dim)
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
