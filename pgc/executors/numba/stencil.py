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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..peak import STENCIL_BAND_BYTES
from ..reference.cube import PAD_MODES, Plane, Weighing, correlated
from ..values import Cube, all_valid


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


def compiled_correlated(plane: Plane, out: np.ndarray, rows: tuple[int, int] | None = None) -> None:
    """:func:`~pgc.executors.reference.cube.correlated` of ``plane`` into ``out``, by the
    compiled loop (the reference's where the values are not numbers a float holds). With
    ``rows`` (first, stop), only those rows of the result (``out`` has their shape): from
    the rows of the plane they reach, the same sums."""
    values = plane.values
    if values.dtype.kind not in "iuf" or plane.kernel.dtype != np.float64 or 0 in values.shape:
        if rows is not None:
            raise ValueError("rows of a plane the compiled loop does not weigh")
        correlated(plane, out)
        return
    (ky, _), (kx, _) = plane.halo
    constant = plane.constant_border
    ys = _positions(values.shape[0], ky, plane.border, constant)
    if rows is not None:
        plane, ys = _reached(plane, ys[rows[0] : rows[1] + 2 * ky])
        values = plane.values
    exact = np.can_cast(values.dtype, plane.dtype, "safe")
    finite = values.dtype.kind in "iu" or bool(np.isfinite(values).all())
    if not (exact and finite and all_valid(plane.valid)):
        values = plane.replaced()  # as the reference replaces them
        finite = bool(np.isfinite(values).all())
    # the border as the reference's padding holds it: in the plane's dtype
    border = np.asarray(plane.border if constant else 0).astype(plane.dtype)[()]
    if constant and (ky or kx):
        finite &= bool(np.isfinite(border))
    xs = _positions(values.shape[1], kx, plane.border, constant)
    use = (plane.kernel != 0) | (not finite)
    _loop()(np.ascontiguousarray(values), ys, xs, np.float64(border), plane.kernel, use, out)


def _reached(plane: Plane, ys: np.ndarray) -> tuple[Plane, np.ndarray]:
    """The part of ``plane`` that the padded positions ``ys`` read, and the positions in
    it: a band of rows (a view), or the rows themselves where a wrapped border reaches
    the far edge."""
    inside = ys[ys >= 0]  # (never empty: each row of the result reads its own)
    low, high = int(inside.min()), int(inside.max()) + 1
    if high - low <= ys.size:
        taken: Any = slice(low, high)
        moved = np.where(ys >= 0, ys - low, -1)
    else:
        taken = np.unique(inside)
        moved = np.where(ys >= 0, np.searchsorted(taken, ys), -1)
    return replace(plane, values=plane.values[taken], valid=plane.valid[taken]), moved


def _positions(n: int, halo: int, border: Any, constant: bool) -> np.ndarray:
    """For each position of an axis extended by ``halo`` on both sides, the input position
    whose value is there (-1: the constant border): numpy's padding of the positions, so
    the modes are exactly the reference's. The same for every plane of a cube: kept."""
    return _padded_positions(n, halo, None if constant else border)


@functools.lru_cache(maxsize=64)
def _padded_positions(n: int, halo: int, mode: str | None) -> np.ndarray:
    positions = np.arange(n, dtype=np.int64)
    if mode is None:
        padded = np.pad(positions, halo, mode="constant", constant_values=-1)
    else:
        padded = np.pad(positions, halo, mode=PAD_MODES[mode])
    padded.flags.writeable = False
    return padded


# the bytes of the sums a band of rows holds while a fused kernel reads it (DeferredStencil;
# the peak estimate counts it)
BAND_BYTES = STENCIL_BAND_BYTES


@dataclass
class DeferredStencil:
    """apply_kernel's value not computed yet (the numba executor's ``stencil_hook``). A
    fused kernel that reads it computes it band of rows by band of rows
    (:func:`pgc.executors.numba.kernel_run.run_kernel`), so the float cube of the sums is
    never held whole (kernel_smooth at 4096 px held 3.2 GB of them); whatever else reads
    it gets :meth:`value`, the whole cube, as the reference computes it."""

    call: Any
    weighing: Weighing
    _value: Cube | None = field(default=None, repr=False)

    @property
    def y(self) -> str:
        return self.weighing.y

    @property
    def height(self) -> int:
        return int(self.weighing.data.shape[-2])

    def value(self) -> Cube:
        """The whole cube (computed once)."""
        if self._value is None:
            weighing = self.weighing
            out = np.empty(weighing.data.shape, weighing.dtype)
            weighing.weigh(self.call, compiled_correlated, out)
            self._value = weighing.result(out)
        return self._value

    def rows(self, first: int, stop: int, out: np.ndarray | None = None) -> Cube:
        """The rows ``first`` to ``stop`` (excluded) of the result along y: the same sums
        as :meth:`value`'s, from the rows of the input they reach. ``out``: an array of
        their shape in the planes' layout to write them into."""
        weighing = self.weighing
        out = np.empty(self.band_shape(stop - first), weighing.dtype) if out is None else out
        weighing.weigh(self.call, functools.partial(compiled_correlated, rows=(first, stop)), out)
        return weighing.result(out, slice(first, stop))

    def band_shape(self, rows: int) -> tuple[int, ...]:
        """The shape of ``rows`` rows of the sums, in the planes' layout (y and x last)."""
        shape = self.weighing.data.shape
        return (*shape[:-2], rows, shape[-1])

    def band_rows(self) -> int:
        """Rows per band: about :data:`BAND_BYTES` of sums, one row at least."""
        data = self.weighing.data
        row = max(1, data.size // max(1, self.height)) * self.weighing.dtype.itemsize
        return max(1, BAND_BYTES // row)


def deferred(call: Any) -> DeferredStencil | None:
    """The call's :class:`DeferredStencil` (its arguments checked now, with the reference's
    errors), or None where the compiled loop would not weigh it band by band: values
    that are not integers or floats, weights that are not float64."""
    weighing = Weighing.of(call)
    if weighing.data.dtype.kind not in "iuf" or weighing.kernel.dtype != np.float64:
        return None
    if 0 in weighing.data.shape:
        return None
    return DeferredStencil(call, weighing)
