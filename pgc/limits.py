"""Limits on untrusted input (see shared/RELIABILITY.md, "Untrusted input").

A backend feeds pgc graphs from the internet; every walk over user input is bounded by
these numbers and exceeding one is a clear ``ProcessGraphInvalid`` diagnostic.

>>> Limits().max_nodes
50000
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 64 * 1024 * 1024  # size of the JSON text
    max_json_depth: int = 256  # nesting of arrays/objects in the document
    max_nodes: int = 50_000  # process nodes in all graphs and child graphs together
    max_graph_depth: int = 64  # nesting of child process graphs (callbacks)
    max_string_length: int = 1_000_000  # one JSON string
    max_udp_depth: int = 32  # user-defined processes calling each other

    def replace(self, **changes: int) -> Limits:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        values = {name: getattr(self, name) for name in names}
        values.update(changes)
        return Limits(**values)
