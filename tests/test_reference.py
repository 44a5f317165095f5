"""The reference executor on the examples (issue 4): results against numpy on the raw bands.

The expected values are computed here independently: numpy on the generated bands of the
sample collection, with the openEO rules written out by hand (no-data 0 is masked, the
temporal extent is left-closed, median skips no-data).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import ROOT, node

import pgc
from pgc.data import sample
from pgc.runner import execute


@pytest.fixture(scope="module")
def bands():
    return sample.generate()


def _raw(bands, name, dates, rows=slice(0, 500), cols=slice(0, 500)):
    values = bands[name][dates][:, rows, cols].astype("float64")
    return np.where(values == 0, np.nan, values)  # nodata 0


def test_evi_matches_numpy(bands):
    result = execute((ROOT / "examples" / "evi.json").read_text())
    [(cube, fmt, _)] = result.outputs
    assert fmt == "GTiff" and cube.dims == ("t", "y", "x")
    june = [5]  # 2023-06-10 is the only date in [2023-06-01, 2023-07-01)
    blue, red, nir = (_raw(bands, b, june) for b in ("B02", "B04", "B08"))
    with np.errstate(all="ignore"):
        expected = (2.5 * (nir - red)) / ((1 + nir + 6 * red) - 7.5 * blue)
    np.testing.assert_array_equal(cube.filled().values, expected)
    assert result.bytes_read == 3 * 500 * 500 * 2  # three uint16 bands, one date


def test_cloud_masked_ndvi_composite_matches_numpy(bands):
    result = execute((ROOT / "examples" / "ndvi_composite.json").read_text())
    [(cube, _, _)] = result.outputs
    dates = [4, 5, 6, 7]  # May 10 .. Aug 10 within [2023-05-01, 2023-09-01)
    red, nir = _raw(bands, "B04", dates), _raw(bands, "B08", dates)
    scl = bands["SCL"][dates][:, :500, :500]
    with np.errstate(all="ignore"):
        ndvi = (nir - red) / (nir + red)
    ndvi[np.isin(scl, [3, 8, 9, 10])] = np.nan  # cloud, shadow, cirrus: masked
    with warnings.catch_warnings():  # all-NaN pixels: nanmedian warns and gives NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(ndvi, axis=0)
    np.testing.assert_array_equal(cube.filled().values, expected)
    assert cube.dims == ("y", "x")
    # The no-data strip of May stays out of the composite: those pixels have 3 dates.
    assert np.isfinite(cube.filled().values[:, :40]).mean() > 0.9


def test_run_api_with_parameters_and_cubes():
    graph = {"a": node("multiply", result=True, x={"from_parameter": "v"}, y=2)}
    assert pgc.run(graph, parameters={"v": 21}) == 42
    assert pgc.run(graph, parameters={"v": None}) is None  # no-data in, no-data out


def test_unbound_parameter_at_run_time_points_at_the_node():
    graph = {"a": node("multiply", result=True, x={"from_parameter": "v"}, y=2)}
    with pytest.raises(pgc.PgcError) as info:
        pgc.run(graph)
    [d] = info.value.diagnostics
    assert (d.code, d.pointer, d.node_id) == ("ProcessParameterRequired", "/a/arguments/x", "a")


def test_nodata_is_not_nan():
    assert pgc.run({"n": node("is_nan", result=True, x=None)}) is False
    assert pgc.run({"n": node("is_nodata", result=True, x=None)}) is True
    assert pgc.run({"n": node("and", result=True, x=False, y=None)}) is False
    assert pgc.run({"n": node("or", result=True, x=False, y=None)}) is None


def test_cli_run_writes_a_georeferenced_geotiff(tmp_path, capsys):
    import rasterio

    from pgc.cli import main

    out = tmp_path / "evi.tif"
    assert main(["run", str(ROOT / "examples" / "evi.json"), "-o", str(out), "--stats"]) == 0
    text = capsys.readouterr().out
    assert "bytes read: 1.5 MB" in text and "peak memory" in text
    with rasterio.open(out) as dst:
        assert dst.crs.to_epsg() == 32631
        assert tuple(dst.transform)[:6] == (10.0, 0.0, 600000.0, 0.0, -10.0, 5695000.0)
        assert (dst.width, dst.height, dst.count) == (500, 500, 1)


@pytest.mark.parametrize("executor", ["reference", "numba", "dask"])
def test_cli_run_without_output_says_what_it_would_write(capsys, executor):
    """Issue 9: after execute(output=...) came in, pgc run without -o failed (a traceback)."""
    from pgc.cli import main

    graph = str(ROOT / "examples" / "evi.json")
    assert main(["run", graph, "--executor", executor, "--stats"]) == 0
    text = capsys.readouterr().out
    assert "result (GTiff; t:1 × y:500 × x:500); give -o OUT to write it" in text
    assert "wrote" not in text and "bytes read: 1.5 MB" in text
    if executor == "dask":
        assert "kernels: run per chunk in dask's tasks" in text


def test_cli_run_preview_png(tmp_path, capsys):
    from pgc.cli import main

    png = tmp_path / "evi.png"
    args = ["run", str(ROOT / "examples" / "evi.json"), "-o", str(tmp_path / "e.tif")]
    assert main([*args, "--preview", str(png)]) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and b"IHDR" in data[:16]
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (500, 500)


def test_crop_features_match_numpy(bands):
    """Monthly mean NDVI per field: rasterize the fields with the pixel-centre rule in the
    collection's grid, then numpy on the raw bands."""
    from rasterio.features import geometry_mask
    from rasterio.transform import from_origin
    from rasterio.warp import transform_geom

    doc = json.loads((ROOT / "examples" / "crop_features.json").read_text())
    fields = doc["process_graph"]["filterspatial1"]["arguments"]["geometries"]["features"]
    result = execute(json.dumps(doc))
    [(cube, fmt, _)] = result.outputs
    assert fmt == "CSV" and cube.dims == ("t", "bands", "geometry")
    assert list(cube.data.t.values) == [f"2023-{m:02d}" for m in range(3, 10)]
    dates = list(range(2, 9))  # March .. September, one date per month
    red, nir = _raw(bands, "B04", dates), _raw(bands, "B08", dates)
    with np.errstate(all="ignore"):
        ndvi = (nir - red) / (nir + red)
    grid = from_origin(600000, 5695000, 10, 10)
    for i, feature in enumerate(fields):
        geometry = transform_geom("EPSG:4326", "EPSG:32631", feature["geometry"])
        inside = geometry_mask([geometry], out_shape=(500, 500), transform=grid, invert=True)
        expected = ndvi[:, inside].mean(axis=1)
        got = cube.filled().sel(bands="NDVI", geometry=i).values
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["evi", "ndvi_composite", "crop_features"])
def test_values_have_the_types_the_compiler_inferred(name):
    """The reference executor and the type rules agree on dimensions, labels and sizes."""
    from pgc.compiler import compile as compile_graph
    from pgc.executors.reference import RunContext, run_graph
    from pgc.executors.values import Cube

    plan = compile_graph((ROOT / "examples" / f"{name}.json").read_text())
    context = RunContext(trace={})
    run_graph(plan.graph, context=context)
    checked = 0
    for ir_node in plan.graph.nodes():
        value = context.trace[id(ir_node)]
        if not isinstance(value, Cube):
            continue
        assert value.dims == ir_node.type.names, ir_node.id
        for size, dim in zip(value.data.shape, ir_node.type.dimensions, strict=True):
            # A filter with geometries in another CRS: the type's size is an upper bound.
            assert dim.size is None or size <= dim.size, (ir_node.id, dim.name)
            if dim.labels is not None and dim.type in ("bands", "geometry"):
                assert [str(v) for v in value.data[dim.name].values] == [
                    str(v) for v in dim.labels
                ], (ir_node.id, dim.name)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("fmt,suffix", [("netCDF", ".nc"), ("JSON", ".json"), ("GTiff", ".tif")])
