"""apply_kernel's planes as a compiled loop: the reference's sums
(:func:`pgc.executors.reference.cube.correlated`), added alike, in one pass over each plane.

The reference weighs a plane with one numpy pass per weight (a product, then a sum), over
a padded copy of the plane in the compute dtype: about twenty passes over memory per plane,
2.6 s of kernel_smooth's 2.7 s at 2048 x 2048 px, 12 dates, 2 bands (issue 23). Here each
output row is computed from the input rows the kernel reaches, read where they are: no
padded copy (the border is a map from padded to input positions, or the constant), and no
converted copy where the values need no replacement and convert exactly (uint16 to float).

The sums are the reference's, bit for bit: for each pixel the weights in the kernel's order
(rows, then columns), each product ``kernel[i, j] * value`` in float64 added to the sum
held in the plane's dtype (float32 sums are rounded after every addition, as numpy's
``out += term`` rounds them), from +0.0; a zero weight is skipped only where every value
and the border are finite. No fastmath, no contraction into fused multiply-adds (numba's
default), ``error_model="numpy"`` (RELIABILITY.md).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..reference.cube import PAD_MODES, Plane, correlated
from ..values import all_valid


@functools.cache
def _loop() -> Any:
    """The compiled loop (numba imported and the machine code loaded on first use)."""
    from numba import njit, prange

    @njit(cache=True, error_model="numpy", parallel=True)
    def weigh(src, rows, cols, border, kernel, use, out):  # pragma: no cover - compiled
        height, width = out.shape
        kh, kw = kernel.shape
        kx = kw // 2
        for y in prange(height):  # rows apart: each output row is its own sums
            line = out[y]
            line[:] = 0.0  # (here, not a pass of its own: the row is written while cached)
            for i in range(kh):
                r = rows[y + i]
                for j in range(kw):
                    if not use[i, j]:
                        continue
                    w = kernel[i, j]
                    if r < 0:  # a row of the constant border
                        for x in range(width):
                            line[x] += w * border
                        continue
                    near = src[r]
                    # the columns whose neighbour is inside: [lo, hi) (none on narrow planes)
                    lo = min(max(0, kx - j), width)
                    hi = max(min(width, width + kx - j), lo)
                    # as slices indexed from 0, which the compiler knows are not negative
                    # (no wraparound test per element: the loop vectorizes, 4x faster)
                    inside, reached = line[lo:hi], near[lo + j - kx : hi + j - kx]
                    for x in range(hi - lo):
                        inside[x] += w * np.float64(reached[x])
                    for x in range(lo):
                        c = cols[x + j]
                        line[x] += w * (border if c < 0 else np.float64(near[c]))
                    for x in range(hi, width):
                        c = cols[x + j]
                        line[x] += w * (border if c < 0 else np.float64(near[c]))

    return weigh


def compiled_correlated(plane: Plane, out: np.ndarray) -> None:
    """:func:`~pgc.executors.reference.cube.correlated` of ``plane`` into ``out``, by the
    compiled loop (the reference's where the values are not numbers a float holds)."""
    values = plane.values
    if values.dtype.kind not in "iuf" or plane.kernel.dtype != np.float64 or 0 in values.shape:
        correlated(plane, out)
        return
    exact = np.can_cast(values.dtype, plane.dtype, "safe")
    finite = values.dtype.kind in "iu" or bool(np.isfinite(values).all())
    if not (exact and finite and all_valid(plane.valid)):
        values = plane.replaced()  # as the reference replaces them
        finite = bool(np.isfinite(values).all())
    (ky, _), (kx, _) = plane.halo
    constant = plane.constant_border
    # the border as the reference's padding holds it: in the plane's dtype
    border = np.asarray(plane.border if constant else 0).astype(plane.dtype)[()]
    if constant and (ky or kx):
        finite &= bool(np.isfinite(border))
    rows, cols = (_positions(n, k, plane.border, constant)
                  for n, k in zip(values.shape, (ky, kx), strict=True))  # fmt: skip
    use = (plane.kernel != 0) | (not finite)
    _loop()(np.ascontiguousarray(values), rows, cols, np.float64(border), plane.kernel, use, out)


def _positions(n: int, halo: int, border: Any, constant: bool) -> np.ndarray:
    """For each position of an axis extended by ``halo`` on both sides, the input position
    whose value is there (-1: the constant border): numpy's padding of the positions, so
    the modes are exactly the reference's."""
    positions = np.arange(n, dtype=np.int64)
    if constant:
        return np.pad(positions, halo, mode="constant", constant_values=-1)
    return np.pad(positions, halo, mode=PAD_MODES[border])
