"""Scalar math, comparison and logic processes against their definitions (issue 17).

Every law here is a sentence of an openEO process definition (2.0.0-rc.2, quoted or
paraphrased in each test's docstring), checked through the public path: a one-node graph
whose values come in as parameters (so NaN, infinities and no-data reach the process as
they are), on plain values and on cubes (the process in an ``apply`` callback, where every
pixel must give what the plain process gives its value). The oracle is the definition
(IEEE 754 where it says so, computed with numpy in float64), never pgc's own output.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from fractions import Fraction

import numpy as np
import pytest
import xarray as xr
from conftest import run_process
from hypothesis import example, given, settings
from hypothesis import strategies as st
from strategies import cubes_with_nodata, finite, maybe_nodata, numbers

from pgc.dtypes import compute_dtype, set_compute_dtype
from pgc.errors import PgcError
from pgc.executors.values import Cube

INF, NAN = math.inf, math.nan
anything = st.one_of(
    maybe_nodata, st.booleans(), st.text(max_size=3), st.lists(st.integers(), max_size=2)
)
wide = st.floats(allow_nan=True, allow_infinity=True)  # every float64, NaN included
one_dim = {"x": "spatial"}  # a small cube: one value per label of x

# --- helpers ----------------------------------------------------------------------------


def scalar(process_id: str, **values):
    """``process_id`` with its arguments given as parameters (NaN, infinities, null and any
    type reach it as they are, past the validator's literal checks)."""
    return run_process(process_id, values, **{k: {"from_parameter": k} for k in values})


def code(process_id: str, **values) -> str | None:
    """The error code of ``scalar(...)``, or None if it gives a value."""
    try:
        scalar(process_id, **values)
    except PgcError as error:
        return error.code
    return None


def applied(process_id: str, cube: Cube, name: str = "x", **others) -> Cube:
    """``process_id`` over every pixel of ``cube`` (``apply``): the pixel is argument
    ``name``; the ``others`` are parameters of the graph the callback reads."""
    arguments = {name: {"from_parameter": "x"}, **{k: {"from_parameter": f"_{k}"} for k in others}}
    process = {"process_graph": {"n": {"process_id": process_id, "arguments": arguments,
                                       "result": True}}}  # fmt: skip
    values = {"c": cube, **{f"_{k}": v for k, v in others.items()}}
    return run_process("apply", values, data={"from_parameter": "c"}, process=process)


def pixels(cube: Cube) -> list:
    """A cube's values in order, None where it has no data, as Python values."""
    valid = np.broadcast_to(cube.valid.values, cube.data.shape).ravel()
    return [v.item() if ok else None for v, ok in zip(cube.data.values.ravel(), valid, strict=True)]


def same(a, b, ulps: int = 0) -> bool:
    """Equal as the definitions compare results: NaN is NaN, no-data is no-data, numbers
    equal (within ``ulps`` units in the last place for transcendental functions, which
    numpy computes along arrays and for single values with different loops)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool | np.bool_) and isinstance(b, bool | np.bool_)
                          and bool(a) == bool(b))  # fmt: skip
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    return ulps > 0 and math.isfinite(a) and abs(a - b) <= ulps * math.ulp(max(abs(a), abs(b)))


def every_pixel_as_plain(process_id: str, cube: Cube, name: str = "x", ulps: int = 0, **others):
    """Each pixel of the process applied to ``cube`` is what the process gives the pixel's
    value as a plain number (no-data gives no-data)."""
    out = pixels(applied(process_id, cube, name, **others))
    for value, got in zip(pixels(cube), out, strict=True):
        expected = scalar(process_id, **{name: value}, **others)
        assert same(got, expected, ulps), (process_id, value, others, got, expected)


def ieee(fn, *xs) -> float:
    """``fn`` (numpy) of float64 operands: the IEEE 754 result the definitions ask for."""
    with np.errstate(all="ignore"):
        return float(fn(*[np.float64(x) for x in xs]))


@contextmanager
def float32_policy():
    before = compute_dtype()
    set_compute_dtype("float32")
    try:
        yield
    finally:
        set_compute_dtype(before)


# --- arithmetic ---------------------------------------------------------------------------

ARITHMETIC = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
              "divide": np.divide}  # fmt: skip


@settings(max_examples=60)
@given(st.sampled_from(sorted(ARITHMETIC)), maybe_nodata, maybe_nodata)
@example("multiply", INF, 0)
@example("multiply", -INF, -0.0)
@example("add", INF, -INF)
@example("divide", INF, INF)
def test_arithmetic_follows_ieee_754(process_id, x, y):
    """add, subtract, multiply, divide: "The computations follow IEEE Standard 754" (inf *
    0 is NaN, inf - inf is NaN ...), and "the no-data value is returned if any element is
    such a value"."""
    got = scalar(process_id, x=x, y=y)
    if x is None or y is None:
        assert got is None
        return
    assert same(got, ieee(ARITHMETIC[process_id], x, y))


@settings(max_examples=30)
@given(st.sampled_from(sorted(ARITHMETIC)), cubes_with_nodata(types=one_dim), maybe_nodata)
def test_arithmetic_on_cubes_is_the_plain_arithmetic_of_every_pixel(process_id, cube, y):
    """The arithmetic processes on a cube's pixels (apply) give each pixel what they give
    its value, no-data included."""
    every_pixel_as_plain(process_id, cube, y=y)


@given(numbers)
def test_division_by_zero_is_an_infinity_or_nan(x):
    """divide: "A division by zero results in: +infinity for x > 0, -infinity for x < 0,
    NaN for x = 0"."""
    got = scalar("divide", x=x, y=0)
    if math.isnan(x) or x == 0:
        assert math.isnan(got)
    else:
        assert got == math.copysign(INF, x)


@given(st.integers(-(2**62), 2**62), st.integers(-(2**62), 2**62))
def test_integer_arithmetic_is_exact(x, y):
    """add, subtract, multiply of integers give the integer (integer is a sub-type of
    number; the type rules keep integers)."""
    assert scalar("add", x=x, y=y) == x + y
    assert scalar("subtract", x=x, y=y) == x - y
    product = scalar("multiply", x=x, y=y)
    assert product == x * y or (abs(x * y) >= 2**63 and product == float(x * y))


@settings(max_examples=60)
@given(maybe_nodata, maybe_nodata)
@example(-INF, 3)
@example(0, -1)
@example(-8, 1 / 3)
def test_power_follows_ieee_754(base, p):
    """power: base to the power of p ("If any argument is a no-data value, the result will
    be the no-data value"); a negative base and a fractional exponent give NaN."""
    got = scalar("power", base=base, p=p)
    if base is None or p is None:
        assert got is None
        return
    assert same(got, ieee(np.power, base, p), ulps=2)


# --- mod ----------------------------------------------------------------------------------


@settings(max_examples=80)
@given(maybe_nodata, maybe_nodata)
@example(INF, 5)  # math domain error (Internal)
@example(-INF, 2.5)
@example(INF, INF)  # gave inf
@example(NAN, INF)  # gave inf
@example(-5, 2.5)  # gave -0.0
@example(10**30 + 1, 7)  # exact, not through floats
def test_mod_has_the_sign_of_the_divisor(x, y):
    """mod: "The result of a modulo operation has the sign of the divisor" (a zero too:
    -5 mod 2.5 is +0); its magnitude is below the divisor's and x - result is a multiple of
    y. "If y is set to 0 this results in: +infinity for x > 0, -infinity for x < 0, NaN
    for x = 0". NaN in, NaN out; an infinite x has no remainder (NaN). No-data: no-data."""
    got = scalar("mod", x=x, y=y)
    if x is None or y is None:
        assert got is None
        return
    if y == 0:
        assert same(got, NAN if x == 0 or math.isnan(x) else math.copysign(INF, x))
    elif math.isnan(x) or math.isnan(y) or math.isinf(x):
        assert math.isnan(got)
    elif math.isinf(y):  # as limits: x itself, or y where x has the other sign
        assert same(got, x if x == 0 or (x > 0) == (y > 0) else y) or x == 0
        assert math.copysign(1, got) == math.copysign(1, y)
    elif isinstance(x, int) and isinstance(y, int):
        assert got == x - y * math.floor(x / y) if abs(x) < 2**52 else got == x % y
        assert got == 0 or (got > 0) == (y > 0)
    else:
        assert math.copysign(1, got) == math.copysign(1, y)
        assert abs(got) <= abs(y)
        quotient = (x - got) / y
        assert abs(quotient - round(quotient)) <= 1e-6 * max(1.0, abs(quotient))


@settings(max_examples=30)
@given(cubes_with_nodata(types=one_dim), maybe_nodata)
@example(Cube(xr.DataArray([INF, -5.0, 0.0]), xr.DataArray(True)), INF)
def test_mod_on_cubes_is_the_plain_mod_of_every_pixel(cube, y):
    """mod on every pixel of a cube gives what mod gives its value."""
    every_pixel_as_plain("mod", cube, y=y)


def test_mod_examples_of_the_definition():
    """mod's examples: 27 mod 5 = 2, -27 mod 5 = 3, 3.14 mod -2 = -0.86, -27 mod -5 = -2,
    and null in either operand is null."""
    assert scalar("mod", x=27, y=5) == 2
    assert scalar("mod", x=-27, y=5) == 3
    assert scalar("mod", x=3.14, y=-2) == pytest.approx(-0.86)
    assert scalar("mod", x=-27, y=-5) == -2
    assert scalar("mod", x=27, y=None) is None and scalar("mod", x=None, y=5) is None


# --- unary math ---------------------------------------------------------------------------

UNARY = {
    "absolute": np.abs, "sgn": np.sign, "sqrt": np.sqrt, "exp": np.exp, "ln": np.log,
    "floor": np.floor, "ceil": np.ceil, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "arcsin": np.arcsin, "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh,
    "cosh": np.cosh, "tanh": np.tanh, "arsinh": np.arcsinh, "arcosh": np.arccosh,
    "artanh": np.arctanh,
}  # fmt: skip
EXACT = {"absolute", "sgn", "sqrt", "floor", "ceil"}  # correctly rounded: no ulps allowed


def argument(process_id: str) -> str:
    return "p" if process_id == "exp" else "x"


@settings(max_examples=120)
@given(st.sampled_from(sorted(UNARY)), st.one_of(maybe_nodata, wide))
@example("arcosh", 0.5)
@example("artanh", 1)
@example("artanh", -1)
@example("ln", 0)
@example("sqrt", -0.0)
@example("tan", INF)
def test_math_functions_follow_ieee_754(process_id, x):
    """The math functions: "No-data values are passed through"; "NaN is returned for values
    outside of the allowed range" (sqrt, ln, arcsin, arccos, arcosh, artanh); ln(0) is
    -infinity and artanh(±1) ±infinity ("The computations follow IEEE Standard 754")."""
    got = scalar(process_id, **{argument(process_id): x})
    if x is None:
        assert got is None
        return
    ulps = 0 if process_id in EXACT else 2
    assert same(got, ieee(UNARY[process_id], x), ulps), (process_id, x, got)


@settings(max_examples=40)
@given(st.sampled_from(sorted(UNARY)), cubes_with_nodata(types=one_dim))
def test_math_functions_on_cubes_are_the_plain_functions_of_every_pixel(process_id, cube):
    """Each math function on a cube (apply) gives every pixel what it gives its value."""
    ulps = 0 if process_id in EXACT else 2
    every_pixel_as_plain(process_id, cube, argument(process_id), ulps=ulps)


@settings(max_examples=60)
@given(wide)
def test_ranges_the_definitions_return(x):
    """The return schemas: absolute >= 0, sgn in {-1, 0, 1}, sin and cos in [-1, 1],
    cosh >= 1, exp >= 0, tanh in [-1, 1], arccos >= 0, arcosh >= 0 (NaN aside)."""
    bounds = {"absolute": (0, INF), "sin": (-1, 1), "cos": (-1, 1), "cosh": (1, INF),
              "exp": (0, INF), "tanh": (-1, 1), "arccos": (0, INF), "arcosh": (0, INF)}  # fmt: skip
    for process_id, (lo, hi) in bounds.items():
        got = scalar(process_id, **{argument(process_id): x})
        assert math.isnan(got) or lo <= got <= hi, (process_id, x, got)
    assert math.isnan(x) or scalar("sgn", x=x) in (-1, 0, 1)


@given(st.floats(-700, 700))
def test_inverse_functions(x):
    """ln is "the inverse function of taking e to the power x"; arsinh(sinh(x)) = x;
    arcosh(cosh(x)) = x for x >= 0; artanh(tanh(x)) = x; arctan(tan(x)) = x and
    arcsin(sin(x)) = x on their principal branch; arccos(cos(x)) = x on [0, pi]."""
    close = {"rel_tol": 1e-6, "abs_tol": 1e-9}
    assert math.isclose(scalar("ln", x=scalar("exp", p=x)), x, **close) or x < -700
    if abs(x) < 700:
        assert math.isclose(scalar("arsinh", x=scalar("sinh", x=x)), x, **close)
        assert math.isclose(scalar("arcosh", x=scalar("cosh", x=abs(x))), abs(x),
                            rel_tol=1e-6, abs_tol=1e-6)  # fmt: skip
    if abs(x) < 5:
        assert math.isclose(scalar("artanh", x=scalar("tanh", x=x)), x, **close)
    if abs(x) < 1.5:
        assert math.isclose(scalar("arctan", x=scalar("tan", x=x)), x, **close)
        assert math.isclose(scalar("arcsin", x=scalar("sin", x=x)), x, **close)
    if 0 <= x <= 3:  # near 0, cos(x) is 1 - x**2 / 2: x to about the root of an ulp
        assert math.isclose(scalar("arccos", x=scalar("cos", x=x)), x, abs_tol=1e-7)


@given(wide)
def test_sgn_times_absolute_is_x(x):
    """sgn: 1 if x > 0, 0 if x = 0, -1 if x < 0; so sgn(x) * |x| is x (NaN: NaN)."""
    assert same(scalar("sgn", x=x) * scalar("absolute", x=x), x + 0.0)


@settings(max_examples=60)
@given(st.one_of(maybe_nodata, wide))
@example(-0.4)
@example(-3.5)
@example(NAN)
def test_int_floor_and_ceil(x):
    """int is "The integer part of the real number x" and "not an alias for floor()":
    it truncates towards zero; floor is "the greatest integer less than or equal to" x,
    ceil "the least integer greater than or equal to" x. No-data passes through; NaN has
    no integer part (a no-data result, as the test vectors say); the infinities stay."""
    part, down, up = (scalar(p, x=x) for p in ("int", "floor", "ceil"))
    if x is None:
        assert part is down is up is None
        return
    if math.isnan(x):
        assert part is None and math.isnan(down) and math.isnan(up)
        return
    if math.isinf(x):
        assert part == down == up == x
        return
    exact = Fraction(x)  # compared exactly: at 2**53, x < x + 1 is false in floats
    assert isinstance(part, int) and abs(part) <= abs(exact) and abs(exact - part) < 1
    assert float(down).is_integer() and float(up).is_integer()
    assert down <= exact < Fraction(down) + 1 and Fraction(up) - 1 < exact <= up


@settings(max_examples=30)
@given(st.sampled_from(["int", "floor", "ceil", "round"]), cubes_with_nodata(types=one_dim))
def test_rounding_on_cubes_is_the_plain_rounding_of_every_pixel(process_id, cube):
    """int, floor, ceil and round on a cube give each pixel what they give its value."""
    every_pixel_as_plain(process_id, cube)


@given(st.integers(-(10**6), 10**6), st.integers(-3, 3))
def test_round_halves_to_even(k, p):
    """round: "If x is halfway between closest numbers of precision p, it is rounded to
    the closest even number of precision p" (for p = 0: k + 0.5 goes to the even one of k
    and k + 1); integers stay integers, exactly (round(1250, -2) is 1200)."""
    half = scalar("round", x=k + 0.5)
    assert half in (k, k + 1) and half % 2 == 0
    got = scalar("round", x=k, p=p)
    assert isinstance(got, int)
    assert got == k if p >= 0 else got == round(k, p)


@given(finite, st.integers(-5, 5))
def test_round_is_within_half_a_place(x, p):
    """round x "to specified precision p": at most half a unit of the p-th place away."""
    got = scalar("round", x=x, p=p)
    assert abs(got - x) <= 0.5 * 10.0**-p * (1 + 1e-9) + 1e-9 * abs(x)


def test_round_examples_and_bad_precision():
    """round's examples (0.25 -> 0.2, 0.35 -> 0.4, -2.5 -> -2, 1234.5 at -2 -> 1200);
    p is an integer (schema), anything else is ProcessParameterInvalid."""
    assert scalar("round", x=0.25, p=1) == 0.2 and scalar("round", x=0.35, p=1) == 0.4
    assert scalar("round", x=-2.5) == -2 and scalar("round", x=1234.5, p=-2) == 1200
    assert code("round", x=1.5, p=0.5) == "ProcessParameterInvalid"
    assert code("round", x=1.5, p="1") == "ProcessParameterInvalid"


# --- clip and linear_scale_range ------------------------------------------------------------


@settings(max_examples=60)
@given(st.one_of(maybe_nodata, wide), numbers, numbers)
@example(2, NAN, 1)
@example(INF, -1, 1)
def test_clip_bounds_its_value(x, lo, hi):
    """clip: "A value larger than the maximum value is set to the maximum value, a value
    lower than the minimum value is set to the minimum value"; "If the maximum value is
    smaller than the minimum number, the process throws a MinMaxSwapped exception" (also
    for bounds given at run time); no-data passes through; NaN (value or bound) is NaN."""
    if hi < lo:
        assert code("clip", x=x, min=lo, max=hi) == "MinMaxSwapped"
        return
    got = scalar("clip", x=x, min=lo, max=hi)
    if x is None:
        assert got is None
    elif any(math.isnan(v) for v in (x, lo, hi)):
        assert math.isnan(got)
    else:
        assert lo <= got <= hi and (got == x or (x < lo and got == lo) or (x > hi and got == hi))


def test_clip_swapped_bounds_fail_before_and_while_running():
    """MinMaxSwapped for literal bounds (at validation) and for bounds from parameters, on
    plain values and on cubes."""
    graph = {"n": {"process_id": "clip", "arguments": {"x": 1, "min": 2, "max": 1},
                   "result": True}}  # fmt: skip
    from pgc.runner import execute

    with pytest.raises(PgcError) as info:
        execute({"process_graph": graph})
    assert "MinMaxSwapped" in {d.code for d in info.value.diagnostics} | {info.value.code}
    assert code("clip", x=1, min=2, max=1) == "MinMaxSwapped"
    cube = Cube(xr.DataArray([1.0]), xr.DataArray(True))
    with pytest.raises(PgcError) as info:
        applied("clip", cube, min=2, max=-1)
    assert info.value.code == "MinMaxSwapped"


RANGE = st.tuples(finite, finite).filter(lambda b: b[0] != b[1])


@settings(max_examples=80)
@given(st.one_of(maybe_nodata, wide), RANGE, RANGE)
@example(1, (0, 1), (-0.1, 0.2))  # the formula gave 0.20000000000000004
def test_linear_scale_range_stays_in_the_output_range(x, inputs, outputs):
    """linear_scale_range: x "is clipped to the bounds specified in inputMin and inputMax
    so that the underlying formula ((x - inputMin) / (inputMax - inputMin)) * (outputMax -
    outputMin) + outputMin never returns a value outside of the range defined by outputMin
    and outputMax"; inputMin maps to outputMin, inputMax to outputMax; no-data passes."""
    (i0, i1), (o0, o1) = inputs, outputs
    got = scalar("linear_scale_range", x=x, inputMin=i0, inputMax=i1, outputMin=o0,
                 outputMax=o1)  # fmt: skip
    if x is None:
        assert got is None
        return
    if math.isnan(x):
        assert math.isnan(got)
        return
    assert min(o0, o1) <= got <= max(o0, o1)
    clipped = min(max(x, min(i0, i1)), max(i0, i1))
    formula = ((clipped - i0) / (i1 - i0)) * (o1 - o0) + o0
    assert math.isclose(got, formula, rel_tol=1e-9, abs_tol=1e-9 * (abs(o0) + abs(o1)))
    for end, expected in ((i0, o0), (i1, o1)):
        at = scalar("linear_scale_range", x=end, inputMin=i0, inputMax=i1, outputMin=o0,
                    outputMax=o1)  # fmt: skip
        assert math.isclose(at, expected, rel_tol=1e-9, abs_tol=1e-9 * (abs(o0) + abs(o1)))


@settings(max_examples=30)
@given(cubes_with_nodata(types=one_dim), RANGE, RANGE)
def test_linear_scale_range_on_cubes_is_the_plain_scaling_of_every_pixel(cube, inputs, outputs):
    """linear_scale_range on a cube gives each pixel what it gives the pixel's value."""
    every_pixel_as_plain("linear_scale_range", cube, inputMin=inputs[0], inputMax=inputs[1],
                         outputMin=outputs[0], outputMax=outputs[1])  # fmt: skip


def test_linear_scale_range_keeps_its_range_in_fused_kernels():
    """The output range law holds in the numba kernels as in the reference, under both
    settings of the dtype policy."""
    from pgc.runner import execute

    cube = Cube(xr.DataArray(np.array([1.0, 2.0, -1.0, 0.5, NAN])), xr.DataArray(True))
    scale = {"inputMin": 0, "inputMax": 1, "outputMin": -0.1, "outputMax": 0.2}
    process = {"process_graph": {"n": {"process_id": "linear_scale_range", "result": True,
                                       "arguments": {"x": {"from_parameter": "x"}, **scale}}}}
    graph = {"parameters": [{"name": "c", "schema": {}}], "process_graph": {"a": {
        "process_id": "apply", "result": True,
        "arguments": {"data": {"from_parameter": "c"}, "process": process}}}}  # fmt: skip
    for dtype in ("float64", "float32"):
        before = compute_dtype()
        set_compute_dtype(dtype)
        try:
            a = execute(graph, parameters={"c": cube}, pipeline="none").value
            b = execute(graph, parameters={"c": cube}, pipeline="none", executor="numba")
        finally:
            set_compute_dtype(before)
        assert b.kernels.kernels, "no kernel ran"
        np.testing.assert_array_equal(a.data.values, b.value.data.values)
        values = a.data.values[:4]
        top = np.float32(0.2) if dtype == "float32" else 0.2  # the formula: 0.20000002, ...04
        assert (values <= top).all() and (values >= -top / 2).all()


# --- comparisons ----------------------------------------------------------------------------


@settings(max_examples=80)
@given(anything, anything)
@example(INF, INF)
@example(NAN, NAN)
@example("a", "a")  # gte/lte: true for equal operands that are not numbers
@example(True, True)
@example(1, True)
def test_ordered_comparisons(x, y):
    """gt, gte, lt, lte: no-data gives no-data; "The comparison of NaN follows IEEE
    Standard 754"; "If any operand is not the data type number, the process returns
    false" (gt, lt); gte and lte: "If the operands are not equal (see process eq()) and any
    of them is not the data type number, the process returns false" (equal ones: true)."""
    got = {p: scalar(p, x=x, y=y) for p in ("gt", "gte", "lt", "lte")}
    if x is None or y is None:
        assert set(got.values()) == {None}
        return
    numbers_ = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y))
    if numbers_:
        assert got == {"gt": x > y, "gte": x >= y, "lt": x < y, "lte": x <= y}
        return
    equal = scalar("eq", x=x, y=y)
    assert got == {"gt": False, "gte": equal, "lt": False, "lte": equal}


