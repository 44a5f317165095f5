"""The dtype policy: the float type band math computes in, for every executor.

Loaded bands keep their dtype (uint16 reflectances stay uint16 until computed with);
arithmetic, math functions and comparisons on cube values compute in one float type:
``float64`` by default, or ``float32`` (half the memory and bandwidth, about 7 significant
digits): ``Options(compute_dtype="float32")`` of a :class:`pgc.Session` (the command line:
``PGC_COMPUTE_DTYPE=float32``). The types, the reference executor and the fused kernels
read the same setting of the call they work for (:func:`pgc.options.active`), so they give
the same results, and two sessions with different dtypes do not disturb each other.

>>> compute_dtype()
'float64'
"""

from __future__ import annotations

from .options import active, set_active


def compute_dtype() -> str:
    """The compute dtype of the options active for this call."""
    return active().compute_dtype


def set_compute_dtype(dtype: str) -> None:
    """Make ``dtype`` the compute dtype of this context (thread) from now on: for tests
    and scripts; a back-end gives each session its own ``Options(compute_dtype=...)``."""
    set_active(active().replace(compute_dtype=dtype))


def replaced_dtype(dtype: str, replacement: object) -> str:
    """The dtype of ``dtype`` values some of which are replaced by ``replacement`` (mask,
    mask_polygon, apply_polygon's ``mask_value``), the same for the type rules and the
    executors: kept where it holds the replacement exactly (null, which is no-data; true and
    false in booleans and numbers; a number that an integer or float dtype holds), objects
    for text, else the compute dtype.

    >>> replaced_dtype("uint8", 255), replaced_dtype("uint8", -1), replaced_dtype("bool", True)
    ('uint8', 'float64', 'bool')
    """
    import math

    import numpy as np

    if replacement is None or dtype == "object":
        return dtype
    if isinstance(replacement, str):
        return "object"
    try:
        kind = np.dtype(dtype).kind
    except TypeError:  # not a numpy dtype: nothing to say
        return dtype
    if isinstance(replacement, bool):
        return dtype if kind in "biuf" else "object"
    if not isinstance(replacement, int | float) or kind not in "iuf":
        return compute_dtype()
    if kind == "f" and not math.isfinite(replacement):
        return dtype  # every float dtype holds NaN and the infinities
    with np.errstate(all="ignore"):
        try:
            held = np.asarray(replacement).astype(dtype).item()
        except (OverflowError, ValueError):
            return compute_dtype()
    return dtype if held == replacement else compute_dtype()
