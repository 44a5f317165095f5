"""The jobs of a federated plan (issue 22, defects found by a held-out check): each
member's work in the fewest jobs its dependencies allow."""

from __future__ import annotations

from pgc.federation.description import Federation


def two_members(a_processes: list[str]) -> Federation:
    """S2 on member a, a replica named S1 on member b; b reduces and saves, a merges."""
    return Federation.from_json({"members": [
        {"id": "a", "url": "https://a.example", "collections": {"S2": "S2"},
         "processes": a_processes},
        {"id": "b", "url": "https://b.example", "collections": {"S1": "S1"},
         "processes": ["load_collection", "reduce_dimension", "mean", "save_result"]},
    ], "collections": {"S2": {"same_as": "SENTINEL2_L2A_SAMPLE"},
                       "S1": {"same_as": "SENTINEL2_L2A_SAMPLE"}}})  # fmt: skip


def mean_of(node: str) -> dict:
    return {"process_id": "reduce_dimension", "arguments": {
        "data": {"from_node": node}, "dimension": "t", "reducer": {"process_graph": {"m": {
            "process_id": "mean", "arguments": {"data": {"from_parameter": "data"}},
            "result": True}}}}}  # fmt: skip


def merged_means() -> dict:
    extent = {"west": 600000, "south": 5690000, "east": 600500, "north": 5690500, "crs": 32631}

    def load(cid: str, band: str) -> dict:
        return {"process_id": "load_collection", "arguments": {
            "id": cid, "spatial_extent": extent, "temporal_extent": None, "bands": [band]}}

    return {"process_graph": {
        "s2": load("S2", "B04"), "s1": load("S1", "B08"),
        "s2_mean": mean_of("s2"), "s1_mean": mean_of("s1"),
        "merged": {"process_id": "merge_cubes", "result": True, "arguments": {
            "cube1": {"from_node": "s2_mean"}, "cube2": {"from_node": "s1_mean"}}},
    }}  # fmt: skip


def test_work_that_needs_no_other_member_joins_the_job_that_reads_it():
    """a's load and mean need nothing of b's: they run in the job that merges b's mean,
    not in an earlier job of a's that saves its value for a later one. So a runs one job,
    and needs no save_result (it had been declared FederationUnsatisfiable)."""
    from pgc.compiler import compile as compile_graph
    from pgc.federation.placement import place
    from pgc.federation.split import split

    fed = two_members(["load_collection", "load_stac", "reduce_dimension", "mean",
                       "merge_cubes"])  # fmt: skip
    graph = compile_graph(merged_means(), catalog=fed.catalog()).graph
    placement = place(graph, fed)
    assert {n: placement.on(n) for n in ("s2", "s2_mean", "s1", "s1_mean", "merged")} == {
        "s2": "a", "s2_mean": "a", "s1": "b", "s1_mean": "b", "merged": "a"}  # fmt: skip
    jobs = split(graph, placement, fed).jobs
    assert [(j.member, j.needs) for j in jobs] == [("b", []), ("a", [jobs[0].id])]
    assert {n.process_id for n in jobs[1].graph.nodes()} == {
        "load_collection", "reduce_dimension", "load_stac", "merge_cubes"}


def test_a_member_that_must_work_before_and_after_another_is_told_what_it_lacks():
    """a's mean feeds b's renaming, whose result a merges: a needs two jobs, and its mean
    must leave it for b, which needs save_result, which a lacks. The message says so (the
    need to pass a's value between its own jobs comes after: it lacks the same)."""
    import pytest

    from pgc.compiler import compile as compile_graph
    from pgc.errors import PgcError
    from pgc.federation.placement import place

    fed = Federation.from_json({"members": [
        {"id": "a", "url": "https://a.example", "collections": {"S2": "S2"},
         "processes": ["load_collection", "load_stac", "reduce_dimension", "mean",
                       "merge_cubes"]},
        {"id": "b", "url": "https://b.example", "collections": {},
         "processes": ["load_stac", "rename_labels", "save_result"]},
    ], "collections": {"S2": {"same_as": "SENTINEL2_L2A_SAMPLE"}}})  # fmt: skip
    document = merged_means()
    graph = document["process_graph"]
    graph["s1_mean"] = {"process_id": "rename_labels", "arguments": {
        "data": {"from_node": "s2_mean"}, "dimension": "bands", "target": ["renamed"],
        "source": ["B04"]}}
    del graph["s1"]
    with pytest.raises(PgcError) as caught:
        place(compile_graph(document, catalog=fed.catalog()).graph, fed)
    messages = [d.message for d in caught.value.diagnostics]
    assert messages == ["The value of node 's2_mean' must go from a to b (no member can run "
                        "both), but a lacks save_result."]


