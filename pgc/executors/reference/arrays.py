"""Reference implementations of the array processes: access (array_element, array_find,
array_find_label, array_contains, array_labels), construction and change (array_create,
array_create_labeled, array_append, array_concat, array_modify, rearrange, array_apply,
array_filter), order and sort, and the running totals (cumsum, cumproduct, cummin,
cummax). Arrays are Python lists or :class:`LabeledArray`; ``None`` is no-data. A cube's
view (:class:`CubeArray`) is supported where noted; elsewhere the executor runs the process
pixel by pixel (:class:`PixelLoop`). :func:`elements_of` and :func:`labels_of` read an
array argument for the other modules.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from ...errors import echo
from ...ir.band_filter import band_by_common_name
from ...numerics import bounded_int
from ..pixels import PixelLoop, plain
from ..values import Cube, CubeArray, LabeledArray
from .arguments import (
    array_values,
    flag,
    integer,
    invalid,
    is_number,
    label_key,
    numbers_only,
    whole,
)
from .comparison import same_element
from .loop import Call
from .scalar import FLOAT
from .table import implements


def elements_of(data: Any, name: str = "data") -> list:
    """The elements of the array argument ``name`` (``data``: its value)."""
    if isinstance(data, CubeArray):
        raise PixelLoop  # the executor runs the process pixel by pixel (executors.pixels)
    if isinstance(data, LabeledArray):
        return list(data.values)
    if not isinstance(data, list | tuple):
        raise invalid(name, "an array", data)
    return list(data)


def labels_of(data: Any) -> list | None:
    """The labels of an array argument; None for an array without labels."""
    if isinstance(data, CubeArray):  # the dimension's labels: the same at every pixel
        return [plain(v) for v in data.labels]
    return list(data.labels) if isinstance(data, LabeledArray) else None


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


@implements("array_find")
def _array_find(call: Call) -> Any:
    values, target = elements_of(call.get("data")), call.get("value")
    if isinstance(target, Cube):  # a value per pixel (array_element in a reducer)
        raise PixelLoop
    reverse = flag(call, "reverse", False)
    if target is None:
        return None
    order = range(len(values) - 1, -1, -1) if reverse else range(len(values))
    for i in order:
        if same_element(values[i], target) and not (is_number(target) and math.isnan(target)):
            return i
    return None


@implements("array_contains")
def _array_contains(call: Call) -> Any:
    values, target = elements_of(call.get("data")), call.get("value")
    if isinstance(target, Cube):  # a value per pixel: SCL classes in a cloud mask
        return _contains_per_pixel(values, target)
    if isinstance(target, list | tuple | dict | LabeledArray):
        raise invalid("value", "a number, a boolean, a string or null", target)
    if target is None:
        return False
    return any(same_element(v, target) for v in values)


def _contains_per_pixel(values: list, target: Cube) -> Cube:
    """array_contains for every pixel of a numeric cube at once: true where the pixel has
    data equal to one of the numbers (1 == 1.0; NaN equals nothing); false, with data, for
    no-data pixels, as array_contains(…, null) is false."""
    if target.data.dtype.kind not in "iuf":
        raise PixelLoop  # booleans and text: the element rules pixel by pixel
    hit = np.zeros(target.data.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        for value in values:
            if is_number(value):
                hit |= target.data.values == value
    hit &= np.broadcast_to(target.full_valid().values, hit.shape)
    return Cube(target.data.copy(data=hit), xr.DataArray(True))


@implements("array_find_label")
def _array_find_label(call: Call) -> Any:
    """The index of ``label`` (matched as array_element matches it: 1 is 1.0, dates by
    their instant); null when the array has no such label or no labels at all."""
    data, label = call.get("data"), call.get("label")
    if not isinstance(data, CubeArray):
        elements_of(data)
    if label is not None and not (is_number(label) or isinstance(label, str)):
        raise invalid("label", "a number or a string", label)
    labels = labels_of(data)
    if labels is None or label is None:
        return None
    key = label_key(label)
    return next((i for i, v in enumerate(labels) if label_key(v) == key), None)


@implements("array_labels")
def _array_labels(call: Call) -> Any:
    data = call.get("data")
    if isinstance(data, CubeArray):
        return list(data.labels)
    labels = labels_of(data)
    return labels if labels is not None else list(range(len(elements_of(data))))


@implements("array_append")
def _array_append(call: Call) -> Any:
    data, value, label = call.get("data"), call.get("value"), call.get("label")
    if label is not None and not (is_number(label) or isinstance(label, str)):
        raise invalid("label", "a number, a string or null", label)
    labels = labels_of(data)
    if labels is None:
        if label is not None:
            call.fail("ArrayNotLabeled", "The array has no labels; do not give 'label'.", "label")
        return [*elements_of(data), value]
    if label is None:
        label = len(labels)
    if any(label_key(label) == label_key(lab) for lab in labels):
        call.fail("LabelExists", f"The array has a label '{label}' already.", "label")
    return LabeledArray([*elements_of(data), value], [*labels, label])


@implements("array_concat")
def _array_concat(call: Call) -> Any:
    a, b = call.get("array1"), call.get("array2")
    values = elements_of(a, "array1") + elements_of(b, "array2")
    la, lb = labels_of(a), labels_of(b)
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
    values = [] if data is None else elements_of(data)  # the default: an empty array
    repeat = integer(call, "repeat", minimum=1, default=1)
    call.within_budget(len(values) * repeat, "max_array_length", "array elements", "repeat")
    return values * repeat


@implements("array_create_labeled")
def _array_create_labeled(call: Call) -> Any:
    data, labels = elements_of(call.get("data")), elements_of(call.get("labels"), "labels")
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
    values, labels = elements_of(data), labels_of(data)
    out = [
        process(x=v, index=i, label=labels[i] if labels else None, context=call.get("context"))
        for i, v in enumerate(values)
    ]
    return LabeledArray(out, labels) if labels is not None else out


@implements("array_filter")
def _array_filter(call: Call) -> Any:
    data = call.get("data")
    condition = call.callback("condition")
    values, labels = elements_of(data), labels_of(data)
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
    values, new = elements_of(data), elements_of(inserted, "values")
    index = integer(call, "index", minimum=0)
    length = integer(call, "length", minimum=0, default=0)
    if index is None:
        raise invalid("index", "an integer of at least 0", index)
    if index > len(values):
        call.fail("ArrayElementNotAvailable", "The index is beyond the end of the array.", "index")
    out = values[:index] + new + values[index + length :]
    labels, new_labels = labels_of(data), labels_of(inserted)
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
    values, order = elements_of(call.get("data")), elements_of(call.get("order"), "order")
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
    return _order_indices(elements_of(call.get("data")), flag(call, "asc", True), nodata)


@implements("sort")
def _sort(call: Call) -> Any:
    data, nodata = call.get("data"), call.get("nodata")
    if nodata is not None and not isinstance(nodata, bool):
        raise invalid("nodata", "a boolean or null", nodata)
    values, labels = elements_of(data), labels_of(data)
    idx = _order_indices(values, flag(call, "asc", True), nodata)
    if labels is not None:
        return LabeledArray([values[i] for i in idx], [labels[i] for i in idx])
    return [values[i] for i in idx]


def _cumulative(op):
    def impl(call: Call) -> Any:
        data = call.get("data")
        values, labels = elements_of(data), labels_of(data)
        ignore = flag(call, "ignore_nodata", True)
        numbers_only(values)
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
