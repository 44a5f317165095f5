"""Quick-look PNGs of results: people would rather look at a map than read numbers.

A 2-D result is stretched between its 2nd and 98th percentiles and coloured with a
perceptually ordered palette (dark blue - green - yellow); no-data is transparent. Cubes
with more than x and y show their first label of every other dimension. The PNG is encoded
here with zlib (no imaging library needed).

>>> import numpy as np
>>> png = encode_png(np.zeros((2, 3, 4), dtype=np.uint8))
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

# Anchor colours of the palette (a viridis-like ramp), interpolated linearly.
_PALETTE = np.array([
    [68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37],
], dtype=np.float64)  # fmt: skip


def colourize(values: np.ndarray) -> np.ndarray:
    """``values`` [y, x] (NaN = no data) as RGBA uint8 [y, x, 4]."""
    finite = np.isfinite(values)
    rgba = np.zeros((*values.shape, 4), dtype=np.uint8)
    if not finite.any():
        return rgba
    lo, hi = np.percentile(values[finite], [2, 98])
    scaled = np.clip((values - lo) / (hi - lo) if hi > lo else values * 0, 0, 1)
    pos = np.where(finite, scaled, 0) * (len(_PALETTE) - 1)
    i = np.minimum(pos.astype(int), len(_PALETTE) - 2)
    frac = (pos - i)[..., None]
    colour = _PALETTE[i] * (1 - frac) + _PALETTE[i + 1] * frac
    rgba[..., :3] = np.rint(colour).astype(np.uint8)
    rgba[..., 3] = np.where(finite, 255, 0)
    return rgba


def encode_png(rgba: np.ndarray) -> bytes:
    """PNG bytes of an RGBA uint8 image [height, width, 4]."""
    height, width = rgba.shape[:2]
    raw = b"".join(b"\x00" + rgba[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def write_preview(cube, path: str | Path) -> None:
    """A quick-look PNG of a result cube (pgc.executors.values.Cube)."""
    data = cube.filled()
    if not {"x", "y"} <= set(data.dims):
        raise ValueError("a preview needs a result with x and y dimensions")
    for dim in data.dims:
        if dim not in ("x", "y"):
            data = data.isel({dim: 0})
    Path(path).write_bytes(encode_png(colourize(data.transpose("y", "x").values)))
