"""Reference implementations that make new geometries from a vector cube's:
vector_buffer, vector_reproject, vector_to_random_points, vector_to_regular_points.
The vector cube representation is described in :mod:`pgc.executors.reference.vector`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..spatial import simple_parts
from ..values import Cube
from .loop import Call
from .table import implements
from .vector import (
    Features,
    as_geojson,
    check_metres,
    cube_features,
    geometry_dimension_name,
    invalid_argument,
    projection_crs,
    shapely_geometry,
    transform_geometries,
    vector_cube_argument,
    with_features,
)

MAX_POINTS = 1_000_000  # points one call may make: the graph comes from untrusted users


@implements("vector_buffer")
def _vector_buffer(call: Call) -> Cube:
    """Each geometry buffered by ``distance`` metres in its own CRS, which must be in metres
    (UnitMismatch otherwise, as the definition says; no reprojection behind the user's back).
    Empty geometries pass through; negative distances may give empty polygons."""
    cube = vector_cube_argument(call, "geometries")
    features = cube_features(cube, "geometries")
    distance = call.get("distance")
    if isinstance(distance, bool) or not isinstance(distance, int | float) or distance == 0:
        raise invalid_argument(
            "distance", f"Expected a non-zero number of metres, got {distance!r}."
        )
    check_metres(features, "distance")
    buffered = [_buffered(g, float(distance)) for g in features.geometries]
    return with_features(cube, _replace_geometries(features, buffered))


def _buffered(geometry: dict, distance: float) -> dict:
    shape = shapely_geometry(geometry)
    if shape.is_empty:
        return geometry
    return as_geojson(shape.buffer(distance))


def _replace_geometries(features: Features, geometries: list[dict], crs: str | None = None):
    return Features(
        geometries,
        crs or features.crs,
        features.labels,
        features.properties,
        features.ids,
        features.dimension,
    )


@implements("vector_reproject")
def _vector_reproject(call: Call) -> Cube:
    """The geometries in ``projection``'s CRS; values and labels unchanged."""
    cube = vector_cube_argument(call, "data")
    name = call.get("dimension")
    if name is not None and name != geometry_dimension_name(cube):
        what = "is not a geometry dimension" if name in cube.dims else "does not exist"
        call.fail("DimensionNotAvailable", f"Dimension '{name}' {what}.", "dimension")
    features = cube_features(cube, "data")
    target = projection_crs(call.get("projection"), "projection")
    moved = transform_geometries(features.geometries, features.crs, target, "data")
    return with_features(cube, _replace_geometries(features, moved, target))


# ---------------------------------------------------------------------------------------
# vector_to_random_points, vector_to_regular_points


@implements("vector_to_random_points")
def _vector_to_random_points(call: Call) -> Cube:
    """Uniformly random points per geometry, in the geometries' own CRS (uniform in its
    coordinates). Counts: ``geometry_count`` per geometry, or ``total_count`` shared evenly
    by the non-empty geometries (the first ones get one more when it does not divide),
    capped by ``geometry_count`` when both are given; one each when neither is. Polygons
    are sampled by area, lines by length, (multi) points without replacement among their
    distinct points (so at most that many). ``seed`` makes it reproducible."""
    cube = vector_cube_argument(call, "data")
    features = cube_features(cube, "data")
    per_geometry, total = _count(call, "geometry_count"), _count(call, "total_count")
    if total is not None and total < len(features.geometries):
        call.fail(
            "CountMismatch",
            f"total_count {total} is lower than the number of geometries "
            f"({len(features.geometries)}).",
            "total_count",
        )
    shapes = [shapely_geometry(g) for g in features.geometries]
    counts = _point_counts([not s.is_empty for s in shapes], per_geometry, total)
    if sum(counts) > MAX_POINTS:
        raise invalid_argument("geometry_count", f"More than {MAX_POINTS} points were asked for.")
    rng = np.random.default_rng(_seed(call.get("seed")))
    points = [_random_points(s, n, rng) for s, n in zip(shapes, counts, strict=True)]
    return _points_cube(cube, features, points, call.get("group", True))


def _count(call: Call, name: str) -> int | None:
    value = call.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid_argument(name, f"Expected an integer of at least 1 or null, got {value!r}.")
    return value


def _seed(seed: Any) -> int | None:
    """A seed for numpy's Generator (which takes no negative numbers: those wrap)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise invalid_argument("seed", f"Expected an integer seed or null, got {seed!r}.")
    return seed % 2**64


def _point_counts(nonempty: list[bool], per_geometry: int | None, total: int | None) -> list[int]:
    """How many points each geometry gets (empty geometries: none).

    >>> _point_counts([True, False, True, True], per_geometry=None, total=10)
    [4, 0, 3, 3]
    """
    n = sum(nonempty)
    counts, rank = [], 0
    for ok in nonempty:
        if not ok:
            counts.append(0)
            continue
        share = (per_geometry or 1) if total is None else total // n + (rank < total % n)
        counts.append(min(share, per_geometry) if per_geometry else share)
        rank += 1
    return counts


def _random_points(shape: Any, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random points of a geometry as an [n, 2] array, from its parts of the
    highest dimension: polygons (with area), else lines (with length), else points."""
    import shapely

    parts = simple_parts(shapely.make_valid(shape) if not shape.is_valid else shape)
    polygons = [p for p in parts if p.geom_type == "Polygon" and p.area > 0]
    if polygons:
        return _random_in_polygons(polygons, count, rng)
    lines = [p.exterior if p.geom_type == "Polygon" else p for p in parts if p.length > 0]
    if lines:
        distances = rng.uniform(0, sum(line.length for line in lines), count)
        on_line = shapely.line_interpolate_point(shapely.MultiLineString(lines), distances)
        return shapely.get_coordinates(on_line)
    coords = np.unique(shapely.get_coordinates(parts), axis=0) if parts else np.zeros((0, 2))
    return coords[rng.choice(len(coords), size=min(count, len(coords)), replace=False)]


def _random_in_polygons(polygons: list, count: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform points in polygons: a triangle (constrained Delaunay, holes respected) by
    area, then a uniform point in it, so no rejection loop depends on the shape."""
    import shapely

    triangles = [
        t for p in polygons for t in shapely.get_parts(shapely.constrained_delaunay_triangles(p))
    ]
    corners = np.array([shapely.get_coordinates(t)[:3] for t in triangles])
    areas = shapely.area(triangles)
    pick = rng.choice(len(triangles), size=count, p=areas / areas.sum())
    r = rng.random((count, 2))
    flip = r.sum(axis=1) > 1
    r[flip] = 1 - r[flip]
    a, b, c = corners[pick, 0], corners[pick, 1], corners[pick, 2]
    return a + r[:, :1] * (b - a) + r[:, 1:] * (c - a)


@implements("vector_to_regular_points")
def _vector_to_regular_points(call: Call) -> Cube:
    """Regular points per geometry, ``distance`` metres apart (the CRS must be in metres):
    grid-cell centres inside each polygon (grid from the polygon's upper-left bound; a
    centre on the boundary counts as inside, the pixel-centre rule), samples walking along
    each line, points as given; the geometry's first coordinate if a polygon gets none."""
    cube = vector_cube_argument(call, "data")
    features = cube_features(cube, "data")
    distance = call.get("distance")
    if isinstance(distance, bool) or not isinstance(distance, int | float) or distance <= 0:
        raise invalid_argument(
            "distance", f"Expected a positive number of metres, got {distance!r}."
        )
    check_metres(features, "distance")
    shapes = [shapely_geometry(g) for g in features.geometries]
    if sum(_regular_estimate(s, distance) for s in shapes) > MAX_POINTS:
        raise invalid_argument("distance", f"The distance gives more than {MAX_POINTS} points.")
    points = [_regular_points(s, float(distance)) for s in shapes]
    return _points_cube(cube, features, points, call.get("group", True))


def _regular_estimate(shape: Any, distance: float) -> float:
    """An upper bound of the number of regular points (to refuse huge requests first)."""
    total = 0.0
    for part in simple_parts(shape):
        if part.geom_type == "Polygon":
            minx, miny, maxx, maxy = part.bounds
            total += (math.ceil((maxx - minx) / distance) + 1) * (
                math.ceil((maxy - miny) / distance) + 1
            )
        else:
            total += part.length / distance + 1
    return total


def _regular_points(shape: Any, distance: float) -> np.ndarray:
    """The regular points of a geometry as an [n, 2] array (empty: none)."""
    import shapely

    samples = []
    for part in simple_parts(shape):
        coords = shapely.get_coordinates(part)
        if part.geom_type == "Point":
            samples.append(coords)
        elif part.geom_type == "Polygon":
            samples.append(_grid_centres(part, distance))
        else:
            samples.append(_walk(coords, distance))
    points = np.concatenate(samples) if samples else np.zeros((0, 2))
    if len(points) == 0 and not shape.is_empty:  # the definition's fallback for polygons
        return shapely.get_coordinates(shape)[:1]
    return points


def _grid_centres(polygon: Any, distance: float) -> np.ndarray:
    """Centres of a ``distance`` grid from the polygon's upper-left bound, row by row from
    the top, that lie in the polygon (boundary included)."""
    import shapely

    minx, miny, maxx, maxy = polygon.bounds
    nx = max(1, math.ceil((maxx - minx) / distance))
    ny = max(1, math.ceil((maxy - miny) / distance))
    xs, ys = np.meshgrid(
        minx + (np.arange(nx) + 0.5) * distance, maxy - (np.arange(ny) + 0.5) * distance
    )
    xs, ys = xs.ravel(), ys.ravel()
    inside = shapely.intersects_xy(polygon, xs, ys)
    return np.column_stack([xs[inside], ys[inside]])


def _walk(coords: np.ndarray, distance: float) -> np.ndarray:
    """Samples along a line: its first coordinate, then, walking on, each point whose
    straight-line distance to the previous sample reaches ``distance`` (so consecutive
    samples are exactly ``distance`` apart, the definition's minimum distance)."""
    current = coords[0]
    samples = [current]
    segment, start = 0, 0.0
    while segment < len(coords) - 1:
        a, b = coords[segment], coords[segment + 1]
        t = _reach(a, b, current, distance, start)
        if t is None:
            segment, start = segment + 1, 0.0
            continue
        current = a + t * (b - a)
        samples.append(current)
        start = t
    return np.array(samples)


def _reach(a: np.ndarray, b: np.ndarray, c: np.ndarray, r: float, start: float) -> float | None:
    """The first t in (start, 1] where a + t (b - a) is ``r`` away from ``c`` (the walk
    is inside the circle before it, so this is the larger root), or None."""
    v, u = b - a, a - c
    qa, qb, qc = float(v @ v), 2 * float(u @ v), float(u @ u) - r * r
    if qa == 0:
        return None
    disc = qb * qb - 4 * qa * qc
    if disc < 0:
        return None
    t = (-qb + math.sqrt(disc)) / (2 * qa)
    if t <= start + 1e-12 or t > 1 + 1e-12:
        return None
    return min(t, 1.0)


def _points_cube(cube: Cube, features: Features, points: list[np.ndarray], group: bool) -> Cube:
    """The sampled points as a vector cube. Grouped: one MultiPoint per geometry, labels,
    values, properties and ids kept. Not grouped: one Point per label (new labels 0..n-1),
    each with its geometry's values and properties and no id; an empty geometry passes
    through as one empty Point."""
    if group:
        multi = [{"type": "MultiPoint", "coordinates": _coordinates(p)} for p in points]
        return with_features(cube, _replace_geometries(features, multi))
    sources, singles = [], []
    for i, pts in enumerate(points):
        for xy in _coordinates(pts) or [[]]:
            sources.append(i)
            singles.append({"type": "Point", "coordinates": xy})
    dim, labels = features.dimension, list(range(len(sources)))
    valid = cube.full_valid()
    data = cube.data.isel({dim: sources}).assign_coords({dim: labels})
    valid = valid.isel({dim: sources}).assign_coords({dim: labels})
    properties = [features.properties[i] for i in sources]
    out = Features(singles, features.crs, labels, properties, [None] * len(labels), dim)
    return with_features(Cube(data, valid), out)


def _coordinates(points: np.ndarray) -> list[list[float]]:
    return [[float(x), float(y)] for x, y in np.asarray(points)[:, :2]]
