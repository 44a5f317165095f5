"""Pixel grids: which pixels a bounding box selects (one rule for types and executors).

openEO loads a pixel when its centre lies inside the extent (the ``load_collection`` and
``filter_bbox`` definitions); the type rules and every reader use this function, so the
sizes pgc predicts are the sizes it reads.

>>> window_for_bbox((600000, 605120), (5689880, 5695000), 10, (600000, 5690000, 605000, 5695000))
Window(y0=0, y1=500, x0=0, x1=500)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Window:
    """Rows ``y0:y1`` (north to south) and columns ``x0:x1`` of a grid."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.y1 - self.y0, self.x1 - self.x0)


def window_for_bbox(
    x_extent: tuple[float, float],
    y_extent: tuple[float, float],
    step: float,
    bbox: tuple[float, float, float, float] | None,
) -> Window:
    """The pixels whose centres lie in ``bbox`` = (west, south, east, north), grid CRS.

    ``x_extent``/``y_extent`` are the outer pixel edges of the grid; ``step`` the pixel size.
    """
    nx = round((x_extent[1] - x_extent[0]) / step)
    ny = round((y_extent[1] - y_extent[0]) / step)
    if bbox is None:
        return Window(0, ny, 0, nx)
    west, south, east, north = bbox
    # Centre of column i is x_extent[0] + (i + 0.5) * step; of row j, y_top - (j + 0.5) * step.
    x0 = max(0, _ceil((west - x_extent[0]) / step - 0.5))
    x1 = min(nx, _floor((east - x_extent[0]) / step - 0.5) + 1)
    y0 = max(0, _ceil((y_extent[1] - north) / step - 0.5))
    y1 = min(ny, _floor((y_extent[1] - south) / step - 0.5) + 1)
    return Window(y0, max(y0, y1), x0, max(x0, x1))


def centres_within(centres: Any, low: float, high: float, step: float) -> Any:
    """Which pixel ``centres`` (a numpy array) lie in the closed interval [low, high]: the
    rule of :func:`window_for_bbox` (the same rounding, so a centre that float noise puts a
    hair outside an edge it lies on is kept), for grids that run either way.

    >>> import numpy as np
    >>> centres_within(np.array([5.0, 15.0, 25.0]), 15.000000000001, 25.0, 10).tolist()
    [False, True, True]
    """
    import numpy as np

    size = abs(step) or 1.0
    above = np.round((centres - low) / size, 9) >= 0
    below = np.round((high - centres) / size, 9) >= 0
    return above & below


def _ceil(v: float) -> int:
    return math.ceil(round(v, 9))  # round: 599.4999999 from float noise is 599.5


def _floor(v: float) -> int:
    return math.floor(round(v, 9))


def bbox_in_crs(
    bbox: tuple[float, float, float, float], src_crs: str, dst_crs: str
) -> tuple[float, float, float, float]:
    """The bounding box, in ``dst_crs``, of ``bbox`` given in ``src_crs`` (EPSG codes or
    WKT; the box's edges are densified, so curved edges are covered)."""
    if str(src_crs) == str(dst_crs):
        return bbox
    from rasterio.warp import transform_bounds  # lazily: a heavy import

    box = tuple(transform_bounds(_crs(src_crs), _crs(dst_crs), *bbox, densify_pts=21))
    if not all(math.isfinite(v) for v in box):
        raise OutsideCrs(
            f"({', '.join(f'{v:.10g}' for v in bbox)}) are not coordinates in {_crs(src_crs)}"
            + (" (longitude, latitude)" if str(src_crs) == "4326" else "")
            + f"; is the box in another CRS? Say which with 'crs' (the data's is {_crs(dst_crs)})."
        )
    return box


class OutsideCrs(ValueError):
    """A bounding box whose corners are outside the area of the CRS it is said to be in."""


def _crs(value: str) -> str:
    text = str(value)
    return f"EPSG:{text}" if text.isdigit() else text


