"""Reference implementations of the statistics of an array: the reducers mean, median,
min, max, sum, product, sd, variance, first, last and count, on a plain array or along a
cube's dimension for every pixel at once (:class:`CubeArray`), both forms computing alike
and in the order of the labels; and extrema and quantiles. Reducers skip no-data unless
``ignore_nodata`` is false, then any no-data gives no-data; NaN is a value.
"""

from __future__ import annotations

import math
from functools import reduce
from math import isfinite
from typing import Any

import numpy as np

from ...dtypes import compute_dtype
from ...numerics import bounded_int
from ...specs import load_specs
from ..pixels import PixelLoop
from ..values import Cube, CubeArray, LabeledArray, all_valid, everywhere, without, zeroed
from .arguments import array_values, flag, invalid, is_number, numbers_only, whole
from .arrays import elements_of
from .cube import as_cube_like
from .loop import Call, Closure
from .scalar import FLOAT, numbers
from .table import implements

# pixels reduced at a time: a block's temporaries (masked copies, sorted values, masks)
# stay small whatever the cube (issue 23: the seasonal median held four copies of a season
# of 4 bands, 3.2 GB at 2048 x 2048 px; blocks of 2**17 pixels of 6 dates are 6 MB)
BLOCK = 1 << 17


def _masked_reduce(arr: CubeArray, fn, ignore_nodata: bool, min_count: int = 1,
                   full=None) -> Cube:  # fmt: skip
    """Reduce along the array's dimension for every pixel, skipping no-data if asked.
    NaN is a value: numpy's masked arrays mask a NaN result (mean of [NaN, 1]), which
    here becomes NaN again wherever a NaN was among at least ``min_count`` values.

    Every pixel is reduced alone, so the pixels go through ``fn`` in blocks of
    :data:`BLOCK`. Where every value has data (:func:`all_valid`) and there are at least
    ``min_count`` of them, ``full`` (given one) reduces the plain values instead: what
    ``fn`` gives with nothing masked, without the masks (issue 23: the monthly mean NDVI
    spent 0.7 s of its 1.1 s on masks of a cube without no-data)."""
    cube, dim = arr.cube, arr.dimension
    dtype = compute_dtype()  # the dtype policy
    plain = full is not None and cube.data.sizes[dim] >= min_count and all_valid(cube.valid)
    # integers the compute dtype holds exactly: ``full`` converts them as it reads them, the
    # same numbers without a converted copy of the cube (the mean over time of 12 dates of
    # 3 bands at 4096 px converted 1.2 GB of integers into 4.8 GB first, issue 23)
    exact = plain and _held_exactly(cube.data.dtype, np.dtype(dtype))
    data = (cube.data if exact else numbers(cube)).transpose(dim, ...)
    template = data.isel({dim: 0}, drop=True)
    # contiguous along the other dimensions: numpy then adds (sum, mean) in the order of
    # the labels whatever the cube's layout, not pairwise along a contiguous axis
    values = np.ascontiguousarray(data.values)
    if plain:
        with np.errstate(all="ignore"):
            reduced = np.asarray(full(values)).astype(dtype, copy=False)
        result = template.copy(data=reduced)
        return Cube(result, everywhere(result))
    n = values.shape[0]
    flat = values.reshape(n, -1)
    ok = np.ascontiguousarray(cube.full_valid().transpose(dim, ...).values).reshape(n, -1)
    out = np.zeros(flat.shape[1], dtype)
    out_valid = np.zeros(flat.shape[1], bool)
    for start in range(0, flat.shape[1], BLOCK):
        part = slice(start, start + BLOCK)
        out[part], out_valid[part] = _reduced_block(flat[:, part], ok[:, part], fn,
                                                    ignore_nodata, min_count)  # fmt: skip
    return Cube(template.copy(data=out.reshape(template.shape)),
                template.copy(data=out_valid.reshape(template.shape)))  # fmt: skip


