"""Collections in one Zarr store (issue 9): the catalog reads the STAC collection's Zarr
asset, loads read only the window, dates and bands asked for, and the dask executor's chunks
follow the store's chunks. The graph is built with the official openEO client."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import bench_dask, zarr_sample
from pgc.data.catalog import Catalog
from pgc.executors.dask.chunked import DaskOptions
from pgc.runner import execute


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> Catalog:
    catalog = Catalog()
    catalog.add_folder(zarr_sample.ensure(200, 4, 64, base=tmp_path_factory.mktemp("zarr")))
    return catalog


def composite(**load) -> dict:
    """The cloud-masked NDVI composite as a user writes it with the openEO client."""
    return bench_dask.composite_graph("SENTINEL2_L2A_ZARR", "GTiff", **load)


def test_a_zarr_collection_reads_only_what_the_load_asks_for(catalog):
    import zarr

    store = zarr.open_group(catalog.stores["SENTINEL2_L2A_ZARR"], mode="r")
    extent = {"west": 600105, "south": 5698500, "east": 600995, "north": 5699995, "crs": 32631}
    graph = composite(spatial_extent=extent, temporal_extent=["2023-04-05", "2023-04-25"])
    result = execute(graph, catalog=catalog)
    cube = result.outputs[0][0]
    # pixel centres inside the box: rows 0..149, columns 10..99; dates 2 and 3 of 4
    assert cube.data.shape == (rows := 150, cols := 90)
    assert result.bytes_read == 2 * 3 * rows * cols * 2
    red = store["B04"][1:3, :rows, 10 : 10 + cols].astype(float)
    nir = store["B08"][1:3, :rows, 10 : 10 + cols].astype(float)
    clear = ~np.isin(store["SCL"][1:3, :rows, 10 : 10 + cols], [3, 8, 9, 10])
    ndvi = np.where(clear, (nir - red) / (nir + red), -np.inf).max(axis=0)
    expected = np.where(np.isinf(ndvi), np.nan, ndvi)
    assert np.allclose(cube.filled().values, expected, equal_nan=True, rtol=0, atol=1e-15)


def test_the_dask_executor_reads_a_zarr_collection_in_the_store_s_chunks(catalog, monkeypatch):
    from pgc.data import reading

    windows = []
    read_store = reading.read_store

    def spy(store, bands, dates, window, dtype, stats):
        windows.append(window)
        return read_store(store, bands, dates, window, dtype, stats)

    monkeypatch.setattr(reading, "read_store", spy)
    graph = composite(spatial_extent={"west": 600300, "south": 5698100, "east": 601990,
                                      "north": 5699700, "crs": 32631})  # fmt: skip
    expected = execute(graph, catalog=catalog)
    windows.clear()
    # 100 kB per chunk: 64 x 64 pixels of 4 dates x 3 bands, the store's chunk
    actual = execute(graph, catalog=catalog, executor="dask", dask=DaskOptions(chunk_bytes=10**5))
    assert len(windows) > 4
    for w in windows:  # each read within one storage chunk (64 x 64) of the store
        assert w.y0 // 64 == (w.y1 - 1) // 64 and w.x0 // 64 == (w.x1 - 1) // 64
    assert actual.bytes_read == expected.bytes_read
    a, b = expected.outputs[0][0], actual.outputs[0][0]
    assert np.array_equal(a.data.values, b.data.values, equal_nan=True)
    assert np.array_equal(a.full_valid().values, b.full_valid().values)


@pytest.mark.parametrize("dates", [[0, 1, 2], [0, 2, 3], [3]])
def test_read_store_gives_zarr_s_own_selection_in_the_read_s_dtype(catalog, dates):
    """read_store has Zarr write each band's selection into the result (no temporary): the
    values are Zarr's own, for dates in a run (a slice) or not (a list), cast to the
    read's dtype, with the window across storage chunks."""
    from types import SimpleNamespace

    import zarr

    from pgc.data.reading import read_store

    path = catalog.stores["SENTINEL2_L2A_ZARR"]
    store = zarr.open_group(path, mode="r")
    window = SimpleNamespace(y0=50, y1=130, x0=60, x1=200, shape=(80, 140))
    bands = ["SCL", "B08"]
    out = read_store(path, bands, dates, window, "float32", None)
    expected = np.stack([store[b].oindex[dates, 50:130, 60:200] for b in bands], axis=1)
    assert out.dtype == np.float32
    assert np.array_equal(out, expected.astype(np.float32))
