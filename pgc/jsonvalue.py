"""JSON values as pgc compares them.

>>> canonical(1) == canonical(1.0), canonical(True) == canonical(1)
(True, False)
"""

from __future__ import annotations

import math
from typing import Any


def canonical(value: Any) -> Any:
    """A hashable key equal for JSON-equal values: ``true`` is not ``1``, ``1`` is ``1.0``,
    key order does not matter. Iterative, so deep values cannot exhaust the stack."""
    # Post-order walk: a container's key is built once all its children's keys are known.
    done: list[Any] = []
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        item, expanded = stack.pop()
        if isinstance(item, list | tuple):
            if expanded:
                n = len(item)
                keys = done[len(done) - n :] if n else []
                del done[len(done) - n :]
                done.append(("a", tuple(keys)))
            else:
                stack.append((item, True))
                stack.extend((v, False) for v in reversed(item))
        elif isinstance(item, dict):
            if expanded:
                n = len(item)
                keys = done[len(done) - n :] if n else []
                del done[len(done) - n :]
                done.append(("o", frozenset(zip(item, keys, strict=True))))
            else:
                stack.append((item, True))
                stack.extend((v, False) for v in reversed(list(item.values())))
        elif isinstance(item, bool) or item is None:
            done.append(("c", item))
        elif isinstance(item, int | float):
            done.append(("n", item))  # 1 == 1.0 and hash(1) == hash(1.0) in Python
        else:
            done.append(("s", item))
    return done[0]


def merge_patch(target: Any, patch: Any) -> Any:
    """``patch`` applied to ``target`` as an RFC 7386 JSON Merge Patch: objects merge key
    by key, ``null`` removes a key, anything else replaces. ``target`` is not changed.
    Recursion follows the patch's nesting, which the front end's depth limit bounds.

    >>> merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": None, "b": {"c": 4}})
    {'b': {'c': 4, 'd': 3}}
    """
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def is_number(value: Any) -> bool:
    """Whether ``value`` is a JSON number (``true`` is not one)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_json(value: Any, finite: bool = False) -> bool:
    """Whether ``value`` is plain JSON data (dicts with string keys, lists, strings,
    numbers, booleans, None); with ``finite``, NaN and infinities (not JSON) count as not.
    Iterative, so deep values cannot exhaust the stack.

    >>> is_json({"a": [1, None]}), is_json({"a": float("nan")}, finite=True), is_json({1: 2})
    (True, False, False)
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif not _leaf_ok(item, finite):
            return False
    return True


def _leaf_ok(item: Any, finite: bool) -> bool:
    if not isinstance(item, str | int | float | bool | type(None)):
        return False
    return not (finite and isinstance(item, float) and not math.isfinite(item))
