"""merge_cubes' concatenation path (issue 23) against its general path (align, outer join,
``where``), which gave every merge before it: the same values, validity, labels, coordinates
and attributes, for cubes with no-data and NaN, labels split any way along any dimension,
overlaps (the general path), cube2's dimensions in another order, integer and boolean
values, both compute dtypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import examples, node, run_process
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import cubes_with_nodata as cubes

import pgc
from pgc.executors.reference import combine
from pgc.executors.values import Cube, with_dimension_types

C, Q = {"from_parameter": "c"}, {"from_parameter": "q"}
SUM = {"process_graph": {"s": node("sum", True, data=[{"from_parameter": "x"},
                                                       {"from_parameter": "y"}])}}  # fmt: skip
FAST = settings(max_examples=examples(60), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def general(*args, **kwargs):
    """:func:`run_process` with merge_cubes taking its general path only (what every merge
    took before issue 23)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(combine, "_side_by_side", lambda *a: None)
        return run_process(*args, **kwargs)


def assert_same_merge(fast: Cube, slow: Cube) -> None:
    """Identical values (NaN where NaN, 0 where no data), validity, coordinates (their
    attributes: the dimension types) and attributes."""
    xr.testing.assert_identical(fast.data, slow.data)
    for name in fast.data.coords:
        assert fast.data.coords[name].attrs == slow.data.coords[name].attrs, name
    np.testing.assert_array_equal(fast.full_valid().values, slow.full_valid().values)


def _split(cube: Cube, dim: str, data: st.DataObject, overlap: bool) -> tuple[Cube, Cube]:
    count = cube.data.sizes[dim]
    first = data.draw(st.lists(st.integers(0, count - 1), min_size=1, max_size=count,
                               unique=True), label="first")  # fmt: skip
    rest = [i for i in range(count) if i not in first]
    second = rest + (data.draw(st.lists(st.sampled_from(first), max_size=2, unique=True),
                               label="shared") if overlap else [])  # fmt: skip
    assume(second)
    second = data.draw(st.permutations(second), label="second order")
    return cube.isel({dim: first}), cube.isel({dim: second})


@FAST
@given(cubes(max_size=4), st.data(), st.booleans(), st.booleans())
def test_merge_is_the_general_merge(cube, data, overlap, transpose):
    """Labels of one dimension split between the cubes in any order, maybe some in both
    (then the resolver, and the general path); cube2's dimensions maybe in another order."""
    dim = data.draw(st.sampled_from(cube.dims), label="dim")
    assume(cube.data.sizes[dim] > 1 or overlap)
    a, b = _split(cube, dim, data, overlap)
    if transpose:
        b = Cube(b.data.transpose(*b.dims[::-1]), b.valid.transpose(*b.dims[::-1]))
    args = dict(cube1=C, cube2=Q, overlap_resolver=SUM)
    fast = run_process("merge_cubes", {"c": a, "q": b}, **args)
    assert_same_merge(fast, general("merge_cubes", {"c": a, "q": b}, **args))


@pytest.mark.parametrize("dtype", ["uint16", "int8", "bool", "float32"])
@pytest.mark.parametrize("valid_everywhere", [True, False])
def test_merge_of_other_dtypes_is_the_general_merge(policy, dtype, valid_everywhere):
    """Integer and boolean values become the compute dtype, as in the general path; a cube
    valid everywhere keeps one true as its validity (no mask of the merged size)."""
    rng = np.random.default_rng(23)
    coords = {"t": pd.to_datetime(["2023-03-01", "2023-03-06"]).values, "bands": ["B02", "B03"],
              "y": [15.0, 5.0], "x": [5.0, 15.0, 25.0]}  # fmt: skip
    values = xr.DataArray(rng.integers(0, 2, (2, 2, 2, 3)).astype(dtype), coords=coords)
    mask = values.copy(data=rng.random((2, 2, 2, 3)) > 0.3)
    a = Cube(values, xr.DataArray(True) if valid_everywhere else mask)
    b = Cube(values.assign_coords(bands=["NDVI", "B01"]) * 0.5, xr.DataArray(True))
    fast = run_process("merge_cubes", {"c": a, "q": b}, cube1=C, cube2=Q)
    assert_same_merge(fast, general("merge_cubes", {"c": a, "q": b}, cube1=C, cube2=Q))
    assert fast.data.dtype == np.dtype(policy)
    assert (fast.valid.ndim == 0) == valid_everywhere


