"""Array reducers, array and text processes against their definitions (issue 17).

The oracles are the definitions' own sentences (quoted or paraphrased at each test), not
pgc's output: laws such as "median is the quantile of 0.5", "sort is rearrange by order",
"extrema is min and max", the truth tables of ``all``/``any``, IEEE 754 for ``sum`` and
``product`` (inf * 0 is NaN), and every exception a definition names. Values reach the
processes as parameters (NaN and infinities are not JSON), through validation, the type
rules and the reference executor; reducers also run over data cubes (``reduce_dimension``,
where the process sees a whole dimension at once) and must give every pixel what the
process gives that pixel's plain array, in the reference, numba and dask executors.
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pytest
import xarray as xr
from conftest import node
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from strategies import cubes_with_nodata, maybe_nodata, numbers

from pgc.errors import PgcError
from pgc.executors.values import Cube, LabeledArray, with_dimension_types
from pgc.runner import execute

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INF, NAN = math.inf, math.nan

small_ints = st.integers(-1000, 1000)
int_arrays = st.lists(st.one_of(st.none(), small_ints), max_size=8)
number_arrays = st.lists(maybe_nodata, max_size=8)
booleans = st.lists(st.one_of(st.none(), st.booleans()), max_size=6)


# -- running processes ---------------------------------------------------------------------


def callback(**nodes) -> dict:
    return {"process_graph": nodes}


def is_callback(value) -> bool:
    return isinstance(value, dict) and "process_graph" in value


def run_graph(nodes: dict, executor: str = "reference", **values):
    """The result of ``nodes`` (one has result: true); ``values`` are its parameters."""
    graph = {
        "parameters": [{"name": name, "schema": {}} for name in values],
        "process_graph": nodes,
    }
    pipeline = "none" if executor == "reference" else "default"
    return execute(graph, parameters=values, pipeline=pipeline, executor=executor).value


def call(process_id: str, **arguments):
    """One process; every argument but a callback is given as a parameter (so NaN,
    infinities, labeled arrays and cubes can be values)."""
    args, values = {}, {}
    for name, value in arguments.items():
        if is_callback(value):
            args[name] = value
        else:
            args[name] = {"from_parameter": f"p_{name}"}
            values[f"p_{name}"] = value
    return run_graph({"n": node(process_id, result=True, **args)}, **values)


def call_each(process_id: str, arrays: list[list], **arguments) -> list:
    """The process on each of ``arrays`` (its ``data``), in one graph: one node per array,
    their results gathered by array_create."""
    nodes = {
        f"n{i}": node(process_id, data={"from_parameter": f"p{i}"}, **arguments)
        for i in range(len(arrays))
    }
    gathered = [{"from_node": f"n{i}"} for i in range(len(arrays))]
    nodes["all"] = node("array_create", result=True, data=gathered)
    return run_graph(nodes, **{f"p{i}": a for i, a in enumerate(arrays)})


def code_of(process_id: str, **arguments) -> str | None:
    """The openEO error code ``call`` fails with (None if it does not fail)."""
    try:
        call(process_id, **arguments)
    except PgcError as error:
        return error.code
    return None


def literal_code(process_id: str, **arguments) -> str | None:
    """The error code of the process with literal arguments (validation and type rules)."""
    try:
        run_graph({"n": node(process_id, result=True, **arguments)})
    except PgcError as error:
        return error.code
    return None


def same(a, b) -> bool:
    """Equal as openEO values: NaN is NaN, 1 is 1.0, lists element by element."""
    if isinstance(a, LabeledArray) or isinstance(b, LabeledArray):
        return (
            isinstance(a, LabeledArray)
            and isinstance(b, LabeledArray)
            and same(a.values, b.values)
            and same(a.labels, b.labels)
        )
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return a == b


def as_float(x) -> float:
    """A JSON number as a float64: an integer past its range is an infinity."""
    try:
        return float(x)
    except OverflowError:
        return INF if x > 0 else -INF


def nan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


def with_data(values: list) -> list:
    return [v for v in values if v is not None]


# -- reducers over cubes equal the processes on each pixel's array ---------------------------

NUMERIC_REDUCERS = ["sum", "product", "min", "max", "mean", "median", "sd", "variance"]
REDUCERS = [*NUMERIC_REDUCERS, "first", "last", "count"]


def reduce_over(cube: Cube, dim: str, process_id: str, executor="reference", **arguments):
    reducer = callback(r=node(process_id, result=True, data={"from_parameter": "data"},
                              **arguments))  # fmt: skip
    nodes = {
        "n": node(
            "reduce_dimension", result=True, data={"from_parameter": "c"}, dimension=dim,
            reducer=reducer,
        )
    }  # fmt: skip
    return run_graph(nodes, executor=executor, c=cube)


def pixel_arrays(cube: Cube, dim: str) -> tuple[list[str], list[tuple[tuple, list]]]:
    """The other dimensions, and each pixel's index with its plain array along ``dim``
    (None for no-data)."""
    others = [d for d in cube.dims if d != dim]
    data = cube.data.transpose(*others, dim).values
    valid = cube.full_valid().transpose(*others, dim).values
    pixels = []
    for index in np.ndindex(*data.shape[:-1]):
        values = zip(data[index], valid[index], strict=True)
        pixels.append((index, [float(v) if ok else None for v, ok in values]))
    return others, pixels


def pixel_value(result: Cube, others: list[str], index: tuple):
    data = result.data.transpose(*others).values[index]
    valid = result.full_valid().transpose(*others).values[index]
    return data.item() if valid else None


@st.composite
def cube_and_dimension(draw):
    """A cube of random named, typed dimensions and one of them to reduce (never assume
    it is called 't')."""
    cube = draw(cubes_with_nodata(max_size=3))
    return cube, draw(st.sampled_from(list(cube.dims)))


def sd_inf_cube() -> Cube:
    """[inf, 1] along t: sd and variance are NaN (inf - inf), which np.ma.std gave as 0."""
    data = xr.DataArray([[INF, 1.0]], dims=["x", "t"], coords={"x": [0.0], "t": ["a", "b"]})
    valid = xr.DataArray(np.ones((1, 2), bool), dims=["x", "t"], coords=data.coords)
    return with_dimension_types(Cube(data, valid), {"x": "spatial", "t": "other"})


def huge_cube() -> Cube:
    """[1e200, -1e200]: the variance overflows to inf; np.ma.var masked it (no-data)."""
    cube = sd_inf_cube()
    return Cube(cube.data.copy(data=np.array([[1e200, -1e200]])), cube.valid)


@settings(FAST, max_examples=80)
@given(
    st.sampled_from(REDUCERS),
    cube_and_dimension(),
    st.booleans(),
)
@example("sd", (sd_inf_cube(), "t"), True)
@example("variance", (sd_inf_cube(), "t"), True)
@example("variance", (huge_cube(), "t"), True)
def test_reducer_over_a_cube_gives_each_pixel_the_process_of_its_array(pid, drawn, ignore):
    """reduce_dimension: "applies a reducer to a data cube dimension by collapsing all the
    values along the specified dimension into a single value": the reducer over a cube
    gives every pixel what the process gives the pixel's array, the definition's
    ignore_nodata rule, NaN and infinities included (sd of [inf, 1] is NaN, not 0)."""
    cube, dim = drawn
    arguments = {} if pid == "count" else {"ignore_nodata": ignore}
    result = reduce_over(cube, dim, pid, **arguments)
    others, pixels = pixel_arrays(cube, dim)
    expected = call_each(pid, [values for _, values in pixels], **arguments)
    for (index, values), plain in zip(pixels, expected, strict=True):
        got = pixel_value(result, others, index)
        assert same(got, plain), (pid, values, got, plain)


def fixed_cube() -> Cube:
    """Rows of the problem cases: inf with 0, inf with -inf, NaN with no-data, only
    no-data, overflow, signed zeros, ordinary values."""
    rows = [[INF, 0.0, 1.0], [INF, -INF, None], [NAN, None, None], [None, None, None],
            [1e308, 1e308, 2.0], [-0.0, 0.0, None], [1.0, 2.0, 3.0], [5.0, None, 1.0]]  # fmt: skip
    values = np.array([[0.0 if v is None else v for v in r] for r in rows])
    valid = np.array([[v is not None for v in r] for r in rows])
    coords = {"x": np.arange(len(rows), dtype=float), "y": [0.0, 1.0, 2.0]}
    data = xr.DataArray(values, dims=["x", "y"], coords=coords)
    cube = Cube(data, xr.DataArray(valid, dims=["x", "y"], coords=coords))
    return with_dimension_types(cube, {"x": "spatial", "y": "spatial"})


@pytest.mark.parametrize("executor", ["numba", "dask"])
@pytest.mark.parametrize("dim", ["x", "y"])
@pytest.mark.parametrize(
    "pid,arguments",
    [(p, {}) for p in ["sum", "mean", "min", "max", "median", "count", "product", "sd"]]
    + [(p, {"ignore_nodata": False}) for p in ["sum", "mean", "median"]]
    + [("count", {"condition": True})],
)
def test_reducers_agree_in_every_executor(pid, arguments, dim, executor):
    """The reference executor is the truth: the numba kernels and the dask tree reductions
    give its values (sum of [inf, -inf] and product of [inf, 0] are NaN, IEEE 754)."""
    cube = fixed_cube()
    expected = reduce_over(cube, dim, pid, **arguments)
    got = reduce_over(cube, dim, pid, executor=executor, **arguments)
    assert same(got.to_python(), expected.to_python())


def test_sum_and_product_follow_ieee_754_in_cubes():
    """sum and product: "The computations follow IEEE Standard 754": inf + -inf and
    inf * 0 are NaN, overflow is inf; an array with solely no-data values is no-data."""
    cube = fixed_cube()
    sums = reduce_over(cube, "y", "sum").to_python()
    products = reduce_over(cube, "y", "product").to_python()
    assert sums[0] == INF and nan(sums[1]) and nan(sums[2]) and sums[3] is None
    assert sums[4] == INF and sums[6] == 6
    assert nan(products[0]) and products[1] == -INF and products[3] is None
    assert products[4] == INF and products[7] == 5


# -- sum, product, min, max, mean, median, sd, variance on plain arrays -----------------------


@FAST
@given(number_arrays, st.sampled_from(NUMERIC_REDUCERS))
def test_nodata_rules_of_numeric_reducers(values, pid):
    """"An array with solely no-data values returns the no-data value"; with
    ignore_nodata false "any no-data value in the array results in a no-data value" (NaN
    included: NaN is a value, no-data wins); by default no-data values are ignored."""
    strict = call(pid, data=values, ignore_nodata=False)
    if any(v is None for v in values) or not values:
        assert strict is None
    if not with_data(values):
        assert call(pid, data=values) is None
    assert same(call(pid, data=values), call(pid, data=with_data(values)))


@FAST
@given(st.lists(numbers, min_size=1, max_size=8))
@example([INF, 0])
@example([INF, -INF])
@example([10**400, 1.5])  # an integer past float64's range is inf, not an OverflowError
def test_sum_and_product_are_ieee_754(values):
    """sum and product: "The computations follow IEEE Standard 754": a NaN makes NaN,
    inf + -inf and inf * 0 are NaN; otherwise the values' sum and product."""
    total, prod = call("sum", data=values), call("product", data=values)
    floats = [as_float(v) for v in values]
    if any(math.isnan(v) for v in floats) or (INF in floats and -INF in floats):
        assert nan(total)
    if any(math.isnan(v) for v in floats) or (
        any(math.isinf(v) for v in floats) and 0.0 in floats
    ):
        assert nan(prod)
    assert same(float(total), reduce(lambda a, b: a + b, floats))
    assert same(float(prod), reduce(lambda a, b: a * b, floats))


