"""Reference implementations of the comparisons, on plain values and on every pixel of
cubes: eq and neq (with ``delta`` for numbers and ``case_sensitive`` for text), lt, lte,
gt, gte and between. Types must match (``0`` is not ``false``, ``1`` is not ``"1"``),
``1 == 1.0``, NaN equals nothing and is in no order, and only numbers are ordered;
:func:`same_element` is this equality for the elements of arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..values import Cube
from .arguments import flag, invalid, is_number
from .loop import Call
from .scalar import elementwise, ieee_function, number_argument
from .table import implements

# comparison process id -> its numpy ufunc (the array processes compare with it too)
COMPARISONS = {
    "eq": np.equal,
    "neq": np.not_equal,
    "lt": np.less,
    "lte": np.less_equal,
    "gt": np.greater,
    "gte": np.greater_equal,
}


def _compare(pid: str):
    fn = COMPARISONS[pid]

    def impl(call: Call) -> Any:
        x, y = call.get("x"), call.get("y")
        delta, case_sensitive = _delta(call), flag(call, "case_sensitive", True)
        if not isinstance(x, Cube) and not isinstance(y, Cube):
            same = _equal(x, y, delta, case_sensitive)
            return same if same is None or pid == "eq" else not same
        if delta is not None and comparable_operands(x, y, ordered=False):
            return _equal_with_delta(call, pid)
        return compare_cube(fn, x, y, pid == "neq", ordered=False)

    return impl


def _delta(call: Call) -> Any:
    """eq/neq's ``delta``: null, or a number above 0 (the schema: minimumExclusive 0)."""
    delta = call.get("delta")
    if delta is not None and not (_is_plain_number(delta) and delta > 0):
        raise invalid("delta", "a number above 0 or null", delta)
    return delta


def _is_plain_number(v: Any) -> bool:
    """A number (also a numpy scalar) that is not a boolean."""
    return isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)


def _comparable(cube: Cube, value: Any, ordered: bool) -> bool:
    """Whether a cube's values compare with a plain ``value``: numbers with numbers, and
    for eq/neq booleans with booleans (the definitions: other types are never equal, and
    only numbers are ordered)."""
    kind = cube.data.dtype.kind
    if isinstance(value, bool | np.bool_):
        return not ordered and kind == "b"
    if isinstance(value, int | float | np.number):
        return kind in "iuf" or (kind == "O" and not ordered)
    return False


def _comparable_with(cube: Cube, other: Any, ordered: bool) -> bool:
    """Whether ``cube``'s values compare with ``other`` (a cube, no-data or a value): a
    cube of booleans and one of numbers are never equal (0 is not false), and booleans
    have no order."""
    if other is None:
        return True
    if not isinstance(other, Cube):
        return _comparable(cube, other, ordered)
    boolean = cube.data.dtype.kind == "b"
    return boolean == (other.data.dtype.kind == "b") and not (ordered and boolean)


def comparable_operands(x: Any, y: Any, ordered: bool) -> bool:
    """Whether the operands of a comparison with a cube compare at all (see
    :func:`compare_cube`), ordered (lt ...) or for equality (eq, neq)."""
    return all(
        not isinstance(c, Cube) or _comparable_with(c, o, ordered) for c, o in ((x, y), (y, x))
    )


def compare_cube(fn, x: Any, y: Any, mismatch: bool, ordered: bool) -> Cube:
    """``fn`` (a numpy comparison) over a cube and a value or two cubes; operands that do
    not compare (a string, an array, booleans with numbers, or booleans ordered) give
    ``mismatch`` at every pixel that has data."""
    if not comparable_operands(x, y, ordered):
        return elementwise(
            lambda *datas: xr.full_like(
                next(d for d in datas if isinstance(d, xr.DataArray)), mismatch, bool
            ),
            x,
            y,
        )
    return elementwise(fn, x, y)


