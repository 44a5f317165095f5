"""Type rules, one per process id: how each process maps argument types to its result type.

:data:`RULES` maps every process id in ``specs/`` to a rule (a function of a
:class:`~pgc.ir.infer.RuleContext`). Rules state the process's effect on a cube's
dimensions, labels, extents, dtype and bands, following the process definitions, and raise
the definition's exceptions (``DimensionNotAvailable``, ``BandExists`` ...) when the types
already show the problem. Scalar and array processes get their result type from the
definition's return schema unless a rule knows better.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import echo
from .infer import UNKNOWN_CUBE, RuleContext, type_from_schema
from .types import (
    ANY,
    ArrayType,
    CubeType,
    Dimension,
    ObjectType,
    ScalarType,
    Type,
)

RULES: dict[str, Any] = {}


def rule(*process_ids: str):
    def register(fn):
        for pid in process_ids:
            RULES[pid] = fn
        return fn

    return register


def from_returns(ctx: RuleContext) -> Type:
    spec = ctx.env.specs.get(ctx.node.process_id)
    return type_from_schema(spec.returns) if spec is not None else ANY


# ---------------------------------------------------------------------------------------
# Loading


@rule("load_collection")
def _load_collection(ctx: RuleContext) -> Type:
    cid = ctx.literal("id")
    catalog = ctx.env.catalog
    if cid is None or catalog is None:
        return UNKNOWN_CUBE
    if cid not in catalog:
        ids = ", ".join(catalog.ids()[:10])
        ctx.error(
            "CollectionNotFound", f"Collection {echo(cid)} does not exist; available: {ids}.", "id"
        )
    cube = catalog.cube_type(cid)
    cube = _narrow_spatial(ctx, cube, ctx.literal("spatial_extent"), "spatial_extent")
    cube = _narrow_temporal(ctx, cube, ctx.literal("temporal_extent"), "temporal_extent")
    bands = ctx.literal("bands")
    if isinstance(bands, list):
        cube = _select_bands(ctx, cube, bands, "bands")
    return cube


def _narrow_spatial(ctx: RuleContext, cube: CubeType, extent: Any, argument: str) -> CubeType:
    """Restrict x/y to a bounding box given in the cube's CRS (other CRSs: unchanged size)."""
    if not isinstance(extent, dict) or not {"west", "south", "east", "north"} <= set(extent):
        return cube
    crs = str(extent.get("crs", 4326))
    for axis, lo_key, hi_key in (("x", "west", "east"), ("y", "south", "north")):
        for dim in cube.of_type("spatial", axis):
            if dim.crs is None or dim.crs != crs.replace("EPSG:", "") or dim.extent is None:
                continue
            lo, hi = max(dim.extent[0], extent[lo_key]), min(dim.extent[1], extent[hi_key])
            if lo >= hi:
                ctx.error(
                    "NoDataAvailable",
                    f"The {argument} does not overlap the data ({axis} {dim.extent}).",
                    argument,
                )
            cube = cube.with_dimension(replace(dim, extent=_snap(dim, lo, hi)))
    return cube


def _snap(dim: Dimension, lo: float, hi: float) -> tuple[float, float]:
    """Pixel edges of the pixels whose centres lie inside [lo, hi] (openEO: centre rule)."""
    step = dim.step if isinstance(dim.step, int | float) and dim.step > 0 else None
    if step is None or dim.extent is None:
        return (lo, hi)
    origin = dim.extent[0]
    first = origin + step * max(0, round((lo - origin) / step))
    last = origin + step * round((hi - origin) / step)
    return (first, max(first, last))


def _narrow_temporal(ctx: RuleContext, cube: CubeType, extent: Any, argument: str) -> CubeType:
    if not isinstance(extent, list) or len(extent) != 2:
        return cube
    start, end = extent
    for dim in cube.of_type("temporal"):
        if dim.labels is None:
            continue
        kept = tuple(t for t in dim.labels if _in_interval(str(t), start, end))
        cube = cube.with_dimension(replace(dim, labels=kept))
    return cube


def _in_interval(label: str, start: Any, end: Any) -> bool:
    """Left-closed interval on ISO 8601 strings (dates compare as midnight UTC)."""
    if start is not None and label < _instant(start):
        return False
    return not (end is not None and label >= _instant(end))


def _instant(value: str) -> str:
    return value + "T00:00:00Z" if len(value) == 10 else value


