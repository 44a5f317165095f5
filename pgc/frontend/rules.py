"""Argument rules of individual processes that their schemas cannot express.

Process definitions name exceptions such as ``ArrayElementParameterConflict`` or
``TemporalExtentEmpty``. When literal arguments already show such a problem, pgc reports it
at validation time, with the definition's exception name, instead of failing at run time.
Each rule sees only literal values: arguments that are references are decided at run time.

The table :data:`RULES` maps a process id to its rule; a process without an entry has none.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterator
from typing import Any

from ..pointer import join
from ..specs import ProcessSpec
from .schema import is_callback, is_reference

Finding = tuple[str, str, str]  # (message, pointer, code)


def _literal(value: Any) -> bool:
    return not is_reference(value) and not is_callback(value)


class _Computed:
    """An argument given as a reference (from_node, from_parameter) or a callback: present,
    its value unknown to the rules (no number, string, list or object)."""

    def __repr__(self) -> str:
        return "<computed>"


COMPUTED = _Computed()


def _given(args: dict, name: str) -> bool:
    return name in args and args[name] is not None


def _array_element(args: dict, where: str) -> Iterator[Finding]:
    if _given(args, "index") and _given(args, "label"):
        yield (
            "array_element takes either 'index' or 'label', not both.",
            where,
            "ArrayElementParameterConflict",
        )
    elif not _given(args, "index") and not _given(args, "label"):
        yield ("array_element needs 'index' or 'label'.", where, "ArrayElementParameterMissing")


def _filter_bands(args: dict, where: str) -> Iterator[Finding]:
    bands, wavelengths = args.get("bands"), args.get("wavelengths")
    if bands in (None, []) and wavelengths in (None, []):
        yield (
            "filter_bands needs 'bands' or 'wavelengths' (a non-empty list).",
            where,
            "BandFilterParameterMissing",
        )


def _quantiles(args: dict, where: str) -> Iterator[Finding]:
    if _given(args, "probabilities") and _given(args, "q"):
        yield (
            "quantiles takes either 'probabilities' or 'q', not both.",
            where,
            "QuantilesParameterConflict",
        )
    elif not _given(args, "probabilities") and not _given(args, "q"):
        yield ("quantiles needs 'probabilities' or 'q'.", where, "QuantilesParameterMissing")
    probs = args.get("probabilities")
    numbers = isinstance(probs, list) and all(_number(p) for p in probs)
    # a repeated probability is sorted, but not unique: the schema's uniqueItems says so
    if numbers and any(a > b for a, b in zip(probs, probs[1:], strict=False)):
        yield (
            "'probabilities' must be in ascending order.",
            join(where, "probabilities"),
            "AscendingProbabilitiesRequired",
        )


def _clip(args: dict, where: str) -> Iterator[Finding]:
    lo, hi = args.get("min"), args.get("max")
    if _number(lo) and _number(hi) and lo > hi:
        yield (f"'min' ({lo}) is greater than 'max' ({hi}).", where, "MinMaxSwapped")


def _apply_kernel(args: dict, where: str) -> Iterator[Finding]:
    kernel = args.get("kernel")
    if not isinstance(kernel, list) or not kernel or not all(isinstance(r, list) for r in kernel):
        return
    if len(kernel) % 2 == 0 or any(len(r) % 2 == 0 for r in kernel):
        yield (
            "The kernel must have an odd number of rows and of columns.",
            join(where, "kernel"),
            "KernelDimensionsUneven",
        )


def _temporal(*names: str) -> Callable[[dict, str], Iterator[Finding]]:
    def rule(args: dict, where: str) -> Iterator[Finding]:
        for name in names:
            extent = args.get(name)
            intervals = extent if name == "intervals" else [extent]
            if not isinstance(intervals, list):
                continue
            for i, interval in enumerate(intervals):
                if not (isinstance(interval, list) and len(interval) == 2):
                    continue
                start, end = (_instant(x) for x in interval)
                if start is not None and end is not None and start >= end:
                    pointer = join(where, name, i) if name == "intervals" else join(where, name)
                    yield (
                        f"The temporal extent {interval[0]} .. {interval[1]} is empty: the end "
                        "must be later than the start (the end is excluded).",
                        pointer,
                        "TemporalExtentEmpty",
                    )

    return rule


def _instant(value: Any) -> _dt.datetime | None:
    if not isinstance(value, str):
        return None
    text = value.strip().replace("z", "Z")
    try:
        if len(text) == 10:
            return _dt.datetime.fromisoformat(text).replace(tzinfo=_dt.UTC)
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


def _rename_labels(args: dict, where: str) -> Iterator[Finding]:
    target, source = args.get("target"), args.get("source")
    if (
        isinstance(target, list)
        and isinstance(source, list)
        and source
        and len(target) != len(source)
    ):
        yield (
            f"'target' has {len(target)} labels but 'source' has {len(source)}.",
            where,
            "LabelMismatch",
        )


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


RULES: dict[str, Callable[[dict, str], Iterator[Finding]]] = {
    "array_element": _array_element,
    "filter_bands": _filter_bands,
    "quantiles": _quantiles,
    "clip": _clip,
    "apply_kernel": _apply_kernel,
    "filter_temporal": _temporal("extent"),
    "load_collection": _temporal("temporal_extent"),
    "load_stac": _temporal("temporal_extent"),
    "aggregate_temporal": _temporal("intervals"),
    "rename_labels": _rename_labels,
}


def check_rules(spec: ProcessSpec, args: dict, where: str) -> list[Finding]:
    """Findings of the rule for ``spec.id`` on literal ``args`` (pointer ``where``)."""
    rule = RULES.get(spec.id)
    if rule is None:
        return []
    # a reference or callback is given, with a value only the run knows: rules see COMPUTED
    literal = {k: v if _literal(v) else COMPUTED for k, v in args.items()}
    return [f for f in rule(literal, where) if f[2] in spec.exceptions]
