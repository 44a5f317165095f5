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


# -- placement ---------------------------------------------------------------------------------

S2 = {"same_as": "SENTINEL2_L2A_SAMPLE"}
EVERYTHING = None  # every process of the specs


def federation(*members) -> Federation:
    from pgc.specs import load_specs

    every = load_specs().ids()
    return Federation.from_json({"members": [
        {"id": i, "url": f"https://{i}.example", "collections": held,
         "processes": every if processes is EVERYTHING else processes}
        for i, held, processes in members], "collections": {"S2": S2}})  # fmt: skip


def composite_graph() -> dict:
    """Load a year (12 dates) of two bands, mean over time, then scale each pixel."""
    return {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {
            "id": "S2", "spatial_extent": None, "temporal_extent": None,
            "bands": ["B04", "B08"]}},
        "mean": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "load"}, "dimension": "t", "reducer": {"process_graph": {
                "m": {"process_id": "mean", "arguments": {"data": {"from_parameter": "data"}},
                      "result": True}}}}},
        "scaled": {"process_id": "apply", "result": True, "arguments": {
            "data": {"from_node": "mean"}, "process": {"process_graph": {
                "x": {"process_id": "multiply", "arguments": {"x": {"from_parameter": "x"},
                                                              "y": 0.0001}, "result": True}}}}},
    }}  # fmt: skip


def plan_on(fed: Federation, document: dict):
    from pgc.compiler import compile as compile_graph

    return compile_graph(document, catalog=fed.catalog()).graph


def test_everything_where_the_data_is_moves_nothing():
    from pgc.federation.placement import place

    fed = federation(("a", {"S2": "S2"}, EVERYTHING), ("b", {}, EVERYTHING))
    placement = place(plan_on(fed, composite_graph()), fed)
    assert set(placement.members.values()) == {"a"} and placement.bytes_moved == 0
    assert placement.exact


def test_a_reduction_runs_before_the_data_moves():
    """The data's member cannot apply; it can reduce over time: the mean crosses (two
    float64 values per pixel), not the load (12 dates x two uint16 bands: 3x more)."""
    from pgc.federation.placement import EXCHANGE_BYTES, node_bytes, place

    fed = federation(
        ("a", {"S2": "S2"}, ["load_collection", "reduce_dimension", "mean", "save_result"]),
        ("b", {}, EVERYTHING),
    )
    graph = plan_on(fed, composite_graph())
    placement = place(graph, fed)
    assert (placement.on("load"), placement.on("mean"), placement.on("scaled")) == ("a", "a", "b")
    # each value sent costs its bytes and the exchange file's fixed part (issue 22)
    assert placement.bytes_moved == node_bytes(graph.node("mean")) + EXCHANGE_BYTES
    assert (placement.bytes_moved - EXCHANGE_BYTES) * 3 == node_bytes(graph.node("load"))


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([("a", {}, EVERYTHING)], "No member holds collection 'S2'"),
        ([("a", {"S2": "S2"}, ["load_collection"])], "a lacks apply, multiply"),
        (  # the work must move from a to b, and a cannot save it
            [("a", {"S2": "S2"}, ["load_collection"]), ("b", {}, EVERYTHING)],
            "must go from a to b (no member can run both), but a lacks save_result",
        ),
    ],
)
def test_a_graph_no_placement_satisfies_says_what_is_missing_where(members, message):
    from pgc.federation.placement import place

    fed = federation(*members)
    with pytest.raises(PgcError) as caught:
        place(plan_on(federation(("x", {"S2": "S2"}, EVERYTHING)), composite_graph()), fed)
    codes = {d.code for d in caught.value.diagnostics}
    assert codes == {"FederationUnsatisfiable"}
    assert any(message in d.message for d in caught.value.diagnostics), caught.value.diagnostics


def test_the_split_saves_where_the_value_leaves_and_loads_where_it_arrives():
    from pgc.federation.placement import place
    from pgc.federation.split import split
    from pgc.frontend.validate import validate

    fed = federation(
        ("a", {"S2": "TERRASCOPE_S2"}, ["load_collection", "reduce_dimension", "mean",
                                        "save_result"]),
        ("b", {}, EVERYTHING),
    )  # fmt: skip
    graph = plan_on(fed, composite_graph())
    result = split(graph, place(graph, fed), fed)
    assert [(j.id, j.member, j.needs) for j in result.jobs] == [
        ("a-0", "a", []),
        ("b-1", "b", ["a-0"]),
    ]
    first, second = (j.to_openeo()["process_graph"] for j in result.jobs)
    assert first["load"]["arguments"]["id"] == "TERRASCOPE_S2"  # the member's own name
    assert first["save_mean"] == {"process_id": "save_result", "result": True, "arguments": {
        "data": {"from_node": "mean"}, "format": "netCDF",
        "options": {"pgc_exchange": True}}}  # the exact form; fmt: skip
    assert second["load_mean"]["arguments"] == {"url": "https://pgc-federation.invalid/a-0/mean"}
    assert second["scaled"]["arguments"]["data"] == {"from_node": "load_mean"}
    assert result.crossings == [("mean", "a", "b", result.bytes_moved)]
    for job in result.jobs:  # every job validates and uses only its member's processes
        document = job.to_openeo()
        assert validate(document).ok
        used = {n["process_id"] for n in document["process_graph"].values()}
        assert used <= fed.member(job.member).processes


