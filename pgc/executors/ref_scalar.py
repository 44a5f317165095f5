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
from typing import Any

import numpy as np
import xarray as xr

from ..dtypes import compute_dtype
from ..errors import echo
from ..numerics import bounded_int, rounded
from .pixels import PixelLoop
from .reference import Call, ProcessError, implements
from .values import Cube, CubeArray, LabeledArray, zeroed

FLOAT = "float64"


def _as_float(data: Any) -> Any:
    """Cube values in the compute dtype (the dtype policy, :mod:`pgc.dtypes`)."""
    if isinstance(data, xr.DataArray) and data.dtype.kind in "iubf":
        dtype = compute_dtype()
        return data if data.dtype == dtype else data.astype(dtype)
    return data


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
    return _as_float(cube.data if cube.data.dtype.kind in "iubfc" else _numeric(cube))


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
    return Cube(zeroed(data, valid), valid)


def _num(x: Any) -> Any:
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


def _ieee(fn):
    """A scalar function with IEEE 754 results for Python numbers (no exceptions)."""

    def call(*xs):
        with np.errstate(all="ignore"):
            out = fn(*[np.float64(_num(x)) for x in xs])
        return float(out)

    return call


def _divide(x, y):
    if isinstance(x, int) and isinstance(y, int) and y != 0 and x % y == 0:
        return x // y
    return _ieee(np.divide)(x, y)


_BINARY = {
    "add": (lambda x, y: x + y, lambda x, y: bounded_int(_num(x) + _num(y))),
    "subtract": (lambda x, y: x - y, lambda x, y: bounded_int(_num(x) - _num(y))),
    "multiply": (lambda x, y: x * y, lambda x, y: bounded_int(_num(x) * _num(y))),
    "divide": (lambda x, y: x / y, _divide),
    "power": (lambda x, y: x**y, _ieee(np.power)),
}
for _pid, (_cube_fn, _py_fn) in _BINARY.items():
    implements(_pid)(
        lambda call, f=_cube_fn, g=_py_fn: elementwise(
            f, call.get("x", call.get("base")), call.get("y", call.get("p")), scalar_fn=g
        )
    )

_UNARY = {
    "absolute": np.abs, "sqrt": np.sqrt, "exp": np.exp, "ln": np.log, "sin": np.sin,
    "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "arsinh": np.arcsinh, "arcosh": np.arccosh, "artanh": np.arctanh, "floor": np.floor,
    "ceil": np.ceil, "sgn": np.sign,
}  # fmt: skip
for _pid, _fn in _UNARY.items():
    implements(_pid)(
        lambda call, f=_fn: elementwise(
            f, call.get("x", call.get("p")), scalar_fn=_int_if_whole(_ieee(f))
        )
    )


def _int_if_whole(fn):
    def call(x):
        out = fn(x)
        return int(out) if isinstance(x, int) and float(out).is_integer() else out

    return call


@implements("int")
def _int(call: Call) -> Any:
    """The integer part; NaN and infinities have none: no-data."""
    x = call.get("x")

    def part(v):
        v = _num(v)
        if math.isnan(v):
            return None  # NaN has no integer part: no-data
        return int(math.trunc(v)) if math.isfinite(v) else v

    result = elementwise(np.trunc, x, scalar_fn=part)
    if isinstance(result, Cube):
        number = ~np.isnan(_as_float(x.data))
        return Cube(result.data.where(number, 0), result.valid & number)
    return result


@implements("log")
def _log(call: Call) -> Any:
    return elementwise(
        lambda x, b: np.log(x) / np.log(b),
        call.get("x"),
        call.get("base"),
        scalar_fn=_ieee(lambda x, b: np.log(x) / np.log(b)),
    )


@implements("round")
def _round(call: Call) -> Any:
    p = number_argument(call, "p", 0, integer=True)
    return elementwise(
        lambda x: rounded(x, p), call.get("x"), scalar_fn=lambda x: rounded(_num(x), p)
    )


