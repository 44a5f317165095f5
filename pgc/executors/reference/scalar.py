"""Reference implementations of scalar and array processes.

Each works on plain values (numbers, booleans, ``None`` for no-data, lists) and on cubes
(:class:`Cube`: every pixel at once) and, for array processes, on
:class:`CubeArray` (the array along one cube dimension, for every pixel at once).

Semantics from the definitions: arithmetic with a no-data operand gives no-data; NaN is a
value; ``and``/``or`` are three-valued; division by zero follows IEEE 754 (±inf, NaN);
reducers skip no-data unless ``ignore_nodata`` is false, then any no-data gives no-data.
Integer cube values are promoted to float64 before arithmetic.
"""

from __future__ import annotations

import math
from functools import reduce
from math import isfinite
from typing import Any

import numpy as np
import xarray as xr

from ...dtypes import compute_dtype
from ...errors import echo
from ...ir.band_filter import band_by_common_name
from ...numerics import bounded_int, rounded
from ..pixels import PixelLoop
from ..values import (
    Cube,
    CubeArray,
    LabeledArray,
    in_compute_dtype,
    with_metadata,
    without,
    zeroed,
)
from .arguments import (
    array_values,
    flag,
    integer,
    invalid,
    is_number,
    label_key,
    numbers_only,
)
from .loop import Call, Closure, ProcessError
from .table import implements

FLOAT = "float64"


def _numeric(cube: Cube) -> xr.DataArray:
    """The values of a cube that holds Python objects (a vector cube's properties, None for
    no-data) as numbers: no-data as 0; a value that is not a number is the user's error."""
    valid = cube.full_valid().values
    values = cube.data.values
    out = np.zeros(values.shape, dtype=compute_dtype())
    for index in zip(*np.nonzero(valid), strict=True):
        value = values[index]
        if not isinstance(value, int | float | np.number | bool | np.bool_):
            raise ProcessError(
                "ProcessParameterInvalid",
                f"The data cube holds values that are not numbers, e.g. {echo(value)}.",
            )
        out[index] = value
    return cube.data.copy(data=out)


def numbers(cube: Cube) -> xr.DataArray:
    """A cube's values for arithmetic: in the compute dtype; a cube of Python objects (a
    vector cube's) as numbers (:func:`_numeric`)."""
    return in_compute_dtype(cube.data if cube.data.dtype.kind in "iubfc" else _numeric(cube))


def elementwise(fn, *args: Any, scalar_fn=None) -> Any:
    """Apply ``fn`` to numbers or cubes; no-data in any operand gives no-data."""
    if not any(isinstance(a, Cube) for a in args):
        if any(a is None for a in args):
            return None
        return (scalar_fn or fn)(*args)
    datas, valids = [], []
    for a in args:
        if isinstance(a, Cube):
            datas.append(numbers(a))
            valids.append(a.valid)
        elif a is None:
            datas.append(0.0)
            valids.append(False)
        else:
            datas.append(a)
    with np.errstate(all="ignore"):
        data = fn(*datas)
    if not isinstance(data, xr.DataArray):  # e.g. a function of constants only
        data = xr.DataArray(data)
    valid = reduce(lambda a, b: a & b, valids) if valids else xr.ones_like(data, dtype=bool)
    valid = (
        xr.broadcast(valid, data)[0]
        if isinstance(valid, xr.DataArray)
        else (xr.full_like(data, bool(valid), dtype=bool))
    )
    return Cube(with_metadata(zeroed(data, valid), *args), valid)


def number_operand(x: Any) -> Any:
    """A plain number operand; anything else (a boolean, a string, an array ...) is not."""
    if isinstance(x, bool) or not isinstance(x, int | float | np.number):
        raise ProcessError("ProcessParameterInvalid", f"Expected a number, got {echo(x)}.")
    return x