def _reduced_block(values: np.ndarray, ok: np.ndarray, fn, ignore_nodata: bool,
                   min_count: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`_masked_reduce` of the pixels ``values[:, i]`` (with data where ``ok``):
    their values (0 where there is none) and whether they have one."""
    masked = np.ma.masked_array(values, mask=~ok)
    with np.errstate(all="ignore"):
        out = fn(masked, axis=0)
    out = np.ma.masked_array(out)
    nan_in = (np.isnan(values) & ok).any(axis=0)
    nan_out = np.ma.getmaskarray(out) & nan_in & (ok.sum(axis=0) >= min_count)
    out = np.ma.masked_array(np.where(nan_out, np.nan, out.data), mask=out.mask & ~nan_out)
    result_valid = ~np.ma.getmaskarray(out)
    if not ignore_nodata:
        result_valid &= ok.all(axis=0)
    reduced = np.asarray(np.ma.filled(out.astype(compute_dtype()), 0.0))
    return np.where(result_valid, reduced, 0.0), result_valid


def _plain(values: list, ignore_nodata: bool) -> list | None:
    """The values to reduce, or None when a no-data value decides the result."""
    if any(v is None for v in values):
        if not ignore_nodata:
            return None
        values = [v for v in values if v is not None]
    return values


def _reducer(fn_masked, fn_plain, min_count: int = 1, fn_full=None):
    """A reducer of numbers (the definitions' ``data``: numbers and no-data) on a cube's
    dimension (``fn_masked``; ``fn_full`` where every value has data, see
    :func:`_masked_reduce`) or a plain array (``fn_plain``, given the numbers with data,
    integers past 64 bits as floats). Both forms compute alike, in the same order, so a
    reducer over a cube gives every pixel what the process gives that pixel's array."""

    def impl(call: Call) -> Any:
        data, ignore = call.get("data"), flag(call, "ignore_nodata", True)
        if isinstance(data, CubeArray):
            return _masked_reduce(data, fn_masked, ignore, min_count, fn_full)
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
    of 0.5 (quantiles, below) both take it, as the definition of median says."""
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


def _held_exactly(integers: np.dtype, floats: np.dtype) -> bool:
    """Whether every value of the integer dtype is a value of the float dtype (16-bit
    integers in float32, 32-bit ones in float64)."""
    if integers.kind not in "iu" or floats.kind != "f":
        return False
    return np.iinfo(integers).bits < np.finfo(floats).nmant + 1


def sum_in_label_order(values: np.ndarray) -> np.ndarray:
    """:func:`in_label_order` of values that all have data: the same additions (-0.0 + x
    is x, so starting from the first value adds nothing else) without the masks. Integers
    (:func:`_held_exactly`) are added into the compute dtype, each label converted as it
    is added: the numbers their converted copy would give."""
    kind = values.dtype if values.dtype.kind in "fc" else np.dtype(compute_dtype())
    total = np.array(values[0], dtype=kind)  # a copy, an array also for one pixel (0-d)
    for k in range(1, values.shape[0]):
        total += values[k]
    return total


def _full_mean(values: np.ndarray) -> np.ndarray:
    """:func:`_masked_mean` of values that all have data: the sum in label order over
    their count, divided in float64 as the sum over an integer count array is."""
    total = sum_in_label_order(values)
    if total.dtype == np.float64:  # in place: one array less to allocate
        return np.divide(total, values.shape[0], out=total)
    return np.divide(total, values.shape[0], dtype=np.float64)


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


implements("mean")(_reducer(_masked_mean, _mean, fn_full=_full_mean))
implements("median")(_reducer(_masked_median, _median))
# np.ma.min of values without masks is np.min (NaN wins), as fn_full gives it
implements("min")(
    _reducer(np.ma.min, lambda v: min(v) if not any(_nan(x) for x in v) else math.nan,
             fn_full=lambda values: values.min(axis=0))  # fmt: skip
)
implements("max")(
    _reducer(np.ma.max, lambda v: max(v) if not any(_nan(x) for x in v) else math.nan,
             fn_full=lambda values: values.max(axis=0))  # fmt: skip
)
# sum and product start from the first value (not 0 or 1): sum([-0.0]) is -0.0, and
# integers stay integers while they fit 64 bits
implements("sum")(
    _reducer(_masked_sum, lambda v: bounded_int(reduce(lambda a, b: a + b, v)),
             fn_full=sum_in_label_order)  # fmt: skip
)
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
            return _count_accepted(call, data, condition)
        return _masked_reduce(data, counts, True)
    values = array_values(call)
    if condition is True:
        return len(values)
    if condition is None:  # the elements is_valid accepts: not no-data, NaN or infinite
        return sum(1 for v in values if v is not None and not (is_number(v) and not isfinite(v)))
    return sum(1 for v in values if condition(x=v, context=call.get("context")) is True)


def _count_accepted(call: Call, arr: CubeArray, condition: Closure) -> Cube:
    """count with a condition callback, every element of the cube at once: a callback
    whose processes all act on each value alone (their ``elementwise`` trait) gives, run
    on the whole cube as ``x``, at every element what it gives that element alone -- as
    ``apply`` runs its callback. An element counts where the result is true and has data
    (false, no-data and anything not a boolean do not count, as for one element). Other
    callbacks run pixel by pixel. Issue 23: 61 s on 512 x 512 x 12 pixel by pixel."""
    if not elementwise_graph(condition.graph):
        raise PixelLoop  # the condition reads more than its element: run it pixel by pixel
    cube, dim = arr.cube, arr.dimension
    accepted = as_cube_like(condition(x=cube, context=call.get("context")), cube)
    template = without(cube.data, dim)
    if accepted.data.dtype != bool:  # numbers, text: never ``true``
        counted = np.zeros(template.shape, compute_dtype())
    else:
        hits = (accepted.data & accepted.valid).transpose(dim, ...)
        counted = hits.values.sum(axis=0).astype(compute_dtype())
    return Cube(template.copy(data=counted), template.copy(data=np.ones(template.shape, bool)))


def elementwise_graph(graph: Any) -> bool:
    """Whether every node of a child graph (and of the graphs nested in it) is a process
    that acts on each value alone."""
    specs = load_specs()
    for _, node in graph.walk():
        spec = specs.get(node.process_id)
        if spec is None or not spec.traits.elementwise:
            return False
    return True


@implements("extrema")
def _extrema(call: Call) -> Any:
    values = numbers_only(elements_of(call.get("data")))
    if any(v is None for v in values) and not flag(call, "ignore_nodata", True):
        return [None, None]
    numbers = [v for v in values if v is not None]
    if not numbers:
        return [None, None]
    if any(isinstance(v, float) and math.isnan(v) for v in numbers):
        return [math.nan, math.nan]
    return [min(numbers), max(numbers)]


@implements("quantiles")
def _quantiles(call: Call) -> Any:
    """Type 7 of Hyndman and Fan at each probability (``q``: at i / q for i in 1..q-1):
    at h = (n - 1) p of the sorted values, the value below plus the fraction of h of the
    way to the next. Exactly at a value, that value (numpy gives NaN at 2 in [1, 2, inf]:
    inf * 0); halfway, the midpoint as median computes it (the definition of median: the
    quantile of 0.5). A NaN among the values makes every quantile NaN, as for median."""
    values = numbers_only(elements_of(call.get("data")))
    probabilities = _probabilities(call)
    if any(v is None for v in values) and not flag(call, "ignore_nodata", True):
        return [None] * len(probabilities)
    numbers = [float(bounded_int(v)) for v in values if v is not None]
    if not numbers:
        return [None] * len(probabilities)
    if any(math.isnan(v) for v in numbers):
        return [math.nan] * len(probabilities)
    numbers.sort()
    out = []
    for p in probabilities:
        h = (len(numbers) - 1) * p
        below = min(math.floor(h), len(numbers) - 1)
        a, b = numbers[below], numbers[min(below + 1, len(numbers) - 1)]
        out.append(float(_interpolated(a, b, h - below, midpoint)))
    return out


def _interpolated(a: float, b: float, t: float, midpoint) -> float:
    """The point a fraction ``t`` of the way from ``a`` to ``b`` (a <= b), as numpy's
    linear quantile computes it where that is exact, and without its NaN where an
    infinity or an overflowing b - a meets t."""
    if t == 0 or a == b:
        return a
    if t == 0.5:
        return midpoint(a, b)
    if math.isinf(a) and math.isinf(b):
        return math.nan  # -inf .. inf
    if math.isinf(a) or math.isinf(b):
        return a if math.isinf(a) else b  # any way from or to an infinity is infinite
    d = b - a
    if not math.isfinite(d):
        return a * (1 - t) + b * t
    return a + d * t if t < 0.5 else b - d * (1 - t)


def _probabilities(call: Call) -> list:
    """The probabilities asked for: ``probabilities`` (a list, or an integer: the number of
    intervals) or ``q``, with the definition's exceptions."""
    probabilities, q = call.get("probabilities"), call.get("q")
    if probabilities is not None and q is not None:
        call.fail("QuantilesParameterConflict", "Give 'probabilities' or 'q', not both.", "q")
    if probabilities is None and q is None:
        call.fail("QuantilesParameterMissing", "Give 'probabilities' or 'q'.")
    if q is not None:
        intervals = whole(q, "q", minimum=2)
    elif isinstance(probabilities, list | tuple | LabeledArray):
        return _probability_list(call, elements_of(probabilities, "probabilities"))
    elif is_number(probabilities):
        intervals = whole(probabilities, "probabilities", minimum=2)
    else:
        raise invalid("probabilities", "an array of probabilities or an integer", probabilities)
    return [i / intervals for i in range(1, intervals)]


def _probability_list(call: Call, probabilities: list) -> list:
    for p in probabilities:
        if not is_number(p) or not 0 <= p <= 1:
            raise invalid("probabilities", "an array of numbers from 0 to 1", p)
    if len(set(probabilities)) != len(probabilities):  # uniqueItems
        raise invalid("probabilities", "an array of distinct probabilities", probabilities)
    if any(a > b for a, b in zip(probabilities, probabilities[1:], strict=False)):
        call.fail(
            "AscendingProbabilitiesRequired",
            "'probabilities' must be sorted in ascending order.",
            "probabilities",
        )
    return probabilities
