"""Which filters commute with which processes: the table push-filters consults.

A filter selects labels of some dimensions: ``filter_bbox`` and ``filter_spatial`` the
spatial ones, ``filter_temporal`` (and ``filter_labels`` on a temporal dimension) the
temporal one, ``filter_bands`` the bands. A process ``P`` *commutes* with a filter ``F``
through its cube argument ``a`` when ``F(P(a=c)) == P(a=F(c))`` for every cube ``c``. Each
entry of :data:`FILTER_LAWS` says through which arguments a filter of a kind may move, and
why (the law); a process without an entry stops every filter.

Kinds: ``bbox``, ``spatial``, ``temporal``, ``labels`` (filter_labels on a temporal
dimension), ``bands``. ``filter_spatial`` moves like ``bbox`` except where noted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..ir.nodes import Node
from ..ir.types import CubeType

SPATIAL_KINDS = ("bbox", "spatial")
TIME_KINDS = ("temporal", "labels")


@dataclass(frozen=True)
class Move:
    """Where a filter may go below a process: the process's cube arguments to filter, and
    whether it moves exactly or only with a margin (``margin_pixels``: the filter below
    takes a box enlarged by so many pixels, the filter above stays)."""

    arguments: tuple[str, ...]
    margin_pixels: tuple[int, int] | None = None  # (x, y)


Rule = Callable[[Node, str, frozenset[str]], Move | None]


def _elementwise(node: Node, kind: str, dims: frozenset[str]) -> Move | None:
    """``apply``: the callback sees one value at a time, so
    ``F(apply(c, f)) == apply(F(c), f)`` for every filter."""
    return Move(("data",))


def _over_dimension(node: Node, kind: str, dims: frozenset[str]) -> Move | None:
    """``reduce_dimension`` / ``apply_dimension`` over ``d``: the callback sees the values
    along ``d`` of one pixel, so a filter of the other dimensions commutes; a filter of
    ``d`` changes what the callback sees. ``apply_dimension`` with a target dimension
    renames the dimension: nothing moves."""
    if node.literal("dimension") in dims or node.literal("target_dimension") is not None:
        return None
    return Move(("data",))


def _per_period(node: Node, kind: str, dims: frozenset[str]) -> Move | None:
    """``aggregate_temporal(_period)``: each output value reduces one pixel's values over a
    period of dates, so spatial and band filters commute; temporal ones do not."""
    return None if kind in TIME_KINDS else Move(("data",))


def _ndvi(node: Node, kind: str, dims: frozenset[str]) -> Move | None:
    """``ndvi``: computed per pixel and date from two bands, so spatial and temporal
    filters commute; a band filter does not (ndvi reads bands the filter may drop)."""
    return None if kind == "bands" else Move(("data",))


def _kernel(node: Node, kind: str, dims: frozenset[str]) -> Move | None:
    """``apply_kernel`` works on each (x, y) slice: temporal and band filters commute. A
    spatial box commutes only with a margin: the pixels in the box need their neighbours
    up to half the kernel away, so the box enlarged by that margin is loaded and the box
    itself cropped after the kernel (an inexact pushdown). ``filter_spatial`` masks pixels,
    which would change the kernel's neighbours: it does not move."""
    if kind == "spatial":
        return None
    if kind != "bbox":
        return Move(("data",))
    kernel = node.literal("kernel")
    if not isinstance(kernel, list) or not kernel or not isinstance(kernel[0], list):
        return None
    return Move(("data",), margin_pixels=(len(kernel[0]) // 2, len(kernel) // 2))


def _mask(node: Node, kind: str, dims: frozenset[str]) -> Move | None:
    """``mask`` decides each pixel of ``data`` by the same pixel of ``mask``, so selecting
    labels before or after is the same, done on both cubes (a mask without the filtered
    dimension is left as it is). For ``filter_spatial``, which also sets pixels outside the
    geometries to no-data: outside, the filtered mask is no-data ("keep") and the filtered
    data no-data, as in the filtered result."""
    return Move(("data", "mask"))


def _merge(node: Node, kind: str, dims: frozenset[str]) -> Move | None:
    """``merge_cubes``: the union of labels, the overlap resolved pixel by pixel. A box or
    a time range selects the same labels from the union as from each cube: both cubes
    are filtered. Band filters also reorder bands, which the merge's label order would
    not reproduce: they stay."""
    return Move(("cube1", "cube2")) if kind in ("bbox", "temporal") else None


def _rename_labels(node: Node, kind: str, dims: frozenset[str]) -> Move | None:
    """``rename_labels`` of one dimension commutes with filters of the others."""
    return None if node.literal("dimension") in dims else Move(("data",))


FILTER_LAWS: dict[str, Rule] = {
    "apply": _elementwise,
    "reduce_dimension": _over_dimension,
    "apply_dimension": _over_dimension,
    "aggregate_temporal": _per_period,
    "aggregate_temporal_period": _per_period,
    "ndvi": _ndvi,
    "apply_kernel": _kernel,
    "mask": _mask,
    "merge_cubes": _merge,
    "rename_labels": _rename_labels,
}


# The filters push-filters moves, by kind (filter_bands only by band names, filter_labels
# only on a temporal dimension: filter_kind)
FILTER_KINDS = {
    "filter_bbox": "bbox",
    "filter_spatial": "spatial",
    "filter_temporal": "temporal",
    "filter_bands": "bands",
    "filter_labels": "labels",
}


def filter_kind(node: Node, input_type: object) -> str | None:
    """The kind of a filter node, or None when it is no filter push-filters moves."""
    kind = FILTER_KINDS.get(node.process_id)
    if kind == "bands" and node.arg("wavelengths") is not None:
        return None
    if kind == "labels":
        if not isinstance(input_type, CubeType):
            return None
        dim = input_type.dimension(str(node.literal("dimension")))
        return kind if dim is not None and dim.type == "temporal" else None
    return kind


def touched(node: Node, kind: str, input_type: object) -> frozenset[str] | None:
    """Names of the dimensions a filter selects labels of (None: not known)."""
    if not isinstance(input_type, CubeType) or input_type.unknown_dimensions:
        return None
    if kind in SPATIAL_KINDS:
        return frozenset(d.name for d in input_type.of_type("spatial"))
    if kind == "bands":
        return frozenset(d.name for d in input_type.of_type("bands"))
    named = node.literal("dimension")
    if named is not None:
        return frozenset([named])
    temporal = input_type.of_type("temporal")
    return frozenset([temporal[0].name]) if len(temporal) == 1 else None
