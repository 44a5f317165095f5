"""The grid a load of a STAC-backed collection reads onto.

Items come on the grids of their own CRS (Sentinel-2: one UTM zone per tile); a cube has one
grid. The collection's ``crs`` rule chooses it per load:

- ``"utm"``: the UTM zone covering most of the load's extent (the longest part of the
  extent's west-east span; a tie goes to the western zone), north or south by the extent's
  centre. Tiles of other zones are reprojected onto it. (The irregular zones around Norway
  and Svalbard are not special-cased.)
- an EPSG code: that CRS.

Pixels are ``resolution`` units wide, their edges on whole multiples of it (Sentinel-2's
tiles have their corners on multiples of 60 m, so 10, 20 and 60 m pixels of a tile line up
with the grid and same-zone reads need no resampling). The grid covers the extent's
bounding box in that CRS, edges rounded outward; the load then takes the pixels whose
centres lie in the box (openEO's rule, :func:`pgc.grid.window_for_bbox`), as for every
other collection.

>>> utm_crs((5.9, 49.4, 6.3, 49.6))  # more of it east of 6 deg E: zone 32
'32632'
>>> snapped((280005.0, 5486000.0, 285000.0, 5492003.0), 10.0)
((280000.0, 285000.0), (5486000.0, 5492010.0))
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ...ir.types import CubeType


class NeedsExtent(ValueError):
    """A load whose grid depends on its extent was given none."""


def utm_crs(lonlat: tuple[float, float, float, float]) -> str:
    """The EPSG code (as text) of the UTM zone covering most of a lon/lat box."""
    west, south, east, north = lonlat
    west, east = max(-180.0, west), min(180.0, east)
    best, best_span = None, -1.0
    zone = min(60, int(math.floor((west + 180) / 6)) + 1)
    while True:
        lo, hi = -180 + (zone - 1) * 6, -180 + zone * 6
        span = min(east, hi) - max(west, lo)
        if span > best_span + 1e-12:
            best, best_span = zone, span
        if hi >= east or zone == 60:
            break
        zone += 1
    south_hemisphere = (south + north) / 2 < 0
    return f"{327 if south_hemisphere else 326}{best:02d}"


def grid_crs(rule: str, lonlat: tuple[float, float, float, float] | None) -> str:
    """The CRS of a load's grid under the collection's ``crs`` rule."""
    if rule != "utm":
        return rule
    if lonlat is None:
        raise NeedsExtent("its grid is the UTM zone of the spatial extent, and none was given")
    return utm_crs(lonlat)


def snapped(box: tuple[float, float, float, float], step: float) -> tuple[tuple, tuple]:
    """The x and y extents of the grid covering ``box``: edges on multiples of ``step``,
    rounded outward (a box of no width still gets the pixel it lies in)."""
    west, south, east, north = box

    def down(v: float) -> float:
        return math.floor(v / step + 1e-9) * step

    def up(v: float) -> float:
        return math.ceil(v / step - 1e-9) * step

    x0, x1, y0, y1 = down(west), up(east), down(south), up(north)
    if x1 <= x0:
        x1 = x0 + step
    if y1 <= y0:
        y1 = y0 + step
    return (float(x0), float(x1)), (float(y0), float(y1))


def grid_type(cube: CubeType, crs: str, box: tuple[float, float, float, float],
              step: float) -> CubeType:  # fmt: skip
    """``cube`` with x and y on the grid covering ``box`` (in ``crs``)."""
    xs, ys = snapped(box, step)
    dims = []
    for dim in cube.dimensions:
        if dim.type == "spatial" and dim.axis in ("x", "y"):
            extent = xs if dim.axis == "x" else ys
            dim = replace(dim, extent=extent, step=step, crs=crs)
        dims.append(dim)
    return replace(cube, dimensions=tuple(dims))


def lonlat_of(extent: Any) -> tuple[float, float, float, float] | None:
    """The lon/lat bounding box of a literal bounding-box extent (with an optional
    ``crs``), or None (no box: GeoJSON extents are placed when loaded)."""
    from ...grid import bbox_in_crs

    if not isinstance(extent, dict) or "west" not in extent:
        return None
    try:
        box = tuple(float(extent[k]) for k in ("west", "south", "east", "north"))
        crs = str(extent.get("crs", 4326)).replace("EPSG:", "")
        return tuple(bbox_in_crs(box, crs, "4326"))  # type: ignore[arg-type,return-value]
    except Exception:  # noqa: BLE001 - any malformed extent: the type rules report it
        return None


__all__ = ["NeedsExtent", "grid_crs", "grid_type", "lonlat_of", "snapped", "utm_crs"]
