"""Limits on untrusted input and the budget of a run (see shared/RELIABILITY.md).

A backend feeds pgc graphs from the internet. Two kinds of number bound what one graph can
cost:

- **input limits** (``max_bytes`` ... ``max_json_values``): every walk over the user's
  document is bounded by them, and the reader checks them before it builds anything
  proportional to the input; exceeding one is ``ProcessGraphInvalid``;
- **the budget** (``max_cube_bytes`` ... ``max_seconds``): what the graph may compute. It is
  checked from the types before anything runs (the typed IR knows every intermediate cube's
  dimensions, labels and dtype) and enforced again while running, where sizes depend on
  the data; exceeding it is openEO's ``ProcessGraphComplexity`` naming the node and its
  estimated size (``RequestTimeout`` for ``max_seconds``).

>>> Limits().max_nodes
50000
>>> Limits(max_seconds=30).replace(max_cube_bytes=2**30).max_seconds
30
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

MAX_JSON_DEPTH = 512
GB = 1024**3


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 64 * 1024 * 1024  # size of the JSON text
    max_json_depth: int = 256  # nesting of arrays/objects in the document
    max_nodes: int = 50_000  # process nodes in all graphs and child graphs together
    max_graph_depth: int = 64  # nesting of child process graphs (callbacks)
    max_string_length: int = 1_000_000  # one JSON string
    # values (numbers, strings, arrays, objects ...) in the whole document: a GeoJSON of a
    # million vertices is two million; a 64 MB text could otherwise hold 32 million
    max_json_values: int = 2_000_000
    # -- the budget ------------------------------------------------------------------------
    # bytes of any one intermediate cube (the sample collection whole: 82 MB; one band of a
    # Sentinel-2 tile in float64: 0.96 GB); the machine pgc was built on has 24 GB
    max_cube_bytes: int = 8 * GB
    # elements of any one array a process makes (array_create, labels of a dimension,
    # intervals of aggregate_temporal)
    max_array_length: int = 10_000_000
    # cells of a convolution kernel (apply_kernel): 101 x 101 is 10,201
    max_kernel_cells: int = 10_201
    # distinct fused kernels one request compiles (numba executor; each costs about 0.1-1 s
    # of compilation the first time): the examples make 1 to 4
    max_kernels: int = 64
    # wall-clock seconds of one run (None: no limit); checked between processes and in the
    # long loops of the reference executor
    max_seconds: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "max_seconds" and value is None:
                continue
            number = int | float if f.name == "max_seconds" else int
            if not isinstance(value, number) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"limit {f.name} must be a positive number, got {value!r}")
        # JSON pointers grow with depth; past this, locating a problem would cost
        # quadratic memory, and the C JSON reader recurses about this deep at most.
        if self.max_json_depth > MAX_JSON_DEPTH:
            raise ValueError(f"max_json_depth can be at most {MAX_JSON_DEPTH}")

    def replace(self, **changes: int | float | None) -> Limits:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        values = {name: getattr(self, name) for name in names}
        values.update(changes)
        return Limits(**values)

    def deadline(self) -> float | None:
        """The ``time.monotonic()`` by which a run starting now must end (None: never)."""
        return None if self.max_seconds is None else time.monotonic() + self.max_seconds