def number_argument(call: Call, name: str, default: Any = None, integer: bool = False) -> Any:
    """A number argument as the definition's schema says (a callback's parameter or another
    node can give anything at run time: no-data, a string ...)."""
    value = call.get(name, default)
    number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    if integer and number and float(value).is_integer():
        return int(value)  # 2.0 is an integer in JSON
    if not number or integer:
        raise ProcessError(
            "ProcessParameterInvalid",
            f"'{name}' must be {'an integer' if integer else 'a number'}, got {echo(value)}.",
            name,
        )
    return value


def ieee_function(fn):
    """A scalar function with IEEE 754 results for Python numbers (no exceptions)."""

    def call(*xs):
        with np.errstate(all="ignore"):
            out = fn(*[np.float64(bounded_int(number_operand(x))) for x in xs])  # 10**400: inf
        return float(out)

    return call


def wide(fn):
    """``fn`` (a transcendental numpy function of cube values) computed in float64 and
    rounded to the compute dtype. Under the float32 policy numpy's own float32 functions
    and the C library's (which numba's kernels call) differ in the last bit for about one
    value in five, and one bit can decide a result: ln(exp(1)) is 1.0000001 in one and
    0.99999994 in the other, so arcosh of it is a number or NaN. Rounded float64 results
    agree but for a double rounding (about 1 in 2**29), and are the correctly rounded
    float32 results as often. The fused kernels compute the same way
    (:data:`pgc.kernels.expr.UNARY`)."""

    def call(*xs: Any) -> Any:
        dtype = compute_dtype()
        if dtype == "float64":
            return fn(*xs)
        widened = [
            x.astype("float64") if isinstance(x, xr.DataArray) and x.dtype == dtype else x
            for x in xs
        ]
        out = fn(*widened)
        return out.astype(dtype) if isinstance(out, xr.DataArray) else out

    return call


def _divide(x, y):
    if isinstance(x, int) and isinstance(y, int) and y != 0 and x % y == 0:
        return x // y
    return ieee_function(np.divide)(x, y)


def _exact(op):
    """``op`` of two plain numbers: exact for integers (a float past 64 bits), IEEE 754
    otherwise, with an integer past float64's range as the infinity it becomes (10**400
    + 1.5 raised OverflowError)."""

    def call(x: Any, y: Any) -> Any:
        x, y = number_operand(x), number_operand(y)
        if not (isinstance(x, int) and isinstance(y, int)):
            x, y = bounded_int(x), bounded_int(y)
        return bounded_int(op(x, y))

    return call


# The elementwise arithmetic and math the reference computes with numpy, by process id
# (each an elementwise scalar process in the traits: tests/test_processes_cli.py checks)
ELEMENTWISE_BINARY = {
    "add": (lambda x, y: x + y, _exact(lambda x, y: x + y)),
    "subtract": (lambda x, y: x - y, _exact(lambda x, y: x - y)),
    "multiply": (lambda x, y: x * y, _exact(lambda x, y: x * y)),
    "divide": (lambda x, y: x / y, _divide),
    "power": (wide(lambda x, y: x**y), ieee_function(np.power)),
}
for _pid, (_cube_fn, _py_fn) in ELEMENTWISE_BINARY.items():
    implements(_pid)(
        lambda call, f=_cube_fn, g=_py_fn: elementwise(
            f, call.get("x", call.get("base")), call.get("y", call.get("p")), scalar_fn=g
        )
    )

ELEMENTWISE_UNARY = {
    "absolute": np.abs, "sqrt": np.sqrt, "exp": np.exp, "ln": np.log, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "arsinh": np.arcsinh, "arcosh": np.arccosh, "artanh": np.arctanh, "floor": np.floor,
    "ceil": np.ceil, "sgn": np.sign,
}  # fmt: skip
_EXACT = {"absolute", "sqrt", "floor", "ceil", "sgn"}  # correctly rounded in every dtype
# integers keep Python's exact arithmetic here (|-(2**63 + 1)| is 2**63 + 1, not a float)
_INTEGER = {"absolute": abs, "sgn": lambda x: (x > 0) - (x < 0), "floor": int, "ceil": int}