def test_save_result_formats(tmp_path, fmt, suffix):
    import xarray as xr

    graph = json.loads((ROOT / "examples" / "ndvi_composite.json").read_text())
    graph["process_graph"]["saveresult1"]["arguments"]["format"] = fmt
    result = execute(json.dumps(graph))
    [path] = result.write(tmp_path / f"out{suffix}")
    expected = result.outputs[0][0].filled().values
    if fmt == "netCDF":
        np.testing.assert_array_equal(xr.open_dataarray(path).values, expected)
    elif fmt == "JSON":
        doc = json.loads(path.read_text())
        assert doc["dims"] == ["y", "x"] and len(doc["values"]) == 500
    else:
        import rasterio

        with rasterio.open(path) as dst:
            np.testing.assert_array_equal(dst.read(1), expected)


def _sample_b04(extra: dict, last: str) -> dict:
    box = {"west": 600000, "south": 5694800, "east": 600200, "north": 5695000, "crs": 32631}
    graph = {
        "l": {"process_id": "load_collection", "arguments": {
            "id": "SENTINEL2_L2A_SAMPLE", "spatial_extent": box, "temporal_extent": None,
            "bands": ["B04"]}},
        **extra,
    }  # fmt: skip
    graph[last]["result"] = True
    return graph


def _apply(name: str, **arguments) -> dict:
    x = {"from_parameter": "x"}
    return {"process_id": "apply", "arguments": {"data": {"from_node": "l"}, "process": {
        "process_graph": {"f": {"process_id": name, "arguments": {"x": x, **arguments},
                                "result": True}}}}}  # fmt: skip


