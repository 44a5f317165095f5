"""More reference implementations: capabilities pgc does not have, and the remaining
small cube and math processes."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import xarray as xr

from ...jsonvalue import merge_patch
from ...numerics import bounded_int
from ...specs import load_specs
from ..values import (
    Cube,
    CubeArray,
    dimension_type,
    in_chunks_of,
    with_dimension_types,
)
from .arguments import cube_argument
from .loop import Call, ProcessError
from .scalar import elementwise, number_operand
from .table import implements

LOG = logging.getLogger("pgc.inspect")

_CAPABILITY = {
    "external-service": (
        "ProcessUnsupported",
        "needs an outside service ({what}) that pgc "
        "does not provide; run it on a back-end that offers it",
    ),
    "udf": (
        "FeatureUnsupported",
        "runs user code, which is switched off; the embedding application can enable Python UDFs",
    ),
    "workspace": ("ProcessUnsupported", "needs a user workspace, which pgc does not have"),
    "resolver": (
        "FeatureUnsupported",
        "needs network access, which pgc does not do; the "
        "embedding application provides it through a resolver",
    ),
}


def _capability_error(call: Call) -> Any:
    spec = load_specs().get(call.node.process_id)
    need = spec.traits.get("requires") if spec else None
    code, text = _CAPABILITY.get(need, ("ProcessUnsupported", "is not available"))
    what = ", ".join(spec.categories) if spec else need
    raise ProcessError(code, f"'{call.node.process_id}' " + text.format(what=what) + ".")


for _pid, _spec in load_specs().processes.items():
    # run_udf (ref_udf) and load_url (ref_files) work when the application enables them
    if _spec.traits.get("requires") in _CAPABILITY and _pid not in ("run_udf", "load_url"):
        implements(_pid)(_capability_error)


@implements("mod")
def _mod(call: Call) -> Any:
    """The remainder of x / y with the sign of the divisor (floored modulo: -27 mod 5 is 3,
    3.14 mod -2 is -0.86, a zero remainder is +0 or -0 as y), for plain numbers and cubes
    alike. y = 0 gives what the definition lists: +inf for x > 0, -inf for x < 0, NaN for
    x = 0 (and NaN for NaN). Infinities as IEEE 754 treats them, as limits: an infinite x
    has no remainder (NaN), x mod ±inf is x where x has the divisor's sign or is zero, and
    ±inf where it has the other sign (-5 mod y is y - 5 for every y > 5). NaN gives NaN.
    Integers stay exact integers (Python's % also floors)."""

    def one(x, y):
        x, y = number_operand(x), number_operand(y)
        if y == 0:
            return _by_zero(float(bounded_int(x)))
        if isinstance(x, int) and isinstance(y, int):
            return x % y  # exact: x and y fit 64 bits or are Python's exact integers
        return float(bounded_int(x)) % float(bounded_int(y))  # floored, as np.mod

    def many(x, y):
        with np.errstate(all="ignore"):
            return xr.where(y == 0, x / abs(y), np.mod(x, y))

    return elementwise(many, call.get("x"), call.get("y"), scalar_fn=one)


def _by_zero(x: float) -> float:
    """mod(x, 0) as the definition lists it: the sign of x as an infinity, NaN for 0."""
    return math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x)


@implements("inspect")
def _inspect(call: Call) -> Any:
    data = call.get("data")
    level = str(call.get("level", "info")).upper()
    summary = data.data.sizes if isinstance(data, Cube) else data
    LOG.log(getattr(logging, level, logging.INFO), "%s: %r", call.get("message", ""), summary)
    return data


@implements("rename_dimension")
def _rename_dimension(call: Call) -> Cube:
    """Dimension ``source`` called ``target``, in its place, with its labels and its type:
    the type is said on the renamed labels (:func:`with_dimension_types`), since the
    fallback by name would make a renamed ``bands`` "other" and a dimension renamed to
    ``x`` spatial. ``target`` naming any dimension of the cube, ``source`` included, is
    DimensionExists (the definition: "if a dimension with the specified name exists")."""
    cube, source, target = cube_argument(call), call.get("source"), call.get("target")
    if source not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{source}'.", "source")
    if target in cube.dims:
        call.fail("DimensionExists", f"The data cube has a dimension '{target}' already.", "target")
    from .vector import renamed_dimension

    kind = dimension_type(cube, source)
    valid = cube.full_valid()
    data = cube.data.rename({source: target})
    data.attrs = renamed_dimension(cube.data.attrs, source, target)
    return with_dimension_types(Cube(data, valid.rename({source: target})), {target: kind})


@implements("trim_cube")
def _trim_cube(call: Call) -> Cube:
    """Drop labels whose values are all no-data: at the edges of ordered dimensions
    (spatial, temporal, by their type: a gap inside stays, the grid stays regular),
    anywhere in categorical ones (bands, other, geometry: the definition's "irregular
    categorical")."""
    cube = cube_argument(call)
    valid = cube.full_valid()
    keep = {}
    for dim in cube.dims:
        others = [d for d in cube.dims if d != dim]
        has = valid.any(dim=others).values if others else valid.values
        found = np.flatnonzero(has)
        ordered = dimension_type(cube, dim) in ("spatial", "temporal")
        if ordered and found.size:
            found = np.arange(found[0], found[-1] + 1)
        keep[dim] = found
    return Cube(cube.data.isel(keep), valid.isel(keep))


@implements("reduce_spatial")
def _reduce_spatial(call: Call) -> Any:
    cube = call.get("data")
    valid = cube.full_valid()
    stacked = Cube(
        cube.data.stack(pixel=("y", "x")).drop_vars(["pixel", "x", "y"], errors="ignore"),
        valid.stack(pixel=("y", "x")).drop_vars(["pixel", "x", "y"], errors="ignore"),
    )
    return call.callback("reducer")(data=CubeArray(stacked, "pixel"), context=call.get("context"))


@implements("mask_polygon")
def _mask_polygon(call: Call) -> Cube:
    """The pixels whose centre intersects no polygon (``inside``: some polygon) replaced by
    ``replacement`` (null: no-data); no-data pixels stay no-data. ``mask`` must hold at least
    one (multi) polygon; empty geometries are ignored. The polygons are brought into the
    cube's CRS; a centre on a polygon's boundary intersects it."""
    from .combine import replace_where
    from .vector import features_of, geometry_masks, in_cube_crs, planar, polygon_list

    cube = call.get("data")
    x, y = planar(cube)
    polygons = polygon_list(features_of(call.get("mask"), "mask"), "mask")
    inside = np.any(geometry_masks(cube, in_cube_crs(cube, polygons)), axis=0)
    inside = in_chunks_of(xr.DataArray(inside, dims=(y, x)), cube.data)
    hit = inside if call.get("inside") is True else ~inside
    return replace_where(cube, hit, call.get("replacement"), keep_nodata=True)


@implements("create_data_cube")
def _create_data_cube(call: Call) -> Cube:
    """A cube without dimensions: its one cell holds no data until dimensions are added."""
    return Cube(xr.DataArray(np.zeros(())), xr.DataArray(np.zeros((), dtype=bool)))


@implements("stac_modify")
def _stac_modify(call: Call) -> dict:
    """``changes`` merged into the STAC resource as an RFC 7386 JSON Merge Patch: objects
    merge key by key, ``null`` removes a key, anything else replaces. The input is not
    changed (values are shared, so each call gets fresh containers)."""
    data, changes = call.get("data"), call.get("changes")
    if not isinstance(data, dict):
        call.fail("ProcessParameterInvalid", "'data' must be a STAC object.", "data")
    return merge_patch(data, changes)
