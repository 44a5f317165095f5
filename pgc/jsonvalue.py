"""JSON values as pgc compares them.

>>> canonical(1) == canonical(1.0), canonical(True) == canonical(1)
(True, False)
"""

from __future__ import annotations

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
