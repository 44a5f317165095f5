"""Array processes over a cube dimension equal the same processes on each pixel's plain
array (the path the definitions' examples check), including no-data pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from conftest import node

import pgc
from pgc.executors.values import Cube
from pgc.runner import execute

DATA = {"from_parameter": "data"}
X = {"from_parameter": "x"}


def callback(**nodes):
    return {"process_graph": nodes}


# reducer callbacks: (name, nodes of the reducer graph; the last one is the result)
REDUCERS = {
    "count_condition": {"c": node("count", data=DATA, condition=callback(
        g=node("gt", x=X, y=2, result=True)))},
    # count with a condition runs the callback on the whole cube (issue 23); these check
    # it against each pixel's array: no-data counted on purpose, a constant, three-valued
    # logic (a result that is no boolean is refused by validation)
    "count_nodata": {"c": node("count", data=DATA, condition=callback(
        g=node("is_nodata", x=X, result=True)))},
    "count_constant_true": {"c": node("count", data=DATA, condition=callback(
        g=node("constant", x=True, result=True)))},
    "count_or": {"c": node("count", data=DATA, condition=callback(
        a=node("gt", x=X, y=4), b=node("lt", x=X, y=1),
        o=node("or", x={"from_node": "a"}, y={"from_node": "b"}, result=True)))},
    "any_of_applied": {
        "a": node("array_apply", data=DATA, process=callback(
            g=node("gt", x=X, y=2, result=True))),
        "r": node("any", data={"from_node": "a"}),
    },
    "sum_of_filtered": {
        "f": node("array_filter", data=DATA, condition=callback(
            g=node("lt", x=X, y=4, result=True))),
        "r": node("sum", data={"from_node": "f"}),
    },
    "first_of_sorted_desc": {
        "s": node("sort", data=DATA, asc=False),
        "r": node("array_element", data={"from_node": "s"}, index=0, return_nodata=True),
    },
    "position_of_min": {
        "o": node("order", data=DATA),
        "r": node("array_element", data={"from_node": "o"}, index=0, return_nodata=True),
    },
    "find_three": {"f": node("array_find", data=DATA, value=3)},
    "label_position": {"f": node("array_find_label", data=DATA, label="c")},
    "contains_nodata": {"f": node("array_contains", data=DATA, value=None)},
    # a pixel's value looked up in a list (SCL classes in a cloud mask): a cube as the
    # value, which array_contains and array_find compared as one object, always false
    "b_in_a_list": {
        "e": node("array_element", data=DATA, label="b"),
        "f": node("array_contains", data=[1, 3.0, 5, "x"], value={"from_node": "e"}),
    },
    "position_of_b_in_a_list": {
        "e": node("array_element", data=DATA, label="b"),
        "f": node("array_find", data=[5, 1, 3], value={"from_node": "e"}),
    },
}  # fmt: skip


def cube(special: bool = False) -> Cube:
    """3 bands x 4 x 5 pixels of 0..5, some no-data; ``special``: NaN and infinities too."""
    rng = np.random.default_rng(7)
    values = rng.integers(0, 6, size=(3, 4, 5)).astype("float64")  # labels a, b, c
    if special:
        values[rng.random((3, 4, 5)) < 0.2] = np.nan
        values[0, 1, 1], values[2, 3, 4] = np.inf, -np.inf
    valid = rng.random((3, 4, 5)) > 0.2
    valid[:, 0, 0] = False  # one pixel with no data at all
    coords = {"bands": ["a", "b", "c"], "y": np.arange(4.0), "x": np.arange(5.0)}
    data = xr.DataArray(values, dims=["bands", "y", "x"], coords=coords)
    return Cube(data, xr.DataArray(valid, dims=data.dims, coords=coords))


def run(graph: dict, **parameters):
    declared = [{"name": name, "schema": {}} for name in parameters]
    return execute(
        {"parameters": declared, "process_graph": graph}, parameters=parameters, pipeline="none"
    ).value


def with_result(nodes: dict) -> dict:
    nodes = {k: dict(v) for k, v in nodes.items()}
    nodes[list(nodes)[-1]]["result"] = True
    return nodes


@pytest.mark.parametrize("name", sorted(REDUCERS))
def test_reducer_over_a_dimension_equals_each_pixels_array(name):
    reducer = callback(**with_result(REDUCERS[name]))
    c = cube()
    graph = {
        "r": node(
            "reduce_dimension",
            data={"from_parameter": "c"},
            dimension="bands",
            reducer=reducer,
            result=True,
        )
    }
    out = run(graph, c=c)
    for y in range(4):
        for x in range(5):
            values = [
                float(c.data.values[b, y, x]) if c.valid.values[b, y, x] else None for b in range(3)
            ]
            labeled = node("array_create_labeled", data=values, labels=["a", "b", "c"])
            pixel = {"arr": labeled, **with_result(_rename(REDUCERS[name]))}
            expected = pgc.run(pixel)
            got = out.data.values[y, x] if out.valid.values[y, x] else None
            if isinstance(expected, float) and math.isnan(expected):
                assert got is not None and math.isnan(got)
            else:
                assert got == expected, (name, y, x, values)


@pytest.mark.parametrize("name", sorted(n for n in REDUCERS if n.startswith("count_")))
def test_count_with_a_condition_on_the_whole_cube_equals_the_pixel_loop(name, monkeypatch):
    """Issue 23: the condition run on the whole cube gives, with NaN, infinities and
    no-data among the values, what it gives run pixel by pixel on plain values (the
    pixel loop, forced here)."""
    from pgc.executors.reference import reducers

    reducer = callback(**with_result(REDUCERS[name]))
    graph = {"r": node("reduce_dimension", data={"from_parameter": "c"}, dimension="bands",
                       reducer=reducer, result=True)}  # fmt: skip
    whole = run(graph, c=cube(special=True))
    monkeypatch.setattr(reducers, "elementwise_graph", lambda graph: False)
    looped = run(graph, c=cube(special=True))
    assert whole.data.dtype == looped.data.dtype
    assert np.array_equal(whole.valid.values, looped.valid.values)
    assert np.array_equal(whole.data.values, looped.data.values)


def _rename(nodes: dict) -> dict:
    """The reducer's nodes with ``data`` taken from the node 'arr' (a plain array)."""
    import json

    text = json.dumps(nodes).replace('{"from_parameter": "data"}', '{"from_node": "arr"}')
    return json.loads(text)


def _filtered_per_pixel(process_id: str, callback_argument: str) -> dict:
    """``process_id`` over the bands with ``array_filter`` (arrays of different lengths per
    pixel) as its callback."""
    keep = callback(f=node("array_filter", data=DATA, condition=callback(
        g=node("gt", x=X, y=2, result=True)), result=True))  # fmt: skip
    args = {"data": {"from_parameter": "c"}, "dimension": "bands", callback_argument: keep}
    return {"r": node(process_id, result=True, **args)}


def test_arrays_of_different_lengths_per_pixel_fail_clearly():
    with pytest.raises(pgc.PgcError) as err:
        run(_filtered_per_pixel("apply_dimension", "process"), c=cube())
    assert err.value.code == "ProcessParameterInvalid"
    assert "same length" in err.value.diagnostics[0].message


def test_a_reducer_must_not_return_arrays():
    with pytest.raises(pgc.PgcError) as err:
        run(_filtered_per_pixel("reduce_dimension", "reducer"), c=cube())
    assert err.value.code == "ProcessParameterInvalid"