def _over_t(data: str, name: str, **arguments) -> dict:
    reducer = {
        "m": {
            "process_id": name,
            "arguments": {"data": {"from_parameter": "data"}, **arguments},
            "result": True,
        }
    }
    return {
        "process_id": "reduce_dimension",
        "arguments": {
            "data": {"from_node": data},
            "dimension": "t",
            "reducer": {"process_graph": reducer},
        },
    }


def test_any_of_comparisons_made_by_apply_is_true_where_one_is():
    """Issue 9 (found by the dask reduction tests): apply's comparisons came out as int64
    cubes (xarray's where(valid, 0) promotes booleans), and any over them was always false."""
    from pgc.data.catalog import default_catalog
    from pgc.data.reading import read_collection

    graph = _sample_b04({"a": _apply("gt", y=7996), "r": _over_t("a", "any")}, "r")
    raw = read_collection(default_catalog(), "SENTINEL2_L2A_SAMPLE", ["B04"],
                          (600000, 5694800, 600200, 5695000), None)  # fmt: skip
    ok = raw.values != 0  # the sample's no-data
    expected = ((raw.values > 7996) & ok).any(axis=0)  # [bands, y, x]
    assert expected.any() and not expected.all()
    assert np.array_equal(pgc.run(graph, pipeline="none").values.astype(bool), expected)


def test_count_of_everything_counts_nan_too():
    """Issue 9: count(condition=true) was NaN where the first date's value was NaN."""
    from pgc.data.catalog import default_catalog

    root = {
        "process_graph": {
            "d": {"process_id": "subtract", "arguments": {"x": {"from_parameter": "x"}, "y": 2000}},
            "q": {"process_id": "sqrt", "arguments": {"x": {"from_node": "d"}}, "result": True},
        }
    }
    nan_where_dark = {
        "process_id": "apply",
        "arguments": {"data": {"from_node": "l"}, "process": root},
    }
    graph = _sample_b04({"s": nan_where_dark, "c": _over_t("s", "count", condition=True)}, "c")
    roots = pgc.run(_sample_b04({"s": dict(nan_where_dark)}, "s"), pipeline="none")
    assert np.isnan(roots.isel(t=0).values).any()  # NaN first: what the bug needed
    dates = default_catalog().cube_type("SENTINEL2_L2A_SAMPLE").dimension("t").labels
    assert np.all(pgc.run(graph, pipeline="none").values == len(dates))