@settings(max_examples=60)
@given(anything, anything)
@example(1, 1.0)
@example(0, False)
@example(1, "1")
@example(NAN, NAN)
def test_eq_and_neq(x, y):
    """eq: "Data types MUST be checked strictly" (the text 1 is not the number 1, 0 is not
    false) but "an integer 1 is equal to a floating-point number 1.0"; "If any operand is a
    no-data value, the result will be the no-data value"; NaN follows IEEE 754 (equals
    nothing). neq is its negation."""
    eq, neq = scalar("eq", x=x, y=y), scalar("neq", x=x, y=y)
    if x is None or y is None:
        assert eq is None and neq is None
        return
    assert neq is (not eq)
    numbers_ = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y))
    if numbers_:
        assert eq is (x == y)
    elif type(x) is not type(y) or isinstance(x, list):
        assert eq is False


@given(finite, finite, st.floats(1e-6, 1e3))
def test_eq_with_delta_is_lte_of_the_difference(x, y, delta):
    """eq's delta is "basically an alias for the following computation:
    lte(abs(minus([x, y]), delta)" (neq's: gt of it)."""
    within = abs(x - y) <= delta
    assert scalar("eq", x=x, y=y, delta=delta) is within
    assert scalar("neq", x=x, y=y, delta=delta) is (not within)


