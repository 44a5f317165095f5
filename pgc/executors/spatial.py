"""The horizontal grid of a raster cube at run time, and which of its pixels a geometry
selects, by the rules the definitions state (filter_spatial, mask_polygon, aggregate_spatial,
apply_polygon, load_collection):

- a polygon selects the pixels whose centre *intersects* it (OGC Simple Features: a centre
  on the boundary, a hole's boundary included, counts as inside; a centre in a hole does not);
- a point selects the closest pixel centre, i.e. the pixel that holds the point;
- a line selects the pixels whose centres are closest to at least one point on it, i.e. every
  pixel the line passes through or touches.

GDAL (rasterio) burns a polygon by the pixel centre, but a centre exactly on an edge falls on
one side or the other by its scan-line convention, and it burns a line along one pixel per
step. So polygons are burnt by GDAL where the answer cannot depend on that (pixels the
boundary does not touch) and every pixel the boundary touches is decided exactly with shapely;
lines are burnt with ``all_touched``; points are located by arithmetic.

Which dimensions are x and y: the definitions name axes, not dimension names, and a cube's
dimensions may be renamed. :func:`horizontal` reads a dimension's axis from its coordinate's
``openeo:axis`` attribute where it was said, else from the name (``x``/``lon``/``longitude``/
``easting``, ``y``/``lat``/``latitude``/``northing``), else from the order of the remaining
spatial dimensions (openEO cubes list y before x).

>>> import numpy as np, xarray as xr
>>> from pgc.executors.values import Cube
>>> c = Cube(xr.DataArray(np.zeros((2, 3)), dims=["lat", "lon"]), True)
>>> horizontal(c)
('lon', 'lat')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .values import Cube, dimension_type, dimensions_of_type

AXIS = "openeo:axis"  # attribute of a dimension's coordinate: its axis (x, y or z)
_NAMES = {
    "x": "x", "lon": "x", "long": "x", "longitude": "x", "easting": "x",
    "y": "y", "lat": "y", "latitude": "y", "northing": "y",
    "z": "z", "height": "z", "elevation": "z", "altitude": "z", "depth": "z",
}  # fmt: skip


def axes(cube: Cube) -> dict[str, str]:
    """The axis of each spatial dimension of ``cube``: ``{axis: dimension name}``."""
    spatial = dimensions_of_type(cube, "spatial")
    found: dict[str, str] = {}
    for dim in spatial:
        said = cube.data.coords[dim].attrs.get(AXIS) if dim in cube.data.coords else None
        axis = str(said) if said else _NAMES.get(dim.lower())
        if axis in ("x", "y", "z") and axis not in found:
            found[axis] = dim
    rest = [d for d in spatial if d not in found.values()]
    for axis in ("x", "y"):  # the last unnamed spatial dimension is x, the one before it y
        if axis not in found and rest:
            found[axis] = rest.pop()
    return found


def horizontal(cube: Cube) -> tuple[str | None, str | None]:
    """The names of ``cube``'s x and y dimensions (None where it has none)."""
    found = axes(cube)
    return found.get("x"), found.get("y")


def is_spatial(cube: Cube, dim: str) -> bool:
    return dimension_type(cube, dim) == "spatial"


