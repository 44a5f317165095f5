"""Federation descriptions (issue 8): members, canonical collections, their own names,
process support, pushdown and costs, from JSON, TOML and Python; every mistake reported
with a pointer into the description."""

from __future__ import annotations

import json

import pytest

from pgc.errors import PgcError
from pgc.federation.description import Federation, Member

DESCRIPTION = {
    "members": [
        {
            "id": "vito",
            "url": "https://openeo.vito.be/openeo/1.2",
            "collections": {"S2": {"name": "TERRASCOPE_S2_TOC_V2"}, "S1": "SENTINEL1_GRD"},
            "processes": ["load_collection", "reduce_dimension", "save_result"],
            "filters": "exact",
            "cost": {"egress_per_gb": 0.09, "compute_speed": 1.5},
        },
        {
            "id": "eodc",
            "url": "https://openeo.eodc.eu/openeo/1.1",
            "collections": {"S1": {"name": "s1a_csar_grdh_iw"}},
            "processes": {"processes": [{"id": "load_collection"}, {"id": "sar_backscatter"}]},
            "filters": "inexact",
        },
    ],
    "collections": {"S2": {"same_as": "SENTINEL2_L2A_SAMPLE"}, "S1": {"stac": {
        "type": "Collection", "id": "whatever", "cube:dimensions": {}}}},
}  # fmt: skip


def test_members_collections_and_names_resolve_through_canonical_ids():
    fed = Federation.from_json(DESCRIPTION)
    vito, eodc = fed.members
    assert (vito.id, vito.url, vito.pushdown, vito.egress_per_gb, vito.compute_speed) == (
        "vito", "https://openeo.vito.be/openeo/1.2", "exact", 0.09, 1.5)  # fmt: skip
    assert vito.name_of("S2") == "TERRASCOPE_S2_TOC_V2" and vito.name_of("S1") == "SENTINEL1_GRD"
    assert eodc.processes == {"load_collection", "sar_backscatter"} and eodc.pushdown == "inexact"
    assert (eodc.egress_per_gb, eodc.compute_speed) == (0.0, 1.0)  # the defaults
    # a graph written with any member's names finds the data everywhere it exists
    for name in ("S1", "SENTINEL1_GRD", "s1a_csar_grdh_iw"):
        assert fed.canonical(name) == "S1"
    assert [m.id for m in fed.holding("S1")] == ["vito", "eodc"]
    assert fed.canonical("LANDSAT") is None
    assert "S2" in fed.catalog() and fed.catalog().cube_type("S2").dtype == "uint16"


def test_json_and_toml_files_give_the_same_federation(tmp_path):
    (tmp_path / "fed.json").write_text(json.dumps(DESCRIPTION))
    listing = {"processes": [{"id": "load_collection"}, {"id": "ndvi"}]}
    (tmp_path / "processes.json").write_text(json.dumps(listing))
    toml = """
[[members]]
id = "a"
url = "https://a.example"
processes = "processes.json"
collections = { S2 = { name = "SENTINEL2_L2A" } }
cost = { egress_per_gb = 0.05 }

[collections.S2]
same_as = "SENTINEL2_L2A_SAMPLE"
"""
    (tmp_path / "fed.toml").write_text(toml)
    assert Federation.load(tmp_path / "fed.json") == Federation.from_json(DESCRIPTION)
    member = Federation.load(tmp_path / "fed.toml").member("a")
    assert member == Member(
        "a", "https://a.example", {"S2": "SENTINEL2_L2A"}, frozenset({"load_collection", "ndvi"}),
        egress_per_gb=0.05)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (lambda d: d["members"][1].update(id="vito"), "/members/1/id"),
        (lambda d: d["members"][0].update(filters="sometimes"), "/members/0/filters"),
        (
            lambda d: d["members"][0]["cost"].update(egress_per_gb=-1),
            "/members/0/cost/egress_per_gb",
        ),
        (lambda d: d["members"][1].update(processes=[1, 2]), "/members/1/processes"),
        (lambda d: d["members"][1]["collections"].update(S3="x"), "/members/1/collections/S3"),
        (lambda d: d["collections"].update(S2={"same_as": "NOPE"}), "/collections/S2/same_as"),
        (lambda d: d["members"][0].pop("id"), "/members/0/id"),
    ],
)
def test_every_mistake_is_reported_with_its_place(change, pointer):
    description = json.loads(json.dumps(DESCRIPTION))
    change(description)
    with pytest.raises(PgcError) as caught:
        Federation.from_json(description)
    found = [(d.code, d.pointer) for d in caught.value.diagnostics]
    assert found[0] == ("FederationInvalid", pointer)


def test_a_file_that_is_not_a_description_is_a_clear_error(tmp_path):
    (tmp_path / "fed.json").write_text("[1, 2")
    with pytest.raises(PgcError, match="Cannot read"):
        Federation.load(tmp_path / "fed.json")
    with pytest.raises(PgcError, match="list of 'members'"):
        Federation.from_json({"members": {}})