def _unary(pid: str, fn):
    """The implementation of the math process ``pid``: numpy's ``fn`` on cubes (in float64
    for transcendental functions, :func:`wide`), IEEE 754 on plain numbers."""
    cube_fn = fn if pid in _EXACT else wide(fn)
    scalar_fn = _int_if_whole(ieee_function(fn), _INTEGER.get(pid))
    return lambda call: elementwise(cube_fn, call.get("x", call.get("p")), scalar_fn=scalar_fn)


def _int_if_whole(fn, exact=None):
    """``fn`` of a plain number; of an integer, ``exact`` if given, else an integer where
    the result is one (exp(0) is 1)."""

    def call(x):
        if exact is not None and isinstance(number_operand(x), int):
            return exact(x)
        out = fn(x)
        return int(out) if isinstance(x, int) and float(out).is_integer() else out

    return call


for _pid, _fn in ELEMENTWISE_UNARY.items():
    implements(_pid)(_unary(_pid, _fn))


@implements("int")
def _int(call: Call) -> Any:
    """The integer part; NaN and infinities have none: no-data."""
    x = call.get("x")

    def part(v):
        v = number_operand(v)
        if math.isnan(v):
            return None  # NaN has no integer part: no-data
        return int(math.trunc(v)) if math.isfinite(v) else v

    result = elementwise(np.trunc, x, scalar_fn=part)
    if isinstance(result, Cube):
        number = ~np.isnan(in_compute_dtype(x.data))
        return Cube(result.data.where(number, 0), result.valid & number)
    return result


@implements("log")
def _log(call: Call) -> Any:
    return elementwise(
        wide(lambda x, b: np.log(x) / np.log(b)),
        call.get("x"),
        call.get("base"),
        scalar_fn=ieee_function(lambda x, b: np.log(x) / np.log(b)),
    )


@implements("round")
def _round(call: Call) -> Any:
    """x rounded to ``p`` decimal places, halves to even (numpy's decimal scaling, which
    rounds 0.35 to 0.4 as the definition's example does); integers stay exact integers
    (the type rule says round keeps them): round(1250, -2) is 1200, round(7, 2) is 7."""
    p = number_argument(call, "p", 0, integer=True)
    return elementwise(
        lambda x: rounded(x, p), call.get("x"), scalar_fn=lambda x: _rounded_number(x, p)
    )


def _rounded_number(x: Any, p: int) -> Any:
    x = number_operand(x)
    if not isinstance(x, int):
        return rounded(x, p)
    if p >= 0:
        return x
    if -p > x.bit_length() * 0.30103 + 2:  # more places than x has digits: 0, at once
        return 0
    return round(x, p)  # exact, halves to even


@implements("clip")
def _clip(call: Call) -> Any:
    """x within [min, max]; NaN (in x or a bound) gives NaN, as IEEE 754's min and max.
    A max below min is MinMaxSwapped also when the bounds come at run time (parameters,
    other nodes), not only as literals the type rule sees."""
    lo, hi = number_argument(call, "min"), number_argument(call, "max")
    if hi < lo:
        call.fail(
            "MinMaxSwapped",
            f"The minimum ({echo(lo)}) must be lower than or equal to the maximum ({echo(hi)}).",
            "max",
        )

    def clip_one(x):
        if any(isinstance(v, float) and math.isnan(v) for v in (x, lo, hi)):
            return math.nan  # IEEE 754: NaN in, NaN out
        return min(max(number_operand(x), lo), hi)

    return elementwise(lambda x: np.clip(x, lo, hi), call.get("x"), scalar_fn=clip_one)


@implements("linear_scale_range")
def _linear_scale_range(call: Call) -> Any:
    lo, hi = number_argument(call, "inputMin"), number_argument(call, "inputMax")
    out_lo, out_hi = number_argument(call, "outputMin", 0), number_argument(call, "outputMax", 1)

    def scale(x):
        x = np.clip(x, min(lo, hi), max(lo, hi))  # inputs outside the input range: clipped
        y = ((x - lo) / (hi - lo)) * (out_hi - out_lo) + out_lo
        # the definition: the formula "never returns a value outside of the range defined by
        # outputMin and outputMax"; rounding can (x = 1 of [0, 1] to [-0.1, 0.2] gave
        # 0.20000000000000004), so the result is clipped too (NaN stays NaN)
        return np.clip(y, min(out_lo, out_hi), max(out_lo, out_hi))

    return elementwise(scale, call.get("x"), scalar_fn=ieee_function(scale))


