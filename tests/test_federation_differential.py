"""A federated run equals the single-catalog run (issue 8): random federations of 2-4
members (random collection holdings under each member's own names, random process support)
and random graphs over two collections; the split's jobs run in the local federation, where
every member sees only its own collections and results travel as STAC collections.

Both runs give the same cube (dimensions, labels, dtype, validity, values bit for bit), or
both fail with the same error code; a graph no placement satisfies is rejected at compile
time with FederationUnsatisfiable, and only when no member could run it alone. Every job's
graph is valid openEO and uses only its member's processes and collection names.
"""

from __future__ import annotations

import tempfile

from conftest import examples
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_optimizer_differential import assert_same, graphs

from pgc.errors import PgcError
from pgc.federation import Federation, federate
from pgc.federation.local import LocalFederation
from pgc.frontend.validate import validate
from pgc.runner import execute

CANONICAL = ("S2A", "S2B")  # two canonical collections with the sample's data


def nodes_in(value):
    """Every node of a graph, callbacks included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("process_id"), str):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def processes_in(value) -> set[str]:
    return {node["process_id"] for node in nodes_in(value)}


def collections_in(value) -> set[str]:
    return {
        node["arguments"]["id"]
        for node in nodes_in(value)
        if node["process_id"] == "load_collection"
    }


@st.composite
def two_collection_graphs(draw) -> dict:
    """A random graph over S2A; half the time merged with a random graph over S2B."""
    first = _renamed(draw(graphs()), "a", "S2A")
    if draw(st.booleans()):
        return first
    second = _renamed(draw(graphs()), "b", "S2B")
    nodes = {**first["process_graph"], **second["process_graph"]}
    left = next(k for k, v in first["process_graph"].items() if v.get("result"))
    right = next(k for k, v in second["process_graph"].items() if v.get("result"))
    for key in (left, right):
        nodes[key] = {k: v for k, v in nodes[key].items() if k != "result"}
    resolver = {"process_graph": {"s": {"process_id": "add", "result": True, "arguments": {
        "x": {"from_parameter": "x"}, "y": {"from_parameter": "y"}}}}}  # fmt: skip
    nodes["merged"] = {"process_id": "merge_cubes", "result": True, "arguments": {
        "cube1": {"from_node": left}, "cube2": {"from_node": right},
        "overlap_resolver": resolver}}  # fmt: skip
    return {"process_graph": nodes}


def _renamed(graph: dict, prefix: str, collection: str) -> dict:
    """The graph's node ids prefixed, its load reading ``collection``."""
    import json

    text = json.dumps(graph["process_graph"])
    nodes = json.loads(text)
    out = {}
    for key, value in nodes.items():
        value = json.loads(json.dumps(value).replace('"from_node": "n', f'"from_node": "{prefix}n'))
        if value["process_id"] == "load_collection":
            value["arguments"]["id"] = collection
        out[prefix + key] = value
    return {"process_graph": out}


@st.composite
def federations(draw, used: set[str]) -> Federation:
    """2-4 members; every collection held by one or more of them; each member supports each
    process the graph uses with probability 0.8 (save_result and load_stac 0.9)."""
    ids = [f"m{i}" for i in range(draw(st.integers(2, 4)))]
    holders = {
        c: draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids), unique=True))
        for c in CANONICAL
    }
    members = []
    for member in ids:
        # in sorted order: drawn in a set's order, the example would hang on PYTHONHASHSEED
        chance = {p: 0.9 if p in ("save_result", "load_stac") else 0.8 for p in sorted(used)}
        chance.update(save_result=0.9, load_stac=0.9)
        processes = sorted(p for p, c in chance.items() if draw(st.floats(0, 1)) < c)
        held = [c for c in CANONICAL if member in holders[c]]
        members.append({
            "id": member, "url": f"https://{member}.example",
            "collections": {c: f"{c}_{member.upper()}" for c in held},
            "processes": processes,
        })  # fmt: skip
    same = {"same_as": "SENTINEL2_L2A_SAMPLE"}
    return Federation.from_json({"members": members, "collections": dict.fromkeys(CANONICAL, same)})


def outcome_alone(graph: dict, federation: Federation):
    try:
        return ("value", execute(graph, catalog=federation.catalog()).value)
    except PgcError as exc:
        return ("error", exc.code)


def could_run_alone(graph: dict, federation: Federation) -> bool:
    needed, wanted = processes_in(graph), collections_in(graph)
    return any(
        needed <= m.processes and all(m.holds(c) for c in wanted) for m in federation.members
    )


@settings(deadline=None, max_examples=examples(200))
@given(data=st.data())
def test_a_federated_run_equals_the_single_catalog_run(data):
    graph = data.draw(two_collection_graphs())
    federation = data.draw(federations(processes_in(graph)))
    try:
        federated = federate(graph, federation)
    except PgcError as exc:
        codes = {d.code for d in exc.diagnostics}
        if codes == {"FederationUnsatisfiable"}:
            event("unsatisfiable")
            assert not could_run_alone(graph, federation), exc.diagnostics
            return
        # the graph itself is wrong: the single-catalog compile says the same
        event("invalid graph")
        assert outcome_alone(graph, federation) == ("error", exc.code)
        return
    for job in federated.split.jobs:
        document = job.to_openeo()
        assert validate(document).ok, (job.id, document)
        member = federation.member(job.member)
        assert processes_in(document) <= member.processes, job.id
        assert collections_in(document) <= set(member.collections.values()), job.id
    expected = outcome_alone(graph, federation)
    with tempfile.TemporaryDirectory() as folder:
        try:
            run = LocalFederation(federation, folder).run(federated.split)
            actual = ("value", run.value)
        except PgcError as exc:
            actual = ("error", exc.code)
    assert_same(expected, actual, "federated")
    event(f"{actual[0]}, {len(federated.split.jobs)} jobs")
    if actual[0] == "value":
        # what moved: each crossing's value once (netCDF adds a little metadata)
        assert len(run.moved) == len({c[0] for c in federated.split.crossings})
        if not federated.split.crossings:
            assert run.bytes_moved == 0
