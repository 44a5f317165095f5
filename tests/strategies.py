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
        st.lists(
            st.integers(0, 30 * 365 * 86400), min_size=size, max_size=size, unique=True
        ).map(sorted)
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
        valid = np.array(mask, dtype=bool).reshape(shape) | ~draw(st.booleans())
    else:
        valid = np.ones(shape, dtype=bool)
    valid = xr.DataArray(valid, dims=list(types), coords=coords)
    return with_dimension_types(Cube(data.where(valid, 0.0), valid), dict(types))


def as_python(cube: Cube) -> list:
    """A cube's values as nested lists with None for no-data and NaN kept (for equality)."""
    return cube.to_python()