@implements("normalized_difference")
def _normalized_difference(call: Call) -> Any:
    """(x - y) / (x + y), IEEE 754 (x = y = 0 is NaN). x and y are numbers (the schema
    has no null here, unlike the other math processes); a cube's pixels without data give
    no-data."""

    def nd(x, y):
        return (x - y) / (x + y)

    x, y = call.get("x"), call.get("y")
    for value, name in ((x, "x"), (y, "y")):
        if value is None:
            raise invalid(name, "a number", value)
    return elementwise(nd, x, y, scalar_fn=ieee_function(nd))


@implements("constant")
def _constant(call: Call) -> Any:
    return call.get("x")


implements("pi")(lambda call: math.pi)
implements("e")(lambda call: math.e)


# --- comparison and logic ----------------------------------------------------------------

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


for _pid in ("eq", "neq"):  # lt/lte/gt/gte: pgc.executors.reference.arrays (not-a-number rules)
    implements(_pid)(_compare(_pid))


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


# --- arrays and reducers -------------------------------------------------------------------


@implements("array_element")
def _array_element(call: Call) -> Any:
    """The element at ``index`` or with ``label``. The definition's exceptions in its order:
    neither or both (ArrayElementParameterMissing / Conflict), a label for an array without
    labels (ArrayNotLabeled, whatever ``return_nodata`` says), then no such element
    (ArrayElementNotAvailable, or no-data with ``return_nodata``). A negative or fractional
    index is not an index at all (the schema: an integer of at least 0)."""
    data, label = call.get("data"), call.get("label")
    index = integer(call, "index", minimum=0)
    return_nodata = flag(call, "return_nodata", False)
    if index is not None and label is not None:
        call.fail(
            "ArrayElementParameterConflict",
            "array_element takes either 'index' or 'label', not both.",
            "label",
        )
    if index is None and label is None:
        call.fail("ArrayElementParameterMissing", "array_element needs 'index' or 'label'.")
    if label is not None and not (is_number(label) or isinstance(label, str)):
        raise invalid("label", "a number or a string", label)
    if isinstance(data, CubeArray):
        labels = data.labels
    else:
        values = array_values(call)
        labels = data.labels if isinstance(data, LabeledArray) else None
    if label is not None:
        if labels is None:
            call.fail("ArrayNotLabeled", "The array has no labels; use 'index'.", "label")
        key = label_key(label)
        index = next((i for i, v in enumerate(labels) if label_key(v) == key), None)
        if index is None and isinstance(data, CubeArray):
            index = _band_position(data, label)
        if index is None:
            return _missing(call, return_nodata, data, "label")
    if index >= (len(data) if isinstance(data, CubeArray) else len(values)):
        return _missing(call, return_nodata, data, "index")
    if not isinstance(data, CubeArray):
        return values[index]
    cube = data.cube
    return Cube(
        cube.data.isel({data.dimension: index}, drop=True),
        cube.valid.isel({data.dimension: index}, drop=True)
        if data.dimension in cube.valid.dims
        else cube.valid,
    )


def _band_position(data: CubeArray, label: Any) -> int | None:
    """The position of the band that ``label`` names by its common name along a bands
    dimension (``array_element(label="nir")`` in a reducer over the bands, issue 18: as
    filter_bands and ndvi read names, by the rule the types use), or None."""
    labels = [str(v) for v in data.labels]
    name = band_by_common_name(data.bands, labels, label)
    return labels.index(name) if name is not None else None


def _missing(call: Call, return_nodata: bool, data: Any, argument: str) -> Any:
    if not return_nodata:
        call.fail(
            "ArrayElementNotAvailable",
            f"The array has no element with the specified {argument}.",
            argument,
        )
    if isinstance(data, CubeArray):
        cube = data.cube.data.isel({data.dimension: 0}, drop=True)
        return Cube(xr.zeros_like(cube, dtype=FLOAT), xr.zeros_like(cube, dtype=bool))
    return None


