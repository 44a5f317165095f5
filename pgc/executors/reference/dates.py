"""Reference implementations of the processes on dates and date-times written as RFC 3339
text: date_shift, date_difference and date_between (those on a cube's temporal dimension
are in :mod:`.temporal`). Dates compare as instants, time zones honoured; a result outside
the years 1 to 9999 is ProcessParameterInvalid.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ...errors import echo
from ...periods import instant, time_of_day
from .loop import Call
from .table import implements


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
