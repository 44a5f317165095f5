"""Process implementations as an immutable table that a back-end overrides per session.

A back-end embedding pgc replaces a few processes with its own (its ``load_collection``
for its own data, a GPU kernel) without touching anyone else's: ``table.override(
load_collection=fn)`` returns a new table, and a :class:`pgc.Session` made with it runs its
graphs with it. An implementation takes a :class:`pgc.executors.reference.Call` (the
node's computed arguments as ``call.get(name)``, callbacks as ``call.callback(name)``,
errors as ``call.fail(code, message, argument)``) and returns the node's value.

>>> from pgc.executors.reference import default_processes
>>> table = default_processes().override(absolute=lambda call: 42)
>>> table["absolute"](None), "absolute" in default_processes().overridden
(42, False)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

Implementation = Callable[[Any], Any]


class ProcessTable(Mapping[str, Implementation]):
    """Implementations by process id; immutable (``override`` gives a new table)."""

    def __init__(
        self,
        implementations: Mapping[str, Implementation],
        overridden: frozenset[str] = frozenset(),
    ) -> None:
        self._table = MappingProxyType(dict(implementations))
        self.overridden = frozenset(overridden)  # ids replaced since the executor's own

    def __getitem__(self, process_id: str) -> Implementation:
        return self._table[process_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def override(
        self,
        implementations: Mapping[str, Implementation] | None = None,
        /,
        **by_id: Implementation,
    ) -> ProcessTable:
        """A new table with these implementations instead (a mapping for ids that are not
        Python names, or keywords: ``override(load_collection=fn)``); this one is unchanged.
        """
        changes = {**(implementations or {}), **by_id}
        for process_id, fn in changes.items():
            if not callable(fn):
                raise TypeError(f"the implementation of {process_id!r} is not callable")
        return ProcessTable({**self._table, **changes}, self.overridden | set(changes))

    def __repr__(self) -> str:
        return f"ProcessTable({len(self)} processes, overridden: {sorted(self.overridden)})"
