"""The dtype policy: the float type band math computes in, for every executor.

Loaded bands keep their dtype (uint16 reflectances stay uint16 until computed with);
arithmetic, math functions and comparisons on cube values compute in one float type:
``float64`` by default, or ``float32`` (half the memory and bandwidth, about 7 significant
digits) with ``PGC_COMPUTE_DTYPE=float32`` or :func:`set_compute_dtype`. The reference
executor and the fused kernels read the same setting, so they give the same results.

>>> compute_dtype()
'float64'
"""

from __future__ import annotations

import os

_ALLOWED = ("float64", "float32")
_current = os.environ.get("PGC_COMPUTE_DTYPE", "float64")
if _current not in _ALLOWED:  # a typo must not silently change results
    raise ValueError(f"PGC_COMPUTE_DTYPE must be float64 or float32, not {_current!r}")


def compute_dtype() -> str:
    return _current


def set_compute_dtype(dtype: str) -> None:
    global _current
    if dtype not in _ALLOWED:
        raise ValueError(f"the compute dtype must be float64 or float32, not {dtype!r}")
    _current = dtype