def test_eq_text_and_bad_options():
    """eq: case_sensitive=false compares text without case ("Ä" is "ä"); delta is a number
    above 0 and case_sensitive a boolean (their schemas), else ProcessParameterInvalid."""
    assert scalar("eq", x="Ä", y="ä", case_sensitive=False) is True
    assert scalar("eq", x="Test", y="test") is False
    assert scalar("eq", x="2018-01-01T00:00:00Z", y="2018-01-01T00:00:00+00:00") is False
    assert code("eq", x=1, y=1, delta="a") == "ProcessParameterInvalid"
    assert code("eq", x=1, y=1, delta=0) == "ProcessParameterInvalid"
    assert code("neq", x="a", y="A", case_sensitive="no") == "ProcessParameterInvalid"


@settings(max_examples=40)
@given(st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]), cubes_with_nodata(types=one_dim),
       st.one_of(maybe_nodata, st.booleans(), st.just("a")))  # fmt: skip
def test_comparisons_on_cubes_are_the_plain_comparisons_of_every_pixel(process_id, cube, y):
    """Each comparison on a cube gives every pixel what it gives the pixel's value."""
    every_pixel_as_plain(process_id, cube, y=y)


@settings(max_examples=20)
@given(st.sampled_from(["eq", "gt", "gte", "lte"]), st.lists(st.booleans(), min_size=1,
       max_size=4), st.one_of(st.booleans(), finite))  # fmt: skip
