"""Numbers at the edges of float64, shared by the executors and the fold pass.

openEO numbers are JSON numbers; pgc computes with 64-bit floats, and with exact integers
only while they fit 64 bits. A graph from the internet can ask for
``round(1e300, -400)`` or square an integer forty times: these must give the number the
definition means, or a clear error, in microseconds, never ``NaN`` from an intermediate
``10**400`` that overflowed, or a 10^12-digit integer that takes hours to compute.

>>> rounded(1234.5678, 2), rounded(1e300, -400), rounded(0.1, 400)
(1234.57, 0.0, 0.1)
>>> bounded_int(3 ** 39), bounded_int(10 ** 400)
(4052555153018976267, inf)
"""

from __future__ import annotations

import math
from typing import Any

# Past 10**308 a float64 is infinite: round(x, p) for p below -308 is 0 for every finite x,
# and for p above 323 (the last decimal place of the smallest float64, 5e-324) it is x.
_LOWEST_PLACE, _HIGHEST_PLACE = -308, 323
# Integers keep Python's exact arithmetic up to this size; past it they become floats, as
# JSON numbers do in every openEO back-end (and as the float64 results of cube arithmetic).
MAX_EXACT_INT = 2**63 - 1


def rounded(x: Any, p: int = 0) -> Any:
    """``round`` as the definition says (half to even, at ``p`` decimal places), for a
    number or a numpy array, with ``p`` of any size."""
    import numpy as np  # here: the fold pass imports this module when pgc validate types

    array = hasattr(x, "shape") and not isinstance(x, np.generic)  # numpy or xarray
    if p > _HIGHEST_PLACE:
        return x if array else float(x)
    if p < _LOWEST_PLACE:
        zero = np.copysign(0.0, x)
        if not array:
            return float(zero) if math.isfinite(x) else float(x)
        finite = np.isfinite(x)
        return zero.where(finite, x) if hasattr(zero, "where") else np.where(finite, zero, x)
    if array:
        return np.round(x, p)
    return float(np.round(np.float64(x), p))


def bounded_int(value: Any) -> Any:
    """An integer result kept exact while it fits 64 bits, else as a float (``inf`` past
    float64's range); anything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INT:
        try:
            return float(value)
        except OverflowError:
            return float("inf") if value > 0 else float("-inf")
    return value
