"""resample_spatial sizes its grid by one rule on both axes (issue 18, item 6).

The rule: ``ceil(extent / resolution)`` pixels per axis, anchored at ``align``'s corner, so
the new grid covers the cube's extent (rasterio's ``calculate_default_transform``,
``gdalwarp -tap``; the definition aligns the grid to a corner of the extent). Before,
Python's ``round`` (half to even) dropped the last column at 12.5 pixels while a .6 kept
its last row. The types, the reference, numba and dask must give the same grid.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from openeo.rest.datacube import DataCube

import pgc
from pgc.compiler import compile as compile_graph
from pgc.grid import resampled_size

# 1000 m x 1000 m of 10 m pixels
EXTENT = {"west": 600000, "south": 5694000, "east": 601000, "north": 5695000, "crs": 32631}
EXECUTORS = ["reference", "numba", "dask"]


def _graph(resolution, method="near", align=None) -> dict:
    cube = DataCube.load_collection(
        "SENTINEL2_L2A_SAMPLE",
        connection=None,
        spatial_extent=EXTENT,
        temporal_extent=["2023-06-01", "2023-07-01"],
        bands=["B04"],
    )
    graph = cube.resample_spatial(resolution=resolution, method=method).flat_graph()
    if align is not None:
        [node] = [n for n in graph.values() if n["process_id"] == "resample_spatial"]
        node["arguments"]["align"] = align
    return graph


def _typed_sizes(graph: dict) -> dict:
    cube = compile_graph(graph).graph.result_node.type
    return {d.name: d.size for d in cube.dimensions}


@pytest.mark.parametrize(
    "resolution, sizes",
    [
        ([80, 40], {"x": 13, "y": 25}),  # x: 1000 / 80 = 12.5
        ([40, 80], {"x": 25, "y": 13}),  # y: 12.5
        ([60, 60], {"x": 17, "y": 17}),  # 16.67 on both
    ],
)
def test_issue18_the_grid_covers_the_extent_on_both_axes_in_types_and_executors(resolution, sizes):
    graph = _graph(resolution, method="average")
    assert {k: v for k, v in _typed_sizes(graph).items() if k in "xy"} == sizes
    rx, ry = resolution
    for executor in EXECUTORS:
        out = pgc.run(graph, executor=executor)
        assert (out.sizes["x"], out.sizes["y"]) == (sizes["x"], sizes["y"]), executor
        # anchored at the upper-left corner, stepping by the resolution
        assert float(out.x[0]) == EXTENT["west"] + rx / 2
        assert float(out.y[0]) == EXTENT["north"] - ry / 2
        # the last pixel reaches the far edges: nothing of the input is dropped
        assert float(out.x[-1]) + rx / 2 >= EXTENT["east"]
        assert float(out.y[-1]) - ry / 2 <= EXTENT["south"]
        assert not bool(out.isnull().any()), executor  # average: every pixel has input


def test_issue18_executors_agree_on_the_values_of_the_covering_grid():
    graph = _graph([80, 40], method="average")
    expected = pgc.run(graph, executor="reference")
    for executor in ("numba", "dask"):
        np.testing.assert_array_equal(pgc.run(graph, executor=executor).values, expected.values)


def test_issue18_align_lower_right_anchors_the_same_sizes_at_the_other_corner():
    graph = _graph([80, 40], method="average", align="lower-right")
    assert _typed_sizes(graph)["x"] == 13
    out = pgc.run(graph)
    assert out.sizes["x"] == 13
    assert float(out.x[-1]) == EXTENT["east"] - 40  # the grid ends at the east edge
    assert float(out.x[0]) - 40 < EXTENT["west"]  # and reaches past the west one


def test_issue18_the_rule_is_ceil_with_float_noise_rounded_away():
    assert resampled_size(1000, 80) == 13
    assert resampled_size(1000, 40) == 25
    assert resampled_size(1000 + 1e-9, 10) == 100  # not 101
    assert resampled_size(5, 10) == 1
    assert all(resampled_size(e, 7) == math.ceil(e / 7) for e in (1, 7, 8, 13, 14, 700, 701))
