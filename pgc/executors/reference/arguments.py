"""Run-time checks of arguments against their definitions' schemas (issue 17).

The validator checks literal arguments before anything runs; an argument that a reference
gives (a parameter, another node's result, a callback's parameter) shows its value only at
run time. These helpers check such a value as the schema says and fail with
``ProcessParameterInvalid`` naming the argument, so that a wrong value never reaches Python
as a ``TypeError`` (``Internal``) or, worse, a plausible result (``list("abc")``, a
negative index counting from the end, ``True`` taken for 1).

A null for an optional argument means its default, as :meth:`Call.get` reads it.

>>> from types import SimpleNamespace
>>> call = SimpleNamespace(args={"data": [1, None], "ignore_nodata": None})
>>> array_values(call), flag(call, "ignore_nodata", True)
([1, None], True)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ...errors import echo
from ..values import Cube, CubeArray, LabeledArray
from .loop import ProcessError


def describe(value: Any) -> str:
    """A value as a message names it: ``a string ('a')``, ``a data cube``, ``null``."""
    if isinstance(value, Cube | CubeArray):
        return "a data cube"
    if isinstance(value, LabeledArray):
        return "a labeled array"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return f"an integer ({echo(value)})"
    if isinstance(value, float):
        return f"a number ({echo(value)})"
    if isinstance(value, str):
        return f"a string ({echo(value)})"
    return "an array" if isinstance(value, list | tuple) else "an object"


def invalid(name: str, expected: str, value: Any) -> ProcessError:
    """The ProcessParameterInvalid for argument ``name``: ``expected``, and what it got."""
    return ProcessError(
        "ProcessParameterInvalid", f"'{name}' must be {expected}, got {describe(value)}.", name
    )


def is_number(value: Any) -> bool:
    """A JSON number (integer or not, NaN and infinities included); booleans are not."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def array_values(call: Any, name: str = "data") -> list:
    """The elements of the array argument ``name`` (a list or a labeled array)."""
    value = call.args.get(name)
    if isinstance(value, LabeledArray):
        return list(value.values)
    if isinstance(value, list | tuple):
        return list(value)
    raise invalid(name, "an array", value)


def cube_argument(call: Any, name: str = "data") -> Cube:
    """Argument ``name`` (default ``data``) when it is a data cube, as the processes that
    take a raster or vector cube require; else ProcessParameterInvalid naming it."""
    value = call.get(name)
    if not isinstance(value, Cube):
        raise ProcessError("ProcessParameterInvalid", f"'{name}' must be a data cube.", name)
    return value


def flag(call: Any, name: str, default: bool) -> bool:
    """The boolean argument ``name``; null or absent: ``default``."""
    value = call.args.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(name, "a boolean", value)
    return value


def integer(call: Any, name: str, minimum: int | None = None, default: Any = None) -> Any:
    """The integer argument ``name`` (2.0 is the integer 2 in JSON), at least ``minimum``;
    null or absent: ``default`` (None: not given)."""
    value = call.args.get(name)
    if value is None:
        return default
    return whole(value, name, minimum)


def whole(value: Any, name: str, minimum: int | None = None) -> int:
    """``value`` as an integer of argument ``name``, at least ``minimum``."""
    if not is_number(value) or not math.isfinite(value) or value != int(value):
        raise invalid(name, "an integer", value)
    if minimum is not None and value < minimum:
        raise invalid(name, f"an integer of at least {minimum}", value)
    return int(value)


def numbers_only(values: list, name: str = "data") -> list:
    """``values`` when each is a number or no-data (the schema ``number|null`` of the
    items of ``name``)."""
    for v in values:
        if v is not None and not is_number(v):
            raise invalid(name, "an array of numbers and no-data", v)
    return values


def label_key(label: Any) -> Any:
    """What a label is matched by (``array_element``, ``array_find_label``): numbers by
    value (1 is 1.0), a date or date-time (text, or a temporal dimension's datetime64) by
    the instant it names ('2020-01-01' is '2020-01-01T00:00:00Z' and
    '2020-01-01T01:00:00+01:00'), other text as it is; a text '1' is not the number 1.

    >>> label_key("2020-01-01") == label_key("2020-01-01T01:00:00+01:00")
    True
    >>> label_key(1) == label_key(1.0), label_key("1") == label_key(1)
    (True, False)
    """
    if isinstance(label, np.datetime64):
        label = str(np.datetime_as_string(label.astype("datetime64[us]"), unit="us")) + "Z"
    if isinstance(label, np.generic):
        label = label.item()
    if is_number(label):
        return ("number", label)
    moment = _instant(label)
    if moment is not None:
        return ("instant", moment)
    return (type(label).__name__, label)


def _instant(text: Any) -> datetime | None:
    """An RFC 3339 date (midnight UTC) or date-time as an aware datetime; else None."""
    if not isinstance(text, str) or len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return None
    value = text.strip().replace("z", "Z").replace("t", "T")
    if len(value) == 10:
        value += "T00:00:00"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
