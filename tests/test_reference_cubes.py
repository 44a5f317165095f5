"""Reference implementations of cube processes on the sample collection, against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import node

import pgc
from pgc.data import sample

LOAD = node(
    "load_collection",
    id="SENTINEL2_L2A_SAMPLE",
    spatial_extent={
        "west": 600000,
        "south": 5694800,
        "east": 600200,
        "north": 5695000,
        "crs": 32631,
    },
    temporal_extent=["2023-06-01", "2023-07-01"],
    bands=["B04", "B08"],
)


@pytest.fixture(scope="module")
def raw():
    data = sample.generate()
    return {b: data[b][5, :20, :20].astype("float64") for b in ("B04", "B08")}


def run(**nodes):
    return pgc.run({"l": LOAD, **nodes})


def test_rename_labels(raw):
    out = run(
        r=node(
            "rename_labels",
            result=True,
            data={"from_node": "l"},
            dimension="bands",
            target=["red", "nir"],
            source=["B04", "B08"],
        )
    )
    assert list(out.bands.values) == ["red", "nir"]
    np.testing.assert_array_equal(out.sel(bands="nir").values[0], raw["B08"])


def test_merge_cubes_disjoint_and_overlapping(raw):
    red = node("filter_bands", data={"from_node": "l"}, bands=["B04"])
    nir = node("filter_bands", data={"from_node": "l"}, bands=["B08"])
    merged = pgc.run(
        {
            "l": LOAD,
            "red": red,
            "nir": nir,
            "m": node(
                "merge_cubes", result=True, cube1={"from_node": "red"}, cube2={"from_node": "nir"}
            ),
        }
    )
    assert list(merged.bands.values) == ["B04", "B08"]
    summed = pgc.run(
        {
            "l": LOAD,
            "m": node(
                "merge_cubes",
                result=True,
                cube1={"from_node": "l"},
                cube2={"from_node": "l"},
                overlap_resolver={
                    "process_graph": {
                        "s": node(
                            "add", result=True, x={"from_parameter": "x"}, y={"from_parameter": "y"}
                        )
                    }
                },
            ),
        }
    )
    np.testing.assert_array_equal(summed.sel(bands="B04").values[0], 2 * raw["B04"])


def _sum_of_x_y():
    xy = [{"from_parameter": "x"}, {"from_parameter": "y"}]
    return {"process_graph": {"s": node("sum", result=True, data=xy)}}


def test_merge_cubes_keeps_cube1_band_order_and_resolves_overlap_per_band(raw):
    both = node("filter_bands", data={"from_node": "l"}, bands=["B08", "B04"])
    red = node("filter_bands", data={"from_node": "l"}, bands=["B04"])
    nodes = {"l": LOAD, "both": both, "red": red}
    merged = pgc.run(
        {
            **nodes,
            "m": node(
                "merge_cubes",
                result=True,
                cube1={"from_node": "both"},
                cube2={"from_node": "red"},
                overlap_resolver=_sum_of_x_y(),  # an array of pixel values in a resolver
            ),
        }
    )
    assert list(merged.bands.values) == ["B08", "B04"]
    np.testing.assert_array_equal(merged.sel(bands="B08").values[0], raw["B08"])
    np.testing.assert_array_equal(merged.sel(bands="B04").values[0], 2 * raw["B04"])
    red_ref = {"from_node": "red"}
    with pytest.raises(pgc.PgcError) as err:
        pgc.run(
            {
                **nodes,
                "m": node("merge_cubes", result=True, cube1={"from_node": "both"}, cube2=red_ref),
            }
        )
    assert err.value.code == "OverlapResolverMissing"


FIRST = {"process_graph": {"f": node("first", data={"from_parameter": "data"}, result=True)}}


def test_merge_cubes_lower_dimensional_cube_joins_every_step(raw):
    """A cube without t and bands (like a DEM) is merged into every date and band."""
    flat = node(
        "reduce_dimension",
        data={"from_node": "red"},
        dimension="bands",
        reducer=FIRST,
    )
    dem = node(
        "reduce_dimension",
        data={"from_node": "flat"},
        dimension="t",
        reducer=FIRST,
    )
    merged = pgc.run(
        {
            "l": LOAD,
            "red": node("filter_bands", data={"from_node": "l"}, bands=["B04"]),
            "flat": flat,
            "dem": dem,
            "m": node(
                "merge_cubes",
                result=True,
                cube1={"from_node": "l"},
                cube2={"from_node": "dem"},
                overlap_resolver=_sum_of_x_y(),
            ),
        }
    )
    assert merged.dims == ("t", "bands", "y", "x")
    np.testing.assert_array_equal(merged.sel(bands="B08").values[0], raw["B08"] + raw["B04"])


def test_apply_kernel_mean_filter(raw):
    kernel = [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
    out = run(
        k=node("apply_kernel", result=True, data={"from_node": "l"}, kernel=kernel, factor=1 / 9)
    )
    padded = np.pad(raw["B04"], 1)
    expected = sum(padded[i : i + 20, j : j + 20] for i in range(3) for j in range(3)) / 9
    np.testing.assert_allclose(out.sel(bands="B04").values[0], expected, rtol=1e-12)


def test_resample_spatial_average(raw):
    out = run(
        r=node(
            "resample_spatial",
            result=True,
            data={"from_node": "l"},
            resolution=20,
            method="average",
        )
    )
    expected = raw["B08"].reshape(10, 2, 10, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(out.sel(bands="B08").values[0], expected, rtol=1e-12)
    assert float(out.x[0]) == 600010.0  # centre of the first 20 m pixel


def test_filter_labels_on_bands():
    keep_b08 = {
        "process_graph": {"e": node("eq", result=True, x={"from_parameter": "value"}, y="B08")}
    }
    out = run(
        f=node(
            "filter_labels",
            result=True,
            data={"from_node": "l"},
            dimension="bands",
            condition=keep_b08,
        )
    )
    assert list(out.bands.values) == ["B08"]


def test_rename_dimension_and_trim_cube(raw):
    out = run(
        r=node(
            "rename_dimension",
            result=True,
            data={"from_node": "l"},
            source="bands",
            target="channel",
        )
    )
    assert out.dims == ("t", "channel", "y", "x")
    trimmed = run(r=node("trim_cube", result=True, data={"from_node": "l"}))
    assert trimmed.shape == (1, 2, 20, 20)  # nothing all-no-data to drop here


def test_reduce_spatial_mean(raw):
    out = run(
        r=node(
            "reduce_spatial",
            result=True,
            data={"from_node": "l"},
            reducer={
                "process_graph": {"m": node("mean", result=True, data={"from_parameter": "data"})}
            },
        )
    )
    assert out.dims == ("t", "bands")
    np.testing.assert_allclose(out.sel(bands="B04").values[0], raw["B04"].mean(), rtol=1e-12)


def test_resample_cube_temporal_and_spatial_onto_themselves(raw):
    same_t = run(
        r=node(
            "resample_cube_temporal",
            result=True,
            data={"from_node": "l"},
            target={"from_node": "l"},
        )
    )
    np.testing.assert_array_equal(same_t.sel(bands="B04").values[0], raw["B04"])
    coarse = node("resample_spatial", data={"from_node": "l"}, resolution=20)
    out = run(
        c=coarse,
        r=node(
            "resample_cube_spatial", result=True, data={"from_node": "l"}, target={"from_node": "c"}
        ),
    )
    assert out.shape == (1, 2, 10, 10)
