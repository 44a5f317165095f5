"""Hypothesis strategies for the definition-derived property tests (issue 17): random data
cubes with named, typed dimensions, random labels, and values with NaN, infinities and
no-data, as run-time values of the reference executor (:class:`pgc.executors.values.Cube`).

    from strategies import cubes, numbers
    @given(cubes(types={"t": "temporal", "bands": "bands", "y": "spatial", "x": "spatial"}))
    def test_...(cube): ...
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from hypothesis import strategies as st

from pgc.executors.values import Cube, with_dimension_types

# Numbers as the definitions mean them: finite, both infinities and NaN.
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
numbers = st.one_of(
    finite, st.integers(-1000, 1000), st.sampled_from([np.inf, -np.inf, np.nan, 0.0, -0.0])
)
maybe_nodata = st.one_of(st.none(), numbers)  # None is no-data


@st.composite
def temporal_labels(draw, size: int) -> np.ndarray:
    """``size`` distinct, sorted instants between 2000 and 2030 (datetime64[ns])."""
    start = np.datetime64("2000-01-01T00:00:00", "s")
    seconds = draw(
        st.lists(st.integers(0, 30 * 365 * 86400), min_size=size, max_size=size, unique=True).map(
            sorted
        )
    )
    return np.array([start + np.timedelta64(s, "s") for s in seconds], dtype="datetime64[ns]")


def _labels(kind: str, size: int):
    if kind == "temporal":
        return temporal_labels(size)
    if kind == "spatial":
        return st.tuples(finite, st.floats(0.5, 100)).map(
            lambda p: np.array([p[0] + i * p[1] for i in range(size)])
        )
    if kind == "bands":
        names = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=4)
        return st.lists(names, min_size=size, max_size=size, unique=True)
    return st.one_of(
        st.lists(st.text("abcdefgh", min_size=1, max_size=3), min_size=size, max_size=size,
                 unique=True),
        st.lists(st.integers(-50, 50), min_size=size, max_size=size, unique=True),
    )  # fmt: skip


@st.composite
def cubes(
    draw,
    types: dict[str, str] | None = None,
    min_size: int = 1,
    max_size: int = 4,
    values=numbers,
    nodata: bool = True,
) -> Cube:
    """A cube with the dimensions ``types`` (name: openEO type, in that order; by default
    a random set of 1 to 4 dimensions with random names and types), each of
    ``min_size``..``max_size`` labels, values from ``values`` and, if ``nodata``, some
    pixels without data."""
    if types is None:
        count = draw(st.integers(1, 4))
        names = draw(
            st.lists(st.sampled_from(["t", "x", "y", "bands", "t2", "lat", "lon", "other", "z9"]),
                     min_size=count, max_size=count, unique=True)
        )  # fmt: skip
        kinds = {"t": "temporal", "t2": "temporal", "x": "spatial", "y": "spatial",
                 "lat": "spatial", "lon": "spatial", "bands": "bands"}  # fmt: skip
        types = {n: kinds.get(n, "other") for n in names}
    coords = {}
    for name, kind in types.items():
        size = draw(st.integers(min_size, max_size))
        coords[name] = draw(_labels(kind, size))
    shape = tuple(len(coords[n]) for n in types)
    count = int(np.prod(shape)) if shape else 1
    flat = draw(st.lists(values, min_size=count, max_size=count))
    data = xr.DataArray(np.array(flat, dtype="float64").reshape(shape), dims=list(types),
                        coords=coords)  # fmt: skip
    if nodata:
        mask = draw(st.lists(st.booleans(), min_size=count, max_size=count))
        valid = np.array(mask, dtype=bool).reshape(shape) | draw(st.booleans())  # or all valid
    else:
        valid = np.ones(shape, dtype=bool)
    valid = xr.DataArray(valid, dims=list(types), coords=coords)
    return with_dimension_types(Cube(data.where(valid, 0.0), valid), dict(types))


def as_python(cube: Cube) -> list:
    """A cube's values as nested lists with None for no-data and NaN kept (for equality)."""
    return cube.to_python()


def cubes_with_nodata(**kwargs):
    """:func:`cubes` (same arguments): the name the definition tests use where no-data
    matters (cubes() once made an integer validity that was valid everywhere)."""
    return cubes(**kwargs)


# -- spatial cubes and geometries (tests/test_definitions_space.py) -------------------------

# pairs of (y, x) dimension names: the usual ones, others the axis is read from by name,
# and names that say nothing (their type says spatial; y comes before x, as openEO orders)
SPATIAL_NAMES = [("y", "x"), ("lat", "lon"), ("north_south", "east_west")]


