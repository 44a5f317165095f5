"""``pgc serve`` with a catalog file of STAC-backed collections (issue 21): ``/collections``
shows them with their aliases, and the openEO client loads one by an alias, getting what
``pgc run`` gets. The STAC items and COGs come from real servers (tests/stac_fixture.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("openeo_driver", reason="pgc serve needs openeo-driver (README: pgc serve)")
pytest.importorskip("openeo")

import stac_fixture  # noqa: E402
from test_server import Server  # noqa: E402
from test_stac import ONE_TILE, catalog_file, load_graph  # noqa: E402

import pgc  # noqa: E402
from pgc.server.config import hash_password  # noqa: E402

stac_api = stac_fixture.stac_api
cog_server = stac_fixture.cog_server


def serving(folder, catalog=(), samples: bool = True, hosts=()) -> Server:
    """A started ``pgc serve`` in ``folder``: user alice, one worker, the catalog files or
    folders ``catalog``, pgc's samples or not, ``allowed_hosts``."""
    folder.mkdir(exist_ok=True)
    (folder / "pgc.toml").write_text(
        '[server]\nport = 0\ndata = "data"\nworkers = 1\n'
        f"allowed_hosts = {json.dumps(list(hosts))}\n\n[users]\n"
        f'alice = "{hash_password("alice-pw", iterations=1000)}"\n\n'
        f"[catalog]\ncollections = {json.dumps([str(c) for c in catalog])}\n"
        f"samples = {'true' if samples else 'false'}\n"
    )
    return Server(folder).start()


def test_a_served_stac_collection_is_listed_and_loads_by_an_alias(stac_api, cog_server,
                                                                  tmp_path):  # fmt: skip
    source = f'stac_api = "{stac_api.url}"\ncollection = "sentinel-2-l2a"'
    catalog = catalog_file(tmp_path, source, extra=f'asset_hosts = ["{cog_server.url}"]')
    server = serving(tmp_path, [catalog])
    try:
        con = server.connect("alice")
        listed = {c["id"]: c for c in con.list_collections()}
        assert "SENTINEL2_L2A" in listed and "SENTINEL2_L2A_SAMPLE" in listed
        described = con.describe_collection("S2_L2A")
        assert described["id"] == "SENTINEL2_L2A"
        assert set(described["pgc:aliases"]) == {"sentinel-2-l2a", "S2_L2A"}
        cube = con.load_collection("S2_L2A", spatial_extent=ONE_TILE,
                                   temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04"])
        got = tmp_path / "got.nc"
        cube.download(got, format="netCDF")
    finally:
        server.stop()
    import xarray as xr

    expected = pgc.Session(catalog=catalog).run(load_graph("S2_L2A", ONE_TILE, ["B04"]))
    with xr.open_dataset(got) as served:
        values = served["B04"].values
    assert values.shape == (expected.sizes["t"], *expected.shape[2:])
    assert np.array_equal(values, expected.sel(bands="B04").values, equal_nan=True)


def test_a_server_can_leave_the_samples_out(tmp_path):
    """[catalog] samples = false: /collections is the configured catalog alone (members of
    a federation serve different catalogs, issue 22)."""
    catalog = catalog_file(tmp_path, 'stac_api = "https://stac.invalid/v1"\ncollection = "s2"')
    server = serving(tmp_path, [catalog], samples=False)
    try:
        listed = [c["id"] for c in server.connect("alice").list_collections()]
    finally:
        server.stop()
    assert listed == ["SENTINEL2_L2A"]


def test_load_stac_on_a_server_reaches_only_its_allowed_hosts(cog_server, tmp_path):
    """[server] allowed_hosts: the hosts a graph's load_stac may read from (none by
    default); a member of a federation reads another's results this way (issue 22)."""
    graph = {"process_graph": {"l": {"process_id": "load_stac", "arguments": {
        "url": f"{cog_server.url}/catalog/collection.json",
        "spatial_extent": ONE_TILE, "temporal_extent": ["2023-06-01", "2023-06-02"],
        "bands": ["red"]}},
        "s": {"process_id": "save_result", "result": True, "arguments": {
            "data": {"from_node": "l"}, "format": "netCDF"}}}}  # fmt: skip
    outcomes = {}
    for name, hosts in (("closed", []), ("open", [cog_server.url])):
        folder = tmp_path / name
        server = serving(folder, hosts=hosts)
        try:
            con = server.connect("alice")
            try:
                con.download(graph, folder / "out.nc")
                outcomes[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - the openEO error the client raises
                outcomes[name] = str(exc)
        finally:
            server.stop()
    assert "no network I/O" in outcomes["closed"]
    assert outcomes["open"] == "ok"