@FAST
@given(st.lists(small_ints, min_size=1, max_size=8), st.randoms())
def test_sum_product_mean_of_integers_are_exact(values, rng):
    """sum "sums up all elements", product "multiplies all elements" (integers exactly,
    in any order); mean "is defined as the sum of all elements divided by the number of
    elements"."""
    shuffled = list(values)
    rng.shuffle(shuffled)
    assert call("sum", data=values) == sum(values) == call("sum", data=shuffled)
    product = math.prod(values)  # exact while it fits 64 bits, then a float (as JSON's)
    if abs(product) < 2**63:
        assert call("product", data=values) == product == call("product", data=shuffled)
    else:
        assert math.isclose(call("product", data=values), product, rel_tol=1e-12)
    assert call("mean", data=values) == sum(values) / len(values)


@FAST
@given(st.lists(st.one_of(st.none(), numbers), min_size=1, max_size=8))
def test_min_max_and_extrema(values):
    """min "is equal to" an end of the sorted array and max the other (the definitions say
    last and first, the wrong way round for sort's default ascending order); extrema is
    "basically an alias for calling both min() and max()"; a NaN makes all of them NaN."""
    lo, hi = call("min", data=values), call("max", data=values)
    assert same(call("extrema", data=values), [lo, hi])
    assert same(call("extrema", data=values, ignore_nodata=False),
                [call("min", data=values, ignore_nodata=False),
                 call("max", data=values, ignore_nodata=False)])  # fmt: skip
    known = with_data(values)
    if not known:
        assert lo is None and hi is None
    elif any(nan(v) for v in known):
        assert nan(lo) and nan(hi)
    else:
        ordered = call("sort", data=values)
        assert lo == ordered[0] == min(known) and hi == ordered[-1] == max(known)