@pytest.mark.parametrize("order", [["2023-03-01", "2023-03-11"], ["2023-03-11", "2023-03-01"]])
def test_interleaved_dates_are_placed_in_sorted_order(order):
    """Temporal labels stay sorted: cube2's dates fall between cube1's (positions, not one
    block), in cube1's direction."""
    dates = pd.to_datetime(order).values
    a = with_dimension_types(Cube(xr.DataArray([1.0, 3.0], coords={"t": dates}),
                                  xr.DataArray([True, False], coords={"t": dates})),
                             {"t": "temporal"})  # fmt: skip
    b = Cube(xr.DataArray([2.0], coords={"t": pd.to_datetime(["2023-03-06"]).values}),
             xr.DataArray(True))  # fmt: skip
    fast = run_process("merge_cubes", {"c": a, "q": b}, cube1=C, cube2=Q)
    assert_same_merge(fast, general("merge_cubes", {"c": a, "q": b}, cube1=C, cube2=Q))
    assert fast.data.values.tolist() == [1.0, 2.0, 0.0]  # cube1's first date first
    assert fast.full_valid().values.tolist() == [True, True, False]


def test_merge_workflow_as_the_benchmark_runs_it():
    """The whole-workflow benchmark's merge (issue 23): uint16 visible bands with a CRS (as
    rioxarray writes it) and an NDVI band computed beside them, through pgc.run; the result
    is the general path's, coordinate for coordinate."""
    import rioxarray  # noqa: F401 - the .rio accessor

    rng = np.random.default_rng(1)
    dates = pd.to_datetime(["2023-03-01", "2023-03-06", "2023-03-11"]).values
    coords = {"t": dates, "y": 5694995.0 - 10.0 * np.arange(4), "x": 600005.0 + 10.0 * np.arange(5)}

    def load(bands):
        values = rng.integers(0, 3000, (3, len(bands), 4, 5)).astype("uint16")
        values[0, 0, 0, 0] = 0  # NDVI of 0 / 0: NaN, a value
        values[0, -1, 0, 0] = 0
        dims = ("t", "bands", "y", "x")
        array = xr.DataArray(values, dims=dims, coords={**coords, "bands": bands})
        return array.rio.write_crs("EPSG:32631")

    parameters = {"visible": load(["B02", "B03", "B04"]), "red_nir": load(["B04", "B08"])}
    graph = {
        "parameters": [
            {"name": k, "schema": {"type": "object", "subtype": "datacube"}} for k in parameters
        ],  # fmt: skip
        "process_graph": {
            "n": node(
                "ndvi", data={"from_parameter": "red_nir"}, nir="B08", red="B04", target_band="NDVI"
            ),  # fmt: skip
            "f": node("filter_bands", data={"from_node": "n"}, bands=["NDVI"]),
            "m": node(
                "merge_cubes", True, cube1={"from_parameter": "visible"}, cube2={"from_node": "f"}
            ),  # fmt: skip
        },
    }
    fast = pgc.run(graph, parameters=parameters)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(combine, "_side_by_side", lambda *a: None)
        slow = pgc.run(graph, parameters=parameters)
    xr.testing.assert_identical(fast, slow)
    assert list(fast.bands.values) == ["B02", "B03", "B04", "NDVI"]
    assert np.isnan(fast.values[0, 3, 0, 0]) and fast.rio.crs.to_epsg() == 32631


