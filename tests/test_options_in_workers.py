"""A session's options reach the dask workers that run its chunks (issue 19): a chunk task
computes with the options of the run that made it, not with whatever a worker process
holds (the defaults, or another session's)."""

from __future__ import annotations

import numpy as np
import pytest

import pgc
from pgc.executors.dask.chunked import DaskOptions

THIRD = {
    "d": {"process_id": "divide", "result": True,
          "arguments": {"x": {"from_parameter": "x"}, "y": 3}},
}  # fmt: skip
GRAPH = {
    "l": {"process_id": "load_collection", "arguments": {
        "id": "SENTINEL2_L2A_SAMPLE", "temporal_extent": None,
        "spatial_extent": None, "bands": ["B04", "B08"]}},
    "a": {"process_id": "apply", "result": True, "arguments": {
        "data": {"from_node": "l"}, "process": {"process_graph": THIRD}}},
}  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_chunks_on_a_cluster_compute_in_the_sessions_dtype(cluster_client, dtype):
    session = pgc.Session(options=pgc.Options(compute_dtype=dtype), executor="dask")
    on_cluster = session.run(GRAPH, dask=DaskOptions(chunk=128, scheduler=cluster_client))
    threaded = session.run(GRAPH, dask=DaskOptions(chunk=128))
    reference = pgc.Session(options=pgc.Options(compute_dtype=dtype)).run(GRAPH)
    assert reference.dtype == np.dtype(dtype)
    assert on_cluster.dtype == threaded.dtype == reference.dtype
    np.testing.assert_array_equal(on_cluster.values, reference.values)
    np.testing.assert_array_equal(threaded.values, reference.values)