@FAST
@given(st.lists(st.one_of(st.none(), numbers), max_size=9))
@example([1e308, 1e308])  # the middle values' sum overflows: the median is 1e308, not inf
@example([1.0, 2.0, INF])  # 2 is at the middle exactly: not inf * 0
@example([INF, -INF])  # halfway between -inf and inf: NaN (IEEE 754)
def test_median_is_the_quantile_of_one_half(values):
    """median: "The median can also be calculated by computing the quantiles() with a
    probability of 0.5"; it separates the higher half from the lower half."""
    median = call("median", data=values)
    assert same([median], call("quantiles", data=values, probabilities=[0.5]))
    known = sorted(with_data(values))
    if known and not any(nan(v) for v in known):
        low, high = known[(len(known) - 1) // 2], known[len(known) // 2]
        assert low <= median <= high or (nan(median) and (low, high) == (-INF, INF))


@FAST
@given(st.lists(small_ints, min_size=1, max_size=5), small_ints)
def test_median_of_a_symmetric_array_is_its_mean(deviations, centre):
    """median: "For symmetric arrays, the result is equal to the mean()"."""
    values = [centre - d for d in deviations] + [centre + d for d in deviations]
    assert call("median", data=values) == call("mean", data=values) == centre


@FAST
@given(st.lists(st.one_of(st.none(), numbers), max_size=8))
@example([INF, 1.0])  # inf - inf: NaN
@example([1e200, -1e200])  # the squares overflow: inf
def test_sd_is_the_square_root_of_the_variance(values):
    """sd: "defined to be the square root of the corresponding variance"; the variance of
    equal values is 0, and infinities follow IEEE 754 (not a masked value or 0)."""
    variance, sd = call("variance", data=values), call("sd", data=values)
    assert (variance is None) == (sd is None)
    if variance is not None:
        assert same(sd, math.sqrt(variance))
    floats = [float(v) for v in with_data(values)]
    if len(floats) >= 2 and any(math.isinf(v) or math.isnan(v) for v in floats):
        assert nan(variance)
    if len(floats) >= 2 and len(set(floats)) == 1 and math.isfinite(floats[0]):
        assert variance == 0


# -- quantiles -------------------------------------------------------------------------------


@FAST
@given(
    st.lists(st.one_of(st.none(), numbers), max_size=8),
    st.lists(st.floats(0, 1), min_size=1, max_size=5, unique=True).map(sorted),
)
@example([1.5, -INF, 5.75, -1.25], [0, 0.25, 0.5, 0.75, 1])  # from -inf: -inf, not NaN
def test_quantiles(values, probabilities):
    """quantiles: one per probability ("as many elements as the given list of
    probabilities"), all null for an empty array; type 7, so the quantile of 0 is the
    minimum and of 1 the maximum, and they do not decrease as the probability grows."""
    out = call("quantiles", data=values, probabilities=probabilities)
    assert len(out) == len(probabilities)
    known = with_data(values)
    if not known:
        assert out == [None] * len(probabilities)
        return
    if any(nan(v) for v in known):
        assert all(nan(q) for q in out)
        return
    assert all(not nan(q) for q in out) or (-INF in known and INF in known)
    if probabilities[0] == 0:
        assert out[0] == min(known)
    if probabilities[-1] == 1:
        assert out[-1] == max(known)
    finite = [q for q in out if not nan(q)]
    assert finite == sorted(finite)


@FAST
@given(st.lists(small_ints, min_size=1, max_size=8), st.integers(2, 6))
def test_quantiles_of_q_intervals(values, q):
    """probabilities as an integer, or the deprecated q: "Calculates q-quantiles with
    equal-sized intervals", q - 1 of them; ignore_nodata false and a no-data value: "an
    array with solely no-data (or null) values"."""
    expected = call("quantiles", data=values, probabilities=[i / q for i in range(1, q)])
    assert same(call("quantiles", data=values, probabilities=q), expected)
    assert same(call("quantiles", data=values, q=q), expected)
    nulls = call("quantiles", data=[*values, None], probabilities=q, ignore_nodata=False)
    assert nulls == [None] * (q - 1)


# -- first, last, count ----------------------------------------------------------------------


@FAST
@given(st.lists(st.one_of(st.none(), numbers, st.text(max_size=2), st.booleans()), max_size=6))
def test_first_and_last(values):
    """first: "For the default value true, the first non-no-data value is returned"; with
    false "the first value of the array is returned regardless of whether it is a no-data
    value or not"; "An array with solely no-data values returns the no-data value"."""
    known = with_data(values)
    assert same(call("first", data=values), known[0] if known else None)
    assert same(call("last", data=values), known[-1] if known else None)
    assert same(call("first", data=values, ignore_nodata=False), values[0] if values else None)
    assert same(call("last", data=values, ignore_nodata=False), values[-1] if values else None)


@FAST
@given(st.lists(st.one_of(st.none(), numbers, st.text(max_size=2), st.booleans()), max_size=8))
def test_count_valid_and_all(values):
    """count: "Counts the number of valid elements by default ... every element for which
    is_valid() returns true"; "To count all elements in a list set the condition
    parameter to boolean true"."""
    valid = [v for v in values if call("is_valid", x=v)]
    assert call("count", data=values) == len(valid)
    assert call("count", data=values, condition=True) == len(values)


@FAST
@given(number_arrays, st.one_of(small_ints, st.none()))
def test_count_with_a_condition(values, threshold):
    """count: the condition "is evaluated against each element in the array. An element
    is counted only if the condition returns true" (no-data, from gt with no-data, is not
    true); the callback's parameters are x and context."""
    gt = callback(g=node("gt", result=True, x={"from_parameter": "x"},
                         y={"from_parameter": "context"}))  # fmt: skip
    expected = sum(
        1 for v in values
        if v is not None and threshold is not None and not nan(v) and v > threshold
    )  # fmt: skip
    assert call("count", data=values, condition=gt, context=threshold) == expected


def test_count_rejects_false_as_condition():
    """count: "false is not a valid value for this parameter"."""
    assert literal_code("count", data=[1], condition=False) == "ProcessParameterInvalid"
    assert code_of("count", data=[1], condition=False) == "ProcessParameterInvalid"


# -- all, any --------------------------------------------------------------------------------

# The definitions' truth tables, with None for no-data (for ignore_nodata false).
ALL = {(None, None): None, (None, False): False, (None, True): None, (False, False): False,
       (False, True): False, (True, True): True}  # fmt: skip
ANY = {(None, None): None, (None, False): None, (None, True): True, (False, False): False,
       (False, True): True, (True, True): True}  # fmt: skip


def by_table(table: dict, values: list, empty: bool):
    if not values:
        return empty
    return reduce(lambda a, b: table.get((a, b), table.get((b, a))), values)


@FAST
@given(booleans)
@example([None])
@example([])
def test_all_and_any_follow_their_truth_tables(values):
    """all/any: "If no value is given (i.e. the array is empty) the process returns
    true/false"; by default no-data values are ignored (all: "returns true if all values
    are no-data or true"); with ignore_nodata false "the array values are reduced pairwise
    according to the following truth table"."""
    assert call("all", data=values, ignore_nodata=False) == by_table(ALL, values, True)
    assert call("any", data=values, ignore_nodata=False) == by_table(ANY, values, False)
    assert call("all", data=values) is all(v is not False for v in values)
    assert call("any", data=values) is any(v is True for v in values)


@settings(FAST, max_examples=40)
@given(cubes_with_nodata(types={"x": "spatial", "bands": "bands"}, values=st.booleans()),
       st.booleans())
def test_all_and_any_over_boolean_cubes(cube, ignore):
    """all/any as reducers over a boolean cube: each pixel as the process on its array."""
    cube = Cube(cube.data.astype(bool), cube.valid)
    others, pixels = pixel_arrays(cube, "bands")
    arrays = [[None if v is None else bool(v) for v in values] for _, values in pixels]
    for pid in ("all", "any"):
        result = reduce_over(cube, "bands", pid, ignore_nodata=ignore)
        expected = call_each(pid, arrays, ignore_nodata=ignore)
        for (index, _), plain in zip(pixels, expected, strict=True):
            assert pixel_value(result, others, index) is plain


def test_all_and_any_take_booleans_only():
    """all/any: data is "A set of boolean values" (1 is not true)."""
    for pid in ("all", "any"):
        assert code_of(pid, data=[1, 0]) == "ProcessParameterInvalid"
        assert code_of(pid, data=[True], ignore_nodata="no") == "ProcessParameterInvalid"


# -- cumulative processes -------------------------------------------------------------------

CUMULATIVE = {
    "cumsum": lambda a, b: a + b,
    "cumproduct": lambda a, b: a * b,
    "cummin": min,
    "cummax": max,
}


@FAST
@given(st.sampled_from(sorted(CUMULATIVE)), int_arrays, st.booleans())
def test_cumulative_processes(pid, values, ignore):
    """cumsum ...: "Every computed element is equal to the sum of current and all previous
    values. The returned array and the input array have always the same length"; "no-data
    values are skipped, but stay in the result"; with ignore_nodata false "once a no-data
    value is reached all following elements are set to the no-data value"."""
    out = call(pid, data=values, ignore_nodata=ignore)
    assert len(out) == len(values)
    op, acc, broken = CUMULATIVE[pid], None, False
    for v, got in zip(values, out, strict=True):
        broken = broken or (v is None and not ignore)
        if v is None or broken:
            assert got is None
            continue
        acc = v if acc is None else op(acc, v)
        assert got == acc


def test_cumulative_keeps_labels_and_nan():
    """The returned array has the input's length (and labels); cummin/cummax take "the
    smaller one between the current element and the previously computed element": NaN,
    as min of NaN, stays."""
    labeled = LabeledArray([3, None, 1], ["a", "b", "c"])
    assert same(call("cummin", data=labeled), LabeledArray([3, None, 1], ["a", "b", "c"]))
    assert same(call("cummax", data=[1, NAN, 5]), [1, NAN, NAN])
    assert same(call("cumsum", data=[INF, -INF, 1]), [INF, NAN, NAN])


# -- order, sort, rearrange ------------------------------------------------------------------

sortable = st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=True, width=16))
dates = st.sampled_from([
    "2019-01-01T10:00:00+05:00", "2019-01-01T06:00:00Z", "2019-01-01", "2018-12-31T23:00:00-02:00",
    "2020-02-29", None,
])  # fmt: skip