def test_comparisons_of_boolean_cubes(process_id, flags, y):
    """A cube of booleans compares as its booleans: true is not 1 (eq is false), booleans
    have no order (gt is false, gte and lte are eq)."""
    cube = Cube(xr.DataArray(np.array(flags)), xr.DataArray(True))
    out = pixels(applied(process_id, cube, y=y))
    assert out == [scalar(process_id, x=v, y=y) for v in flags]


@pytest.mark.parametrize("cube,chain", [
    (Cube(xr.DataArray(np.array([True, False])), xr.DataArray(True)), [("eq", 1)]),
    (Cube(xr.DataArray(np.array([True, False])), xr.DataArray(True)), [("gt", 0.5)]),
    (Cube(xr.DataArray(np.array([1.0, 2.0])), xr.DataArray(True)), [("eq", True)]),
    (Cube(xr.DataArray(np.array([1.0, 2.0])), xr.DataArray(True)), [("gte", False)]),
    (Cube(xr.DataArray(np.array([1.0, 2.0])), xr.DataArray(True)), [("gt", 1), ("eq", 1)]),
])  # fmt: skip
def test_fused_kernels_keep_booleans_apart_from_numbers(cube, chain):
    """eq: "0 is not false" (true is not 1); gt/lt: not numbers give false. The numba
    executor gives what the reference gives (its kernels read true as 1.0, so such
    comparisons run as the reference runs them), also across fused apply nodes."""
    from pgc.runner import execute

    nodes, source = {}, {"from_parameter": "c"}
    for k, (process_id, y) in enumerate(chain):
        callback = {"process_graph": {"n": {"process_id": process_id, "result": True,
                                            "arguments": {"x": {"from_parameter": "x"}, "y": y}}}}
        nodes[f"a{k}"] = {"process_id": "apply", "arguments": {"data": source,
                                                               "process": callback}}
        source = {"from_node": f"a{k}"}
    nodes[f"a{len(chain) - 1}"]["result"] = True
    graph = {"parameters": [{"name": "c", "schema": {}}], "process_graph": nodes}  # fmt: skip
    expected = execute(graph, parameters={"c": cube}).value
    fused = execute(graph, parameters={"c": cube}, executor="numba").value
    assert pixels(fused) == pixels(expected) == [False, False]


