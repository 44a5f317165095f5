"""Scalar and array processes of the reference executor: no-data and NaN, from the
definitions (issue 5 in progress; the conformance vectors cover more)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import examples, node
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import cubes

import pgc


def call(process_id: str, **arguments):
    return pgc.run({"n": node(process_id, result=True, **arguments)})


@pytest.mark.parametrize("process_id,arguments,expected", [
    ("lt", {"x": 1, "y": 2}, True),
    ("lt", {"x": None, "y": 2}, None),            # no-data in, no-data out
    ("lt", {"x": "a", "y": "b"}, False),           # not numbers: false
    ("gte", {"x": True, "y": False}, False),
    ("between", {"x": 0.5, "min": 0, "max": 1}, True),
    ("between", {"x": 1, "min": 0, "max": 1, "exclude_max": True}, False),
    ("between", {"x": None, "min": 0, "max": 1}, None),
    ("eq", {"x": 1, "y": 1.0}, True),
    ("eq", {"x": "1", "y": 1}, False),
    ("eq", {"x": "A", "y": "a", "case_sensitive": False}, True),
    ("and", {"x": False, "y": None}, False),       # three-valued logic
    ("or", {"x": True, "y": None}, True),
    ("or", {"x": False, "y": None}, None),
    ("any", {"data": [False, None, True]}, True),
    ("any", {"data": [False, None], "ignore_nodata": False}, None),
    ("all", {"data": []}, True),
    ("is_nodata", {"x": None}, True),
    ("is_nan", {"x": None}, False),
    ("int", {"x": -2.7}, -2),
    ("array_find", {"data": [1, 2, 1], "value": 1, "reverse": True}, 2),
    ("array_find", {"data": [[1]], "value": [1]}, None),   # arrays are not comparable
    ("array_contains", {"data": [1, None], "value": None}, False),
    ("cumsum", {"data": [1, None, 2]}, [1, None, 3]),
    ("cumsum", {"data": [1, None, 2], "ignore_nodata": False}, [1, None, None]),
    ("extrema", {"data": [3, None, 1]}, [1, 3]),
    ("quantiles", {"data": [1, 2, 3, 4], "probabilities": [0.5]}, [2.5]),
    ("text_begins", {"data": "Sentinel-2", "pattern": "sentinel", "case_sensitive": False},
     True),
    ("text_concat", {"data": ["a", 1, True, None], "separator": "-"}, "a-1-true-null"),
    ("date_shift", {"date": "2020-01-31", "value": 1, "unit": "month"}, "2020-02-29"),
    ("date_difference", {"date1": "2020-01-01T00:00:00Z", "date2": "2020-01-02T12:00:00Z",
                         "unit": "day"}, 1.5),
    ("median", {"data": [1, None, 3, 4]}, 3.0),
    ("mean", {"data": [1, None], "ignore_nodata": False}, None),
    ("sum", {"data": []}, None),
    # array_modify: length defaults to 0 (insert); labels need both arrays labeled
    ("array_modify", {"data": ["a", "c"], "values": ["b"], "index": 1}, ["a", "b", "c"]),
    ("array_modify", {"data": ["a", "d", "c"], "values": ["b"], "index": 1, "length": 1},
     ["a", "b", "c"]),
    ("array_modify", {"data": ["a", "b", "c"], "values": [], "index": 1, "length": 10}, ["a"]),
    ("array_interpolate_linear", {"data": [None, 1, None, 6, None, -8]},
     [None, 1, 3.5, 6, -1, -8]),
    ("array_interpolate_linear", {"data": [None, 1, None, None]}, [None, 1, None, None]),
    # no-data is an element like any other for the array processes that move elements
    ("array_concat", {"array1": [1, None], "array2": [None, 2]}, [1, None, None, 2]),
    ("rearrange", {"data": [None, 2, 3], "order": [2, 0]}, [3, None]),
    ("constant", {"x": None}, None),
    ("inspect", {"data": None}, None),
])  # fmt: skip
def test_values(process_id, arguments, expected):
    assert call(process_id, **arguments) == expected


def test_nan_is_a_value_not_no_data():
    # NaN only reaches a graph as a run-time value (JSON has no NaN).
    graph = {"n": node("is_nan", result=True, x={"from_parameter": "v"})}
    assert pgc.run(graph, parameters={"v": math.nan}) is True
    graph = {"n": node("int", result=True, x={"from_parameter": "v"})}
    assert pgc.run(graph, parameters={"v": math.nan}) is None  # NaN has no integer part
    graph = {"n": node("max", result=True, data={"from_parameter": "v"})}
    assert math.isnan(pgc.run(graph, parameters={"v": [1, math.nan, None]}))
    graph = {"n": node("count", result=True, data={"from_parameter": "v"})}
    assert pgc.run(graph, parameters={"v": [1, math.nan, math.inf, None, "a"]}) == 2


def test_labels_of_nodata_elements_are_labels_all_the_same():
    labeled = node("array_create_labeled", data=[None, 1], labels=["a", "b"])
    find = node("array_find_label", data={"from_node": "l"}, label="a", result=True)
    assert pgc.run({"l": labeled, "f": find}) == 0
    element = node("array_element", data={"from_node": "l"}, label="a", result=True)
    assert pgc.run({"l": labeled, "e": element}) is None


def test_dates_cannot_be_nodata():
    """The date processes' schemas have no null: it is rejected before anything runs."""
    for process_id, arguments in [
        ("date_shift", {"date": None, "value": 1, "unit": "day"}),
        ("date_difference", {"date1": None, "date2": "2020-01-01", "unit": "day"}),
        ("date_between", {"x": None, "min": "2020-01-01", "max": "2020-02-01"}),
    ]:
        with pytest.raises(pgc.PgcError) as err:
            call(process_id, **arguments)
        assert err.value.code == "ProcessParameterInvalid"


