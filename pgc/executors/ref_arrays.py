"""Reference implementations of array, text and date processes on plain values.

Arrays are Python lists or :class:`LabeledArray`; ``None`` is no-data. Cube views
(:class:`CubeArray`) are supported where noted; elsewhere such a call fails clearly.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import xarray as xr

from ..errors import echo
from .pixels import PixelLoop, plain
from .reference import Call, ProcessError, implements
from .values import Cube, CubeArray, LabeledArray


def _values(data: Any) -> list:
    if isinstance(data, CubeArray):
        raise PixelLoop  # the executor runs the process pixel by pixel (executors.pixels)
    if isinstance(data, LabeledArray):
        return list(data.values)
    if data is not None and not isinstance(data, list | tuple):
        raise ProcessError("ProcessParameterInvalid", "'data' must be an array.", "data")
    return list(data or [])


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
    def impl(call: Call) -> Any:
        x, y = call.get("x"), call.get("y")
        from .values import Cube

        if isinstance(x, Cube) or isinstance(y, Cube):
            from .ref_scalar import _COMPARE, compare_cube

            fn = _COMPARE[call.node.process_id]
            return compare_cube(fn, x, y, False, ordered=True)  # not numbers -> false
        if x is None or y is None:
            return None
        if not _is_number(x) or not _is_number(y):
            return False  # the definition: not numbers -> false
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
    x, lo, hi = call.get("x"), call.get("min"), call.get("max")
    if x is None:
        return None
    if not _is_number(x) or not _is_number(lo) or not _is_number(hi):
        return False
    upper = x < hi if call.get("exclude_max", False) else x <= hi
    return bool(x >= lo and upper)


@implements("is_infinite")
def _is_infinite(call: Call) -> Any:
    x = call.get("x")
    from .values import Cube

    if isinstance(x, Cube):
        from .ref_scalar import _as_float

        return Cube(np.isinf(_as_float(x.data)) & x.valid, x.valid | True)
    return _is_number(x) and math.isinf(x)


@implements("arctan2")
def _arctan2(call: Call) -> Any:
    from .ref_scalar import _ieee, elementwise

    return elementwise(np.arctan2, call.get("y"), call.get("x"), scalar_fn=_ieee(np.arctan2))


@implements("nan")
def _nan(call: Call) -> float:
    return math.nan


# --- logic over arrays ------------------------------------------------------------------


@implements("any", "all")
def _any_all(call: Call) -> Any:
    values = _values(call.get("data"))
    ignore = call.get("ignore_nodata", True)
    want_any = call.node.process_id == "any"
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
    if target is None:
        return None
    order = range(len(values) - 1, -1, -1) if call.get("reverse", False) else range(len(values))
    for i in order:
        if _same(values[i], target) and not (_is_number(target) and math.isnan(target)):
            return i
    return None


@implements("array_contains")
def _array_contains(call: Call) -> Any:
    values, target = _values(call.get("data")), call.get("value")
    if isinstance(target, Cube):  # a value per pixel: SCL classes in a cloud mask
        return _contains_per_pixel(values, target)
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
    labels = _labels(call.get("data"))
    if labels is None:
        return None
    label = call.get("label")
    for i, lab in enumerate(labels):
        if _same(lab, label):
            return i
    return None


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
    labels = _labels(data)
    if labels is None:
        if label is not None:
            call.fail("ArrayNotLabeled", "The array has no labels; do not give 'label'.", "label")
        return [*_values(data), value]
    if label is None:
        label = len(labels)
    if any(_same(label, lab) for lab in labels):
        call.fail("LabelExists", f"The array has a label '{label}' already.", "label")
    return LabeledArray([*_values(data), value], [*labels, label])


@implements("array_concat")
def _array_concat(call: Call) -> Any:
    a, b = call.get("array1"), call.get("array2")
    la, lb = _labels(a), _labels(b)
    if la is not None and lb is not None:
        if set(map(str, la)) & set(map(str, lb)):
            call.fail("ArrayLabelConflict", "The arrays share labels.", "array2")
        return LabeledArray(_values(a) + _values(b), la + lb)
    return _values(a) + _values(b)


@implements("array_create")
def _array_create(call: Call) -> Any:
    data = call.get("data") or []
    repeat = call.get("repeat", 1)
    values = _values(data)
    call.within_budget(len(values) * int(repeat), "max_array_length", "array elements", "repeat")
    return values * int(repeat)


@implements("array_create_labeled")
def _array_create_labeled(call: Call) -> Any:
    data, labels = _values(call.get("data")), list(call.get("labels"))
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
    values, new = _values(data), list(_values(inserted))
    index, length = call.get("index"), call.get("length", 0)
    if index > len(values):
        call.fail("ArrayElementNotAvailable", "The index is beyond the end of the array.", "index")
    out = values[:index] + new + values[index + length :]
    labels, new_labels = _labels(data), _labels(inserted)
    if labels is None and new_labels is None:
        return out
    if labels is not None and new_labels is not None:
        clash = [v for v in new_labels if v in labels]  # "present in both arrays"
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
    values, order = _values(call.get("data")), _values(call.get("order"))
    outside = [i for i in order if not isinstance(i, int) or not 0 <= i < len(values)]
    if outside:
        call.fail(
            "ProcessParameterInvalid",
            f"The order names the index {outside[0]!r}, but the array has {len(values)} elements.",
            "order",
        )
    return [values[i] for i in order]


def _sort_key(values: list, asc: bool):
    def key(i: int):
        v = values[i]
        return v if asc else -v if _is_number(v) else v

    return key


def _order_indices(values: list, asc: bool, nodata: bool | None) -> list[int]:
    present = [
        i
        for i, v in enumerate(values)
        if v is not None and not (isinstance(v, float) and math.isnan(v))
    ]
    missing = [i for i in range(len(values)) if i not in set(present)]
    if all(isinstance(values[i], str) for i in present):
        ordered = sorted(present, key=lambda i: values[i], reverse=not asc)
    else:
        keys = {i: _time_or_value(values[i]) for i in present}
        for i in present:  # the definition: numbers and dates (strings only: as text)
            if isinstance(keys[i], bool) or not isinstance(keys[i], int | float):
                raise ProcessError(
                    "ProcessParameterInvalid",
                    f"'data' must hold numbers or dates to be ordered, got {echo(values[i])}.",
                    "data",
                )
        ordered = sorted(present, key=keys.__getitem__, reverse=not asc)
    if nodata is None:
        return ordered
    return ordered + missing if nodata else missing + ordered


def _time_or_value(v: Any) -> Any:
    if isinstance(v, str):
        moment = _parse(v)
        return moment.timestamp() if moment else v
    return v


@implements("order")
def _order(call: Call) -> Any:
    return _order_indices(_values(call.get("data")), call.get("asc", True), call.get("nodata"))


@implements("sort")
def _sort(call: Call) -> Any:
    data = call.get("data")
    values, labels = _values(data), _labels(data)
    idx = _order_indices(values, call.get("asc", True), call.get("nodata"))
    if labels is not None:
        return LabeledArray([values[i] for i in idx], [labels[i] for i in idx])
    return [values[i] for i in idx]


@implements("extrema")
def _extrema(call: Call) -> Any:
    values = _values(call.get("data"))
    if any(v is None for v in values) and not call.get("ignore_nodata", True):
        return [None, None]
    numbers = _check_numbers([v for v in values if v is not None])
    if not numbers:
        return [None, None]
    if any(isinstance(v, float) and math.isnan(v) for v in numbers):
        return [math.nan, math.nan]
    return [min(numbers), max(numbers)]


def _check_numbers(values: list) -> list:
    """``values`` (an array of numbers and no-data, as the definition's schema says)."""
    for v in values:
        if v is not None and not _is_number(v):
            raise ProcessError(
                "ProcessParameterInvalid",
                f"'data' must hold numbers and no-data only, got {echo(v)}.",
                "data",
            )
    return values


def _cumulative(op):
    def impl(call: Call) -> Any:
        data = call.get("data")
        values, labels = _values(data), _labels(data)
        ignore = call.get("ignore_nodata", True)
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
            acc = v if acc is None else op(acc, v)
            out.append(acc)
        return LabeledArray(out, labels) if labels is not None else out

    return impl


implements("cumsum")(_cumulative(lambda a, b: a + b))
implements("cumproduct")(_cumulative(lambda a, b: a * b))
implements("cummin")(
    _cumulative(lambda a, b: b if (isinstance(b, float) and math.isnan(b)) else min(a, b))
)
implements("cummax")(
    _cumulative(lambda a, b: b if (isinstance(b, float) and math.isnan(b)) else max(a, b))
)


@implements("quantiles")
def _quantiles(call: Call) -> Any:
    values = _values(call.get("data"))
    probabilities, q = call.get("probabilities"), call.get("q")
    if isinstance(probabilities, int) and not isinstance(probabilities, bool):
        probabilities, q = None, probabilities  # an integer: the number of intervals
    if probabilities is not None and q is not None:
        call.fail("QuantilesParameterConflict", "Give 'probabilities' or 'q', not both.")
    if probabilities is None and q is None:
        call.fail("QuantilesParameterMissing", "Give 'probabilities' or 'q'.")
    if q is not None:
        probabilities = [i / q for i in range(1, q)]
    if any(v is None for v in values) and not call.get("ignore_nodata", True):
        return [None] * len(probabilities)
    numbers = np.array([v for v in values if v is not None], dtype="float64")
    if numbers.size == 0:
        return [None] * len(probabilities)
    # Type 7 of Hyndman and Fan (numpy's default), as the definition says.
    return [float(np.quantile(numbers, p)) for p in probabilities]


# --- text ---------------------------------------------------------------------------------


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "an array" if isinstance(value, list | tuple | LabeledArray) else "an object"


def _text(fn):
    def impl(call: Call) -> Any:
        data, pattern = call.get("data"), call.get("pattern")
        if data is None:
            return None
        for name, value in (("data", data), ("pattern", pattern)):
            if not isinstance(value, str):
                what = "a data cube" if isinstance(value, Cube) else _json_type(value)
                raise ProcessError(
                    "ProcessParameterInvalid", f"'{name}' must be a string, got {what}.", name
                )
        if not call.get("case_sensitive", True):
            data, pattern = data.lower(), pattern.lower()
        return fn(data, pattern)

    return impl


implements("text_begins")(_text(lambda d, p: d.startswith(p)))
implements("text_ends")(_text(lambda d, p: d.endswith(p)))
implements("text_contains")(_text(lambda d, p: p in d))
implements("text_find")(_text(lambda d, p: d.find(p) if p in d else None))


@implements("text_concat")
def _text_concat(call: Call) -> Any:
    separator = call.get("separator", "")
    parts = []
    for v in _values(call.get("data")):
        if isinstance(v, bool):
            parts.append("true" if v else "false")
        elif v is None:
            parts.append("null")
        else:
            parts.append(str(v))
    return str(separator).join(parts)


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


@implements("date_shift")
def _date_shift(call: Call) -> Any:
    text, value, unit = call.get("date"), call.get("value"), call.get("unit")
    moment = _parse(text)
    if moment is None:
        return None
    date_only = len(text) == 10  # a date stays a date (the time of day is dropped)
    if unit in ("year", "month"):
        months = value * (12 if unit == "year" else 1)
        total = moment.month - 1 + months
        year, month = moment.year + total // 12, total % 12 + 1
        days_in = [31, 29 if _leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        moment = moment.replace(year=year, month=month, day=min(moment.day, days_in[month - 1]))
    else:
        seconds = {
            "week": 604800,
            "day": 86400,
            "hour": 3600,
            "minute": 60,
            "second": 1,
            "millisecond": 0.001,
        }[unit]
        moment = moment + timedelta(seconds=value * seconds)
    return _format(moment, date_only)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@implements("date_difference")
def _date_difference(call: Call) -> Any:
    a, b = _parse(call.get("date1")), _parse(call.get("date2"))
    if a is None or b is None:
        return None
    unit = call.get("unit", "second")
    seconds = (b - a).total_seconds()
    per = {
        "millisecond": 0.001,
        "second": 1,
        "minute": 60,
        "hour": 3600,
        "day": 86400,
        "week": 604800,
    }
    if unit in per:
        return seconds / per[unit]
    months = (b.year - a.year) * 12 + (b.month - a.month)
    return months / 12 if unit == "year" else months


@implements("date_between")
def _date_between(call: Call) -> Any:
    x, lo, hi = (_parse(call.get(k)) for k in ("x", "min", "max"))
    if x is None:
        return None
    if lo is None or hi is None:
        return False
    upper = x < hi if call.get("exclude_max", False) else x <= hi
    return bool(lo <= x and upper)