@implements("clip")
def _clip(call: Call) -> Any:
    lo, hi = number_argument(call, "min"), number_argument(call, "max")

    def clip_one(x):
        if any(isinstance(v, float) and math.isnan(v) for v in (x, lo, hi)):
            return math.nan  # IEEE 754: NaN in, NaN out
        return min(max(_num(x), lo), hi)

    return elementwise(lambda x: np.clip(x, lo, hi), call.get("x"), scalar_fn=clip_one)


@implements("linear_scale_range")
def _linear_scale_range(call: Call) -> Any:
    lo, hi = number_argument(call, "inputMin"), number_argument(call, "inputMax")
    out_lo, out_hi = number_argument(call, "outputMin", 0), number_argument(call, "outputMax", 1)

    def scale(x):
        x = np.clip(x, min(lo, hi), max(lo, hi))  # inputs outside the input range: clipped
        return ((x - lo) / (hi - lo)) * (out_hi - out_lo) + out_lo

    return elementwise(scale, call.get("x"), scalar_fn=_ieee(scale))


@implements("normalized_difference")
def _normalized_difference(call: Call) -> Any:
    def nd(x, y):
        return (x - y) / (x + y)

    return elementwise(nd, call.get("x"), call.get("y"), scalar_fn=_ieee(nd))


@implements("constant")
def _constant(call: Call) -> Any:
    return call.get("x")


implements("pi")(lambda call: math.pi)
implements("e")(lambda call: math.e)


# --- comparison and logic ----------------------------------------------------------------

_COMPARE = {
    "eq": np.equal,
    "neq": np.not_equal,
    "lt": np.less,
    "lte": np.less_equal,
    "gt": np.greater,
    "gte": np.greater_equal,
}


def _compare(pid: str):
    fn = _COMPARE[pid]

    def impl(call: Call) -> Any:
        x, y = call.get("x"), call.get("y")
        if not isinstance(x, Cube) and not isinstance(y, Cube):
            same = _equal(x, y, call.get("delta"), call.get("case_sensitive", True))
            return same if same is None or pid == "eq" else not same
        if call.get("delta") is not None and _comparable_operands(x, y):
            return _equal_with_delta(call, pid)
        return compare_cube(fn, x, y, pid == "neq", ordered=False)

    return impl


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


def _comparable_operands(x: Any, y: Any) -> bool:
    return all(
        not isinstance(c, Cube) or isinstance(o, Cube) or o is None or _comparable(c, o, False)
        for c, o in ((x, y), (y, x))
    )


