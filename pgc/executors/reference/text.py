"""Reference implementations of the text processes: text_begins, text_ends, text_contains
and text_find (with or without case sensitivity, which is Unicode's case folding), and
text_concat. No-data passes through the tests; text_concat writes numbers, booleans and
no-data as JSON does.
"""

from __future__ import annotations

from typing import Any

from .arguments import flag, invalid, is_number
from .arrays import elements_of
from .loop import Call
from .table import implements


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
    return separator.join(_text_of(v, "data") for v in elements_of(call.get("data")))


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