def test_federate_compiles_with_any_members_names_and_beats_both_baselines():
    """The graph names the collection as member a does; pgc reduces before moving, the
    load_collection split moves the load, and a cut forced only by process support keeps
    the reduction where apply is supported as well."""
    from pgc.federation import federate

    fed = federation(
        ("a", {"S2": "TERRASCOPE_S2"}, ["load_collection", "reduce_dimension", "mean",
                                        "save_result"]),
        ("b", {}, EVERYTHING),
    )  # fmt: skip
    document = json.loads(json.dumps(composite_graph()))
    document["process_graph"]["load"]["arguments"]["id"] = "TERRASCOPE_S2"
    result = federate(document, fed)
    (_, split_bytes), (_, cut_bytes) = result.baselines.values()
    from pgc.federation.placement import EXCHANGE_BYTES

    fixed = EXCHANGE_BYTES  # each value sent: its bytes and the exchange file's fixed part
    assert (result.split.bytes_moved - fixed) * 3 == split_bytes - fixed  # the mean, not the load
    assert cut_bytes == result.split.bytes_moved  # a runs the mean too, then b must apply
    text = result.explain()
    assert "%mean = reduce_dimension(...) on a  # crosses a -> b" in text
    assert "# job b-1 on b after a-0" in text


def test_cli_compile_and_explain_with_a_federation(tmp_path, capsys):
    from pgc.cli import main

    description = {"members": [
        {"id": "a", "url": "https://a.example", "collections": {"S2": "TERRASCOPE_S2"},
         "processes": ["load_collection", "reduce_dimension", "mean", "save_result"]},
        {"id": "b", "url": "https://b.example", "processes": ["load_stac", "apply", "multiply"]},
    ], "collections": {"S2": S2}}  # fmt: skip
    (tmp_path / "fed.json").write_text(json.dumps(description))
    (tmp_path / "graph.json").write_text(json.dumps(composite_graph()))
    fed, graph = str(tmp_path / "fed.json"), str(tmp_path / "graph.json")
    assert main(["explain", graph, "--federation", fed]) == 0
    assert "%scaled = apply(...) on b" in capsys.readouterr().out
    assert main(["compile", graph, "--federation", fed, "-o", str(tmp_path / "out")]) == 0
    plan = json.loads((tmp_path / "out" / "plan.json").read_text())
    assert [j["id"] for j in plan["jobs"]] == ["a-0", "b-1"]
    job = json.loads((tmp_path / "out" / "b-1.json").read_text())
    assert job["process_graph"]["load_mean"]["process_id"] == "load_stac"
    description["members"][1]["processes"] = ["load_stac"]  # nobody can apply now
    (tmp_path / "fed.json").write_text(json.dumps(description))
    assert main(["explain", graph, "--federation", fed]) == 1
    assert "FederationUnsatisfiable at /process_graph/scaled" in capsys.readouterr().out


# -- the local federation ----------------------------------------------------------------------


def same_cube(a, b) -> None:
    """Equal dimensions, labels, dtype, validity, and values where there is data."""
    import numpy as np

    assert a.dims == b.dims and a.data.dtype == b.data.dtype
    for dim in a.dims:
        np.testing.assert_array_equal(a.data[dim].values, b.data[dim].values)
    ok_a = np.broadcast_to(a.valid.values, a.data.shape)
    np.testing.assert_array_equal(ok_a, np.broadcast_to(b.valid.values, b.data.shape))
    np.testing.assert_array_equal(
        np.where(ok_a, a.data.values, 0), np.where(ok_a, b.data.values, 0)
    )


def test_the_local_federation_gives_the_single_catalog_result_and_counts_the_bytes(tmp_path):
    from pgc.federation import federate
    from pgc.federation.local import LocalFederation
    from pgc.runner import execute

    fed = federation(
        ("a", {"S2": "TERRASCOPE_S2"}, ["load_collection", "reduce_dimension", "mean",
                                        "save_result"]),
        ("b", {}, EVERYTHING),
    )  # fmt: skip
    result = federate(composite_graph(), fed)
    local = LocalFederation(fed, tmp_path)
    with pytest.raises(PgcError, match="Collection 'S2' does not exist"):
        execute(composite_graph(), catalog=local.catalog_of("a"))  # only its own names
    run = local.run(result.split)
    whole = execute(composite_graph(), catalog=fed.catalog())
    same_cube(run.value, whole.value)
    (url,) = run.moved
    assert url == "https://pgc-federation.invalid/a-0/mean"
    # the mean's values (float64, 2 bands of 512 x 512) and a little metadata moved
    assert result.split.bytes_moved <= run.bytes_moved < result.split.bytes_moved * 1.05
    assert (tmp_path / "a-0" / "mean" / "collection.json").is_file()