def _select_bands(ctx: RuleContext, cube: CubeType, names: list, argument: str) -> CubeType:
    bands_dims = cube.of_type("bands")
    if not bands_dims or cube.unknown_dimensions:
        return cube
    dim = bands_dims[0]
    known = list(dim.labels or ())
    by_common = {b.common_name: b.name for b in cube.bands if b.common_name}
    chosen = []
    for name in names:
        if name in known:
            chosen.append(name)
        elif name in by_common:
            chosen.append(by_common[name])
        elif dim.labels is not None:
            ctx.error(
                "LabelNotAvailable" if argument != "bands" else "ProcessParameterInvalid",
                f"The data cube has no band {echo(name)}; it has " + ", ".join(known) + ".",
                argument,
            )
    band_meta = tuple(b for name in chosen for b in cube.bands if b.name == name)
    cube = cube.with_dimension(replace(dim, labels=tuple(chosen)))
    return replace(cube, bands=band_meta)


# ---------------------------------------------------------------------------------------
# Filters


@rule("filter_bbox")
def _filter_bbox(ctx: RuleContext) -> Type:
    return _narrow_spatial(ctx, ctx.cube(), ctx.literal("extent"), "extent")


@rule("filter_temporal")
def _filter_temporal(ctx: RuleContext) -> Type:
    cube = ctx.cube()
    name = ctx.literal("dimension")
    if name is not None:
        dim = ctx.dimension(cube, name)
        if dim is not None and dim.type != "temporal":
            ctx.error(
                "DimensionNotAvailable", f"Dimension {echo(name)} is not temporal.", "dimension"
            )
    return _narrow_temporal(ctx, cube, ctx.literal("extent"), "extent")


@rule("filter_bands")
def _filter_bands(ctx: RuleContext) -> Type:
    cube = ctx.cube()
    if not cube.unknown_dimensions and not cube.of_type("bands"):
        ctx.error("DimensionMissing", "The data cube has no bands dimension.", "data")
    bands = ctx.literal("bands")
    return _select_bands(ctx, cube, bands, "bands") if isinstance(bands, list) else cube


# ---------------------------------------------------------------------------------------
# Reducing and applying


@rule("reduce_dimension")
def _reduce_dimension(ctx: RuleContext) -> Type:
    cube = ctx.cube()
    name = ctx.literal("dimension")
    dim = ctx.dimension(cube, name) if isinstance(name, str) else None
    item = ScalarType.of("number", "null")
    data = ArrayType(
        item,
        labeled=True,
        labels=dim.labels if dim else None,
        dimension=name if isinstance(name, str) else None,
    )
    ctx.callback("reducer", {"data": data, "context": ctx.type("context") or ANY})
    if cube.unknown_dimensions or dim is None:
        return cube
    return cube.without(name).with_dtype(_float(cube.dtype))


@rule("apply")
def _apply(ctx: RuleContext) -> Type:
    cube = ctx.cube()
    ctx.callback(
        "process", {"x": ScalarType.of("number", "null"), "context": ctx.type("context") or ANY}
    )
    return cube.with_dtype(_float(cube.dtype))


@rule("ndvi")
def _ndvi(ctx: RuleContext) -> Type:
    cube = ctx.cube()
    if cube.unknown_dimensions:
        return cube
    bands = cube.of_type("bands")
    if not bands:
        ctx.error("DimensionAmbiguous", "The data cube has no bands dimension.", "data")
    dim = bands[0]
    for arg, common in (("nir", "nir"), ("red", "red")):
        name = ctx.literal(arg, common)
        if (
            dim.labels is not None
            and name not in dim.labels
            and not any(b.common_name == name for b in cube.bands)
        ):
            code = "NirBandAmbiguous" if arg == "nir" else "RedBandAmbiguous"
            ctx.error(code, f"The data cube has no band named or common-named {echo(name)}.", arg)
    target = ctx.literal("target_band")
    if target is None:
        return cube.without(dim.name).with_dtype(_float(cube.dtype))
    if dim.labels is not None and target in dim.labels:
        ctx.error("BandExists", f"The data cube has a band {echo(target)} already.", "target_band")
    labels = None if dim.labels is None else (*dim.labels, target)
    cube = cube.with_dimension(replace(dim, labels=labels))
    return replace(cube, dtype=_float(cube.dtype))


@rule("save_result")
def _save_result(ctx: RuleContext) -> Type:
    ctx.cube()
    return ObjectType("stac")


def _float(dtype: str) -> str:
    """The dtype of band math on ``dtype`` values: float64 (the reference's policy)."""
    return dtype if dtype in ("float32", "float64") else "float64"


def scalar_rule(ctx: RuleContext) -> Type:
    return from_returns(ctx)


__all__ = ["RULES", "rule", "from_returns", "CubeType"]