def test_a_name_two_members_use_for_different_collections_is_an_error_naming_both():
    """a calls its L2A SENTINEL2 and b its L1C SENTINEL2: a graph loading SENTINEL2 is
    refused, naming both; the canonical ids pick one (it had silently picked a's)."""
    import pytest

    from pgc.errors import PgcError
    from pgc.federation import federate

    fed = Federation.from_json({"members": [
        {"id": "a", "url": "https://a.example", "collections": {"S2_L2A": "SENTINEL2"},
         "processes": ["load_collection", "save_result"]},
        {"id": "b", "url": "https://b.example", "collections": {"S2_L1C": "SENTINEL2"},
         "processes": ["load_collection", "save_result"]},
    ], "collections": {"S2_L2A": {"same_as": "SENTINEL2_L2A_SAMPLE"},
                       "S2_L1C": {"same_as": "SENTINEL2_L2A_SAMPLE"}}})  # fmt: skip

    def load(name: str) -> dict:
        return {"process_graph": {"load": {"process_id": "load_collection", "result": True,
                "arguments": {"id": name, "spatial_extent": None, "temporal_extent": None,
                              "bands": ["B04"]}}}}  # fmt: skip

    with pytest.raises(PgcError) as caught:
        federate(load("SENTINEL2"), fed)
    (problem,) = caught.value.diagnostics
    assert (problem.code, problem.pointer) == (
        "ProcessParameterInvalid", "/process_graph/load/arguments/id")
    assert "member a calls 'S2_L2A' so; member b calls 'S2_L1C' so" in problem.message
    assert federate(load("S2_L1C"), fed).placement.on("load") == "b"


def replicas(a: dict, b: dict) -> Federation:
    """S2 on a and on b (members' extra keys in ``a``/``b``); only c applies."""
    from pgc.specs import load_specs

    every = sorted(load_specs().ids())
    holders = ["load_collection", "reduce_dimension", "mean", "save_result"]
    return Federation.from_json({"members": [
        {"id": "a", "url": "https://a.example", "collections": {"S2": "S2"},
         "processes": holders, **a},
        {"id": "b", "url": "https://b.example", "collections": {"S2": "S2"},
         "processes": holders, **b},
        {"id": "c", "url": "https://c.example", "collections": {}, "processes": every},
    ], "collections": {"S2": {"same_as": "SENTINEL2_L2A_SAMPLE"}}})  # fmt: skip


def mean_then_apply() -> dict:
    graph = merged_means()["process_graph"]
    return {"process_graph": {
        "s2": graph["s2"], "s2_mean": graph["s2_mean"],
        "scaled": {"process_id": "apply", "result": True, "arguments": {
            "data": {"from_node": "s2_mean"}, "process": {"process_graph": {"x": {
                "process_id": "absolute", "arguments": {"x": {"from_parameter": "x"}},
                "result": True}}}}},
    }}  # fmt: skip


def test_the_member_that_charges_no_egress_sends_the_value():
    """a and b hold the same data and send the same bytes to c; a charges for egress (it
    was placed on a, the first, all else being equal). Bytes moved are the bytes."""
    from pgc.federation import federate

    charged = federate(mean_then_apply(), replicas({"cost": {"egress_per_gb": 0.09}}, {}))
    assert charged.placement.on("s2_mean") == "b"
    free = federate(mean_then_apply(), replicas({}, {}))
    assert free.placement.on("s2_mean") == "a"
    assert charged.placement.bytes_moved == free.placement.bytes_moved > 0


def test_a_member_that_cannot_take_filters_reads_the_whole_collection():
    """Same bytes to c either way; a reads the whole collection (its loads take no
    filter), b only the extent: b loads (it was a, the first)."""
    from pgc.federation import federate

    placed = federate(mean_then_apply(), replicas({"filters": "none"}, {})).placement
    assert placed.on("s2") == placed.on("s2_mean") == "b"
    placed = federate(mean_then_apply(), replicas({}, {"filters": "none"})).placement
    assert placed.on("s2") == "a"