@pytest.mark.parametrize("target", [None, "NDVI"])
@pytest.mark.parametrize("valid_everywhere", [True, False])
def test_ndvi_is_the_formula_with_nodata_kept(policy, target, valid_everywhere):
    """ndvi (the merge workflow's other step, issue 23): (nir - red) / (nir + red) in the
    compute dtype where both bands have data (0 / 0 is NaN, a value), no-data elsewhere,
    0 as the value there; target_band appends it after the cube's bands, converted."""
    rng = np.random.default_rng(7)
    values = rng.integers(0, 4, (2, 3, 3, 2)).astype("uint16")
    coords = {"bands": ["B04", "B08", "B02"], "y": [1.0, 0.0, -1.0], "x": [0.0, 1.0]}
    data = xr.DataArray(values, dims=("t", "bands", "y", "x"), coords=coords)
    mask = rng.random(values.shape) > 0.3
    cube = Cube(data, xr.DataArray(True) if valid_everywhere else data.copy(data=mask))
    out = run_process("ndvi", {"c": cube}, data=C, red="B04", nir="B08", target_band=target)
    dtype = np.dtype(policy)
    nir, red = values[:, 1].astype(dtype), values[:, 0].astype(dtype)
    with np.errstate(all="ignore"):
        expected = (nir - red) / (nir + red)
    ok = mask[:, 1] & mask[:, 0] if not valid_everywhere else np.ones_like(expected, bool)
    expected = np.where(ok, expected, 0)
    got_values, got_valid = out.data.values, out.full_valid().values
    if target is not None:
        assert list(out.data.bands.values) == ["B04", "B08", "B02", "NDVI"]
        kept_valid = mask if not valid_everywhere else np.ones(values.shape, bool)
        np.testing.assert_array_equal(got_values[:, :3], values.astype(dtype))
        np.testing.assert_array_equal(got_valid[:, :3], kept_valid)
        got_values, got_valid = got_values[:, 3], got_valid[:, 3]
    assert out.data.dtype == dtype
    np.testing.assert_array_equal(got_values, expected)  # NaN where NaN
    np.testing.assert_array_equal(got_valid, ok)
    assert (out.valid.ndim == 0) == valid_everywhere


@pytest.mark.parametrize("order", [("t", "bands", "y", "x"), ("y", "x", "bands", "t")])
def test_ndvi_target_band_is_the_concatenation(policy, order):
    """ndvi's target_band: the cube's values (converted) and the new band, with every
    coordinate (band metadata blank for the new band, the CRS) and attribute xr.concat gave
    before issue 23."""
    import rioxarray  # noqa: F401 - the .rio accessor

    from pgc.data.bands import band_coords, with_blank_metadata
    from pgc.ir.types import Band

    values = np.arange(2 * 2 * 3 * 2, dtype="uint16").reshape(2, 2, 3, 2) + 1
    coords = {"t": pd.to_datetime(["2023-03-01", "2023-03-06"]).values, "bands": ["B04", "B08"],
              "y": [1.0, 0.0, -1.0], "x": [0.0, 1.0]}  # fmt: skip
    data = xr.DataArray(values, dims=("t", "bands", "y", "x"), coords=coords, attrs={"a": 1})
    metadata = [Band("B04", "red", 0.665), Band("B08", "nir", 0.842)]
    data = data.assign_coords(band_coords("bands", metadata)).rio.write_crs("EPSG:32631")
    data = data.transpose(*order)
    cube = with_dimension_types(Cube(data, xr.DataArray(True)), {"t": "temporal"})
    out = run_process("ndvi", {"c": cube}, data=C, red="B04", nir="B08", target_band="NDVI")
    plain = run_process("ndvi", {"c": cube}, data=C, red="B04", nir="B08")
    band = with_blank_metadata(plain.data.expand_dims(bands=["NDVI"]), cube.data, "bands")
    expected = xr.concat([cube.data.astype(policy), band], dim="bands").transpose(*order)
    xr.testing.assert_identical(out.data, expected)
    for name in expected.coords:
        assert out.data.coords[name].attrs == expected.coords[name].attrs, name
    assert out.data.dtype == np.dtype(policy)


