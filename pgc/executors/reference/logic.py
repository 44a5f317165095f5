"""Reference implementations of logic and of the tests of a value, on plain values and on
every pixel of cubes: and, or, xor and not (``and``/``or`` three-valued: a false or a true
decides even against no-data), any and all over arrays, if, and is_nodata, is_nan,
is_infinite and is_valid (:func:`value_test`: a predicate that always has data).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from ...errors import echo
from ..values import Cube, in_compute_dtype, with_metadata
from .arguments import flag, invalid, is_number
from .arrays import elements_of
from .loop import Call, ProcessError
from .scalar import FLOAT, elementwise
from .table import implements


def _logic(known, default):
    """Three-valued ``and``/``or``: ``known`` decides alone even against no-data. ``x`` is
    looked at before ``y``, and ``y`` not at all once ``x`` decides (the definitions:
    "stops once the outcome is unambiguous"). Plain operands must be booleans or null."""

    def impl(call: Call) -> Any:
        x, y = call.get("x"), call.get("y")
        if not isinstance(x, Cube) and not isinstance(y, Cube):
            if _boolean(x, "x") is known:
                return known
            if _boolean(y, "y") is known:
                return known
            return None if x is None or y is None else default(x, y)
        cx, cy = (_lift_bool(v, name) for v, name in ((x, "x"), (y, "y")))
        decided = (cx.valid & (cx.data == known)) | (cy.valid & (cy.data == known))
        valid = (cx.valid & cy.valid) | decided
        data = xr.where(decided, known, default(cx.data.astype(bool), cy.data.astype(bool)))
        return Cube(with_metadata(data.where(valid, False), x, y), valid)

    return impl


def _boolean(v: Any, name: str) -> Any:
    """A plain operand of a logical process: a boolean or null (no-data); a number, text
    ... is not (``and(1, 2)`` gave 0)."""
    if v is None or isinstance(v, bool | np.bool_):
        return None if v is None else bool(v)
    raise invalid(name, "a boolean or null", v)


def _lift_bool(v: Any, name: str) -> Cube:
    if isinstance(v, Cube):
        return v
    data = xr.DataArray(bool(_boolean(v, name)))
    return Cube(data, xr.DataArray(v is not None))


implements("and")(_logic(False, lambda a, b: a & b))
implements("or")(_logic(True, lambda a, b: a | b))


@implements("xor")
def _xor(call: Call) -> Any:
    """Exactly one true; no-data in either gives no-data."""
    x, y = call.get("x"), call.get("y")
    for v, name in ((x, "x"), (y, "y")):
        if not isinstance(v, Cube):
            _boolean(v, name)
    return elementwise(np.logical_xor, x, y, scalar_fn=lambda a, b: bool(a) != bool(b))


@implements("not")
def _not(call: Call) -> Any:
    """The other boolean; no-data stays no-data."""
    x = call.get("x")
    if not isinstance(x, Cube):
        _boolean(x, "x")
    return elementwise(np.logical_not, x, scalar_fn=lambda a: not a)


@implements("if")
def _if(call: Call) -> Any:
    value, accept, reject = call.get("value"), call.get("accept"), call.get("reject")
    if not isinstance(value, Cube):
        return accept if value is True else reject
    parts = [_lift_value(v, value, name) for v, name in ((accept, "accept"), (reject, "reject"))]
    choose = value.valid & value.data.astype(bool)
    data = xr.where(choose, in_compute_dtype(parts[0].data), in_compute_dtype(parts[1].data))
    valid = xr.where(choose, parts[0].valid, parts[1].valid)
    return Cube(with_metadata(data.where(valid, 0), value, accept, reject), valid)


def _lift_value(v: Any, like: Cube, argument: str) -> Cube:
    """``v`` at every pixel of ``like``: a cube, no-data, or a number (a boolean as 0/1);
    a cube holds nothing else."""
    if isinstance(v, Cube):
        return v
    if not isinstance(v, int | float | np.number | type(None)):
        raise ProcessError(
            "ProcessParameterInvalid",
            f"'{argument}' must be a number, a boolean or null to be a pixel's value, "
            f"got {echo(v)}.",
            argument,
        )
    if v is None:
        return Cube(xr.zeros_like(like.data, dtype=FLOAT), xr.zeros_like(like.valid))
    return Cube(xr.full_like(like.data, v, dtype=FLOAT), xr.ones_like(like.valid))


@implements("is_nodata")
def _is_nodata(call: Call) -> Any:
    """Whether x is no-data (null); NaN is not (a cube declares its no-data). Always has
    data itself; over a cube, the cube's shape (its validity may be stored smaller)."""
    x = call.get("x")
    if isinstance(x, Cube):
        valid = x.full_valid()
        return Cube(~valid, xr.ones_like(valid))
    return x is None


def _nan_value(v: Any) -> bool:
    return isinstance(v, float | np.floating) and math.isnan(v)


def _valid_value(v: Any) -> bool:
    """is_valid of a plain value: not no-data, and finite if a number; arrays, objects,
    text and booleans are valid whatever they hold."""
    number = isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
    return v is not None and not (number and not math.isfinite(v))


def value_test(cube: Cube, numeric, plain) -> Cube:
    """A predicate over every pixel of ``cube`` that always has data: false where the cube
    has none, else ``numeric`` of the numbers of a numeric cube or ``plain`` of each value
    of another (booleans, text, a vector cube's objects)."""
    valid = cube.full_valid()
    if cube.data.dtype.kind in "iuf":
        with np.errstate(all="ignore"):
            hit = numeric(in_compute_dtype(cube.data))
    else:
        tested = np.frompyfunc(plain, 1, 1)(cube.data.values).astype(bool)
        hit = cube.data.copy(data=tested)
    return Cube((hit & valid).transpose(*cube.data.dims), xr.ones_like(valid))


@implements("is_nan")
def _is_nan(call: Call) -> Any:
    """Whether x is NaN; anything else (no-data, text, arrays ...) is not."""
    x = call.get("x")
    if isinstance(x, Cube):
        return value_test(x, np.isnan, _nan_value)
    return _nan_value(x)


@implements("is_valid")
def _is_valid(call: Call) -> Any:
    """Not no-data, and finite if a number (NaN and the infinities are not valid)."""
    x = call.get("x")
    if isinstance(x, Cube):
        return value_test(x, np.isfinite, _valid_value)
    return _valid_value(x)


@implements("is_infinite")
def _is_infinite(call: Call) -> Any:
    """Whether x is +inf or -inf; NaN, no-data and what is not a number are not."""
    x = call.get("x")
    if isinstance(x, Cube):
        return value_test(x, np.isinf, lambda v: is_number(v) and math.isinf(v))
    return is_number(x) and math.isinf(x)


@implements("any", "all")
def _any_all(call: Call) -> Any:
    """The definitions' truth tables: a true (any) or a false (all) decides; else, with
    ``ignore_nodata=false``, a no-data value makes the result no-data; else (also for an
    empty array or one of no-data only) false (any) or true (all)."""
    values = elements_of(call.get("data"))
    ignore = flag(call, "ignore_nodata", True)
    want_any = call.node.process_id == "any"
    for v in values:
        if v is not None and not isinstance(v, bool):  # 1 is not true (the schema)
            raise invalid("data", "an array of booleans and no-data", v)
    known = [v for v in values if v is not None]
    if not values or (ignore and not known):
        return not want_any  # any([]) is false, all([]) is true; ignored no-data is absent
    if want_any and any(v is True for v in known):
        return True
    if not want_any and any(v is False for v in known):
        return False
    if not ignore and len(known) != len(values):
        return None
    return not want_any
