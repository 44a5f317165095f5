"""Reference implementations of the arithmetic and math processes (add ... power,
absolute ... sgn, int, log, round, clip, linear_scale_range, normalized_difference,
arctan2, and the constants pi, e and nan), and what the other modules compute with:
:func:`elementwise` applies a function to plain numbers or to every pixel of cubes at once
(:class:`Cube`), :func:`wide` and :func:`ieee_function` say how. Semantics from the
definitions: arithmetic with a no-data operand gives no-data; NaN is a value; division by
zero follows IEEE 754 (±inf, NaN); integer cube values are promoted to float64 before
arithmetic.
"""

from __future__ import annotations

import math
from functools import reduce
from typing import Any

import numpy as np
import xarray as xr

from ...dtypes import compute_dtype
from ...errors import echo
from ...numerics import bounded_int, rounded
from ..values import Cube, all_valid, everywhere, in_compute_dtype, with_metadata, zeroed
from .arguments import invalid
from .loop import Call, ProcessError
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


def numbers(cube: Cube, pooled: bool = False, pool: Any = None) -> xr.DataArray:
    """A cube's values for arithmetic: in the compute dtype (``pooled``: converted into a
    buffer of ``pool``, :func:`pgc.executors.values.in_compute_dtype`); a cube of Python
    objects (a vector cube's) as numbers (:func:`_numeric`)."""
    if cube.data.dtype.kind in "iubfc":
        return cube.in_compute_dtype(pooled, pool)
    return in_compute_dtype(_numeric(cube))


def elementwise(fn, *args: Any, scalar_fn=None, ufunc=None, pool=None) -> Any:
    """Apply ``fn`` to numbers or cubes; no-data in any operand gives no-data. ``ufunc``:
    the numpy ufunc ``fn`` is, which then may write into a buffer of ``pool``
    (:func:`_pooled`)."""
    if not any(isinstance(a, Cube) for a in args):
        if any(a is None for a in args):
            return None
        return (scalar_fn or fn)(*args)
    datas, valids = [], []
    for a in args:
        if isinstance(a, Cube):
            datas.append(numbers(a, ufunc is not None, pool))
            valids.append(a.valid)
        elif a is None:
            datas.append(0.0)
            valids.append(False)
        else:
            datas.append(a)
    with np.errstate(all="ignore"):
        data = _pooled(ufunc, datas, pool) if ufunc is not None else None
        if data is None:
            data = fn(*datas)
    if not isinstance(data, xr.DataArray):  # e.g. a function of constants only
        data = xr.DataArray(data)
    # an operand with data at every pixel takes no part in the validity (it is read without
    # a pass over the pixels: all_valid), and where every operand has, no value is zeroed:
    # a mask combined and applied to every result took 2/3 of EVI's time
    partial = [v for v in valids if not all_valid(v)]
    if not partial:
        return Cube(with_metadata(data, *args), everywhere(data))
    valid = reduce(lambda a, b: a & b, partial)  # (False for a no-data operand)
    valid = xr.broadcast(xr.DataArray(valid) if isinstance(valid, bool) else valid, data)[0]
    return Cube(with_metadata(zeroed(data, valid), *args), valid)


def _pooled(ufunc, operands: list, pool: Any) -> xr.DataArray | None:
    """``ufunc`` of ``operands`` written into a buffer of the kernels' pool
    (:mod:`pgc.kernels.buffers`), when they are arrays in memory of one float dtype, with
    the same dimensions and coordinates, and plain Python numbers: then no alignment
    happens and the result has the dtype, dimensions and coordinates of the arrays, as
    xarray's would. A chain of band math otherwise writes every intermediate into memory
    new to the process (the operating system maps and zeroes each page on first touch);
    with the values nothing reads any more released (the loop), the pool hands their
    blocks out again. None: the operands are not of that kind (xarray computes it)."""
    arrays = [a for a in operands if isinstance(a, xr.DataArray)]
    if not arrays:
        return None
    first = arrays[0]
    for a in operands:
        if isinstance(a, xr.DataArray):
            if not (isinstance(a.variable.data, np.ndarray) and a.dtype == first.dtype
                    and a.dtype.kind == "f" and a.dims == first.dims
                    and a.shape == first.shape and _same_coords(a, first)):  # fmt: skip
                return None
        elif isinstance(a, bool) or not isinstance(a, int | float) or abs(a) >= 2**53:
            return None  # a numpy scalar is not weak: it could change the dtype
    from ...kernels.buffers import take

    out = take(first.shape, first.dtype, pool)
    ufunc(*[a.variable.data if isinstance(a, xr.DataArray) else a for a in operands], out=out)
    names = {a.name for a in arrays}
    name = first.name if len(names) == 1 else None  # as xarray names a result
    return xr.DataArray(out, coords=first.coords, dims=first.dims, name=name)


def _same_coords(a: xr.DataArray, b: xr.DataArray) -> bool:
    if a is b:
        return True
    if set(a.coords) != set(b.coords):
        return False
    return all(a.coords[k].variable.equals(b.coords[k].variable) for k in a.coords)


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
# the numpy ufunc each cube form is (correctly rounded: the same in every dtype)
_UFUNCS = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide}
for _pid, (_cube_fn, _py_fn) in ELEMENTWISE_BINARY.items():
    _ufunc = _UFUNCS.get(_pid)
    implements(_pid)(
        lambda call, f=_cube_fn, g=_py_fn, u=_ufunc: elementwise(
            f,
            call.get("x", call.get("base")),
            call.get("y", call.get("p")),
            scalar_fn=g,
            ufunc=u,
            pool=call.context.buffers,
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


@implements("arctan2")
def _arctan2(call: Call) -> Any:
    return elementwise(
        wide(np.arctan2), call.get("y"), call.get("x"), scalar_fn=ieee_function(np.arctan2)
    )


@implements("nan")
def _nan(call: Call) -> float:
    return math.nan