def test_a_new_cube_holds_no_data():
    out = call("create_data_cube")
    assert out.shape == () and math.isnan(float(out))


def test_stac_modify_is_a_json_merge_patch():
    item = {"type": "Feature", "id": "i", "properties": {"a": 1, "b": 2}, "assets": {}}
    patch = {"properties": {"a": None, "c": {"d": 4}}, "assets": ["x"], "title": "T"}
    out = call("stac_modify", data=item, changes=patch)
    assert out == {
        "type": "Feature",
        "id": "i",
        "properties": {"b": 2, "c": {"d": 4}},  # null removes, objects merge
        "assets": ["x"],  # anything else replaces
        "title": "T",
    }
    assert item["properties"] == {"a": 1, "b": 2}  # the input is not changed


def test_interpolation_treats_infinities_as_values():
    graph = {"n": node("array_interpolate_linear", result=True, data={"from_parameter": "v"})}
    inf, nan = math.inf, math.nan
    out = pgc.run(graph, parameters={"v": [-inf, nan, 0.1, None, 0.2, nan, inf]})
    assert out[:3] == [-inf, -inf, 0.1] and out[4:] == [0.2, inf, inf]
    assert out[3] == pytest.approx(0.15)


def test_array_modify_labels():
    labeled = node("array_create_labeled", data=[1, 2], labels=["a", "b"])
    other = node("array_create_labeled", data=[3], labels=["c"])
    modify = node("array_modify", data={"from_node": "l"}, values={"from_node": "o"}, index=1)
    labels = node("array_labels", data={"from_node": "m"}, result=True)
    assert pgc.run({"l": labeled, "o": other, "m": modify, "r": labels}) == ["a", "c", "b"]
    plain = node("array_modify", data={"from_node": "l"}, values=[3], index=1)
    labels = node("array_labels", data={"from_node": "m"}, result=True)
    assert pgc.run({"l": labeled, "m": plain, "r": labels}) == [0, 1, 2]  # labels dropped


@pytest.mark.parametrize(
    "x,y,expected",
    [
        (5, 3, 2),
        (-5, 3, 1),
        (5, -3, -1),
        (5.5, 2, 1.5),
        (1, 0, math.inf),
        (-1, 0, -math.inf),
        (None, 2, None),
    ],
)
def test_mod_has_the_sign_of_the_divisor(x, y, expected):
    assert call("mod", x=x, y=y) == expected


def test_mod_zero_by_zero_is_nan():
    assert math.isnan(call("mod", x=0, y=0))


def test_outside_capabilities_fail_clearly():
    with pytest.raises(pgc.PgcError) as info:
        call("run_udf", data={"from_parameter": "c"}, udf="print(1)\n", runtime="Python")
    assert info.value.code in ("FeatureUnsupported", "ProcessParameterRequired")
    graph = {"n": node("sar_backscatter", result=True, data={"from_parameter": "c"})}
    with pytest.raises(pgc.PgcError) as info:
        pgc.run(graph, parameters={"c": 1})
    assert "outside service" in info.value.diagnostics[0].message


def test_inspect_returns_its_data():
    assert call("inspect", data=[1, 2], message="look") == [1, 2]


@settings(deadline=None, max_examples=examples(60))
@given(cube=cubes(types={"t": "temporal", "y": "spatial", "x": "spatial"}, max_size=5),
       block=st.integers(1, 7))  # fmt: skip
def test_cubes_are_interpolated_in_blocks_as_in_one_piece(cube, block):
    """Gap filling works through the pixels in blocks (issue 23: 5.7 -> 1.7 GB at 2048 px):
    every block gives what one pass over the whole cube gives, values and validity."""
    from pgc.executors.reference import temporal
    from pgc.executors.values import CubeArray

    def whole() -> tuple:
        data = cube.data.transpose("t", ...)
        valid = cube.full_valid().transpose("t", ...).values
        values = data.values
        known = valid & ~np.isnan(values)
        x = temporal._positions(list(cube.data["t"].values), data.shape[0])
        filled = temporal._interpolate(np.where(valid, values, np.nan), known, x)
        ok = valid | (~known & ~np.isnan(filled))
        return np.where(ok, filled, 0.0), ok

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(temporal, "INTERPOLATE_PIXELS", block)
        out = temporal._interpolate_cube(CubeArray(cube, "t"))
    values, ok = whole()
    np.testing.assert_array_equal(out.data.transpose("t", ...).values, values)
    np.testing.assert_array_equal(out.valid.transpose("t", ...).values, ok)