@FAST
@given(st.lists(sortable, max_size=8), st.booleans(), st.sampled_from([None, True, False]))
@example([3.0, NAN, None, 1.0], True, None)  # NaN is a number: it is not dropped
def test_sort_is_rearrange_by_order(values, asc, nodata):
    """order: "The process rearrange() allows sorting the data based on the computed
    permutation"; sort "Sorts an array into ascending (default) or descending order";
    nodata null removes no-data values, true moves them "to the end", false "to the
    start"."""
    order = call("order", data=values, asc=asc, nodata=nodata)
    ordered = call("sort", data=values, asc=asc, nodata=nodata)
    assert same(ordered, call("rearrange", data=values, order=order))
    present = [i for i, v in enumerate(values) if v is not None]
    missing = len(values) - len(present)
    assert sorted(order) == (present if nodata is None else list(range(len(values))))
    if nodata is True:
        assert ordered[len(present):] == [None] * missing
    if nodata is False:
        assert ordered[:missing] == [None] * missing
    numbers_ = [v for v in ordered if v is not None]
    keys = [(nan(v), 0 if nan(v) else v) for v in numbers_]  # NaN after +inf
    assert keys == sorted(keys, reverse=not asc)


@FAST
@given(st.lists(dates, max_size=6), st.booleans())
@example(["2019-01-01T10:00:00+05:00", "2019-01-01T06:00:00Z"], True)
def test_dates_sort_by_their_instants(values, asc):
    """order/sort: "Temporal strings can not be compared based on their string
    representation due to the time zone/time-offset representations"."""
    from datetime import datetime

    def instant(text):
        text = text + "T00:00:00Z" if len(text) == 10 else text
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    ordered = call("sort", data=values, asc=asc)
    moments = [instant(v) for v in ordered]
    assert moments == sorted(moments, reverse=not asc)
    assert sorted(ordered) == sorted(with_data(values))