@settings(max_examples=60)
@given(anything, numbers, numbers, st.booleans())
@example(1, 0, 1, True)
@example(0.5, 1, 0, False)
@example([1, 2, 3], 0, 4, False)
def test_between_is_gte_and_lte(x, lo, hi, exclude_max):
    """between: "the same as computing and(gte(x, min), lte(x, max))", or with exclude_max
    and(gte(x, min), lt(x, max)); swapped bounds always give false; no-data passes."""
    got = scalar("between", x=x, min=lo, max=hi, exclude_max=exclude_max)
    if x is None:
        assert got is None
        return
    upper = scalar("lt" if exclude_max else "lte", x=x, y=hi)
    assert got is scalar("and", x=scalar("gte", x=x, y=lo), y=upper)
    if lo > hi:
        assert got is False


@settings(max_examples=30)
@given(cubes_with_nodata(types=one_dim), numbers, numbers, st.booleans())
def test_between_on_cubes_is_the_plain_between_of_every_pixel(cube, lo, hi, exclude_max):
    """between on a cube gives each pixel what it gives the pixel's value (it gave one
    plain false for the whole cube)."""
    every_pixel_as_plain("between", cube, min=lo, max=hi, exclude_max=exclude_max)


def test_between_bounds_must_be_numbers():
    """between's min and max are numbers and exclude_max a boolean (schemas)."""
    assert code("between", x=1, min="a", max=2) == "ProcessParameterInvalid"
    assert code("between", x=1, min=0, max=None) == "ProcessParameterInvalid"
    assert code("between", x=1, min=0, max=2, exclude_max="yes") == "ProcessParameterInvalid"