def _masked_reduce(arr: CubeArray, fn, ignore_nodata: bool, min_count: int = 1) -> Cube:
    """Reduce along the array's dimension for every pixel, skipping no-data if asked.
    NaN is a value: numpy's masked arrays mask a NaN result (mean of [NaN, 1]), which
    here becomes NaN again wherever a NaN was among at least ``min_count`` values."""
    cube, dim = arr.cube, arr.dimension
    data = numbers(cube).transpose(dim, ...)
    valid = cube.full_valid().transpose(dim, ...)
    # contiguous along the other dimensions: numpy then adds (sum, mean) in the order of
    # the labels whatever the cube's layout, not pairwise along a contiguous axis
    values = np.ascontiguousarray(data.values)
    masked = np.ma.masked_array(values, mask=~valid.values)
    with np.errstate(all="ignore"):
        out = fn(masked, axis=0)
    out = np.ma.masked_array(out)
    nan_in = (np.isnan(data.values) & valid.values).any(axis=0)
    nan_out = np.ma.getmaskarray(out) & nan_in & (valid.values.sum(axis=0) >= min_count)
    out = np.ma.masked_array(np.where(nan_out, np.nan, out.data), mask=out.mask & ~nan_out)
    result_valid = ~np.ma.getmaskarray(out)
    if not ignore_nodata:
        result_valid &= valid.values.all(axis=0)
    template = data.isel({dim: 0}, drop=True)
    values = np.asarray(np.ma.filled(out.astype(compute_dtype()), 0.0))  # the dtype policy
    return Cube(
        template.copy(data=np.where(result_valid, values, 0.0)), template.copy(data=result_valid)
    )


def _plain(values: list, ignore_nodata: bool) -> list | None:
    """The values to reduce, or None when a no-data value decides the result."""
    if any(v is None for v in values):
        if not ignore_nodata:
            return None
        values = [v for v in values if v is not None]
    return values


def _reducer(fn_masked, fn_plain, min_count: int = 1):
    """A reducer of numbers (the definitions' ``data``: numbers and no-data) on a cube's
    dimension (``fn_masked``) or a plain array (``fn_plain``, given the numbers with data,
    integers past 64 bits as floats). Both forms compute alike, in the same order, so a
    reducer over a cube gives every pixel what the process gives that pixel's array."""

    def impl(call: Call) -> Any:
        data, ignore = call.get("data"), flag(call, "ignore_nodata", True)
        if isinstance(data, CubeArray):
            return _masked_reduce(data, fn_masked, ignore, min_count)
        values = _plain(numbers_only(array_values(call)), ignore)
        if not values:
            return None
        return fn_plain([bounded_int(v) for v in values])

    return impl