def test_rearrange_examples_and_bad_orders():
    """rearrange: "The positions must be zero-based" (integers of at least 0)."""
    assert call("rearrange", data=[5, 4, 3], order=[2, 1, 0]) == [3, 4, 5]
    assert call("rearrange", data=[5, 4, 3, 2], order=[1, 3]) == [4, 2]
    for bad in ([-1], [True], [0.5], [4]):
        assert code_of("rearrange", data=[5, 4, 3], order=bad) == "ProcessParameterInvalid"
    assert code_of("order", data=[1, "b"]) == "ProcessParameterInvalid"
    assert code_of("sort", data=[1, "2020-01-01"]) == "ProcessParameterInvalid"


# -- array_element -------------------------------------------------------------------------


@FAST
@given(st.lists(small_ints, max_size=5), st.integers(0, 7), st.booleans())
def test_array_element_by_index(values, index, return_nodata):
    """array_element: "Gives the element with the specified index"; an index past the end
    throws ArrayElementNotAvailable, or with return_nodata gives "the no-data value"."""
    if index < len(values):
        assert call("array_element", data=values, index=index) == values[index]
    elif return_nodata:
        assert call("array_element", data=values, index=index, return_nodata=True) is None
    else:
        assert code_of("array_element", data=values, index=index) == "ArrayElementNotAvailable"


@pytest.mark.parametrize("given", ["literal", "parameter"])
def test_array_element_exceptions(given):
    """array_element: "Either the parameter index or label must be specified, otherwise the
    ArrayElementParameterMissing exception is thrown. If both parameters are set the
    ArrayElementParameterConflict exception is thrown"; label "Throws an ArrayNotLabeled
    exception, if the given array is not a labeled array" (return_nodata does not change
    that); index is "The zero-based index" (schema: integer, minimum 0)."""
    code = literal_code if given == "literal" else code_of
    assert code("array_element", data=[1, 2]) == "ArrayElementParameterMissing"
    assert code("array_element", data=[1, 2], index=0, label="a") == (
        "ArrayElementParameterConflict"
    )
    assert code("array_element", data=[1, 2], label="a") == "ArrayNotLabeled"
    assert code("array_element", data=[1, 2], label="a", return_nodata=True) == "ArrayNotLabeled"
    assert code("array_element", data=[1, 2], index=2) == "ArrayElementNotAvailable"
    assert code("array_element", data=[1, 2], index=-1) == "ProcessParameterInvalid"
    assert code("array_element", data=[1, 2], index=0.5) == "ProcessParameterInvalid"
    assert code("array_element", data=[1, 2], index=True) == "ProcessParameterInvalid"