# --- logic ----------------------------------------------------------------------------------

TRUTH = [True, False, None]
TABLES = {  # the definitions' truth tables: (x, y) -> result
    "and": lambda x, y: False if False in (x, y) else (None if None in (x, y) else True),
    "or": lambda x, y: True if True in (x, y) else (None if None in (x, y) else False),
    "xor": lambda x, y: None if None in (x, y) else x != y,
}


@pytest.mark.parametrize("process_id", sorted(TABLES))
def test_truth_tables(process_id):
    """and, or, xor: the definitions' truth tables, no-data included ("the result will be
    the no-data value whenever the outcome is ambiguous"), on plain values and on cubes
    with every combination at once."""
    pairs = [(x, y) for x in TRUTH for y in TRUTH]
    for x, y in pairs:
        assert scalar(process_id, x=x, y=y) is TABLES[process_id](x, y), (x, y)
    xs = Cube(xr.DataArray([bool(x) for x, _ in pairs]),
              xr.DataArray([x is not None for x, _ in pairs]))  # fmt: skip
    ys = Cube(xr.DataArray([bool(y) for _, y in pairs]),
              xr.DataArray([y is not None for _, y in pairs]))  # fmt: skip
    got = pixels(scalar(process_id, x=xs, y=ys))
    assert got == [TABLES[process_id](x, y) for x, y in pairs]