def _median(values: list) -> float:
    """The middle value, or the midpoint of the two middle ones; NaN among them: NaN."""
    floats = sorted(float(v) for v in values)
    if any(math.isnan(v) for v in floats):
        return math.nan
    n = len(floats)
    return float(midpoint(np.float64(floats[(n - 1) // 2]), np.float64(floats[n // 2])))


def midpoint(a: Any, b: Any) -> Any:
    """The point halfway between numbers (or arrays of them) ``a`` and ``b``, in their
    dtype: (a + b) / 2, but a / 2 + b / 2 where a + b overflows and they do not (the median
    of [1e308, 1e308] is 1e308, not inf); a where they are equal. Median and the quantile
    of 0.5 (pgc.executors.reference.arrays) both take it, as the definition of median says."""
    with np.errstate(all="ignore"):
        total = a + b
        halves = np.where(
            np.isfinite(total) | ~(np.isfinite(a) & np.isfinite(b)), total / 2, a / 2 + b / 2
        )
        return np.where(a == b, a, halves)[()]


def _masked_median(a: np.ma.MaskedArray, axis: int) -> np.ma.MaskedArray:
    """The median of the values with data at every pixel, as :func:`_median` computes it
    (np.ma.median adds the middle values, so [1e308, 1e308] gives inf)."""
    data, ok = np.ma.getdata(a), ~np.ma.getmaskarray(a)
    count = ok.sum(axis=0)
    ordered = np.sort(np.where(ok, data, np.nan), axis=0)  # no-data (as NaN) last
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[None], axis=0)[0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[None], axis=0)[0]
    nan = (np.isnan(data) & ok).any(axis=0)
    middle = np.where(nan, np.nan, midpoint(low, high))
    return np.ma.masked_array(middle, mask=count == 0)


def in_label_order(a: np.ma.MaskedArray) -> np.ndarray:
    """The sum along axis 0 of the values with data, added one label after the other, as
    plain arrays and the numba kernels add. Not np.sum: along a contiguous axis (a cube of
    one pixel) numpy adds pairwise, which rounds otherwise. -0.0 is the exact identity of
    + (0.0 + -0.0 is 0.0), so no-data changes nothing, not even the sign of a zero."""
    data, ok = np.ma.getdata(a), ~np.ma.getmaskarray(a)
    total = np.full(data.shape[1:], -0.0, dtype=data.dtype)
    with np.errstate(all="ignore"):
        for k in range(data.shape[0]):
            total += np.where(ok[k], data[k], -0.0)
    return total


def _masked_sum(a: np.ma.MaskedArray, axis: int) -> np.ma.MaskedArray:
    return np.ma.masked_array(in_label_order(a), mask=np.ma.count(a, axis=0) == 0)


def _masked_mean(a: np.ma.MaskedArray, axis: int) -> np.ma.MaskedArray:
    """The mean of the values with data: their sum (in order) over their count. Not
    np.ma.mean, whose division masks a quotient as large as inf (mean of [inf] is inf)."""
    count = np.ma.count(a, axis=0)
    with np.errstate(all="ignore"):
        quotient = in_label_order(a) / np.maximum(count, 1)
    return np.ma.masked_array(quotient, mask=count == 0)


def _masked_variance(a: np.ma.MaskedArray, axis: int) -> np.ma.MaskedArray:
    """The sample variance of the values with data (at least two): the squared deviations
    from the mean, added in label order, over n - 1. Not np.ma.var, which masks what
    overflows (variance of [1e200, -1e200]) and gives 0 for [inf, 1], where IEEE 754 gives
    inf and NaN (inf - inf)."""
    data, ok = np.ma.getdata(a), ~np.ma.getmaskarray(a)
    count = ok.sum(axis=0)
    squares = np.zeros(data.shape[1:], dtype=FLOAT)
    with np.errstate(all="ignore"):
        mean = in_label_order(a).astype(FLOAT) / np.maximum(count, 1)
        for k in range(data.shape[0]):
            deviation = np.where(ok[k], data[k] - mean, 0.0)
            squares += deviation * deviation
        variance = squares / np.maximum(count - 1, 1)
    return np.ma.masked_array(variance, mask=count < 2)


def _masked_sd(a: np.ma.MaskedArray, axis: int) -> np.ma.MaskedArray:
    variance = _masked_variance(a, axis)
    with np.errstate(all="ignore"):
        return np.ma.masked_array(np.sqrt(np.ma.getdata(variance)), mask=variance.mask)


def _mean(values: list) -> float:
    """The sum in order (as floats, as cubes add) over the count."""
    return reduce(lambda a, b: a + b, [float(v) for v in values]) / len(values)


def _variance(values: list) -> float | None:
    """The sample variance as :func:`_masked_variance` computes it; None (no-data) for
    fewer than two values, whose n - 1 is 0."""
    if len(values) < 2:
        return None
    floats = [float(v) for v in values]
    mean = _mean(floats)
    squares = 0.0
    for v in floats:
        squares += (v - mean) * (v - mean)
    return squares / (len(floats) - 1)


def _sd(values: list) -> float | None:
    variance = _variance(values)
    return None if variance is None else math.sqrt(variance)  # sqrt(NaN) is NaN


implements("mean")(_reducer(_masked_mean, _mean))
implements("median")(_reducer(_masked_median, _median))
implements("min")(
    _reducer(np.ma.min, lambda v: min(v) if not any(_nan(x) for x in v) else math.nan)
)
implements("max")(
    _reducer(np.ma.max, lambda v: max(v) if not any(_nan(x) for x in v) else math.nan)
)
# sum and product start from the first value (not 0 or 1): sum([-0.0]) is -0.0, and
# integers stay integers while they fit 64 bits
implements("sum")(_reducer(_masked_sum, lambda v: bounded_int(reduce(lambda a, b: a + b, v))))
implements("product")(_reducer(np.ma.prod, lambda v: reduce(_times, v)))
implements("sd")(_reducer(_masked_sd, _sd, min_count=2))
implements("variance")(_reducer(_masked_variance, _variance, min_count=2))


def _times(x: Any, y: Any) -> Any:
    """One step of a product: integers stay exact only while they fit 64 bits (a product
    of many large integers must not grow a number of millions of digits)."""
    return bounded_int(x * y)


def _nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


@implements("first", "last")
def _first_last(call: Call) -> Any:
    """The first (last) element; by default the first (last) one with data."""
    data, ignore = call.get("data"), flag(call, "ignore_nodata", True)
    last = call.node.process_id == "last"
    if isinstance(data, CubeArray):
        return _end_of(data, last, ignore)
    values = array_values(call)
    if ignore:
        values = [v for v in values if v is not None]
    if not values:
        return None
    return values[-1] if last else values[0]


def _end_of(arr: CubeArray, last: bool, ignore: bool) -> Cube:
    """first/last at every pixel, the values as they are (any type, in their dtype): the
    element at the end, or with ``ignore`` the element with data nearest to it."""
    cube, dim = arr.cube, arr.dimension
    data = cube.data.transpose(dim, ...)
    ok = cube.full_valid().transpose(dim, ...).values
    template = without(data, dim)
    n = ok.shape[0]
    if n == 0:  # an empty array: no-data
        return Cube(template, template.copy(data=np.zeros(template.shape, bool)))
    if ignore:
        position = np.argmax(ok[::-1] if last else ok, axis=0)
        position = n - 1 - position if last else position
    else:
        position = np.full(template.shape, n - 1 if last else 0)
    taken = np.take_along_axis(data.values, position[None], axis=0)[0]
    has = np.take_along_axis(ok, position[None], axis=0)[0]
    valid = template.copy(data=has)
    return Cube(zeroed(template.copy(data=taken), valid), valid)


@implements("count")
def _count(call: Call) -> Any:
    """The elements the condition accepts: by default (null) the valid ones (is_valid: not
    no-data, NaN or infinite), with ``true`` all of them, else those for which the
    callback returns true (anything else, no-data too, does not count)."""
    data, condition = call.get("data"), call.get("condition")
    if condition is not None and condition is not True and not isinstance(condition, Closure):
        raise invalid("condition", "a process, true or null", condition)
    if isinstance(data, CubeArray):
        if condition is True:
            # every element, also no-data, NaN and infinity (in the dtype n + 0 * x had)
            def counts(a, axis):
                dtype = np.result_type(np.asarray(a.shape[0]), a.dtype)
                return np.ma.masked_array(np.full(np.shape(a.data[0]), a.shape[0], dtype))

        elif condition is None:
            # valid elements: is_valid is false for no-data, NaN and infinity
            counts = lambda a, axis: np.ma.count(np.ma.masked_invalid(a), axis=axis)  # noqa: E731
        else:
            raise PixelLoop  # the condition is a callback: run it pixel by pixel
        return _masked_reduce(data, counts, True)
    values = array_values(call)
    if condition is True:
        return len(values)
    if condition is None:  # the elements is_valid accepts: not no-data, NaN or infinite
        return sum(1 for v in values if v is not None and not (is_number(v) and not isfinite(v)))
    return sum(1 for v in values if condition(x=v, context=call.get("context")) is True)
