"""``pgc federation describe`` against real ``pgc serve`` members (issue 22): each member's
collections, processes and formats read from its API; the same collection matched across
members by name and metadata, a name two members use for different data kept apart."""

from __future__ import annotations

import pytest

pytest.importorskip("openeo_driver", reason="pgc serve needs openeo-driver (README: pgc serve)")

from test_stac import catalog_file  # noqa: E402
from test_stac_server import serving  # noqa: E402

from pgc.cli import main  # noqa: E402
from pgc.federation.description import Federation  # noqa: E402


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """a and b serve pgc's samples; c serves a STAC collection under a sample's name (other
    data: two bands, no grid) and one of its own."""
    root = tmp_path_factory.mktemp("members")
    other = catalog_file(root, 'stac_api = "https://stac.invalid/v1"\ncollection = "s2"',
                         cid="SENTINEL2_L2A_SAMPLE", aliases=())  # fmt: skip
    own = catalog_file(root, 'stac_api = "https://stac.invalid/v1"\ncollection = "s2"',
                       cid="S2_STAC", aliases=())  # fmt: skip
    servers = [serving(root / "a"), serving(root / "b"),
               serving(root / "c", [other, own], samples=False)]  # fmt: skip
    yield servers
    for server in servers:
        server.stop()


def test_members_are_described_and_the_same_collection_is_matched(members, tmp_path, capsys):
    a, b, c = members
    out = tmp_path / "fed.toml"
    assert main(["federation", "describe", a.url, b.url, c.url, "-o", str(out)]) == 0
    printed = capsys.readouterr()
    fed = Federation.load(out)
    ids = [m.id for m in fed.members]
    assert len(set(ids)) == 3 and all(i.startswith("127.0.0.1-") for i in ids)
    ma, mb, mc = fed.members
    # a's and b's samples are one collection each, held by both under their names
    assert ma.collections == mb.collections == {
        "SENTINEL2_L2A_SAMPLE": "SENTINEL2_L2A_SAMPLE",
        "SENTINEL2_L2A_SAMPLE_32632": "SENTINEL2_L2A_SAMPLE_32632"}  # fmt: skip
    # c's collection of the same name is other data: kept apart, and the note says so
    assert mc.collections == {f"SENTINEL2_L2A_SAMPLE@{mc.id}": "SENTINEL2_L2A_SAMPLE",
                              "S2_STAC": "S2_STAC"}  # fmt: skip
    assert "share a name but not their metadata" in printed.err
    assert {"ndvi", "load_stac", "save_result"} <= ma.processes
    assert fed.catalog().cube_type("SENTINEL2_L2A_SAMPLE").dimension("x").crs == "32631"
    # the STAC documents are beside the description, one per collection
    assert len(list((tmp_path / "fed.stac").glob("*.json"))) == 4


def test_an_unreachable_member_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "fed.json"
    assert main(["federation", "describe", "http://127.0.0.1:9/openeo", "-o", str(out)]) == 1
    assert "127.0.0.1:9" in capsys.readouterr().err
    assert not out.exists()
