"""Labels of temporal periods, as the openEO definitions write them (shared by the type
rules and the reference executor, so the two cannot disagree).

- ``NORMAL_LABELS``: one period within any year (``06`` for June): anomaly's normals.
- ``CLIMATOLOGICAL_NORMALS``: what climatological_normal computes, per period.
- ``PERIOD_PATTERNS``: aggregate_temporal_period's labels (``2020-06``): anomaly's data.
"""

from __future__ import annotations

NORMAL_LABELS: dict[str, tuple[str, ...]] = {
    "hour": tuple(f"{i:02d}" for i in range(24)),
    "day": tuple(f"{i:03d}" for i in range(1, 367)),
    "week": tuple(f"{i:02d}" for i in range(1, 54)),
    "dekad": tuple(f"{i:02d}" for i in range(37)),
    "month": tuple(f"{i:02d}" for i in range(1, 13)),
    "season": ("djf", "mam", "jja", "son"),
    "tropical-season": ("ndjfma", "mjjaso"),
}

CLIMATOLOGICAL_NORMALS: dict[str, tuple[str, ...]] = {
    "day": NORMAL_LABELS["day"][:365],  # 31 December of a leap year counts as day 365
    "month": NORMAL_LABELS["month"],
    "season": NORMAL_LABELS["season"],
    "tropical-season": NORMAL_LABELS["tropical-season"],
    "climatology-period": ("climatology-period",),
}

PERIOD_PATTERNS: dict[str, str] = {
    "hour": r"\d{4}-\d{2}-\d{2}-\d{2}",
    "day": r"\d{4}-\d{3}",
    "week": r"\d{4}-\d{2}",
    "dekad": r"\d{4}-\d{2}",
    "month": r"\d{4}-\d{2}",
    "season": r"\d{4}-(djf|mam|jja|son)",
    "tropical-season": r"\d{4}-(ndjfma|mjjaso)",
    "year": r"\d{4}",
    "decade": r"\d{3}0",
    "decade-ad": r"\d{3}1",
}