def test_not_and_bad_logic_operands():
    """not: "true gets false and false gets true", no-data passes; the operands of the
    logic processes are booleans or null (schemas): a number or text is
    ProcessParameterInvalid (and(1, 2) gave 0). and/or stop "once the outcome is
    unambiguous": y is not looked at after a deciding x."""
    assert scalar("not", x=True) is False and scalar("not", x=False) is True
    assert scalar("not", x=None) is None
    for process_id in ("and", "or", "xor"):
        assert code(process_id, x=1, y=True) == "ProcessParameterInvalid"
        assert code(process_id, x=None, y="a") == "ProcessParameterInvalid"
    assert code("not", x=0) == "ProcessParameterInvalid"
    assert scalar("and", x=False, y="a") is False and scalar("or", x=True, y=3) is True


# --- predicates and constants ---------------------------------------------------------------


@settings(max_examples=60)
@given(st.one_of(anything, wide, st.dictionaries(st.text(max_size=2), st.integers(), max_size=2)))
@example(NAN)
@example(None)
@example([None, None])
@example(-INF)
def test_is_nan_is_nodata_is_valid_is_infinite(x):
    """is_nan: true for NaN only; is_nodata: true for no-data (null) only, "NaN ... is only
    considered as no-data value if explicitly specified"; is_valid: finite numbers and
    "any other value that is not a no-data value" (arrays, objects, text); is_infinite:
    the infinities only, "NaN ... must return false". All four always give a boolean."""
    number = isinstance(x, int | float) and not isinstance(x, bool)
    assert scalar("is_nan", x=x) is (number and math.isnan(x))
    assert scalar("is_nodata", x=x) is (x is None)
    assert scalar("is_valid", x=x) is (x is not None and not (number and not math.isfinite(x)))
    assert scalar("is_infinite", x=x) is (number and math.isinf(x))


@settings(max_examples=30)
@given(st.sampled_from(["is_nan", "is_nodata", "is_valid", "is_infinite"]), cubes_with_nodata())
def test_predicates_on_cubes_always_have_data(process_id, cube):
    """The predicates on a cube (apply) give every pixel a boolean, no-data pixels
    included (is_nodata: true there), in the cube's shape."""
    out = applied(process_id, cube)
    assert out.dims == cube.dims and out.data.shape == cube.data.shape
    got = pixels(out)
    assert None not in got
    assert got == [scalar(process_id, x=v) for v in pixels(cube)]