def test_array_element_by_label_in_labeled_arrays_and_cubes():
    """array_element: "the element with the specified ... label"; a missing label is
    ArrayElementNotAvailable (no-data with return_nodata); in a reducer over a temporal
    dimension a date names the label of that instant."""
    labeled = LabeledArray([4, 5, 6], ["B01", "B02", 3])
    assert call("array_element", data=labeled, label="B02") == 5
    assert call("array_element", data=labeled, label=3.0) == 6  # 3 is 3.0
    assert code_of("array_element", data=labeled, label="3") == "ArrayElementNotAvailable"
    assert call("array_element", data=labeled, label="B04", return_nodata=True) is None
    times = np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]")
    data = xr.DataArray([[1.0, 2.0]], dims=["x", "t"], coords={"x": [0.0], "t": times})
    cube = with_dimension_types(Cube(data, xr.ones_like(data, dtype=bool)),
                                {"x": "spatial", "t": "temporal"})  # fmt: skip
    for label in ("2020-01-02", "2020-01-02T00:00:00Z", "2020-01-02T01:00:00+01:00"):
        assert reduce_over(cube, "t", "array_element", label=label).to_python() == [2.0]
    missing = reduce_over(cube, "t", "array_element", label="2021-01-01", return_nodata=True)
    assert missing.to_python() == [None]
    with pytest.raises(PgcError) as error:
        reduce_over(cube, "t", "array_element", label="2021-01-01")
    assert error.value.code == "ArrayElementNotAvailable"


# -- labels: array_create_labeled, array_labels, array_find_label, array_append, concat ----

labels_ = st.lists(st.one_of(st.integers(-3, 3), st.text("abc", min_size=1, max_size=2)),
                   max_size=5, unique_by=lambda v: (type(v), v))  # fmt: skip


@FAST
@given(labels_)
def test_labeled_arrays_round_trip(labels):
    """array_create_labeled "Creates a new labeled array by using the values from the
    labels array as labels and the values from the data array as the corresponding
    values"; array_labels gives "all labels for a labeled array" in order; array_find_label
    returns "the zero-based index" of a label, array_element its value."""
    data = [f"v{i}" for i in range(len(labels))]
    nodes = {
        "a": node("array_create_labeled", data=data, labels={"from_parameter": "labels"}),
        "l": node("array_labels", data={"from_node": "a"}, result=True),
    }
    assert run_graph(nodes, labels=labels) == labels
    array = call("array_create_labeled", data=data, labels=labels)
    for i, label in enumerate(labels):
        assert call("array_find_label", data=array, label=label) == i
        assert call("array_element", data=array, label=label) == data[i]
    assert call("array_find_label", data=array, label="zz") is None
    assert call("array_find_label", data=data, label=0) is None  # not labeled
    assert call("array_labels", data=data) == list(range(len(data)))


def test_label_exceptions():
    """array_create_labeled: ArrayLengthMismatch "if the number of the values in the given
    arrays don't match"; labels are unique (uniqueItems); array_append: "If in any case
    the label exists, a LabelExists exception is thrown", and a label for an array that
    is not labeled is ArrayNotLabeled; array_concat "fails with an ArrayLabelConflict
    exception if a label is present in both arrays" (the number 1 is not the text '1')."""
    assert code_of("array_create_labeled", data=[1], labels=["a", "b"]) == "ArrayLengthMismatch"
    assert literal_code("array_create_labeled", data=[1], labels=["a", "b"]) == (
        "ArrayLengthMismatch"
    )
    assert code_of("array_create_labeled", data=[1, 2], labels=[1, 1.0]) == (
        "ProcessParameterInvalid"
    )
    labeled = LabeledArray([1, 2], ["a", 0])
    assert code_of("array_append", data=labeled, value=3, label="a") == "LabelExists"
    assert code_of("array_append", data=labeled, value=3, label=0.0) == "LabelExists"
    assert same(call("array_append", data=labeled, value=3),
                LabeledArray([1, 2, 3], ["a", 0, 2]))  # fmt: skip
    assert code_of("array_append", data=[1], value=2, label="x") == "ArrayNotLabeled"
    assert literal_code("array_append", data=[1], value=2, label="x") == "ArrayNotLabeled"
    other = LabeledArray([3], ["a"])
    assert code_of("array_concat", array1=labeled, array2=other) == "ArrayLabelConflict"
    text_one = LabeledArray([3], ["0"])
    assert same(call("array_concat", array1=labeled, array2=text_one),
                LabeledArray([1, 2, 3], ["a", 0, "0"]))  # fmt: skip


@FAST
@given(st.lists(maybe_nodata, max_size=5), st.lists(maybe_nodata, max_size=5))
def test_array_append_and_concat(a, b):
    """array_append "Appends a new value to the end of the array"; array_concat appends
    "the second array to the first array"; labels "are kept only if both given arrays are
    labeled"."""
    assert same(call("array_append", data=a, value=b[0] if b else None),
                [*a, b[0] if b else None])  # fmt: skip
    assert same(call("array_concat", array1=a, array2=b), a + b)
    half = LabeledArray(b, [f"b{i}" for i in range(len(b))])
    assert same(call("array_concat", array1=a, array2=half), a + b)