def geometries_bounds(
    geometries: list[dict], src_crs: str, dst_crs: str
) -> tuple[tuple[float, float, float, float] | None, bool]:
    """The bounding box in ``dst_crs`` of GeoJSON ``geometries`` given in ``src_crs`` (each
    transformed, then boxed: what filter_spatial's executor and type rule both use; None
    when every geometry is empty), and whether any of them has points or lines (which also
    select pixels whose centre lies just outside the box). ValueError for malformed GeoJSON
    or coordinates the CRS cannot hold.

    >>> geometries_bounds([{"type": "Point", "coordinates": [1, 2]}], "4326", "4326")
    ((1.0, 2.0, 1.0, 2.0), True)
    """
    import shapely
    from shapely.geometry import shape

    boxes, reach = [], False
    for geometry in geometries:
        try:
            moved = geometry if str(src_crs) == str(dst_crs) else _transformed(
                geometry, src_crs, dst_crs
            )
            part = shape(moved)
        except Exception as exc:  # noqa: BLE001 - rasterio's and shapely's many errors
            raise ValueError(str(exc)) from None
        if part.is_empty:
            continue
        boxes.append(part.bounds)
        kinds = {g.geom_type for g in shapely.get_parts(part)}
        reach = reach or bool(kinds - {"Polygon"})
    if not boxes:
        return None, reach
    box = (min(b[0] for b in boxes), min(b[1] for b in boxes),
           max(b[2] for b in boxes), max(b[3] for b in boxes))  # fmt: skip
    return box, reach


def _transformed(geometry: dict, src_crs: str, dst_crs: str) -> dict:
    from shapely.geometry import shape

    if shape(geometry).is_empty:
        return geometry
    from rasterio.warp import transform_geom  # lazily: a heavy import

    return transform_geom(_crs(src_crs), _crs(dst_crs), geometry)


def resampled_size(extent: float, resolution: float) -> int:
    """The pixels along one axis of ``resample_spatial``'s new grid: ``ceil(extent /
    resolution)``, at least one; the one rule for x and y, in the type rules and in the
    reference executor (which the numba and dask executors run for this process).

    The definition anchors the new grid at a corner of the cube's extent (``align``); it
    covers the whole extent, the last pixel reaching past the far edge when the extent is
    not a whole number of pixels, so no input pixel is dropped. Python's ``round`` (half to
    even) dropped the last column at 142.5 while keeping the last row at 170.6 (issue 18).
    Covering is what rasterio's ``calculate_default_transform`` does (pgc's reprojection
    branch of the process uses it) and what ``gdalwarp -tap`` gives; ``gdalwarp -tr`` alone
    rounds half up, which agrees at .5. Float noise (``1000.0000000001 / 10``) is rounded
    away at 1e-9 of a pixel first, as :mod:`pgc.grid` does.

    >>> resampled_size(1425, 10), resampled_size(1705.5, 10), resampled_size(1000.0000000001, 10)
    (143, 171, 100)
    """
    return max(1, math.ceil(round(abs(extent) / resolution, 9)))


def reprojected_grid(
    src_crs: str,
    dst_crs: str,
    width: int,
    height: int,
    bounds: tuple[float, float, float, float],
    resolution: tuple[float, float] | None,
) -> tuple[Any, int, int]:
    """The grid ``resample_spatial`` warps a cube to when it changes the projection: the
    transform, width and height GDAL's ``calculate_default_transform`` gives for the cube's
    grid (``width`` x ``height`` pixels over ``bounds`` in ``src_crs``) in ``dst_crs``, at
    ``resolution`` (None: GDAL's choice). One rule for the reference executor and for the
    load that takes the resampling over (pgc.passes.load_grid). Raises rasterio's
    CRSError or ValueError for a CRS GDAL does not know."""
    from rasterio.warp import calculate_default_transform

    return calculate_default_transform(
        _crs(src_crs), _crs(dst_crs), width, height, *bounds, resolution=resolution
    )
