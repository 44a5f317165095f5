"""Limits on untrusted input (see shared/RELIABILITY.md, "Untrusted input").

A backend feeds pgc graphs from the internet; every walk over user input is bounded by
these numbers and exceeding one is a clear ``ProcessGraphInvalid`` diagnostic.

>>> Limits().max_nodes
50000
"""

from __future__ import annotations

from dataclasses import dataclass, fields

MAX_JSON_DEPTH = 512


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 64 * 1024 * 1024  # size of the JSON text
    max_json_depth: int = 256  # nesting of arrays/objects in the document
    max_nodes: int = 50_000  # process nodes in all graphs and child graphs together
    max_graph_depth: int = 64  # nesting of child process graphs (callbacks)
    max_string_length: int = 1_000_000  # one JSON string

    def __post_init__(self) -> None:
        for name in (
            "max_bytes",
            "max_json_depth",
            "max_nodes",
            "max_graph_depth",
            "max_string_length",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"limit {name} must be a positive integer, got {value!r}")
        # JSON pointers grow with depth; past this, locating a problem would cost
        # quadratic memory, and the C JSON reader recurses about this deep at most.
        if self.max_json_depth > MAX_JSON_DEPTH:
            raise ValueError(f"max_json_depth can be at most {MAX_JSON_DEPTH}")

    def replace(self, **changes: int) -> Limits:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        values = {name: getattr(self, name) for name in names}
        values.update(changes)
        return Limits(**values)