@pytest.mark.parametrize(("picked", "view"), [
    (["B02", "B03", "B04"], True), (["B03", "B04"], True), (["B04"], False), (["B04", "B02"], False)
])  # fmt: skip
def test_filter_bands_keeping_most_of_a_cube_is_a_view(picked, view):
    """Consecutive bands that are at least half of the cube are a view of it (the median
    composite's three of four bands: no 300 MB copy at 2048 px, issue 23); fewer are
    copied, so the rest of the cube can be freed. The values are the same either way."""
    rng = np.random.default_rng(3)
    data = xr.DataArray(rng.integers(0, 9, (2, 4, 3, 3)).astype("uint16"),
                        dims=("t", "bands", "y", "x"),
                        coords={"bands": ["B02", "B03", "B04", "SCL"]})  # fmt: skip
    cube = Cube(data, data.copy(data=rng.random(data.shape) > 0.3))
    out = run_process("filter_bands", {"c": cube}, data=C, bands=picked)
    assert np.shares_memory(out.data.values, data.values) == view
    expected = cube.data.sel(bands=picked)
    xr.testing.assert_identical(out.data, expected)
    xr.testing.assert_identical(out.valid, cube.valid.sel(bands=picked))


@settings(max_examples=examples(60), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(st.sampled_from([1, 3, 7, 2**16]), st.booleans(), st.booleans(), st.data())
def test_ndvi_in_blocks_is_the_whole_array_arithmetic(policy, block, metadata, integers, data):
    """The reference's ndvi of bands in memory goes in blocks of pixels (issue 23: five
    arrays of the cube's size before); the lazy path still computes whole arrays. Both give
    the same values, validity, coordinates and attributes, for any block size."""
    import rioxarray  # noqa: F401 - the .rio accessor

    from pgc.data.bands import band_coords
    from pgc.executors.reference import cube as cube_module
    from pgc.ir.types import Band

    types = data.draw(st.sampled_from([
        {"t": "temporal", "bands": "bands", "y": "spatial", "x": "spatial"},
        {"bands": "bands", "y": "spatial"}, {"other": "other", "bands": "bands", "t": "temporal"},
    ]))  # fmt: skip
    cube = data.draw(cubes(types=types, min_size=2, max_size=5))
    names = [f"B{i}" for i in range(cube.data.sizes["bands"])]
    values = cube.data.assign_coords(bands=names)
    if integers:  # as loaded: uint16
        values = values.copy(data=np.abs(np.nan_to_num(values.values)) % 65536).astype("uint16")
    values.attrs = {"a": 1}
    if metadata:
        meta = [Band(n, f"c{i}", 0.1 * i) for i, n in enumerate(names)]
        values = values.assign_coords(band_coords("bands", meta))
        values = values.rio.write_crs("EPSG:32631")
    nir, red = data.draw(st.permutations(names))[:2]
    order = data.draw(st.permutations(list(values.dims)))
    valid = cube.valid
    if "bands" in valid.dims:
        valid = valid.assign_coords(bands=names)
    inputs = Cube(values.transpose(*order), valid.transpose(*order, missing_dims="ignore"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cube_module, "BLOCK_ELEMENTS", block)
        out = run_process("ndvi", {"c": inputs}, data=C, nir=nir, red=red)
    lazy = Cube(inputs.data.chunk(), inputs.valid)
    whole = run_process("ndvi", {"c": lazy}, data=C, nir=nir, red=red)
    expected = whole.data.compute()
    xr.testing.assert_identical(out.data.where(out.full_valid(), 0), expected.where(
        whole.full_valid().compute(), 0))  # fmt: skip
    assert out.data.attrs == expected.attrs and out.data.dtype == expected.dtype
    np.testing.assert_array_equal(out.full_valid().values, whole.full_valid().values)
    # with target_band: the cube's bands converted and the NDVI band, in the same blocks
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cube_module, "BLOCK_ELEMENTS", block)
        out = run_process("ndvi", {"c": inputs}, data=C, nir=nir, red=red, target_band="N")
    whole = run_process("ndvi", {"c": lazy}, data=C, nir=nir, red=red, target_band="N")
    np.testing.assert_array_equal(out.full_valid().values, whole.full_valid().compute().values)
    ok = out.full_valid()
    np.testing.assert_array_equal(out.data.where(ok, 0).values,
                                  whole.data.compute().where(ok, 0).values)  # fmt: skip
    assert out.data.dims == whole.data.dims and out.data.dtype == whole.data.dtype
