"""The dask executor writes results chunk by chunk (issue 9): GeoTIFF by windows, netCDF and
Zarr by chunks; the files hold what the reference executor writes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT

import pgc
from pgc.executors.dask import writing as chunked_writing
from pgc.executors.dask.chunked import DaskOptions
from pgc.runner import OutputError, execute

FORMATS = [("GTiff", "tif"), ("netCDF", "nc"), ("ZARR", "zarr")]


def ndvi_composite(fmt: str) -> dict:
    """examples/ndvi_composite.json (made with the openEO client), saved as ``fmt``."""
    graph = json.loads((ROOT / "examples" / "ndvi_composite.json").read_text())
    nodes = graph.get("process_graph", graph)
    save = next(n for n in nodes.values() if n["process_id"] == "save_result")
    save["arguments"]["format"] = fmt
    return graph


def same_files(expected, actual, ext: str) -> None:
    if ext == "tif":
        import rasterio

        with rasterio.open(expected) as e, rasterio.open(actual) as a:
            profile = {k: v for k, v in e.profile.items() if k != "nodata"}  # NaN != NaN
            assert profile == {k: v for k, v in a.profile.items() if k != "nodata"}
            assert np.isnan(e.nodata) and np.isnan(a.nodata) and e.descriptions == a.descriptions
            assert np.array_equal(e.read(), a.read(), equal_nan=True)
        return
    opened = (lambda p: xr.open_zarr(p, consolidated=False)) if ext == "zarr" else xr.open_dataset
    with opened(expected) as e, opened(actual) as a:
        assert e.identical(a)


@pytest.mark.parametrize("fmt, ext", FORMATS)
def test_chunk_by_chunk_files_hold_what_the_reference_writes(tmp_path, monkeypatch, fmt, ext):
    blocks = []
    each_block = chunked_writing.each_block

    def spy(array, write, dask):
        def counted(region, values):
            blocks.append(values.shape)
            write(region, values)

        each_block(array, counted, dask)

    monkeypatch.setattr(chunked_writing, "each_block", spy)
    graph = ndvi_composite(fmt)
    execute(graph, output=tmp_path / f"r.{ext}")
    result = execute(
        graph, executor="dask", dask=DaskOptions(chunk=40), output=tmp_path / f"d.{ext}"
    )
    assert result.written == [tmp_path / f"d.{ext}"]
    same_files(tmp_path / f"r.{ext}", tmp_path / f"d.{ext}", ext)
    cube = result.outputs[0][0]
    assert cube.data.chunks is not None  # written from the chunks, not computed whole
    if ext == "tif":  # windows of whole 256-pixel tiles, or the whole of a small file
        assert len(blocks) == -(-cube.data.sizes["y"] // 256) * -(-cube.data.sizes["x"] // 256)
    if ext == "zarr":
        with xr.open_zarr(tmp_path / f"d.{ext}", consolidated=False) as stored:
            assert stored["values"].encoding["chunks"][-2:] == (40, 40)


@pytest.mark.parametrize("fmt, ext", FORMATS)
def test_chunk_by_chunk_on_a_local_cluster(tmp_path, cluster_client, fmt, ext):
    graph = ndvi_composite(fmt)
    execute(graph, output=tmp_path / f"r.{ext}")
    options = DaskOptions(chunk=100, scheduler=cluster_client)
    execute(graph, executor="dask", dask=options, output=tmp_path / f"d.{ext}")
    same_files(tmp_path / f"r.{ext}", tmp_path / f"d.{ext}", ext)


def test_an_unknown_format_or_folder_is_an_output_error(tmp_path):
    # a format pgc does not write is refused before anything runs (issue 18)
    with pytest.raises(pgc.PgcError, match="PNGX") as info:
        execute(ndvi_composite("PNGX"), executor="dask", output=tmp_path / "x.png")
    assert info.value.code == "FormatUnsupported"
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(OutputError, match="cannot write"):
        execute(ndvi_composite("GTiff"), output=tmp_path / "no" / "such" / "x.tif")


def test_cli_writes_chunk_by_chunk(tmp_path, capsys):
    from pgc.cli import main

    path = tmp_path / "g.json"
    path.write_text(json.dumps(ndvi_composite("ZARR")))
    assert main(["run", str(path), "-o", str(tmp_path / "o.zarr"), "--executor", "dask",
                 "--chunk", "64"]) == 0  # fmt: skip
    assert f"wrote {tmp_path / 'o.zarr'} (ZARR; " in capsys.readouterr().out
    path.write_text(json.dumps(ndvi_composite("PNGX")))
    assert main(["run", str(path), "-o", str(tmp_path / "o.png"), "--executor", "dask"]) == 1
    assert "FormatUnsupported" in capsys.readouterr().out


def clear_count(fmt: str) -> dict:
    """How many dates each pixel is clear (SCL 4), as users count: float values that the
    types call integers, stored as integers."""
    clear = {"process_graph": {
        "e": {"process_id": "eq", "arguments": {"x": {"from_parameter": "x"}, "y": 4},
              "result": True}}}  # fmt: skip
    count = {"process_graph": {
        "c": {"process_id": "count", "arguments": {"data": {"from_parameter": "data"},
              "condition": clear}, "result": True}}}  # fmt: skip
    graph = ndvi_composite(fmt)
    nodes = graph.get("process_graph", graph)
    load = next(k for k, n in nodes.items() if n["process_id"] == "load_collection")
    nodes[load]["arguments"]["bands"] = ["SCL"]
    return {"process_graph": {
        load: nodes[load],
        "c": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": load}, "dimension": "t", "reducer": count}},
        "s": {"process_id": "save_result", "arguments": {"data": {"from_node": "c"},
              "format": fmt}, "result": True},
    }}  # fmt: skip


@pytest.mark.parametrize("fmt, ext", FORMATS[:2])
def test_a_small_integer_result_is_computed_once(tmp_path, fmt, ext):
    """Its storage needs a pass over its values: chunk by chunk it is computed twice (and
    its load read twice); at most DaskOptions.whole_bytes it is computed once, whole."""
    graph = clear_count(fmt)
    reference = execute(graph, output=tmp_path / f"r.{ext}")
    once = execute(
        graph, executor="dask", dask=DaskOptions(chunk=100), output=tmp_path / f"d.{ext}"
    )
    chunked = execute(graph, executor="dask", dask=DaskOptions(chunk=100, whole_bytes=0),
                      output=tmp_path / f"c.{ext}")  # fmt: skip
    assert reference.stored[0].dtype.startswith(("int", "uint"))
    assert once.bytes_read == reference.bytes_read
    assert chunked.bytes_read == 2 * reference.bytes_read
    for written in ("d", "c"):
        expected, actual = tmp_path / f"r.{ext}", tmp_path / f"{written}.{ext}"
        if ext != "tif":
            same_files(expected, actual, ext)
            continue
        import rasterio

        with rasterio.open(expected) as e, rasterio.open(actual) as a:
            assert e.profile == a.profile and np.array_equal(e.read(), a.read())