def test_a_zonal_statistic_sent_between_members_is_estimated_with_its_geometries(tmp_path):
    """aggregate_spatial over four fields on a, the rest on b: the vector cube sent
    carries the fields' geometries and an exchange file; the estimate counts both (it
    was 576 B for 13.3 kB measured)."""
    from pgc.federation import federate
    from pgc.federation.local import LocalFederation

    fed = Federation.from_json({"members": [
        {"id": "a", "url": "https://a.example", "collections": {"S2": "S2"},
         "processes": ["load_collection", "aggregate_spatial", "mean", "save_result"]},
        {"id": "b", "url": "https://b.example", "collections": {},
         "processes": ["load_stac", "apply", "absolute", "save_result"]},
    ], "collections": {"S2": {"same_as": "SENTINEL2_L2A_SAMPLE"}}})  # fmt: skip
    fields = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": i}, "geometry": {"type": "Polygon",
         "coordinates": [[[x, y], [x + 0.005, y], [x + 0.005, y + 0.004], [x, y + 0.004],
                          [x, y]]]}}
        for i, (x, y) in enumerate([(4.445, 51.36), (4.465, 51.37), (4.485, 51.38),
                                    (4.45, 51.38)])]}  # fmt: skip
    extent = None
    document = {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {
            "id": "S2", "spatial_extent": extent, "temporal_extent": ["2023-01-01", "2023-04-01"],
            "bands": ["B04"]}},
        "zonal": {"process_id": "aggregate_spatial", "arguments": {
            "data": {"from_node": "load"}, "geometries": fields, "reducer": {"process_graph": {
                "m": {"process_id": "mean", "arguments": {"data": {"from_parameter": "data"}},
                      "result": True}}}}},
        "abs": {"process_id": "apply", "result": True, "arguments": {
            "data": {"from_node": "zonal"}, "process": {"process_graph": {"x": {
                "process_id": "absolute", "arguments": {"x": {"from_parameter": "x"}},
                "result": True}}}}},
    }}  # fmt: skip
    federated = federate(document, fed)
    zonal = federated.plan.graph.node("zonal").type
    assert zonal.geometry_bytes == 4 * 5 * 2 * 8  # four rings of five points
    run = LocalFederation(fed, tmp_path).run(federated.split)
    estimated, measured = federated.split.bytes_moved, run.bytes_moved
    assert measured / 1.5 <= estimated <= measured, (estimated, measured)


def test_member_ids_with_slashes_become_safe_job_files(tmp_path):
    """Issue 22's defect 5 (already fixed by pgc.data.safepaths.path_component, kept here):
    a member id 'vito/terrascope' writes its job inside the folder, named safely."""
    import json

    from pgc.federation import federate
    from pgc.federation.split import write_jobs

    fed = Federation.from_json({"members": [
        {"id": "vito/terrascope", "url": "https://a.example", "collections": {"S2": "S2"},
         "processes": ["load_collection", "reduce_dimension", "mean", "save_result"]},
        {"id": "../eodc", "url": "https://b.example", "collections": {},
         "processes": ["load_stac", "apply", "absolute", "save_result"]},
    ], "collections": {"S2": {"same_as": "SENTINEL2_L2A_SAMPLE"}}})  # fmt: skip
    graph = merged_means()["process_graph"]
    document = {"process_graph": {"s2": graph["s2"], "s2_mean": graph["s2_mean"],
                                  "abs": mean_then_apply()["process_graph"]["scaled"]}}  # fmt: skip
    document["process_graph"]["abs"]["arguments"]["data"] = {"from_node": "s2_mean"}
    plan = write_jobs(federate(document, fed).split, tmp_path / "jobs")
    written = sorted(p.name for p in (tmp_path / "jobs").iterdir())
    assert len(written) == 3 and all("/" not in n for n in written)
    files = [job["file"] for job in json.loads(plan.read_text())["jobs"]]
    assert all((tmp_path / "jobs" / f).is_file() for f in files)
    assert not (tmp_path / "eodc-1.json").exists()