def test_an_exchanged_cube_reads_back_exactly_and_load_stac_cuts_it(tmp_path):
    """Values in their dtype, NaN values apart from no-data, labels and attributes; the
    extents and bands load_stac is given select from the cube."""
    import numpy as np
    import xarray as xr

    from pgc.executors import exchange
    from pgc.executors.values import Cube
    from pgc.runner import execute

    times = np.array(["2023-01-10", "2023-02-10", "2023-03-10"], dtype="datetime64[ns]")
    data = xr.DataArray(
        np.arange(3 * 2 * 2 * 3, dtype="float32").reshape(3, 2, 2, 3),
        dims=("t", "bands", "y", "x"),
        coords={"t": times, "bands": ["B04", "B08"], "y": [5694995.0, 5694985.0],
                "x": [600005.0, 600015.0, 600025.0]},
        attrs={"crs": "32631", "nodata": None},
    )  # fmt: skip
    data[0, 0, 0, 0] = np.nan  # a value
    valid = xr.ones_like(data, dtype=bool)
    valid[1, 1, 1, 1] = False
    cube = Cube(data, valid)
    exchange.write(cube, tmp_path / "x", "x")
    back = exchange.read(tmp_path / "x")
    same_cube(back, cube)
    assert np.isnan(back.data.values[0, 0, 0, 0]) and back.data.attrs == data.attrs

    def load(**arguments):
        graph = {"l": {"process_id": "load_stac", "result": True,
                       "arguments": {"url": "https://x.example/x", **arguments}}}  # fmt: skip
        return execute(graph, resolver=lambda url: tmp_path / "x").value

    part = load(bands=["B08"], temporal_extent=["2023-02-01", None],
                spatial_extent={"west": 600010, "east": 600030, "south": 5694980,
                                "north": 5695000, "crs": 32631})  # fmt: skip
    same_cube(part, cube.isel({"t": [1, 2], "x": [1, 2]}).sel({"bands": ["B08"]}))
    with pytest.raises(PgcError, match="no band 'B02'"):
        load(bands=["B02"])


def test_labels_that_grew_after_an_exchange_are_exchanged_whole(tmp_path):
    """Regression (issue 8, found by the federated differential test in CI): a cube read
    from an exchange kept the file's label dtype ('<U2') as its encoding; merged with
    longer labels and exchanged again, xarray wrote 'r10' as 'r1'."""
    import numpy as np
    import xarray as xr

    from pgc.executors import exchange
    from pgc.executors.values import Cube
    from pgc.runner import execute

    def cube(bands):
        data = xr.DataArray(
            np.arange(len(bands) * 2, dtype="float64").reshape(len(bands), 1, 2),
            dims=("bands", "y", "x"),
            coords={"bands": bands, "y": [5694995.0], "x": [600005.0, 600015.0]},
            attrs={"crs": "32631"},
        )
        return Cube(data, xr.DataArray(True))

    exchange.write(cube(["r0"]), tmp_path / "a", "a")
    exchange.write(cube(["r10", "r11"]), tmp_path / "b", "b")
    graph = {
        "a": {"process_id": "load_stac", "arguments": {"url": "https://x.example/a"}},
        "b": {"process_id": "load_stac", "arguments": {"url": "https://x.example/b"}},
        "m": {"process_id": "merge_cubes", "result": True, "arguments": {
            "cube1": {"from_node": "a"}, "cube2": {"from_node": "b"}}},
    }  # fmt: skip
    merged = execute(graph, resolver=lambda url: tmp_path / url.rsplit("/", 1)[1]).value
    assert list(merged.data["bands"].values) == ["r0", "r10", "r11"]
    exchange.write(merged, tmp_path / "m", "m")
    same_cube(exchange.read(tmp_path / "m"), merged)


def test_cli_reports_federation_mistakes_with_line_and_column(tmp_path, capsys):
    from pgc.cli import main

    (tmp_path / "fed.json").write_text(
        '{"members": [\n  {"id": "a", "url": "https://a.example", "filters": "sometimes",\n'
        '   "processes": []}\n], "collections": {}}\n'
    )
    (tmp_path / "graph.json").write_text(json.dumps(composite_graph()))
    assert main(["explain", str(tmp_path / "graph.json"), "--federation",
                 str(tmp_path / "fed.json")]) == 1  # fmt: skip
    out = capsys.readouterr().out
    assert "fed.json:2:43: error FederationInvalid at /members/0/filters" in out, out