@st.composite
def raster_cubes(
    draw, crs: str | None = "4326", bands: bool | None = None, values=numbers,
    max_pixels: int = 6, names: tuple[str, str] | None = None,
) -> Cube:  # fmt: skip
    """A raster cube over a regular north-up grid of 1 to ``max_pixels`` columns and rows
    whose pixel centres lie at half steps (x = x0 + (i + 0.5) step, y = y0 - (j + 0.5)
    step, step 0.5, 1 or 2, x0 and y0 on whole steps), so that geometries drawn on the
    half-step lattice (:func:`lattice_polygons`) have pixel centres on their boundaries;
    a ``bands`` dimension before y and x (``bands`` None: maybe), values from ``values``
    with some no-data, the CRS in ``attrs["crs"]`` (EPSG code as text; None: no CRS).
    The spatial dimensions have random ``names`` (:data:`SPATIAL_NAMES`)."""
    y, x = names or draw(st.sampled_from(SPATIAL_NAMES))
    step = draw(st.sampled_from([0.5, 1.0, 2.0]))
    nx, ny = draw(st.integers(1, max_pixels)), draw(st.integers(1, max_pixels))
    x0, y0 = draw(st.integers(-6, 2)) * step, draw(st.integers(-2, 6)) * step
    coords = {y: y0 - (np.arange(ny) + 0.5) * step, x: x0 + (np.arange(nx) + 0.5) * step}
    dims, types = [y, x], {y: "spatial", x: "spatial"}
    if bands if bands is not None else draw(st.booleans()):
        coords = {"bands": ["B1", "B2"][: draw(st.integers(1, 2))], **coords}
        dims, types = ["bands", y, x], {"bands": "bands", **types}
    shape = tuple(len(coords[d]) for d in dims)
    count = int(np.prod(shape))
    flat = draw(st.lists(values, min_size=count, max_size=count))
    ok = np.array(draw(st.lists(st.booleans(), min_size=count, max_size=count)), dtype=bool)
    ok = ok.reshape(shape) | draw(st.booleans())  # sometimes every pixel has data
    attrs = {} if crs is None else {"crs": crs}
    data = xr.DataArray(np.array(flat, dtype="float64").reshape(shape), dims=dims,
                        coords=coords, attrs=attrs)  # fmt: skip
    valid = xr.DataArray(ok, dims=dims, coords=coords)
    return with_dimension_types(Cube(data.where(valid, 0.0), valid), types)


def lattice(cube: Cube, x: str, y: str, margin: int = 2):
    """Coordinates on the half-step lattice of ``cube``'s grid (pixel edges and centres),
    from ``margin`` pixels before its first pixel to ``margin`` after its last."""
    xs, ys = cube.data[x].values, cube.data[y].values
    longer = xs if len(xs) > 1 else ys  # one pixel in all: any step hits centres and edges
    step = abs(float(longer[1] - longer[0])) if len(longer) > 1 else 1.0
    half = step / 2
    return (
        st.integers(-2 * margin - 1, 2 * len(xs) + 2 * margin).map(lambda k: xs[0] + k * half),
        st.integers(-2 * margin - 1, 2 * len(ys) + 2 * margin).map(lambda k: ys[0] - k * half),
    )


@st.composite
def lattice_polygons(draw, cube: Cube, x: str, y: str) -> dict:
    """A GeoJSON Polygon or MultiPolygon (holes possible) with vertices on the half-step
    lattice around ``cube``'s grid: rectangles, a rectangle with a rectangular hole, or a
    triangle."""
    import json

    import shapely

    xs, ys = lattice(cube, x, y)

    def rectangle():
        a, b, c, d = draw(xs), draw(xs), draw(ys), draw(ys)
        if a == b or c == d:
            return None
        return shapely.box(min(a, b), min(c, d), max(a, b), max(c, d))

    kind = draw(st.sampled_from(["box", "holed", "triangle", "multi"]))
    shape = rectangle()
    if kind == "holed" and shape is not None:
        inner = rectangle()
        if inner is not None and shape.contains(inner) and not inner.equals(shape):
            shape = shape.difference(inner)
    elif kind == "triangle":
        points = [(draw(xs), draw(ys)) for _ in range(3)]
        triangle = shapely.Polygon(points)
        shape = triangle if triangle.area > 0 else shape
    elif kind == "multi" and shape is not None:
        other = rectangle()
        if other is not None and not other.intersects(shape):
            shape = shapely.MultiPolygon([shape, other])
    if shape is None or shape.is_empty or shape.geom_type not in ("Polygon", "MultiPolygon"):
        shape = shapely.box(float(cube.data[x].values[0]), float(cube.data[y].values[-1]),
                            float(cube.data[x].values[-1]) + 0.5, float(cube.data[y].values[0]))
    return json.loads(shapely.to_geojson(shape))
