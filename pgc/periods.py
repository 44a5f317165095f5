"""Temporal periods and instants as the openEO definitions write them, shared by the type
rules and the reference executor so the two cannot disagree.

- :func:`instant`: an RFC 3339 date or date-time (``2020-06-01``, ``...T12:00:00+02:00``).
- :func:`period_label`: the label of the period holding an instant, as
  aggregate_temporal_period writes it (``2020-06`` for June 2020, ``2021-djf`` for
  December 2020); :func:`periods_between`: every label from one instant to another.
- ``NORMAL_LABELS``: one period within any year (``06`` for June): anomaly's normals.
- ``CLIMATOLOGICAL_NORMALS``: what climatological_normal computes, per period.
- ``PERIOD_PATTERNS``: aggregate_temporal_period's labels (``2020-06``): anomaly's data.

The definitions give every period's range of labels: ``day`` ``YYYY-001`` - ``YYYY-365``,
with the example that 2020-01-01 to 2020-12-31 (a leap year) has 365 labels, and ``week``
(ISO 8601 weeks) ``YYYY-01`` - ``YYYY-52``. So the 366th day of a leap year counts as day
365 and the 53rd ISO week as week 52: a label never leaves its range, and the normals of
climatological_normal (``001`` - ``365``) cover every day anomaly may see. ``dekad`` is
written ``YYYY-00`` - ``YYYY-36`` although a year has 36 dekads: they are counted from 00
(the range's start; 1-10 January is ``00``, 1-10 February, "the fourth dekad", ``03``), so
``35`` is the last one pgc computes and ``36`` is accepted in normals but never produced.

>>> period_label(instant("2020-12-31"), "day"), period_label(instant("2020-12-15"), "season")
('2020-365', '2021-djf')
>>> periods_between(instant("2020-01-15"), instant("2020-03-01"), "month")
['2020-01', '2020-02', '2020-03']
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

NORMAL_LABELS: dict[str, tuple[str, ...]] = {
    "hour": tuple(f"{i:02d}" for i in range(24)),
    "day": tuple(f"{i:03d}" for i in range(1, 366)),
    "week": tuple(f"{i:02d}" for i in range(1, 53)),
    "dekad": tuple(f"{i:02d}" for i in range(37)),
    "month": tuple(f"{i:02d}" for i in range(1, 13)),
    "season": ("djf", "mam", "jja", "son"),
    "tropical-season": ("ndjfma", "mjjaso"),
}

CLIMATOLOGICAL_NORMALS: dict[str, tuple[str, ...]] = {
    "day": NORMAL_LABELS["day"],
    "month": NORMAL_LABELS["month"],
    "season": NORMAL_LABELS["season"],
    "tropical-season": NORMAL_LABELS["tropical-season"],
    "climatology-period": ("climatology-period",),
}


def _one_of(labels: tuple[str, ...]) -> str:
    return "(" + "|".join(labels) + ")"


_DATE = r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"

PERIOD_PATTERNS: dict[str, str] = {
    "hour": _DATE + "-" + _one_of(NORMAL_LABELS["hour"]),
    **{p: r"\d{4}-" + _one_of(NORMAL_LABELS[p]) for p in NORMAL_LABELS if p != "hour"},
    "year": r"\d{4}",
    "decade": r"\d{3}0",
    "decade-ad": r"\d{3}1",
}

PERIODS = tuple(PERIOD_PATTERNS)  # aggregate_temporal_period's periods, in its order

# Seasons: the months of each, in the year's order; the first season of each kind starts
# in the year before (December, November), and counts to the year it ends in.
_SEASONS = {
    "season": (((12, 1, 2), "djf"), ((3, 4, 5), "mam"), ((6, 7, 8), "jja"),
               ((9, 10, 11), "son")),
    "tropical-season": (((11, 12, 1, 2, 3, 4), "ndjfma"), ((5, 6, 7, 8, 9, 10), "mjjaso")),
}  # fmt: skip


def instant(text: object) -> datetime | None:
    """An RFC 3339 date (midnight UTC) or date-time as an aware datetime, its offset kept;
    None when ``text`` is not one. A leap second (``23:59:60``) is rounded down to
    ``23:59:59``, as the definitions round invalid times down (date_shift).

    >>> instant("2020-06-01T12:00:00.5+02:00").isoformat()
    '2020-06-01T12:00:00.500000+02:00'
    >>> instant("2020-06-01").isoformat(), instant("06:00:00")
    ('2020-06-01T00:00:00+00:00', None)
    """
    if not isinstance(text, str) or len(text) < 10 or not text[:4].isdigit():
        return None
    value = text.strip()
    if len(value) == 10:
        value += "T00:00:00"
    value = value[:10] + "T" + value[11:] if len(value) > 10 and value[10] in "tT " else value
    if value.endswith(("z", "Z")):
        value = value[:-1] + "+00:00"
    value = re.sub(r"(T\d\d:\d\d):60", r"\1:59", value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def time_of_day(text: object) -> int | None:
    """Seconds since midnight of a time ``HH:MM:SS`` (aggregate_temporal's intervals,
    date_between); None when ``text`` is not one."""
    if not isinstance(text, str) or not re.fullmatch(r"\d\d:\d\d:\d\d", text):
        return None
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    if hours > 23 or minutes > 59 or seconds > 60:
        return None
    return hours * 3600 + minutes * 60 + min(seconds, 59)


def period_label(moment: datetime, period: str) -> str:
    """The label of the period of ``period`` that holds ``moment`` (its calendar in UTC)."""
    t = moment.astimezone(UTC) if moment.tzinfo is not None else moment
    if period == "hour":
        return f"{t.year:04d}-{t.month:02d}-{t.day:02d}-{t.hour:02d}"
    if period == "day":
        return f"{t.year:04d}-{min(t.timetuple().tm_yday, 365):03d}"
    if period == "week":
        year, week, _ = t.isocalendar()
        return f"{year:04d}-{min(week, 52):02d}"
    if period == "dekad":
        return f"{t.year:04d}-{(t.month - 1) * 3 + min((t.day - 1) // 10, 2):02d}"
    if period == "month":
        return f"{t.year:04d}-{t.month:02d}"
    if period in _SEASONS:
        for months, name in _SEASONS[period]:
            if t.month in months:
                starts_before = months[0] > months[-1] and t.month >= months[0]
                return f"{t.year + starts_before:04d}-{name}"
    if period == "year":
        return f"{t.year:04d}"
    if period == "decade":
        return f"{t.year // 10 * 10:04d}"
    if period == "decade-ad":
        return f"{(t.year - 1) // 10 * 10 + 1:04d}"
    raise ValueError(f"unknown period {period!r}")


def _next_start(moment: datetime, period: str) -> datetime:
    """The start of the period after the one holding ``moment`` (UTC, naive)."""
    day = datetime(moment.year, moment.month, moment.day)
    if period == "hour":
        return day + timedelta(hours=moment.hour + 1)
    if period == "day":
        return day + timedelta(days=1)
    if period == "week":
        return day + timedelta(days=7 - day.weekday())  # the next Monday
    if period == "dekad" and moment.day <= 20:
        return day.replace(day=11 if moment.day <= 10 else 21)
    if period in ("dekad", "month"):
        return _month_start(moment.year, moment.month + 1)
    if period in _SEASONS:
        starts = sorted(months[0] for months, _ in _SEASONS[period])
        later = [m for m in starts if m > moment.month]
        return _month_start(moment.year, later[0] if later else starts[0] + 12)
    step = {"year": 1, "decade": 10, "decade-ad": 10}[period]
    first = int(period_label(moment, period)[:4]) if period != "year" else moment.year
    return datetime(first + step, 1, 1)


def _month_start(year: int, month: int) -> datetime:
    """The first of ``month`` (13: January of the next year)."""
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def periods_between(first: datetime, last: datetime, period: str) -> list[str]:
    """The labels of every period from the one holding ``first`` to the one holding
    ``last``, in order and once each: aggregate_temporal_period's "complete for the whole
    extent of the source data cube", periods without data included."""
    to_naive = lambda m: m.astimezone(UTC).replace(tzinfo=None) if m.tzinfo else m  # noqa: E731
    moment, end = to_naive(first), to_naive(last)
    labels = [period_label(moment, period)]
    while True:
        try:
            moment = _next_start(moment, period)
        except (OverflowError, ValueError):  # past the year 9999
            break
        if moment > end:
            break
        label = period_label(moment, period)
        if label != labels[-1]:  # a capped day or week shares its predecessor's label
            labels.append(label)
    return labels


def normal_label(label: str, period: str) -> str:
    """The label of the normal for a period label (anomaly): the period within the year
    (``2020-06`` -> ``06``, ``2020-01-01-13`` -> ``13``); years, decades and decades AD are
    their own normals."""
    if period in ("year", "decade", "decade-ad"):
        return label
    return label.rsplit("-", 1)[-1]
