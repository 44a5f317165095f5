"""More reference implementations: capabilities pgc does not have, and the remaining
small cube and math processes."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import xarray as xr

from ..jsonvalue import merge_patch
from ..specs import load_specs
from .ref_scalar import _as_float, _num, elementwise
from .reference import Call, ProcessError, implements
from .values import Cube, CubeArray, in_chunks_of, zeroed

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
    """Remainder with the sign of the divisor; y = 0 gives ±inf or NaN (IEEE-like)."""

    def one(x, y):
        x, y = _num(x), _num(y)
        if y == 0:
            return math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x)
        if math.isinf(y):
            return x if (x >= 0) == (y > 0) or x == 0 else y
        result = math.fmod(x, y)
        if result != 0 and (result < 0) != (y < 0):
            result += y
        return int(result) if isinstance(x, int) and isinstance(y, int) else result

    def many(x, y):
        with np.errstate(all="ignore"):
            return xr.where(y == 0, xr.where(x == 0, np.nan, np.sign(x) * np.inf), np.mod(x, y))

    return elementwise(many, call.get("x"), call.get("y"), scalar_fn=one)


@implements("inspect")
def _inspect(call: Call) -> Any:
    data = call.get("data")
    level = str(call.get("level", "info")).upper()
    summary = data.data.sizes if isinstance(data, Cube) else data
    LOG.log(getattr(logging, level, logging.INFO), "%s: %r", call.get("message", ""), summary)
    return data


@implements("rename_dimension")
def _rename_dimension(call: Call) -> Cube:
    cube, source, target = call.get("data"), call.get("source"), call.get("target")
    if source not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{source}'.", "source")
    if target in cube.dims:
        call.fail("DimensionExists", f"The data cube has a dimension '{target}' already.", "target")
    from .ref_vector import renamed_dimension

    valid = cube.full_valid()
    data = cube.data.rename({source: target})
    data.attrs = renamed_dimension(cube.data.attrs, source, target)
    return Cube(data, valid.rename({source: target}))


@implements("trim_cube")
def _trim_cube(call: Call) -> Cube:
    """Drop labels whose values are all no-data: at the edges of ordered dimensions
    (spatial, temporal: a gap inside stays, the grid stays regular), anywhere in
    categorical ones (bands, other)."""
    cube = call.get("data")
    valid = cube.full_valid()
    keep = {}
    for dim in cube.dims:
        others = [d for d in cube.dims if d != dim]
        has = valid.any(dim=others).values if others else valid.values
        found = np.flatnonzero(has)
        ordered = dim in ("x", "y") or np.issubdtype(cube.data[dim].dtype, np.datetime64)
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
    from .ref_vector import _geometries, _in_cube_crs, _masks

    cube = call.get("data")
    geoms = _in_cube_crs(cube, _geometries(call.get("mask")))
    shape = (cube.data.sizes["y"], cube.data.sizes["x"])
    masks = _masks(cube, geoms) or [np.zeros(shape, dtype=bool)]  # no geometry: none inside
    inside = xr.DataArray(np.any(masks, axis=0), dims=("y", "x"))
    inside = in_chunks_of(inside, cube.data)
    hit = ~inside if not call.get("inside", False) else inside
    hit = xr.broadcast(hit, cube.data)[0].transpose(*cube.dims)
    valid = cube.full_valid()
    replacement = call.get("replacement")
    if replacement is None:
        return Cube(zeroed(cube.data, ~hit), valid & ~hit)
    data = xr.where(hit & valid, replacement, _as_float(cube.data))
    return Cube(data.transpose(*cube.dims), valid)


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
