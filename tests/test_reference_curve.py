"""fit_curve and predict_curve in the reference executor, on models with known parameters.

Expected values are computed here with numpy, independently of pgc: noise-free data from
known parameters must give those parameters back, and least squares on real data the
optimum of numpy's linear least squares (the harmonic model is linear in its parameters).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import node

import pgc
from pgc.executors.reference import curve as ref_curve
from pgc.executors.values import Cube
from pgc.runner import execute

YEAR = 31557600.0  # seconds: x is seconds since 1970 for temporal labels
EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")
EXTENT = {"west": 600000, "south": 5694800, "east": 600200, "north": 5695000, "crs": 32631}
TIMES = pd.date_range("2022-01-05", periods=30, freq="12D").values.astype("datetime64[ns]")


def ref(name: str) -> dict:
    return {"from_node": name}


def element(i: int) -> dict:
    return node("array_element", data={"from_parameter": "parameters"}, index=i)


def seconds(times) -> np.ndarray:
    return (np.asarray(times, dtype="datetime64[ns]") - EPOCH) / np.timedelta64(1, "s")


# y = p0 + p1 cos(2 pi x / year) + p2 sin(2 pi x / year)
HARMONIC = {
    "process_graph": {
        "p0": element(0),
        "p1": element(1),
        "p2": element(2),
        "w": node("multiply", x={"from_parameter": "x"}, y=2 * math.pi / YEAR),
        "cos": node("cos", x=ref("w")),
        "sin": node("sin", x=ref("w")),
        "a": node("multiply", x=ref("p1"), y=ref("cos")),
        "b": node("multiply", x=ref("p2"), y=ref("sin")),
        "ab": node("add", x=ref("a"), y=ref("b")),
        "y": node("add", True, x=ref("p0"), y=ref("ab")),
    }
}

# y = p0 exp(-p1 x) + p2: not linear in p1
DECAY = {
    "process_graph": {
        "p0": element(0),
        "p1": element(1),
        "p2": element(2),
        "k": node("multiply", x=ref("p1"), y={"from_parameter": "x"}),
        "n": node("multiply", x=ref("k"), y=-1),
        "e": node("exp", p=ref("n")),
        "s": node("multiply", x=ref("p0"), y=ref("e")),
        "y": node("add", True, x=ref("s"), y=ref("p2")),
    }
}

# y = p0 + p1 x
LINE = {
    "process_graph": {
        "p0": element(0),
        "p1": element(1),
        "s": node("multiply", x=ref("p1"), y={"from_parameter": "x"}),
        "y": node("add", True, x=ref("p0"), y=ref("s")),
    }
}


def harmonic(params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """params (..., 3), x (n,) -> (..., n)"""
    w = 2 * np.pi * x / YEAR
    return params[..., :1] + params[..., 1:2] * np.cos(w) + params[..., 2:3] * np.sin(w)


def cube(values: np.ndarray, valid: np.ndarray | None = None, labels=TIMES, dim="t") -> Cube:
    """values (labels, y, x) as a cube with dimensions (dim, y, x)."""
    coords = {dim: labels, "y": np.arange(values.shape[1]), "x": np.arange(values.shape[2])}
    data = xr.DataArray(values, dims=(dim, "y", "x"), coords=coords)
    ok = np.ones(values.shape, bool) if valid is None else valid
    return Cube(data.where(ok, 0.0), xr.DataArray(ok, dims=data.dims, coords=coords))


def fit_graph(function: dict, guess: list, dim: str = "t", **options) -> dict:
    fit = node("fit_curve", True, data={"from_parameter": "data"}, parameters=guess,
               function=function, **options)  # fmt: skip
    return {
        "parameters": [{"name": "cube", "schema": {"type": "object", "subtype": "datacube"}}],
        "process_graph": {
            "fit": node(
                "apply_dimension",
                True,
                data={"from_parameter": "cube"},
                dimension=dim,
                process={"process_graph": {"f": fit}},
            ),  # fmt: skip
        },
    }


def with_prediction(graph: dict, function: dict, labels, dim: str = "t") -> dict:
    nodes = dict(graph["process_graph"])
    nodes["fit"] = {k: v for k, v in nodes["fit"].items() if k != "result"}
    nodes["predict"] = node("predict_curve", True, parameters=ref("fit"), function=function,
                            dimension=dim, labels=labels)  # fmt: skip
    return {**graph, "process_graph": nodes}


def fitted(graph: dict, data: Cube) -> Cube:
    return execute(graph, parameters={"cube": data}).value


def parameters_of(result: Cube, dim: str = "t") -> np.ndarray:
    """(y, x, n) values with NaN for no-data."""
    return result.filled().transpose("y", "x", dim).values


TRUE = np.array(
    [
        [[1.0, 0.5, -0.3], [2.0, -1.0, 0.25], [0.0, 3.0, 0.0]],
        [[-4.0, 0.1, 2.0], [1e3, 50.0, -20.0], [0.5, 0.5, 0.5]],
    ]
)  # (y, x, 3)


def harmonic_cube() -> Cube:
    return cube(np.moveaxis(harmonic(TRUE, seconds(TIMES)), -1, 0))


# ---------------------------------------------------------------------------------------
# Fitting known models


def test_fit_harmonic_recovers_every_pixels_parameters():
    out = fitted(fit_graph(HARMONIC, [0, 0, 0]), harmonic_cube())
    assert out.dims == ("t", "y", "x")
    assert list(out.data.t.values) == [0, 1, 2]  # the parameters, labelled 0..n-1
    np.testing.assert_allclose(parameters_of(out), TRUE, rtol=1e-10, atol=1e-10)


def test_predict_curve_evaluates_the_model_at_new_dates():
    new = ["2024-03-01", "2024-08-15T06:00:00Z", "2021-12-31T23:59:59Z"]
    graph = with_prediction(fit_graph(HARMONIC, [1, 1, 1]), HARMONIC, new)
    out = fitted(graph, harmonic_cube())
    expected_times = np.array(
        [pd.Timestamp(t).tz_localize(None) for t in new], dtype="datetime64[ns]"
    )
    np.testing.assert_array_equal(out.data.t.values, expected_times)
    x = np.array([pd.Timestamp(t, tz="UTC").timestamp() for t in new])  # independent of pgc
    expected = harmonic(TRUE, x)  # (y, x, labels)
    np.testing.assert_allclose(parameters_of(out), expected, rtol=1e-9, atol=1e-9)


def test_fit_nonlinear_decay_on_numeric_labels():
    x = np.linspace(0.0, 4.0, 17)
    true = np.array([[[2.0, 1.3, 0.5], [5.0, 0.4, -1.0]]])  # (1, 2, 3)
    y = true[..., :1] * np.exp(-true[..., 1:2] * x) + true[..., 2:3]
    data = cube(np.moveaxis(y, -1, 0), labels=x, dim="d")
    out = fitted(fit_graph(DECAY, [1, 1, 0], dim="d"), data)
    np.testing.assert_allclose(parameters_of(out, "d"), true, rtol=1e-9, atol=1e-9)
    predicted = fitted(with_prediction(fit_graph(DECAY, [1, 1, 0], dim="d"), DECAY, [10, 0.25],
                                       dim="d"), data)  # fmt: skip
    assert list(predicted.data.d.values) == [10, 0.25]
    at = np.array([10.0, 0.25])
    expected = true[..., :1] * np.exp(-true[..., 1:2] * at) + true[..., 2:3]
    np.testing.assert_allclose(parameters_of(predicted, "d"), expected, rtol=1e-9, atol=1e-9)


def test_temporal_labels_are_seconds_since_1970():
    """A line in x fitted to each date's seconds since 1970 (as days): slope 1/86400, no
    offset; the poorly conditioned problem (x ~ 1.6e9) is solved all the same."""
    days = seconds(TIMES) / 86400.0
    data = cube(np.broadcast_to(days[:, None, None], (len(TIMES), 1, 1)).copy())
    out = parameters_of(fitted(fit_graph(LINE, [0, 0]), data))[0, 0]
    assert out[1] == pytest.approx(1 / 86400, rel=1e-9)
    assert out[0] == pytest.approx(0.0, abs=1e-5 * days.max())


def test_the_model_runs_once_per_iteration_for_all_pixels(monkeypatch):
    """Vectorized: the child graph is evaluated per iteration, not per pixel."""
    calls = []
    real_model = ref_curve._model

    def counting(*args):
        evaluate = real_model(*args)

        def wrapped(params):
            calls.append(params.shape[0])
            return evaluate(params)

        return wrapped

    monkeypatch.setattr(ref_curve, "_model", counting)
    values = np.moveaxis(harmonic(np.tile(TRUE, (10, 4, 1)), seconds(TIMES)), -1, 0)
    out = fitted(fit_graph(HARMONIC, [0, 0, 0]), cube(values))
    assert parameters_of(out).shape == (20, 12, 3)
    assert calls[0] == 240 and len(calls) < 30  # 240 pixels, a handful of iterations


def test_large_cubes_are_fitted_in_blocks_of_pixels(monkeypatch):
    monkeypatch.setattr(ref_curve, "MAX_BLOCK_VALUES", 2 * 7 * len(TIMES))  # 2 pixels a block
    out = fitted(fit_graph(HARMONIC, [0, 0, 0]), harmonic_cube())
    np.testing.assert_allclose(parameters_of(out), TRUE, rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------------------
# No-data, NaN, too few points


def test_nodata_points_are_left_out_and_too_few_points_give_nodata():
    data = harmonic_cube()
    valid = np.ones(data.data.shape, bool)
    valid[::2, 0, 0] = False  # half the dates: still enough points
    valid[2:, 0, 1] = False  # two points for three parameters: no fit
    valid[:, 1, 2] = False  # no points at all
    data = Cube(data.data.where(valid, 0.0), xr.DataArray(valid, dims=data.data.dims))
    out = fitted(fit_graph(HARMONIC, [0, 0, 0]), data)
    got = parameters_of(out)
    np.testing.assert_allclose(got[0, 0], TRUE[0, 0], rtol=1e-10, atol=1e-10)
    assert np.isnan(got[0, 1]).all() and not out.valid.values[:, 0, 1].any()
    assert not out.valid.values[:, 1, 2].any()
    np.testing.assert_allclose(got[1, :2], TRUE[1, :2], rtol=1e-10, atol=1e-9)


def test_exactly_as_many_points_as_parameters_is_enough():
    data = harmonic_cube()
    valid = np.zeros(data.data.shape, bool)
    valid[[0, 7, 15]] = True
    data = Cube(data.data.where(valid, 0.0), xr.DataArray(valid, dims=data.data.dims))
    got = parameters_of(fitted(fit_graph(HARMONIC, [0, 0, 0]), data))
    np.testing.assert_allclose(got, TRUE, rtol=1e-8, atol=1e-8)


def test_without_ignore_nodata_a_pixel_with_nodata_is_not_fitted():
    data = harmonic_cube()
    valid = np.ones(data.data.shape, bool)
    valid[3, 0, 0] = False
    data = Cube(data.data.where(valid, 0.0), xr.DataArray(valid, dims=data.data.dims))
    out = fitted(fit_graph(HARMONIC, [0, 0, 0], ignore_nodata=False), data)
    assert not out.valid.values[:, 0, 0].any()
    assert out.valid.values[:, 1:, :].all()
    np.testing.assert_allclose(parameters_of(out)[1], TRUE[1], rtol=1e-10, atol=1e-9)


def test_nan_values_give_nan_parameters():
    """NaN is a value, not no-data: the sum of squares and so the fit are NaN."""
    values = harmonic_cube().data.values.copy()
    values[4, 1, 1] = np.nan
    values[5, 0, 2] = np.inf
    out = fitted(fit_graph(HARMONIC, [0, 0, 0]), cube(values))
    assert out.valid.values.all()
    got = parameters_of(out)
    assert np.isnan(got[1, 1]).all() and np.isnan(got[0, 2]).all()
    np.testing.assert_allclose(got[0, :2], TRUE[0, :2], rtol=1e-10, atol=1e-10)


def test_a_model_not_finite_at_the_guess_gives_nan():
    log = {"process_graph": {"p0": element(0),
                             "m": node("multiply", x=ref("p0"), y={"from_parameter": "x"}),
                             "y": node("ln", True, x=ref("m"))}}  # fmt: skip
    values = np.broadcast_to(np.log(2.0 * np.arange(1, 6.0))[:, None, None], (5, 1, 2)).copy()
    data = cube(values, labels=np.arange(1, 6.0), dim="d")
    assert np.isnan(parameters_of(fitted(fit_graph(log, [-1.0], dim="d"), data), "d")).all()
    good = parameters_of(fitted(fit_graph(log, [1.0], dim="d"), data), "d")
    np.testing.assert_allclose(good, 2.0, rtol=1e-10)


# ---------------------------------------------------------------------------------------
# Plain arrays


def test_fit_curve_on_plain_arrays():
    plain = {"f": node("fit_curve", True, data=[1, 3, 5, 7], parameters=[0, 0], function=LINE)}
    assert pgc.run(plain) == pytest.approx([1.0, 2.0], abs=1e-10)  # x: the indices
    # no-data in a plain array (a parameter: the schema of 'data' has numbers only)
    gaps = {"f": node("fit_curve", True, data={"from_parameter": "v"}, parameters=[0, 0],
                      function=LINE)}  # fmt: skip
    assert pgc.run(gaps, parameters={"v": [1, None, 5, 7]}) == pytest.approx([1.0, 2.0])
    labeled = {
        "a": node("array_create_labeled", data=[1, 2, 4], labels=[0.5, 1, 2]),
        "f": node("fit_curve", True, data=ref("a"), parameters=[0, 0], function=LINE),
    }
    assert pgc.run(labeled) == pytest.approx([0.0, 2.0], abs=1e-10)  # x: the labels
    assert pgc.run(gaps, parameters={"v": [1, None, None]}) == [None, None]  # too few


# ---------------------------------------------------------------------------------------
# Errors


def run_error(graph: dict, data: Cube) -> pgc.PgcError:
    with pytest.raises(pgc.PgcError) as info:
        fitted(graph, data)
    return info.value


def test_labels_that_are_not_numbers_or_dates_cannot_be_x():
    data = cube(np.ones((3, 1, 1)), labels=["B02", "B03", "B04"], dim="bands")
    error = run_error(fit_graph(LINE, [0, 0], dim="bands"), data)
    assert error.code == "ProcessParameterInvalid"
    assert error.diagnostics[0].pointer.endswith("/arguments/data")


def test_predict_curve_errors():
    graph = fit_graph(HARMONIC, [0, 0, 0])
    missing = with_prediction(graph, HARMONIC, ["2024-01-01"])
    missing["process_graph"]["predict"]["arguments"]["dimension"] = "time"
    assert run_error(missing, harmonic_cube()).code == "DimensionNotAvailable"
    no_labels = with_prediction(graph, HARMONIC, None)
    assert run_error(no_labels, harmonic_cube()).code == "ProcessParameterInvalid"


def test_a_model_that_returns_an_array_is_invalid():
    absolute = {"process_graph": {"i": node("absolute", True, x={"from_parameter": "x"})}}
    array = node("array_apply", True, data={"from_parameter": "parameters"}, process=absolute)
    identity = {"process_graph": {"y": array}}
    error = run_error(fit_graph(identity, [0, 0]), harmonic_cube())
    assert error.code in ("ProcessParameterInvalid", "ProcessUnsupported")


def test_too_many_parameters_are_refused():
    graph = fit_graph(LINE, [0] * (ref_curve.MAX_PARAMETERS + 1))
    assert run_error(graph, harmonic_cube()).code == "ProcessParameterInvalid"


# ---------------------------------------------------------------------------------------
# Types agree with the type rules; a graph from the official client on the sample data


def test_result_labels_agree_with_the_type_rules():
    new = ["2024-01-01", "2024-02-01"]
    load = node("load_collection", id="SENTINEL2_L2A_SAMPLE", bands=["B04"],
                temporal_extent=["2023-01-01", "2024-01-01"], spatial_extent=EXTENT)  # fmt: skip
    graph = with_prediction(fit_graph(HARMONIC, [0, 0, 0]), HARMONIC, new)
    nodes = graph["process_graph"]
    nodes["fit"]["arguments"]["data"] = ref("l")
    document = {"l": load, **nodes}
    plan = pgc.compile(document, pipeline="none")
    result = execute(document, pipeline="none").value
    predicted = plan.graph.node("predict").type
    assert predicted.dimension("t").labels == tuple(new)
    expected = np.array(new, dtype="datetime64[ns]")
    np.testing.assert_array_equal(result.data.t.values, expected)
    assert predicted.dtype == "float64" and result.data.dtype == np.float64
    assert result.dims == predicted.names
    fit_type = plan.graph.node("fit").type
    fit_only = execute({"l": load, "fit": {**nodes["fit"], "result": True}}).value
    assert fit_type.dimension("t").labels == (0, 1, 2)
    assert tuple(fit_only.data.t.values) == (0, 1, 2) and fit_only.dims == fit_type.names


def sample_cube_with_the_client():
    """A harmonic fit on the sample collection, built with the official openEO client."""
    from openeo.processes import cos, fit_curve, sin
    from openeo.rest.datacube import DataCube

    def model(x, parameters):
        w = x * (2 * math.pi / YEAR)
        return parameters[0] + parameters[1] * cos(w) + parameters[2] * sin(w)

    loaded = DataCube.load_collection(
        "SENTINEL2_L2A_SAMPLE",
        connection=None,
        fetch_metadata=False,
        spatial_extent=EXTENT,
        temporal_extent=["2023-01-01", "2024-01-01"],
        bands=["B04"],
    )
    fitted_cube = loaded.apply_dimension(
        dimension="t", process=lambda data: fit_curve(data, parameters=[0, 0, 0], function=model)
    )
    return loaded.flat_graph(), fitted_cube.flat_graph()


def test_client_graph_matches_linear_least_squares_on_the_sample_collection():
    pytest.importorskip("openeo")
    load_graph, fit_graph_ = sample_cube_with_the_client()
    data = pgc.run(load_graph).isel(bands=0)  # (t, y, x), NaN for no-data
    out = pgc.run(fit_graph_).isel(bands=0)
    assert list(out.t.values) == [0, 1, 2]
    x = seconds(data.t.values)
    w = 2 * np.pi * x / YEAR
    design = np.stack([np.ones_like(x), np.cos(w), np.sin(w)], axis=1)
    checked = 0
    for iy, ix in [(0, 0), (3, 17), (10, 10), (19, 19), (7, 2)]:
        y = data.values[:, iy, ix]
        keep = ~np.isnan(y)
        got = out.values[:, iy, ix]
        if keep.sum() < 3:
            assert np.isnan(got).all()
            continue
        expected = np.linalg.lstsq(design[keep], y[keep], rcond=None)[0]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * np.abs(y[keep]).max())
        checked += 1
    assert checked >= 3