# -- array_contains, array_find --------------------------------------------------------------

elements = st.one_of(st.none(), st.integers(-2, 2), st.sampled_from([1.0, NAN, INF]),
                     st.booleans(), st.sampled_from(["1", "a", "A"]))  # fmt: skip


@FAST
@given(st.lists(elements, max_size=6), elements, st.booleans())
def test_array_find_and_contains(values, value, reverse):
    """array_find: "the zero-based index of the first (or last) occurrence of the value
    ... or the no-data value (or null) if there is no match"; eq's rules: strict types
    ("a string with the content 1 is not equal to the number 1"), 1 equals 1.0, NaN
    equals nothing, a no-data value finds nothing; array_contains is true exactly where
    array_find finds an index (and false for null)."""

    def equal(x):
        if x is None or value is None or isinstance(x, bool) != isinstance(value, bool):
            return False
        if isinstance(x, str) != isinstance(value, str):
            return False
        return x == value  # NaN != NaN

    hits = [i for i, x in enumerate(values) if equal(x)]
    found = call("array_find", data=values, value=value, reverse=reverse)
    assert found == ((hits[-1] if reverse else hits[0]) if hits else None)
    assert call("array_contains", data=values, value=value) is bool(hits)


# -- array_create, array_modify, array_apply, array_filter, array_interpolate_linear ----------


@FAST
@given(st.lists(maybe_nodata, max_size=4), st.integers(1, 4))
def test_array_create(values, repeat):
    """array_create: repeat is "The number of times the (native) array specified in data
    is repeatedly added after each other to the new array" (at least 1)."""
    assert same(call("array_create", data=values, repeat=repeat), values * repeat)
    assert code_of("array_create", data=values, repeat=0) == "ProcessParameterInvalid"
    assert code_of("array_create", data=values, repeat=1.5) == "ProcessParameterInvalid"


@FAST
@given(
    st.lists(small_ints, max_size=6), st.lists(small_ints, max_size=3), st.integers(0, 7),
    st.integers(0, 7),
)  # fmt: skip
def test_array_modify(values, inserted, index, length):
    """array_modify: "Updating can be seen as removing elements followed by inserting new
    elements"; "If the index is greater than the number of elements in the data array,
    the process throws an ArrayElementNotAvailable exception"."""
    if index > len(values):
        assert code_of("array_modify", data=values, values=inserted, index=index,
                       length=length) == "ArrayElementNotAvailable"  # fmt: skip
        return
    got = call("array_modify", data=values, values=inserted, index=index, length=length)
    assert got == values[:index] + inserted + values[index + length:]


def test_array_modify_labels():
    """array_modify: "Array labels are kept only if both arrays given in data and values
    are labeled or one of them is empty"; "The process fails with an ArrayLabelConflict
    exception if a label is present in both arrays"."""
    a, b = LabeledArray([1, 2], ["a", "b"]), LabeledArray([3], ["c"])
    assert same(call("array_modify", data=a, values=b, index=1),
                LabeledArray([1, 3, 2], ["a", "c", "b"]))  # fmt: skip
    clash = LabeledArray([3], ["b"])
    assert code_of("array_modify", data=a, values=clash, index=0) == "ArrayLabelConflict"
    assert call("array_modify", data=a, values=[9], index=0, length=1) == [9, 2]


@FAST
@given(st.lists(maybe_nodata, max_size=6))
def test_array_apply_and_filter(values):
    """array_apply: "The number of elements are the same as for the original array";
    array_filter keeps "Only the array elements for which the condition returns true"
    (labels with them)."""
    labeled = LabeledArray(values, [f"l{i}" for i in range(len(values))])
    index = callback(i=node("add", result=True, x={"from_parameter": "index"}, y=0))
    applied = call("array_apply", data=labeled, process=index)
    assert same(applied, LabeledArray(list(range(len(values))), labeled.labels))
    positive = callback(g=node("gt", result=True, x={"from_parameter": "x"}, y=0))
    kept = [i for i, v in enumerate(values) if v is not None and not nan(v) and v > 0]
    assert same(call("array_filter", data=labeled, condition=positive),
                LabeledArray([values[i] for i in kept], [f"l{i}" for i in kept]))  # fmt: skip


@FAST
@given(st.lists(st.one_of(st.none(), st.integers(-50, 50)), max_size=8))
def test_array_interpolate_linear(values):
    """array_interpolate_linear: "a linear interpolation for each of the NaN and no-data
    values in the array given, except for leading and trailing NaN and no-data values";
    "If not at least 2 numerical values are available in the array, the array stays the
    same"."""
    out = call("array_interpolate_linear", data=values)
    known = [i for i, v in enumerate(values) if v is not None]
    assert len(out) == len(values)
    for i, v in enumerate(values):
        if v is not None or len(known) < 2 or i < known[0] or i > known[-1]:
            assert out[i] == v
            continue
        left = max(k for k in known if k < i)
        right = min(k for k in known if k > i)
        expected = values[left] + (values[right] - values[left]) * (i - left) / (right - left)
        assert math.isclose(out[i], expected, abs_tol=1e-9)


# -- text ------------------------------------------------------------------------------------

texts = st.text("aAbBßsSäÄ ", max_size=8)


