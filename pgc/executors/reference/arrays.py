"""Reference implementations of array, text and date processes on plain values.

Arrays are Python lists or :class:`LabeledArray`; ``None`` is no-data. Cube views
(:class:`CubeArray`) are supported where noted; elsewhere such a call fails clearly.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import xarray as xr

from ...errors import echo
from ...numerics import bounded_int
from ...periods import instant, time_of_day
from ..pixels import PixelLoop, plain
from ..values import Cube, CubeArray, LabeledArray
from .arguments import flag, integer, invalid, is_number, label_key, numbers_only, whole
from .loop import Call
from .table import implements


def _values(data: Any, name: str = "data") -> list:
    """The elements of the array argument ``name`` (``data``: its value)."""
    if isinstance(data, CubeArray):
        raise PixelLoop  # the executor runs the process pixel by pixel (executors.pixels)
    if isinstance(data, LabeledArray):
        return list(data.values)
    if not isinstance(data, list | tuple):
        raise invalid(name, "an array", data)
    return list(data)


def _labels(data: Any) -> list | None:
    if isinstance(data, CubeArray):  # the dimension's labels: the same at every pixel
        return [plain(v) for v in data.labels]
    return list(data.labels) if isinstance(data, LabeledArray) else None


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _same(a: Any, b: Any) -> bool:
    """openEO equality of elements: strict types, 1 == 1.0, NaN never equal; arrays and
    objects are not comparable."""
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return False
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


# --- comparison ---------------------------------------------------------------------------


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
            from .scalar import COMPARISONS, comparable_operands, compare_cube

            if or_equal and not comparable_operands(x, y, ordered=True):
                return compare_cube(np.equal, x, y, False, ordered=False)  # eq, then
            return compare_cube(COMPARISONS[pid], x, y, False, ordered=True)
        if x is None or y is None:
            return None
        if not _is_number(x) or not _is_number(y):
            return or_equal and _same(x, y)  # the definition: not numbers -> false
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
    from .scalar import elementwise, number_argument

    x, lo, hi = call.get("x"), number_argument(call, "min"), number_argument(call, "max")
    exclude_max = flag(call, "exclude_max", False)

    def inside(v: Any) -> Any:
        return (v >= lo) & ((v < hi) if exclude_max else (v <= hi))

    if not isinstance(x, Cube):
        return None if x is None else bool(_is_number(x) and inside(x))
    kind = x.data.dtype.kind
    if kind in "iuf":
        return elementwise(inside, x)
    # booleans, text, objects: false wherever they are not numbers
    test = np.frompyfunc(lambda v: _is_number(v) and bool(inside(v)), 1, 1)
    valid = x.full_valid()
    data = xr.DataArray(test(x.data.values).astype(bool), dims=x.data.dims, coords=x.data.coords)
    return Cube(data & valid, valid)


@implements("is_infinite")
def _is_infinite(call: Call) -> Any:
    """Whether x is +inf or -inf; NaN, no-data and what is not a number are not."""
    x = call.get("x")
    if isinstance(x, Cube):
        from .scalar import value_test

        return value_test(x, np.isinf, lambda v: _is_number(v) and math.isinf(v))
    return _is_number(x) and math.isinf(x)


@implements("arctan2")
def _arctan2(call: Call) -> Any:
    from .scalar import elementwise, ieee_function, wide

    return elementwise(
        wide(np.arctan2), call.get("y"), call.get("x"), scalar_fn=ieee_function(np.arctan2)
    )


@implements("nan")
def _nan(call: Call) -> float:
    return math.nan


# --- logic over arrays ------------------------------------------------------------------


@implements("any", "all")
def _any_all(call: Call) -> Any:
    """The definitions' truth tables: a true (any) or a false (all) decides; else, with
    ``ignore_nodata=false``, a no-data value makes the result no-data; else (also for an
    empty array or one of no-data only) false (any) or true (all)."""
    values = _values(call.get("data"))
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


# --- arrays ------------------------------------------------------------------------------


@implements("array_find")
def _array_find(call: Call) -> Any:
    values, target = _values(call.get("data")), call.get("value")
    if isinstance(target, Cube):  # a value per pixel (array_element in a reducer)
        raise PixelLoop
    reverse = flag(call, "reverse", False)
    if target is None:
        return None
    order = range(len(values) - 1, -1, -1) if reverse else range(len(values))
    for i in order:
        if _same(values[i], target) and not (_is_number(target) and math.isnan(target)):
            return i
    return None


@implements("array_contains")
def _array_contains(call: Call) -> Any:
    values, target = _values(call.get("data")), call.get("value")
    if isinstance(target, Cube):  # a value per pixel: SCL classes in a cloud mask
        return _contains_per_pixel(values, target)
    if isinstance(target, list | tuple | dict | LabeledArray):
        raise invalid("value", "a number, a boolean, a string or null", target)
    if target is None:
        return False
    return any(_same(v, target) for v in values)


def _contains_per_pixel(values: list, target: Cube) -> Cube:
    """array_contains for every pixel of a numeric cube at once: true where the pixel has
    data equal to one of the numbers (1 == 1.0; NaN equals nothing); false, with data, for
    no-data pixels, as array_contains(…, null) is false."""
    if target.data.dtype.kind not in "iuf":
        raise PixelLoop  # booleans and text: the element rules pixel by pixel
    hit = np.zeros(target.data.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for value in values:
            if _is_number(value):
                hit |= target.data.values == value
    hit &= np.broadcast_to(target.full_valid().values, hit.shape)
    return Cube(target.data.copy(data=hit), xr.DataArray(True))


@implements("array_find_label")
def _array_find_label(call: Call) -> Any:
    """The index of ``label`` (matched as array_element matches it: 1 is 1.0, dates by
    their instant); null when the array has no such label or no labels at all."""
    data, label = call.get("data"), call.get("label")
    if not isinstance(data, CubeArray):
        _values(data)
    if label is not None and not (is_number(label) or isinstance(label, str)):
        raise invalid("label", "a number or a string", label)
    labels = _labels(data)
    if labels is None or label is None:
        return None
    key = label_key(label)
    return next((i for i, v in enumerate(labels) if label_key(v) == key), None)


@implements("array_labels")
def _array_labels(call: Call) -> Any:
    data = call.get("data")
    if isinstance(data, CubeArray):
        return list(data.labels)
    labels = _labels(data)
    return labels if labels is not None else list(range(len(_values(data))))


@implements("array_append")
def _array_append(call: Call) -> Any:
    data, value, label = call.get("data"), call.get("value"), call.get("label")
    if label is not None and not (is_number(label) or isinstance(label, str)):
        raise invalid("label", "a number, a string or null", label)
    labels = _labels(data)
    if labels is None:
        if label is not None:
            call.fail("ArrayNotLabeled", "The array has no labels; do not give 'label'.", "label")
        return [*_values(data), value]
    if label is None:
        label = len(labels)
    if any(label_key(label) == label_key(lab) for lab in labels):
        call.fail("LabelExists", f"The array has a label '{label}' already.", "label")
    return LabeledArray([*_values(data), value], [*labels, label])


@implements("array_concat")
def _array_concat(call: Call) -> Any:
    a, b = call.get("array1"), call.get("array2")
    values = _values(a, "array1") + _values(b, "array2")
    la, lb = _labels(a), _labels(b)
    if la is not None and lb is not None:
        keys = {label_key(v) for v in la}
        common = [v for v in lb if label_key(v) in keys]  # the label 1 is not the text '1'
        if common:
            call.fail(
                "ArrayLabelConflict", f"Both arrays have the label {echo(common[0])}.", "array2"
            )
        return LabeledArray(values, la + lb)
    return values


@implements("array_create")
def _array_create(call: Call) -> Any:
    data = call.get("data")
    values = [] if data is None else _values(data)  # the default: an empty array
    repeat = integer(call, "repeat", minimum=1, default=1)
    call.within_budget(len(values) * repeat, "max_array_length", "array elements", "repeat")
    return values * repeat


@implements("array_create_labeled")
def _array_create_labeled(call: Call) -> Any:
    data, labels = _values(call.get("data")), _values(call.get("labels"), "labels")
    for label in labels:
        if not (is_number(label) or isinstance(label, str)):
            raise invalid("labels", "an array of numbers and strings", label)
    if len({label_key(v) for v in labels}) != len(labels):  # uniqueItems
        raise invalid("labels", "an array of distinct labels", labels)
    if len(data) != len(labels):
        call.fail("ArrayLengthMismatch", "'data' and 'labels' differ in length.", "labels")
    return LabeledArray(data, labels)


@implements("array_apply")
def _array_apply(call: Call) -> Any:
    data = call.get("data")
    process = call.callback("process")
    values, labels = _values(data), _labels(data)
    out = [
        process(x=v, index=i, label=labels[i] if labels else None, context=call.get("context"))
        for i, v in enumerate(values)
    ]
    return LabeledArray(out, labels) if labels is not None else out


@implements("array_filter")
def _array_filter(call: Call) -> Any:
    data = call.get("data")
    condition = call.callback("condition")
    values, labels = _values(data), _labels(data)
    keep = [
        i
        for i, v in enumerate(values)
        if condition(x=v, index=i, label=labels[i] if labels else None, context=call.get("context"))
        is True
    ]
    if labels is not None:
        return LabeledArray([values[i] for i in keep], [labels[i] for i in keep])
    return [values[i] for i in keep]


@implements("array_modify")
def _array_modify(call: Call) -> Any:
    """Remove ``length`` elements at ``index`` (default 0: insert) and put ``values`` there.
    Labels survive when both arrays are labeled (a label in both is ArrayLabelConflict)
    or one of them is empty; otherwise the result is a plain array."""
    data, inserted = call.get("data"), call.get("values")
    values, new = _values(data), _values(inserted, "values")
    index = integer(call, "index", minimum=0)
    length = integer(call, "length", minimum=0, default=0)
    if index is None:
        raise invalid("index", "an integer of at least 0", index)
    if index > len(values):
        call.fail("ArrayElementNotAvailable", "The index is beyond the end of the array.", "index")
    out = values[:index] + new + values[index + length :]
    labels, new_labels = _labels(data), _labels(inserted)
    if labels is None and new_labels is None:
        return out
    if labels is not None and new_labels is not None:
        keys = {label_key(v) for v in labels}
        clash = [v for v in new_labels if label_key(v) in keys]  # "present in both arrays"
        if clash:
            call.fail("ArrayLabelConflict", f"The label '{clash[0]}' is in both arrays.", "values")
        return LabeledArray(out, labels[:index] + new_labels + labels[index + length :])
    if labels is not None and not new:  # nothing inserted: data's labels stay
        return LabeledArray(out, labels[:index] + labels[index + length :])
    if new_labels is not None and not values:  # data empty: the values' labels
        return LabeledArray(out, list(new_labels))
    return out


@implements("rearrange")
def _rearrange(call: Call) -> Any:
    values, order = _values(call.get("data")), _values(call.get("order"), "order")
    order = [whole(i, "order", minimum=0) for i in order]  # 2.0 is 2, true is no index
    outside = [i for i in order if i >= len(values)]
    if outside:
        call.fail(
            "ProcessParameterInvalid",
            f"The order names the index {outside[0]!r}, but the array has {len(values)} elements.",
            "order",
        )
    return [values[i] for i in order]


def _order_indices(values: list, asc: bool, nodata: bool | None) -> list[int]:
    """The positions of ``values`` in ascending (descending) order, ties in their order;
    no-data values dropped (``nodata`` null), last (true) or first (false). NaN is a
    number, not no-data: it stays, ordered after +inf (IEEE 754's total order), so that
    descending is ascending reversed but for ties."""
    present = [i for i, v in enumerate(values) if v is not None]
    missing = [i for i, v in enumerate(values) if v is None]
    keys = {i: _order_key(values[i]) for i in present}
    kinds = {kind for kind, _ in keys.values()}
    if len(kinds) > 1:  # numbers and dates do not compare
        raise invalid("data", "an array of numbers or of dates, not both", values)
    ordered = sorted(present, key=lambda i: keys[i][1], reverse=not asc)
    if nodata is None:
        return ordered
    return ordered + missing if nodata else missing + ordered


def _order_key(v: Any) -> tuple[str, Any]:
    """What an element is ordered by: a number by its value (NaN last), a date or
    date-time by its instant (the definitions: not by its text, whose time zones differ)."""
    if is_number(v):
        return "number", (True, 0.0) if math.isnan(v) else (False, v)
    kind, key = label_key(v)
    if kind != "instant":
        raise invalid("data", "an array of numbers, dates and no-data", v)
    return "date", key


@implements("order")
def _order(call: Call) -> Any:
    nodata = call.get("nodata")
    if nodata is not None and not isinstance(nodata, bool):
        raise invalid("nodata", "a boolean or null", nodata)
    return _order_indices(_values(call.get("data")), flag(call, "asc", True), nodata)


@implements("sort")
def _sort(call: Call) -> Any:
    data, nodata = call.get("data"), call.get("nodata")
    if nodata is not None and not isinstance(nodata, bool):
        raise invalid("nodata", "a boolean or null", nodata)
    values, labels = _values(data), _labels(data)
    idx = _order_indices(values, flag(call, "asc", True), nodata)
    if labels is not None:
        return LabeledArray([values[i] for i in idx], [labels[i] for i in idx])
    return [values[i] for i in idx]


@implements("extrema")
def _extrema(call: Call) -> Any:
    values = _check_numbers(_values(call.get("data")))
    if any(v is None for v in values) and not flag(call, "ignore_nodata", True):
        return [None, None]
    numbers = [v for v in values if v is not None]
    if not numbers:
        return [None, None]
    if any(isinstance(v, float) and math.isnan(v) for v in numbers):
        return [math.nan, math.nan]
    return [min(numbers), max(numbers)]


def _check_numbers(values: list) -> list:
    """``values`` (an array of numbers and no-data, as the definition's schema says)."""
    return numbers_only(values)


def _cumulative(op):
    def impl(call: Call) -> Any:
        data = call.get("data")
        values, labels = _values(data), _labels(data)
        ignore = flag(call, "ignore_nodata", True)
        _check_numbers(values)
        out, acc, broken = [], None, False
        for v in values:
            if v is None:
                if not ignore:
                    broken = True
                out.append(None)
                continue
            if broken:
                out.append(None)
                continue
            acc = bounded_int(v) if acc is None else op(acc, v)
            out.append(acc)
        return LabeledArray(out, labels) if labels is not None else out

    return impl


# integers stay exact while they fit 64 bits (as sum and product): a cumulative product
# of large integers must not grow numbers of millions of digits
implements("cumsum")(_cumulative(lambda a, b: bounded_int(a + b)))
implements("cumproduct")(_cumulative(lambda a, b: bounded_int(a * b)))
implements("cummin")(
    _cumulative(lambda a, b: b if (isinstance(b, float) and math.isnan(b)) else min(a, b))
)
implements("cummax")(
    _cumulative(lambda a, b: b if (isinstance(b, float) and math.isnan(b)) else max(a, b))
)


@implements("quantiles")
def _quantiles(call: Call) -> Any:
    """Type 7 of Hyndman and Fan at each probability (``q``: at i / q for i in 1..q-1):
    at h = (n - 1) p of the sorted values, the value below plus the fraction of h of the
    way to the next. Exactly at a value, that value (numpy gives NaN at 2 in [1, 2, inf]:
    inf * 0); halfway, the midpoint as median computes it (the definition of median: the
    quantile of 0.5). A NaN among the values makes every quantile NaN, as for median."""
    from .scalar import midpoint

    values = _check_numbers(_values(call.get("data")))
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
        return _probability_list(call, _values(probabilities, "probabilities"))
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


# --- text ---------------------------------------------------------------------------------


def _text(fn):
    """A test of ``pattern`` in the text ``data`` (``fn(data, pattern)``, both folded when
    ``case_sensitive`` is false); no-data passes through."""

    def impl(call: Call) -> Any:
        data, pattern = call.get("data"), call.get("pattern")
        case_sensitive = flag(call, "case_sensitive", True)
        if not isinstance(pattern, str):
            raise invalid("pattern", "a string", pattern)
        if data is None:
            return None
        if not isinstance(data, str):
            raise invalid("data", "a string or null", data)
        if case_sensitive:
            return fn(data, pattern)
        folded, _ = _folded(data)
        return fn(folded, _folded(pattern)[0])

    return impl


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` case-folded (Unicode's caseless matching: 'Ä' and 'ä', 'ß' and 'SS' match),
    and for each character of it the position in ``text`` of the character it comes from
    (folding may lengthen a text: 'ß' is 'ss')."""
    parts, origin = [], []
    for i, ch in enumerate(text):
        part = ch.casefold()
        parts.append(part)
        origin += [i] * len(part)
    return "".join(parts), origin


@implements("text_find")
def _text_find(call: Call) -> Any:
    """The position in ``data`` (characters from 0) where ``pattern`` first begins, or
    null; without case sensitivity a position of the text as given, not of its folding."""

    def find(text: str, wanted: str) -> int | None:
        at = text.find(wanted)
        return None if at < 0 else at

    at = _text(find)(call)
    if at is None or flag(call, "case_sensitive", True):
        return at
    data = call.get("data")
    origin = _folded(data)[1]
    return origin[at] if at < len(origin) else len(data)


implements("text_begins")(_text(lambda d, p: d.startswith(p)))
implements("text_ends")(_text(lambda d, p: d.endswith(p)))
implements("text_contains")(_text(lambda d, p: p in d))


@implements("text_concat")
def _text_concat(call: Call) -> Any:
    """The elements' texts joined by the separator's: numbers as JSON writes them (1, not
    1.0), booleans and no-data in lower case ('true', 'null')."""
    separator = _text_of(call.get("separator", ""), "separator")
    return separator.join(_text_of(v, "data") for v in _values(call.get("data")))


def _text_of(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))  # the number 1.0 is 1 in JSON
    if is_number(value):
        return str(value).lower()  # nan, inf
    raise invalid(name, "a string, a number, a boolean or null", value)


# --- dates -------------------------------------------------------------------------------


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _format(moment: datetime, date_only: bool) -> str:
    if date_only:
        return moment.strftime("%Y-%m-%d")
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def _date_argument(call: Call, name: str) -> datetime | None:
    """Argument ``name``, a date or date-time, as an aware datetime with its offset (None
    for no-data); anything else is ProcessParameterInvalid (the schemas' strings)."""
    text = call.get(name)
    if text is None:
        return None
    moment = instant(text)
    if moment is None:
        call.fail(
            "ProcessParameterInvalid",
            f"'{name}' must be a date or date-time (RFC 3339), got {echo(str(text))}.",
            name,
        )
    return moment


def _out_of_range(call: Call, name: str) -> None:
    call.fail(
        "ProcessParameterInvalid",
        "The result is outside the dates pgc computes with (years 1 to 9999).",
        name,
    )


_MILLISECONDS = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000}


@implements("date_shift")
def _date_shift(call: Call) -> Any:
    """The date shifted by ``value`` units. Years, months, weeks and days change the date
    only, as written (its time and time zone stay; a day that does not exist is rounded
    down: 2020-01-31 plus a month is 2020-02-29); shorter units add their length. A date
    stays a date (the time of day dropped), a date-time keeps its time zone."""
    moment = _date_argument(call, "date")
    if moment is None:
        return None
    text, value, unit = call.get("date"), call.get("value"), call.get("unit")
    if isinstance(value, bool) or not isinstance(value, int):
        call.fail("ProcessParameterInvalid", f"'value' must be an integer, got {value!r}.",
                  "value")  # fmt: skip
    try:
        if unit in ("year", "month"):
            moment = _add_months(moment, value * (12 if unit == "year" else 1))
        elif unit in ("week", "day"):
            moment = moment + timedelta(days=value * (7 if unit == "week" else 1))
        elif unit in _MILLISECONDS:
            moment = moment + timedelta(milliseconds=value * _MILLISECONDS[unit])
        else:
            call.fail("ProcessParameterInvalid", f"Unknown unit {echo(str(unit))}.", "unit")
    except (OverflowError, ValueError):
        _out_of_range(call, "value")
    return _written(moment, str(text))


def _add_months(moment: datetime, months: int) -> datetime:
    """``moment`` ``months`` calendar months later, the day rounded down to the month's
    last (the definition: invalid dates are rounded down)."""
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    days_in = [31, 29 if _leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return moment.replace(year=year, month=month, day=min(moment.day, days_in[month - 1]))


def _written(moment: datetime, text: str) -> str:
    """``moment`` written as ``text`` was: a date as a date (in UTC, where dates are),
    a date-time with the time zone ``text`` has (``Z`` or its offset) and milliseconds
    when it has any."""
    if len(text.strip()) == 10:
        moment = moment.astimezone(UTC)
        return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    out = f"{moment.year:04d}-{moment.strftime('%m-%dT%H:%M:%S')}"
    if moment.microsecond // 1000:
        out += f".{moment.microsecond // 1000:03d}"
    said = re.search(r"[+-]\d\d:\d\d$", text.strip())  # else Z, or no zone: UTC
    return out + (_offset_text(moment.utcoffset() or timedelta(0)) if said else "Z")


def _offset_text(offset: timedelta) -> str:
    """``+02:00`` for two hours east of UTC (``+00:00`` too, when the input said so)."""
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


_UNIT_MICROSECONDS = {
    "millisecond": 1_000,
    "second": 1_000_000,
    "minute": 60_000_000,
    "hour": 3_600_000_000,
    "day": 86_400_000_000,
    "week": 604_800_000_000,
}


@implements("date_difference")
def _date_difference(call: Call) -> Any:
    """``date2`` minus ``date1`` in ``unit`` (positive when date1 is earlier), as instants
    (time zones honoured). Months and years count calendar months from ``date1`` as
    date_shift does, plus the fraction of the next one that has passed."""
    a, b = _date_argument(call, "date1"), _date_argument(call, "date2")
    if a is None or b is None:
        return None
    a, b = a.astimezone(UTC), b.astimezone(UTC)
    unit = call.get("unit") or "second"
    if unit in _UNIT_MICROSECONDS:
        elapsed = (b - a) // timedelta(microseconds=1)
        return elapsed / _UNIT_MICROSECONDS[unit]
    if unit not in ("month", "year"):
        call.fail("ProcessParameterInvalid", f"Unknown unit {echo(str(unit))}.", "unit")
    try:
        return _calendar_difference(a, b, 12 if unit == "year" else 1)
    except (OverflowError, ValueError):
        _out_of_range(call, "date2")


def _calendar_difference(a: datetime, b: datetime, months: int) -> float:
    """How many steps of ``months`` calendar months lead from ``a`` to ``b``, with the
    fraction of the last step; negative when ``b`` is earlier."""
    if b < a:
        return -_calendar_difference(b, a, months)
    steps = ((b.year - a.year) * 12 + b.month - a.month) // months
    while steps > 0 and _add_months(a, steps * months) > b:
        steps -= 1
    # ``steps`` is now the most whole steps that fit: one more passes ``b``'s month
    lo = _add_months(a, steps * months)
    return steps + (b - lo) / _step_length(a, steps * months, months)


def _step_length(a: datetime, done: int, months: int) -> timedelta:
    """How long the ``months`` after ``done`` months from ``a`` last; where they end past
    the year 9999, as long as 400 years earlier (the Gregorian calendar repeats itself
    every 400 years, month lengths and leap days alike)."""
    try:
        return _add_months(a, done + months) - _add_months(a, done)
    except (OverflowError, ValueError):
        return _add_months(a, done + months - 4800) - _add_months(a, done - 4800)


@implements("date_between")
def _date_between(call: Call) -> Any:
    """``min <= x <= max`` (``x < max`` with ``exclude_max``) as instants; times of day
    (``HH:MM:SS``, UTC) compare with times of day, and a date-time's time of day with
    bounds that are times. Bounds the wrong way round give false (the definition)."""
    x, lo, hi = (call.get(k) for k in ("x", "min", "max"))
    if x is None:
        return None
    if lo is None or hi is None:
        return None
    times = [time_of_day(v) for v in (x, lo, hi)]
    if times[1] is not None and times[2] is not None:
        x_time = times[0]
        if x_time is None:
            moment = _date_argument(call, "x").astimezone(UTC)
            x_time = moment.hour * 3600 + moment.minute * 60 + moment.second
        keys = (x_time, times[1], times[2])
    elif any(t is not None for t in times):
        call.fail(
            "ProcessParameterInvalid",
            "A time of day (HH:MM:SS) compares only with bounds that are times of day.",
            "x" if times[0] is not None else "min" if times[1] is not None else "max",
        )
    else:
        keys = tuple(_date_argument(call, k) for k in ("x", "min", "max"))
    value, low, high = keys
    upper = value < high if call.get("exclude_max", False) else value <= high
    return bool(low <= value and upper)