def _equal(x: Any, y: Any, delta: Any, case_sensitive: bool) -> bool | None:
    """eq of two plain values: no-data gives no-data; types must match (``0`` is not
    ``false``, ``1`` is not ``"1"``), ``1 == 1.0``, NaN equals nothing; ``delta`` for
    numbers (the definition's ``lte(abs(minus([x, y])), delta)``: inf is not within any
    delta of inf), ``case_sensitive`` for strings (caseless: Unicode case folding, so "Ä"
    is "ä" and "Straße" is "STRASSE")."""
    if x is None or y is None:
        return None
    if isinstance(x, bool | np.bool_) or isinstance(y, bool | np.bool_):
        return isinstance(x, bool | np.bool_) and isinstance(y, bool | np.bool_) and x == y
    if _is_plain_number(x) and _is_plain_number(y):
        return bool(ieee_function(lambda a, b: np.abs(a - b))(x, y) <= delta) if delta else x == y
    if isinstance(x, str) and isinstance(y, str):
        return x == y if case_sensitive else x.casefold() == y.casefold()
    return False


def _equal_with_delta(call: Call, pid: str) -> Any:
    delta = call.get("delta")
    result = elementwise(lambda a, b: np.abs(a - b) <= delta, call.get("x"), call.get("y"))
    if pid == "neq":
        return elementwise(np.logical_not, result)
    return result


for _pid in ("eq", "neq"):  # lt/lte/gt/gte: below (not-a-number rules)
    implements(_pid)(_compare(_pid))


def same_element(a: Any, b: Any) -> bool:
    """openEO equality of elements: strict types, 1 == 1.0, NaN never equal; arrays and
    objects are not comparable."""
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    if is_number(a) and is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def _ordered(op):
    """lt, lte, gt, gte: numbers by IEEE 754 (NaN is in no order); any operand that is not
    a number gives false, except that gte and lte are true for equal operands (their
    definitions: "If the operands are not equal (see process eq()) and any of them is not
    the data type number, the process returns false"): gte("a", "a") is true."""

    def impl(call: Call) -> Any:
        x, y = call.get("x"), call.get("y")
        pid = call.node.process_id
        or_equal = pid in ("gte", "lte")
        if isinstance(x, Cube) or isinstance(y, Cube):
            if or_equal and not comparable_operands(x, y, ordered=True):
                return compare_cube(np.equal, x, y, False, ordered=False)  # eq, then
            return compare_cube(COMPARISONS[pid], x, y, False, ordered=True)
        if x is None or y is None:
            return None
        if not is_number(x) or not is_number(y):
            return or_equal and same_element(x, y)  # the definition: not numbers -> false
        return bool(op(x, y))

    return impl


for _pid, _op in {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}.items():
    implements(_pid)(_ordered(_op))


@implements("between")
def _between(call: Call) -> Any:
    """and(gte(x, min), lte(x, max)), or lt(x, max) with ``exclude_max``: no-data gives
    no-data, a value that is not a number false, swapped bounds (min > max) false; on a
    cube for every pixel. ``min`` and ``max`` must be numbers (the schema)."""
    x, lo, hi = call.get("x"), number_argument(call, "min"), number_argument(call, "max")
    exclude_max = flag(call, "exclude_max", False)

    def inside(v: Any) -> Any:
        return (v >= lo) & ((v < hi) if exclude_max else (v <= hi))

    if not isinstance(x, Cube):
        return None if x is None else bool(is_number(x) and inside(x))
    kind = x.data.dtype.kind
    if kind in "iuf":
        return elementwise(inside, x)
    # booleans, text, objects: false wherever they are not numbers
    test = np.frompyfunc(lambda v: is_number(v) and bool(inside(v)), 1, 1)
    valid = x.full_valid()
    data = xr.DataArray(test(x.data.values).astype(bool), dims=x.data.dims, coords=x.data.coords)
    return Cube(data & valid, valid)