@FAST
@given(texts, st.text("aAbBsSä", max_size=3), st.booleans())
@example("Straße", "SS", False)
def test_text_begins_contains_ends_find(data, pattern, case_sensitive):
    """text_begins/text_contains/text_ends check the pattern at the beginning, anywhere or
    at the end; text_find gives "the position of the text" where it is first found, null
    otherwise; "Case sensitive comparison can be disabled": the results then do not depend
    on the case of either text."""
    args = {"pattern": pattern, "case_sensitive": case_sensitive}
    found = call("text_find", data=data, **args)
    assert call("text_contains", data=data, **args) is (found is not None)
    if case_sensitive:
        assert call("text_begins", data=data, **args) is data.startswith(pattern)
        assert call("text_ends", data=data, **args) is data.endswith(pattern)
        assert found == (data.find(pattern) if pattern in data else None)
        return
    for pid in ("text_begins", "text_contains", "text_ends"):
        base = call(pid, data=data, **args)
        for d, p in ((data.upper(), pattern.lower()), (data.lower(), pattern.upper())):
            assert call(pid, data=d, pattern=p, case_sensitive=False) is base
    assert call("text_find", data=data, pattern=pattern.upper(), case_sensitive=False) == found
    if found is not None:  # a position in data as given, where the pattern begins
        assert data[found:].casefold().startswith(pattern.casefold()) or (
            data[found].casefold() != data[found].lower()  # inside a folding such as ß: ss
        )


def test_text_processes_pass_nodata_through():
    """text_begins ...: "No-data values are passed through"; pattern must be a string."""
    for pid in ("text_begins", "text_contains", "text_ends", "text_find"):
        assert call(pid, data=None, pattern="null") is None
        assert code_of(pid, data="a", pattern=None) == "ProcessParameterInvalid"
        assert code_of(pid, data=1, pattern="1") == "ProcessParameterInvalid"


@FAST
@given(st.lists(st.one_of(st.none(), st.booleans(), st.integers(-9, 9),
                          st.text("ab", max_size=2)), max_size=5),
       st.one_of(st.text(",;", max_size=1), st.integers(0, 2), st.booleans()))  # fmt: skip
def test_text_concat(values, separator):
    """text_concat: "Numbers, boolean values and null values get converted to their
    (lower case) string representation" (1, true, null), the separator too, "with the
    separator between each element"."""

    def text(v):
        return "null" if v is None else str(v).lower() if isinstance(v, bool) else str(v)

    expected = text(separator).join(text(v) for v in values)
    assert call("text_concat", data=values, separator=separator) == expected
    assert call("text_concat", data=[1.0, -1.5]) == "1-1.5"
    assert code_of("text_concat", data=[[1]]) == "ProcessParameterInvalid"


# -- every bad input is an openEO error, never Internal ---------------------------------------

BAD = [
    ("sum", {"data": 5}),
    ("sum", {"data": "abc"}),
    ("product", {"data": [True, 2]}),
    ("mean", {"data": [1], "ignore_nodata": "x"}),
    ("first", {"data": 5}),
    ("count", {"data": 5}),
    ("count", {"data": [1], "condition": 3}),
    ("extrema", {"data": ["a"]}),
    ("cumsum", {"data": [1, "a"]}),
    ("quantiles", {"data": [1, 2], "probabilities": [1.5]}),
    ("quantiles", {"data": [1, 2], "probabilities": True}),
    ("quantiles", {"data": [1, 2], "probabilities": 1}),
    ("quantiles", {"data": [1, 2], "probabilities": [0.5, 0.5]}),
    ("quantiles", {"data": [1, "a"], "probabilities": [0.5]}),
    ("array_element", {"data": None, "index": 0}),
    ("array_element", {"data": "ab", "index": 0}),
    ("array_element", {"data": [1], "label": [1]}),
    ("array_element", {"data": [1], "index": 0, "return_nodata": "yes"}),
    ("array_create_labeled", {"data": [1], "labels": [None]}),
    ("array_create_labeled", {"data": 5, "labels": [1]}),
    ("array_modify", {"data": [1], "values": [2], "index": 0, "length": -1}),
    ("array_interpolate_linear", {"data": [1, "a", 3]}),
    ("array_interpolate_linear", {"data": 5}),
    ("array_contains", {"data": [[1]], "value": [1]}),
    ("array_labels", {"data": 5}),
    ("text_concat", {"data": "abc"}),
    ("text_concat", {"data": ["a"], "separator": [1]}),
    ("sort", {"data": ["b", "a"]}),
]


@pytest.mark.parametrize("pid,arguments", BAD, ids=[f"{p}-{i}" for i, (p, _) in enumerate(BAD)])
def test_bad_values_are_process_parameter_invalid(pid, arguments):
    """A value outside a parameter's schema is ProcessParameterInvalid (the API's code)
    also when only the run shows it (a parameter, another node's value), never Internal."""
    assert code_of(pid, **arguments) == "ProcessParameterInvalid"


@pytest.mark.parametrize("given", ["literal", "parameter"])
def test_quantiles_exceptions(given):
    """quantiles: "Either the parameter probabilities or q must be specified, otherwise
    the QuantilesParameterMissing exception is thrown. If both parameters are set the
    QuantilesParameterConflict exception is thrown"; unsorted probabilities: "an
    AscendingProbabilitiesRequired exception is thrown"."""
    code = literal_code if given == "literal" else code_of
    assert code("quantiles", data=[1, 2]) == "QuantilesParameterMissing"
    assert code("quantiles", data=[1, 2], probabilities=[0.5], q=2) == (
        "QuantilesParameterConflict"
    )
    assert code("quantiles", data=[1, 2], probabilities=4, q=2) == "QuantilesParameterConflict"
    assert code("quantiles", data=[1, 2], probabilities=[0.5, 0.1]) == (
        "AscendingProbabilitiesRequired"
    )