def test_a_graph_one_member_can_run_alone_is_placed_when_the_search_is_not_exact():
    """Regression (issue 8, found by the federated differential test): a graph with a shared
    value and too many choices to try them all was declared unsatisfiable, though m2 runs
    every node; the local search from the tree's placement never reached it."""
    from pgc.federation import federate

    box = {"west": 600000, "east": 600040, "north": 5695000, "south": 5694960, "crs": 32631}
    add = {
        "process_graph": {
            "s": {
                "process_id": "add",
                "result": True,
                "arguments": {"x": {"from_parameter": "x"}, "y": {"from_parameter": "y"}},
            }
        }
    }
    graph = {"process_graph": {
        "a0": {"process_id": "load_collection", "arguments": {
            "id": "S2A", "spatial_extent": box, "temporal_extent": None,
            "bands": ["B01", "B02"]}},
        "a1": {"process_id": "filter_temporal", "arguments": {
            "data": {"from_node": "a0"}, "extent": ["2023-01-10", "2023-02-10"]}},
        "a2": {"process_id": "apply", "arguments": {
            "data": {"from_node": "a1"}, "process": {"process_graph": {
                "m": {"process_id": "multiply", "arguments": {
                    "x": {"from_parameter": "x"}, "y": 0.5}},
                "a": {"process_id": "add", "result": True, "arguments": {
                    "x": {"from_node": "m"}, "y": 1}}}}}},
        "a3": {"process_id": "filter_bands", "arguments": {
            "data": {"from_node": "a2"}, "bands": ["B01", "B02"]}},
        "a4": {"process_id": "apply_kernel", "arguments": {
            "data": {"from_node": "a3"}, "kernel": [[1, 1, 1], [1, 1, 1], [1, 1, 1]]}},
        "a5": {"process_id": "filter_temporal", "arguments": {
            "data": {"from_node": "a4"}, "extent": ["2023-12-10", "2024-01-01"]}},
        "a6": {"process_id": "filter_bands", "arguments": {
            "data": {"from_node": "a5"}, "bands": ["B01"]}},
        "b0": {"process_id": "load_collection", "arguments": {
            "id": "S2B", "spatial_extent": box, "temporal_extent": None, "bands": None}},
        "b1": {"process_id": "apply", "arguments": {
            "data": {"from_node": "b0"}, "process": {"process_graph": {
                "c": {"process_id": "lt", "result": True, "arguments": {
                    "x": {"from_parameter": "x"}, "y": 900}}}}}},
        "b2": {"process_id": "mask", "arguments": {
            "data": {"from_node": "b0"}, "mask": {"from_node": "b1"}}},
        "b3": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "b2"}, "dimension": "bands", "reducer": {"process_graph": {
                "p": {"process_id": "array_element", "arguments": {
                    "data": {"from_parameter": "data"}, "label": "B01"}},
                "r": {"process_id": "normalized_difference", "result": True, "arguments": {
                    "x": {"from_node": "p"}, "y": {"from_node": "p"}}}}}}},
        "b4": {"process_id": "filter_bbox", "arguments": {
            "data": {"from_node": "b3"}, "extent": {**box, "east": 600010, "south": 5694990}}},
        "merged": {"process_id": "merge_cubes", "result": True, "arguments": {
            "cube1": {"from_node": "a6"}, "cube2": {"from_node": "b4"},
            "overlap_resolver": add}},
    }}  # fmt: skip
    used = ["add", "apply", "apply_kernel", "array_element", "filter_bands", "filter_bbox",
            "load_collection", "load_stac", "lt", "mask", "merge_cubes", "multiply",
            "normalized_difference"]  # fmt: skip
    both = {"S2A": {"same_as": "SENTINEL2_L2A_SAMPLE"}, "S2B": {"same_as": "SENTINEL2_L2A_SAMPLE"}}
    members = [
        ("m0", [*used, "save_result"]),  # no filter_temporal, no reduce_dimension
        ("m1", [*used, "filter_temporal", "reduce_dimension"]),  # no save_result
        ("m2", [*used, "filter_temporal", "reduce_dimension", "save_result"]),  # everything
    ]
    fed = Federation.from_json({"members": [
        {"id": m, "url": f"https://{m}.example", "processes": processes,
         "collections": {"S2A": f"S2A_{m.upper()}", "S2B": f"S2B_{m.upper()}"}}
        for m, processes in members], "collections": both})  # fmt: skip
    federated = federate(graph, fed)
    assert federated.placement.bytes_moved == 0  # m2 runs it all
