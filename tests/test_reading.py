"""Reading the embedded sample collection (issue 4 groundwork): windows, bands, dates, bytes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT

from pgc.compiler import compile as compile_graph
from pgc.data import sample
from pgc.data.catalog import default_catalog
from pgc.data.reading import ReadStats, read_collection


@pytest.fixture(scope="module")
def full():
    return sample.generate()


def test_generation_is_deterministic_and_coherent(full):
    again = sample.generate()
    assert all(np.array_equal(full[b], again[b]) for b in (*sample.BANDS, "SCL"))
    b08 = full["B08"][6].astype(float)
    # Spatially coherent, not white noise: neighbours are strongly correlated.
    corr = np.corrcoef(b08[:, :-1].ravel(), b08[:, 1:].ravel())[0, 1]
    assert corr > 0.8
    classes = set(np.unique(full["SCL"]).tolist())
    assert {0, 3, 4, 5, 6, 8, 9, 10} <= classes


def test_window_bands_and_dates_are_read_exactly(full):
    stats = ReadStats()
    cube = read_collection(
        default_catalog(),
        "SENTINEL2_L2A_SAMPLE",
        ["B08", "B04"],
        (600100, 5694000, 600300, 5694500),
        ["2023-05-01", "2023-07-01"],
        stats,
    )
    assert cube.dims == ("t", "bands", "y", "x") and cube.shape == (2, 2, 50, 20)
    # Window: columns 10..29 (centres 600105..600295), rows 50..99.
    assert np.array_equal(cube.sel(bands="B08").values, full["B08"][4:6, 50:100, 10:30])
    assert float(cube.x[0]) == 600105.0 and float(cube.y[0]) == 5694495.0
    assert [str(t)[:10] for t in cube.t.values] == ["2023-05-10", "2023-06-10"]
    assert stats.bytes_read == 2 * 2 * 50 * 20 * 2
    assert set(stats.by_source) == {"SENTINEL2_L2A_SAMPLE/B08", "SENTINEL2_L2A_SAMPLE/B04"}


def test_bytes_read_match_the_type_estimate():
    """The IR predicts the size of a load; the reader reads exactly that."""
    plan = compile_graph((ROOT / "examples" / "evi.json").read_text(), pipeline="none")
    load = plan.graph.node("loadcollection1")
    stats = ReadStats()
    cube = read_collection(
        default_catalog(),
        "SENTINEL2_L2A_SAMPLE",
        load.literal("bands"),
        tuple(load.literal("spatial_extent")[k] for k in ("west", "south", "east", "north")),
        load.literal("temporal_extent"),
        stats,
    )
    assert cube.shape == tuple(d.size for d in load.type.dimensions)
    assert stats.bytes_read == load.type.nbytes


def test_a_bbox_in_lon_lat_is_transformed_to_the_collection_crs():
    """Users give WGS84 boxes; the type and the read agree on the window."""
    import pgc
    from pgc.runner import execute

    graph = {
        "l": {
            "process_id": "load_collection",
            "result": True,
            "arguments": {
                "id": "SENTINEL2_L2A_SAMPLE",
                "temporal_extent": ["2023-06-01", "2023-07-01"],
                "spatial_extent": {"west": 4.45, "south": 51.36, "east": 4.46, "north": 51.365},
                "bands": ["B04"],
            },
        }
    }
    plan = pgc.compile(graph)
    result = execute(graph)
    assert result.value.data.shape == tuple(d.size for d in plan.graph.result_node.type.dimensions)
    assert result.bytes_read == plan.graph.result_node.type.nbytes