@dataclass(frozen=True)
class PixelGrid:
    """A regular grid of pixel centres ``x`` (columns) and ``y`` (rows), signed steps."""

    x: np.ndarray
    y: np.ndarray
    dx: float
    dy: float

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.y), len(self.x))

    def transform(self, row0: int = 0, col0: int = 0) -> Any:
        """The affine transform of the grid from pixel (row0, col0) on (rasterio)."""
        from affine import Affine

        x0 = self.x[0] + (col0 - 0.5) * self.dx
        y0 = self.y[0] + (row0 - 0.5) * self.dy
        return Affine(self.dx, 0.0, x0, 0.0, self.dy, y0)

    def fraction(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Column and row positions of points (pixel centres are whole numbers)."""
        return (np.asarray(xs) - self.x[0]) / self.dx, (np.asarray(ys) - self.y[0]) / self.dy


def pixel_grid(cube: Cube, x: str, y: str) -> PixelGrid:
    """The grid of ``cube``'s x and y dimensions. A dimension with one label has no step of
    its own: it takes the other's pixel size (square pixels), x growing eastwards and y
    southwards (north-up), as loaded grids do; with one pixel in all, 1."""
    xs = np.asarray(cube.data[x].values, dtype="float64")
    ys = np.asarray(cube.data[y].values, dtype="float64")
    dx = float(xs[1] - xs[0]) if len(xs) > 1 else None
    dy = float(ys[1] - ys[0]) if len(ys) > 1 else None
    size = abs(dx or dy or 1.0)
    return PixelGrid(xs, ys, dx or size, dy or -size)


def selected_pixels(grid: PixelGrid, geometry: Any) -> np.ndarray:
    """The boolean [y, x] mask of the pixels ``geometry`` (shapely, in the grid's CRS)
    selects, by the rules in the module docstring."""
    import shapely

    mask = np.zeros(grid.shape, dtype=bool)
    if geometry.is_empty or 0 in grid.shape:
        return mask
    parts = simple_parts(geometry)
    polygons = [p for p in parts if p.geom_type == "Polygon"]
    lines = [p for p in parts if p.geom_type in ("LineString", "LinearRing")]
    points = [p for p in parts if p.geom_type == "Point"]
    if polygons:
        _burn_polygons(grid, polygons, mask)
    if lines:
        _burn(grid, lines, mask, all_touched=True)
        # a line's vertices are points on it: their pixels too (GDAL burns nothing for a
        # line of length 0)
        points = [*points, *(shapely.points(shapely.get_coordinates(line)) for line in lines)]
    for point in points:
        for one in np.atleast_1d(point):
            _locate(grid, one, mask)
    return mask


def simple_parts(geometry: Any) -> list:
    """Points, line strings and polygons a geometry consists of, in their order
    (multi-geometries and collections flattened, empty parts left out)."""
    out, stack = [], [geometry]
    while stack:
        g = stack.pop()
        if g.is_empty:
            continue
        if hasattr(g, "geoms"):
            stack.extend(reversed(list(g.geoms)))
        else:
            out.append(g)
    return out


def _window(grid: PixelGrid, bounds: tuple) -> tuple[slice, slice] | None:
    """Rows and columns of the pixels near ``bounds`` (a pixel of margin; None: none)."""
    minx, miny, maxx, maxy = bounds
    cols, rows = grid.fraction([minx, maxx], [miny, maxy])
    if not (np.isfinite(cols).all() and np.isfinite(rows).all()):
        return None
    c0, c1 = max(0, math.floor(cols.min()) - 1), min(grid.shape[1], math.ceil(cols.max()) + 2)
    r0, r1 = max(0, math.floor(rows.min()) - 1), min(grid.shape[0], math.ceil(rows.max()) + 2)
    if c0 >= c1 or r0 >= r1:
        return None
    return slice(r0, r1), slice(c0, c1)


def _burn(grid: PixelGrid, shapes: list, mask: np.ndarray, all_touched: bool) -> np.ndarray:
    """GDAL's burn of ``shapes`` or'ed into ``mask``, computed in their window only;
    returns the window's burn (all false where the shapes are off the grid)."""
    from rasterio.features import geometry_mask
    from shapely import union_all

    window = _window(grid, union_all(shapes).bounds) if shapes else None
    if window is None:
        return np.zeros((0, 0), dtype=bool)
    rows, cols = window
    shape = (rows.stop - rows.start, cols.stop - cols.start)
    burnt = geometry_mask(
        shapes, out_shape=shape, transform=grid.transform(rows.start, cols.start),
        all_touched=all_touched, invert=True,
    )  # fmt: skip
    mask[rows, cols] |= burnt
    return burnt


def _burn_polygons(grid: PixelGrid, polygons: list, mask: np.ndarray) -> None:
    """Pixels whose centre intersects one of ``polygons``: GDAL's centre rule where the
    boundary does not touch the pixel (the pixel is then wholly inside or outside), shapely
    on the centres of the pixels the boundary touches."""
    import shapely

    inside = np.zeros(grid.shape, dtype=bool)
    _burn(grid, polygons, inside, all_touched=False)
    edge = np.zeros(grid.shape, dtype=bool)
    _burn(grid, [p.boundary for p in polygons], edge, all_touched=True)
    rows, cols = np.nonzero(edge)
    exact = np.zeros(rows.size, dtype=bool)
    for polygon in polygons:
        shapely.prepare(polygon)
        exact |= shapely.intersects_xy(polygon, grid.x[cols], grid.y[rows])
    inside[rows, cols] = exact
    mask |= inside


def _locate(grid: PixelGrid, point: Any, mask: np.ndarray) -> None:
    """The pixel whose centre is closest to ``point`` (none if it is off the grid)."""
    col, row = grid.fraction([point.x], [point.y])
    c, r = math.floor(col[0] + 0.5), math.floor(row[0] + 0.5)
    if 0 <= r < grid.shape[0] and 0 <= c < grid.shape[1]:
        mask[r, c] = True