def compare_cube(fn, x: Any, y: Any, mismatch: bool, ordered: bool) -> Cube:
    """``fn`` (a numpy comparison) over a cube and a value or two cubes; a plain operand
    the cube's values cannot compare with (a string, an array ...) gives ``mismatch`` at
    every pixel that has data."""
    for cube, other in ((x, y), (y, x)):
        plain = not isinstance(other, Cube) and other is not None
        if isinstance(cube, Cube) and plain and not _comparable(cube, other, ordered):
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
    numbers, ``case_sensitive`` for strings."""
    if x is None or y is None:
        return None
    if isinstance(x, bool) or isinstance(y, bool):
        return isinstance(x, bool) and isinstance(y, bool) and x == y
    if isinstance(x, int | float) and isinstance(y, int | float):
        return abs(x - y) <= delta if delta is not None else x == y
    if isinstance(x, str) and isinstance(y, str):
        return x == y if case_sensitive is not False else x.lower() == y.lower()
    return False


def _equal_with_delta(call: Call, pid: str) -> Any:
    delta = call.get("delta")
    result = elementwise(
        lambda a, b: np.abs(a - b) <= delta,
        call.get("x"),
        call.get("y"),
        scalar_fn=lambda a, b: abs(a - b) <= delta,
    )
    if pid == "neq":
        return elementwise(np.logical_not, result, scalar_fn=lambda v: not v)
    return result


for _pid in ("eq", "neq"):  # lt/lte/gt/gte: pgc.executors.ref_arrays (not-a-number rules)
    implements(_pid)(_compare(_pid))


def _logic(known, default):
    """Three-valued ``and``/``or``: ``known`` decides alone even against no-data."""

    def impl(call: Call) -> Any:
        x, y = call.get("x"), call.get("y")
        if not isinstance(x, Cube) and not isinstance(y, Cube):
            if x is known or y is known:
                return known
            return None if x is None or y is None else default(x, y)
        cx, cy = (_lift_bool(v) for v in (x, y))
        decided = (cx.valid & (cx.data == known)) | (cy.valid & (cy.data == known))
        valid = (cx.valid & cy.valid) | decided
        data = xr.where(decided, known, default(cx.data.astype(bool), cy.data.astype(bool)))
        return Cube(data.where(valid, False), valid)

    return impl


def _lift_bool(v: Any) -> Cube:
    if isinstance(v, Cube):
        return v
    data = xr.DataArray(bool(v) if v is not None else False)
    return Cube(data, xr.DataArray(v is not None))


implements("and")(_logic(False, lambda a, b: a & b))
implements("or")(_logic(True, lambda a, b: a | b))


@implements("xor")
def _xor(call: Call) -> Any:
    return elementwise(
        np.logical_xor, call.get("x"), call.get("y"), scalar_fn=lambda a, b: bool(a) != bool(b)
    )


@implements("not")
def _not(call: Call) -> Any:
    return elementwise(np.logical_not, call.get("x"), scalar_fn=lambda a: not a)


@implements("if")
def _if(call: Call) -> Any:
    value, accept, reject = call.get("value"), call.get("accept"), call.get("reject")
    if not isinstance(value, Cube):
        return accept if value is True else reject
    parts = [_lift_value(v, value, name) for v, name in ((accept, "accept"), (reject, "reject"))]
    choose = value.valid & value.data.astype(bool)
    data = xr.where(choose, _as_float(parts[0].data), _as_float(parts[1].data))
    valid = xr.where(choose, parts[0].valid, parts[1].valid)
    return Cube(data.where(valid, 0), valid)


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
    x = call.get("x")
    if isinstance(x, Cube):
        return Cube(~x.valid, xr.ones_like(x.valid))
    return x is None


@implements("is_nan")
def _is_nan(call: Call) -> Any:
    x = call.get("x")
    if isinstance(x, Cube):
        data = np.isnan(_as_float(x.data)) & x.valid
        return Cube(data, xr.ones_like(x.valid))
    return isinstance(x, float) and math.isnan(x)


@implements("is_valid")
def _is_valid(call: Call) -> Any:
    x = call.get("x")
    if isinstance(x, Cube):
        data = x.valid & np.isfinite(_as_float(x.data))
        return Cube(data, xr.ones_like(x.valid))
    return x is not None and not (isinstance(x, float) and not math.isfinite(x))


# --- arrays and reducers -------------------------------------------------------------------


@implements("array_element")
def _array_element(call: Call) -> Any:
    data, index, label = call.get("data"), call.get("index"), call.get("label")
    return_nodata = call.get("return_nodata", False)
    if isinstance(data, CubeArray):
        labels = [_label_key(v) for v in data.labels]
        if label is not None:
            key = _label_key(label)
            if key not in labels:
                return _missing(call, return_nodata, data)
            index = labels.index(key)
        if index is None or index >= len(labels):
            return _missing(call, return_nodata, data)
        cube = data.cube
        return Cube(
            cube.data.isel({data.dimension: index}, drop=True),
            cube.valid.isel({data.dimension: index}, drop=True)
            if data.dimension in cube.valid.dims
            else cube.valid,
        )
    values = data.values if isinstance(data, LabeledArray) else data
    if label is not None:
        labels = data.labels if isinstance(data, LabeledArray) else None
        if labels is None:
            call.fail("ArrayNotLabeled", "The array has no labels; use 'index'.", "label")
        if label not in labels:
            return _missing(call, return_nodata, data)
        index = labels.index(label)
    if index is None or index >= len(values):
        return _missing(call, return_nodata, data)
    return values[index]


def _label_key(v: Any) -> Any:
    if isinstance(v, np.datetime64):
        return str(v)[:19]
    if isinstance(v, str) and len(v) >= 19 and v[4] == "-":
        return v[:19]
    return v.item() if isinstance(v, np.generic) else v


def _missing(call: Call, return_nodata: bool, data: Any) -> Any:
    if not return_nodata:
        call.fail(
            "ArrayElementNotAvailable",
            "The array has no element with the specified index or label.",
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
    def impl(call: Call) -> Any:
        data, ignore = call.get("data"), call.get("ignore_nodata", True)
        if isinstance(data, CubeArray):
            return _masked_reduce(data, fn_masked, ignore, min_count)
        values = _plain(list(data.values if isinstance(data, LabeledArray) else data), ignore)
        if not values:
            return None
        return fn_plain([_num(v) for v in values])

    return impl


def _median(values: list) -> float:
    return float(np.median(np.array(values, dtype=FLOAT)))


def _masked_mean(a: np.ma.MaskedArray, axis: int) -> np.ma.MaskedArray:
    """The mean of the values with data: their sum (in order) over their count. Not
    np.ma.mean, whose division masks a quotient as large as inf (mean of [inf] is inf)."""
    total, count = np.ma.sum(a, axis=axis), np.ma.count(a, axis=axis)
    quotient = np.ma.getdata(total) / np.maximum(count, 1)
    return np.ma.masked_array(quotient, mask=count == 0)


implements("mean")(_reducer(_masked_mean, lambda v: float(np.mean(np.array(v, dtype=FLOAT)))))
implements("median")(_reducer(np.ma.median, _median))
implements("min")(
    _reducer(np.ma.min, lambda v: min(v) if not any(_nan(x) for x in v) else math.nan)
)
implements("max")(
    _reducer(np.ma.max, lambda v: max(v) if not any(_nan(x) for x in v) else math.nan)
)
implements("sum")(_reducer(np.ma.sum, lambda v: sum(v)))
implements("product")(_reducer(np.ma.prod, lambda v: reduce(_times, v, 1)))
implements("sd")(
    _reducer(
        lambda a, axis: np.ma.std(a, axis=axis, ddof=1),
        lambda v: float(np.std(np.array(v, dtype=FLOAT), ddof=1)) if len(v) > 1 else None,
        min_count=2,
    )
)
implements("variance")(
    _reducer(
        lambda a, axis: np.ma.var(a, axis=axis, ddof=1),
        lambda v: float(np.var(np.array(v, dtype=FLOAT), ddof=1)) if len(v) > 1 else None,
        min_count=2,
    )
)


def _times(x: Any, y: Any) -> Any:
    """One step of a product: integers stay exact only while they fit 64 bits (a product
    of many large integers must not grow a number of millions of digits)."""
    return bounded_int(x * y)


def _nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


@implements("first", "last")
def _first_last(call: Call) -> Any:
    data, ignore = call.get("data"), call.get("ignore_nodata", True)
    last = call.node.process_id == "last"
    if isinstance(data, CubeArray):

        def pick(a, axis):
            order = a[::-1] if last else a
            mask = np.ma.getmaskarray(order)
            idx = np.argmax(~mask, axis=axis)
            taken = np.take_along_axis(order.data, idx[None], axis=axis)[0]
            none = mask.all(axis=axis)
            return np.ma.masked_array(taken, mask=none)

        if not ignore:
            arr = data.cube
            dim = data.dimension
            pos = -1 if last else 0
            return Cube(
                arr.data.isel({dim: pos}, drop=True),
                arr.full_valid().isel({dim: pos}, drop=True),
            )
        return _masked_reduce(data, pick, True)
    values = list(data.values if isinstance(data, LabeledArray) else data)
    if not values:
        return None
    if not ignore:
        return values[-1] if last else values[0]
    kept = [v for v in values if v is not None]
    return (kept[-1] if last else kept[0]) if kept else None


@implements("count")
def _count(call: Call) -> Any:
    data, condition = call.get("data"), call.get("condition")
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
    values = list(data.values if isinstance(data, LabeledArray) else data)
    if condition is True:
        return len(values)
    if condition is None:  # the elements is_valid accepts: not no-data, NaN or infinite
        return sum(
            1
            for v in values
            if v is not None and not (isinstance(v, float) and not math.isfinite(v))
        )
    return sum(1 for v in values if condition(x=v, context=call.get("context")) is True)