def test_is_nodata_of_a_cube_whose_validity_is_one_value():
    """A cube may keep its validity as one value for all pixels: is_nodata still gives
    every pixel its boolean (it gave a cube of one value)."""
    cube = Cube(xr.DataArray(np.array([1.0, NAN, 3.0]), dims=["x"]), xr.DataArray(True))
    out = scalar("is_nodata", x=cube)
    assert out.data.shape == (3,) and pixels(out) == [False, False, False]


def test_constants():
    """e: "ln(e) = 1", about 2.71828; pi: about 3.14159 (cos(pi) = -1); nan: "neither a
    signed infinity nor a finite number"; constant: its x, of any type."""
    e, pi, nan = scalar("e"), scalar("pi"), scalar("nan")
    assert scalar("ln", x=e) == pytest.approx(1) and e == pytest.approx(2.71828, abs=1e-5)
    assert scalar("cos", x=pi) == -1 and pi == pytest.approx(3.14159, abs=1e-5)
    assert math.isnan(nan) and not math.isinf(nan)
    for value in (1, "a", [1, None], {"a": 1}, None, True):
        assert scalar("constant", x=value) == value


# --- normalized_difference, arctan2, log ------------------------------------------------------


@settings(max_examples=60)
@given(numbers, numbers)
def test_normalized_difference(x, y):
    """normalized_difference "is computed as (x - y) / (x + y)" (IEEE 754: NaN for
    x = y = 0 and for two infinities); swapping x and y negates it."""
    got = scalar("normalized_difference", x=x, y=y)
    assert same(got, ieee(lambda a, b: (a - b) / (a + b), x, y))
    assert same(scalar("normalized_difference", x=y, y=x), -got)


def test_normalized_difference_takes_numbers_only():
    """normalized_difference's x and y are of type number, without null (unlike the other
    math processes): null is ProcessParameterInvalid; a cube's no-data pixels give
    no-data."""
    assert code("normalized_difference", x=None, y=1) == "ProcessParameterInvalid"
    assert code("normalized_difference", x=1, y=True) == "ProcessParameterInvalid"
    cube = Cube(xr.DataArray([3.0, 1.0]), xr.DataArray([True, False]))
    assert pixels(scalar("normalized_difference", x=cube, y=1.0)) == [0.5, None]


@settings(max_examples=60)
@given(maybe_nodata, maybe_nodata)
@example(INF, -INF)
@example(0, -0.0)
def test_arctan2_follows_ieee_754(y, x):
    """arctan2: the arc tangent of y / x "except that the signs of both arguments are used
    to determine the quadrant of the result"; "If any argument is a no-data value, the
    result will be the no-data value"."""
    got = scalar("arctan2", y=y, x=x)
    if x is None or y is None:
        assert got is None
        return
    assert same(got, ieee(np.arctan2, y, x), ulps=2)
    if not (math.isnan(got) or got == 0):
        assert (got > 0) == (math.copysign(1, y) > 0)


@settings(max_examples=60)
@given(maybe_nodata, maybe_nodata)
@example(0, 10)
@example(4, 2)
def test_log_is_ln_over_ln_of_the_base(x, base):
    """log: the logarithm to the base ``base``, "the inverse function of taking b to the
    power of x" (ln(x) / ln(base), IEEE 754: log(0) is -infinity for a base above 1, NaN
    outside the range); no-data gives no-data."""
    got = scalar("log", x=x, base=base)
    if x is None or base is None:
        assert got is None
        return
    assert same(got, ieee(lambda a, b: np.log(a) / np.log(b), x, base), ulps=2)


# --- the float32 dtype policy ----------------------------------------------------------------


@settings(max_examples=30)
@given(st.sampled_from(sorted(set(UNARY) - EXACT)), cubes_with_nodata(types=one_dim, values=wide))
@example("arcosh", Cube(xr.DataArray([1.0000001]), xr.DataArray(True)))
def test_float32_math_is_the_rounded_float64_result(process_id, cube):
    """Under the float32 policy a transcendental function of a cube is its float64 value
    rounded to float32 (the fused kernels compute alike, so NaN and numbers agree where
    numpy's and the C library's float32 functions differ in the last bit)."""
    with float32_policy():
        out = applied(process_id, cube, argument(process_id))
    assert out.data.dtype == np.float32
    with np.errstate(all="ignore"):
        values = np.float32(cube.data.values)
        expected = UNARY[process_id](values.astype(np.float64)).astype(np.float32)
    got = np.where(np.broadcast_to(out.valid.values, values.shape), out.data.values, 0)
    want = np.where(np.broadcast_to(out.valid.values, values.shape), expected, 0)
    np.testing.assert_array_equal(got, want)
