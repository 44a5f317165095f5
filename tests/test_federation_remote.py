"""A federated run over real openEO back-ends (issue 22): three ``pgc serve`` members on
loopback, each with its own data folder, catalog and process set; ``pgc federation
describe`` writes the description from their APIs, ``pgc federate run`` runs the split as
batch jobs with the openEO client, values passed on through the members' signed result
links. The result equals a single-catalog run; the bytes that crossed are read from the
members' logs; a member killed mid-run is a clear error and leaves no job running."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openeo_driver", reason="pgc serve needs openeo-driver (README: pgc serve)")
pytest.importorskip("openeo", reason="the federated run uses the openEO client")

from test_server import PASSWORDS, WINDOW, Server  # noqa: E402

import pgc  # noqa: E402
from pgc.cli import main  # noqa: E402
from pgc.server.config import hash_password  # noqa: E402

S2 = "SENTINEL2_L2A_SAMPLE"
S1_DATES = ["2023-06-04T05:50:00Z", "2023-06-16T05:50:00Z", "2023-06-28T05:50:00Z"]
TIME = ["2023-06-01", "2023-07-15"]


def s1_folder(folder: Path, cid: str) -> Path:
    """A file-backed Sentinel-1-like collection ``cid`` on WINDOW's 10 m grid of the S2
    sample (64 x 64 px, VV and VH, three dates), the same values under any id."""
    import rasterio
    from rasterio.transform import from_origin

    west, north = WINDOW["west"], WINDOW["north"]
    rng = np.random.default_rng(7)
    (folder / "items").mkdir(parents=True)
    for date in S1_DATES:
        assets = {}
        for band in ("VV", "VH"):
            values = rng.gamma(4.0, 0.02, size=(64, 64)).astype(np.float32)
            path = folder / "items" / f"{date[:10]}_{band}.tif"
            with rasterio.open(path, "w", driver="GTiff", height=64, width=64, count=1,
                               dtype="float32", crs="EPSG:32631",
                               transform=from_origin(west, north, 10, 10)) as dst:  # fmt: skip
                dst.write(values, 1)
            assets[band] = {"href": path.name, "type": "image/tiff; application=geotiff"}
        item = {"type": "Feature", "stac_version": "1.0.0", "id": date[:10], "geometry": None,
                "properties": {"datetime": date}, "assets": assets, "links": []}  # fmt: skip
        (folder / "items" / f"{date[:10]}.json").write_text(json.dumps(item))
    grid = {"type": "spatial", "step": 10, "reference_system": 32631}
    stac = {
        "type": "Collection", "stac_version": "1.0.0", "id": cid, "license": "Apache-2.0",
        "description": "Sentinel-1-like backscatter, synthetic, for the federation test.",
        "extent": {"spatial": {"bbox": [[4.437, 51.31, 4.447, 51.32]]},
                   "temporal": {"interval": [[S1_DATES[0], S1_DATES[-1]]]}},
        "cube:dimensions": {
            "x": {**grid, "axis": "x", "extent": [west, west + 640]},
            "y": {**grid, "axis": "y", "extent": [north - 640, north]},
            "t": {"type": "temporal", "extent": [S1_DATES[0], S1_DATES[-1]], "values": S1_DATES},
            "bands": {"type": "bands", "values": ["VV", "VH"]},
        },
        "summaries": {"raster:bands": [{"name": "VV", "data_type": "float32"},
                                       {"name": "VH", "data_type": "float32"}]},
        "links": [{"rel": "item", "href": f"items/{d[:10]}.json"} for d in S1_DATES],
    }  # fmt: skip
    (folder / "collection.json").write_text(json.dumps(stac))
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def member(folder: Path, port: int, others: list[int], collections=(), samples=True,
           exclude=()) -> Server:  # fmt: skip
    """A started ``pgc serve`` on ``port`` with its own data folder, allowed to read the
    other members' results."""
    folder.mkdir()
    hosts = [f"http://127.0.0.1:{p}" for p in others]
    (folder / "pgc.toml").write_text(
        f'[server]\nport = {port}\ndata = "data"\nworkers = 2\n'
        f"allowed_hosts = {json.dumps(hosts)}\n\n[users]\n"
        f'alice = "{hash_password(PASSWORDS["alice"], iterations=1000)}"\n\n'
        f"[catalog]\ncollections = {json.dumps([str(c) for c in collections])}\n"
        f"samples = {'true' if samples else 'false'}\n\n"
        f"[processes]\nexclude = {json.dumps(list(exclude))}\n"
    )
    return Server(folder).start()


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    """a: the S2 sample, no merge_cubes; b: S1 as ``S1_GRD``, no merge_cubes; c: the same
    S1 as ``sentinel-1-grd``, no apply_kernel. No files shared."""
    root = tmp_path_factory.mktemp("federation")
    ports = [free_port() for _ in range(3)]
    servers = {}
    try:
        for name, port, kwargs in (
            ("a", ports[0], {"exclude": ["merge_cubes"]}),
            ("b", ports[1], {"collections": [s1_folder(root / "s1-b", "S1_GRD")],
                             "samples": False, "exclude": ["merge_cubes"]}),
            ("c", ports[2], {"collections": [s1_folder(root / "s1-c", "sentinel-1-grd")],
                             "samples": False, "exclude": ["apply_kernel"]}),
        ):  # fmt: skip
            others = [p for p in ports if p != port]
            servers[name] = member(root / name, port, others, **kwargs)
        yield servers, root
    finally:
        for server in servers.values():
            server.stop()


def n(process_id: str, **arguments) -> dict:
    return {"process_id": process_id, "arguments": arguments}


def reducer(process_id: str, **extra) -> dict:
    return {"process_graph": {"r": {**n(process_id, data={"from_parameter": "data"}, **extra),
                                    "result": True}}}  # fmt: skip


def crop_graph(s1_name: str, kernel: int | None = None, extent=WINDOW) -> dict:
    """Mean NDVI (S2) and mean VH/VV (S1) merged, saved as netCDF; ``kernel``: smooth the
    NDVI with a kernel of that size first (heavy work)."""
    ratio = {"process_graph": {
        "vv": n("array_element", data={"from_parameter": "data"}, label="VV"),
        "vh": n("array_element", data={"from_parameter": "data"}, label="VH"),
        "r": {**n("divide", x={"from_node": "vh"}, y={"from_node": "vv"}), "result": True}}}
    nodes = {
        "s2": n("load_collection", id=S2, spatial_extent=extent, temporal_extent=TIME,
                bands=["B04", "B08"]),
        "ndvi": n("ndvi", data={"from_node": "s2"}),
        "ndvi_mean": n("reduce_dimension", data={"from_node": "ndvi"}, dimension="t",
                       reducer=reducer("mean")),
        "s1": n("load_collection", id=s1_name, spatial_extent=WINDOW, temporal_extent=TIME,
                bands=["VV", "VH"]),
        "ratio": n("reduce_dimension", data={"from_node": "s1"}, dimension="bands",
                   reducer=ratio),
        "ratio_mean": n("reduce_dimension", data={"from_node": "ratio"}, dimension="t",
                        reducer=reducer("mean")),
        "merged": n("merge_cubes", cube1={"from_node": "ndvi_mean"},
                    cube2={"from_node": "ratio_mean"},
                    overlap_resolver={"process_graph": {"s": {**n(
                        "add", x={"from_parameter": "x"}, y={"from_parameter": "y"}),
                        "result": True}}}),
        "save": {**n("save_result", data={"from_node": "merged"}, format="netCDF"),
                 "result": True},
    }  # fmt: skip
    if kernel is not None:
        weights = [[1.0 / kernel**2] * kernel for _ in range(kernel)]
        nodes["smooth"] = n("apply_kernel", data={"from_node": "ndvi"}, kernel=weights)
        nodes["ndvi_mean"]["arguments"]["data"] = {"from_node": "smooth"}
    return {"process_graph": nodes}


def credentials(path: Path) -> Path:
    path.write_text(f'["*"]\nuser = "alice"\npassword = "{PASSWORDS["alice"]}"\n')
    return path


def test_a_graph_runs_across_three_members_equal_to_one_catalog(members, tmp_path, capsys):
    servers, root = members
    a, b, c = servers["a"], servers["b"], servers["c"]
    fed = tmp_path / "fed.toml"
    assert main(["federation", "describe", a.url, b.url, c.url, "-o", str(fed)]) == 0
    capsys.readouterr()
    # the graph names S1 as member c does; the description knows b holds it as S1_GRD
    graph = tmp_path / "crops.json"
    graph.write_text(json.dumps(crop_graph("sentinel-1-grd")))
    out = tmp_path / "crops.nc"
    code = main(["federate", "run", str(graph), "--federation", str(fed), "-o", str(out),
                 "--credentials", str(credentials(tmp_path / "creds.toml"))])  # fmt: skip
    printed = capsys.readouterr()
    assert code == 0, printed.err
    print(printed.err, printed.out)  # shown with -s
    # one catalog holding everything (S1 under c's name) gives the same result
    from pgc.data.catalog import build_catalog

    single = pgc.Session(catalog=build_catalog((root / "s1-c",)))
    expected = tmp_path / "single.nc"
    single.execute(crop_graph("sentinel-1-grd"), output=expected)
    import xarray as xr

    with xr.open_dataset(out) as got, xr.open_dataset(expected) as want:
        assert set(got.data_vars) == set(want.data_vars)
        for name in want.data_vars:
            assert np.array_equal(got[name].values, want[name].values, equal_nan=True)
    # the merge ran where S2 is not (a lacks merge_cubes): one value crossed to c
    assert "job(s)" in printed.err and "finished" in printed.err
    line = next(x for x in printed.out.splitlines() if x.startswith("between members"))
    sent = int(line.split(" sent (")[1].split(" B")[0])
    received = int(line.split("B received")[0].rsplit(" ", 2)[-2].strip(" ,"))
    estimate = int(line.rsplit("(", 1)[1].split(" B")[0])
    assert sent == received > 0  # the producer's log and the consumer's agree
    assert 0.5 < sent / estimate < 2.0  # the estimate is of the value in memory


def test_the_runner_reports_bytes_from_the_logs(members, tmp_path):
    """The same through the library: the run's jobs, the bytes per exchanged value."""
    from pgc.federation import Federation, federate
    from pgc.federation.describe import describe
    from pgc.federation.remote import RemoteFederation, connector

    servers, _ = members
    description, _ = describe([s.url for s in servers.values()])
    fed = Federation.from_json(description)
    result = federate(crop_graph("S1_GRD"), fed)
    runner = RemoteFederation(fed, connector({m.id: ("alice", PASSWORDS["alice"])
                                              for m in fed.members}))  # fmt: skip
    run = runner.run(result.split, tmp_path / "out.nc")
    assert set(run.jobs) == {j.id for j in result.split.jobs} and len(run.jobs) == 2
    assert set(run.sent) == {url for url, who in result.split.readers.items()
                             if len(who) == 1}  # fmt: skip
    assert run.bytes_sent == run.bytes_received > 0
    assert run.written == [tmp_path / "out.nc"]


def test_a_member_killed_mid_run_names_it_and_leaves_no_job_running(members, tmp_path):
    """a smooths NDVI over the whole sample (seconds of work) while b reduces S1; both for
    c, which merges. b is killed once its job is started, with a's running: the error
    names b and its job, and a's job is canceled. (b is a member of its own here: the
    others stay up for other tests.)"""
    import openeo

    from pgc.federation import Federation, federate
    from pgc.federation.remote import RemoteFederation, RunFailed, connector
    from pgc.specs import load_specs

    servers, root = members
    a, c = servers["a"], servers["c"]
    b = member(tmp_path / "b", free_port(), [], samples=False,
               collections=[s1_folder(tmp_path / "s1", "S1_GRD")])  # fmt: skip
    everything = load_specs().ids()
    without_merge = [p for p in everything if p != "merge_cubes"]
    fed = Federation.from_json({
        "members": [
            {"id": "a", "url": a.url, "collections": {S2: S2}, "processes": without_merge},
            {"id": "b", "url": b.url, "collections": {"S1": "S1_GRD"},
             "processes": without_merge},
            {"id": "c", "url": c.url, "collections": {}, "processes": everything},
        ],
        "collections": {S2: {"same_as": S2},
                        "S1": {"stac": str(tmp_path / "s1" / "collection.json")}},
    }, base=tmp_path)  # fmt: skip
    whole = {"west": 600000, "south": 5689880, "east": 605120, "north": 5695000, "crs": 32631}
    graph = crop_graph("S1", kernel=31, extent=whole)
    graph["process_graph"]["s1"]["arguments"]["spatial_extent"] = whole
    result = federate(graph, fed)
    assert sorted(j.member for j in result.split.jobs) == ["a", "b", "c"]

    def progress(line: str) -> None:
        # killed once its job is started: a job of a few seconds could otherwise finish
        # between two looks at its status
        if "on member b: started" in line and b.process is not None:
            b.stop(kill=True)

    runner = RemoteFederation(fed, connector({m: ("alice", PASSWORDS["alice"]) for m in "abc"}),
                              progress=progress, backoff=(0.2, 0.4))  # fmt: skip
    try:
        with pytest.raises(RunFailed) as failed:
            runner.run(result.split, tmp_path / "never.nc")
    finally:
        b.stop(kill=True)
    message = failed.value.diagnostics[0].message
    b_job = next(j.id for j in result.split.jobs if j.member == "b")
    assert failed.value.diagnostics[0].code == "ServiceUnavailable"
    assert f"job {b_job}" in message and "member b" in message and b.url in message
    assert "Canceled: job a-" in message
    con = openeo.connect(a.url).authenticate_basic("alice", PASSWORDS["alice"])
    statuses = [j["status"] for j in con.list_jobs()]
    assert "running" not in statuses and "queued" not in statuses and "canceled" in statuses
    assert not (tmp_path / "never.nc").exists()


def test_a_member_refusing_the_login_is_named_and_nothing_is_left_running(members, tmp_path):
    from pgc.federation import Federation, federate
    from pgc.federation.describe import describe
    from pgc.federation.remote import RemoteFederation, RunFailed, connector

    servers, _ = members
    fed = Federation.from_json(describe([s.url for s in servers.values()])[0])
    split = federate(crop_graph("S1_GRD"), fed).split
    first = split.jobs[0].member
    wrong = {m.id: ("alice", "not-her-password" if m.id == first else PASSWORDS["alice"])
             for m in fed.members}  # fmt: skip
    with pytest.raises(RunFailed) as failed:
        RemoteFederation(fed, connector(wrong)).run(split, tmp_path / "never.nc")
    (d,) = failed.value.diagnostics
    assert d.code in ("CredentialsInvalid", "AuthenticationRequired")
    assert f"member {first}" in d.message and "No other job was running." in d.message


def test_transient_failures_are_retried_and_then_reported():
    import requests

    from pgc.federation.remote import MemberUnreachable, retried

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise requests.ConnectionError("Connection refused")
        return "ok"

    assert retried(flaky, "polling", backoff=(0, 0, 0)) == "ok" and len(calls) == 3

    def down():
        raise requests.ConnectionError("[Errno 111] Connection refused")

    with pytest.raises(MemberUnreachable, match="polling: connection refused"):
        retried(down, "polling", backoff=(0, 0))
    with pytest.raises(ValueError):  # not a member's failure: not retried, not hidden
        retried(lambda: int("x"), "polling", backoff=(0,))


@pytest.fixture(scope="module")
def aggregator(members, tmp_path_factory):
    """``pgc serve --federation``: one openEO back-end in front of a, b and c, logging in to
    them as alice; its own user is alice too."""
    servers, _ = members
    folder = tmp_path_factory.mktemp("aggregator")
    fed = folder / "fed.toml"
    assert main(["federation", "describe", *(s.url for s in servers.values()),
                 "-o", str(fed)]) == 0  # fmt: skip
    credentials(folder / "members.toml")
    (folder / "pgc.toml").write_text(
        '[server]\nport = 0\ndata = "data"\nworkers = 1\n\n[users]\n'
        f'alice = "{hash_password(PASSWORDS["alice"], iterations=1000)}"\n\n'
        '[federation]\ndescription = "fed.toml"\ncredentials = "members.toml"\n'
    )
    server = Server(folder).start()
    yield server
    server.stop()


def single_catalog_result(root: Path, graph: dict, path: Path) -> Path:
    from pgc.data.catalog import build_catalog

    pgc.Session(catalog=build_catalog((root / "s1-c",))).execute(graph, output=path)
    return path


def same_netcdf(a: Path, b: Path) -> bool:
    import xarray as xr

    with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
        return set(x.data_vars) == set(y.data_vars) and all(
            np.array_equal(x[v].values, y[v].values, equal_nan=True) for v in y.data_vars
        )


def test_the_aggregator_is_one_back_end_in_front_of_the_members(members, aggregator, tmp_path):
    """The openEO client talks to one URL: the union of the collections with every
    member's name an alias, the processes some member runs, validation that places the
    graph, and results (synchronous and batch) equal to a single-catalog run."""
    import openeo

    _, root = members
    con = openeo.connect(aggregator.url).authenticate_basic("alice", PASSWORDS["alice"])
    ids = con.list_collection_ids()
    assert S2 in ids and len(ids) == 3  # the S2 samples, and S1 once
    s1 = con.describe_collection("sentinel-1-grd")  # c's name answers for the collection
    assert s1["id"] in ids and {"S1_GRD", "sentinel-1-grd"} - {s1["id"]} <= set(
        s1.get("pgc:aliases", []))  # fmt: skip
    processes = {p["id"] for p in con.list_processes()}
    assert {"merge_cubes", "apply_kernel", "ndvi"} <= processes  # each lacked by some member
    graph = crop_graph("S1_GRD")
    assert con.validate_process_graph(graph) == []
    bad = crop_graph("S1_GRD")
    bad["process_graph"]["s1"]["arguments"]["id"] = "S1_NOWHERE"
    assert [e["code"] for e in con.validate_process_graph(bad)] == ["CollectionNotFound"]
    expected = single_catalog_result(root, crop_graph("sentinel-1-grd"), tmp_path / "one.nc")
    # synchronous
    con.download(graph, tmp_path / "sync.nc")
    assert same_netcdf(tmp_path / "sync.nc", expected)
    # a batch job: its log tells the member jobs and the bytes that crossed
    job = con.create_job(graph, title="federated")
    job.start_and_wait(max_poll_interval=0.5, print=lambda *a: None)
    job.get_results().download_file(tmp_path / "batch.nc")
    assert same_netcdf(tmp_path / "batch.nc", expected)
    crossed = [e["data"] for e in job.logs() if "pgc:bytes_sent" in (e.get("data") or {})]
    assert len(crossed) == 1 and crossed[0]["pgc:bytes_sent"] == crossed[0][
        "pgc:bytes_received"] > 0  # fmt: skip
    assert len(crossed[0]["pgc:member_jobs"]) == 2


def test_canceling_an_aggregator_job_cancels_its_member_jobs(members, aggregator):
    """The aggregator's worker ends through Python when its job is canceled, canceling
    the member jobs it started: none is left queued or running."""
    import time

    import openeo

    servers, _ = members
    con = openeo.connect(aggregator.url).authenticate_basic("alice", PASSWORDS["alice"])
    whole = {"west": 600000, "south": 5689880, "east": 605120, "north": 5695000, "crs": 32631}
    graph = crop_graph("S1_GRD", kernel=61, extent=whole)  # ~20 s of a's work alone
    graph["process_graph"]["s2"]["arguments"]["temporal_extent"] = None
    job = con.create_job(graph, title="long")
    job.start()
    deadline = time.monotonic() + 60
    while not any(": running" in e["message"] for e in job.logs()):  # a member job runs
        assert time.monotonic() < deadline and job.status() in ("queued", "running")
        time.sleep(0.2)
    job.stop()  # returns once the aggregator's worker has ended
    assert job.status() == "canceled"
    deadline = time.monotonic() + 3  # the members mark their jobs at once
    while True:
        busy = [(name, j["id"]) for name, s in servers.items()
                for j in openeo.connect(s.url).authenticate_basic(
                    "alice", PASSWORDS["alice"]).list_jobs()
                if j["status"] in ("queued", "running")]  # fmt: skip
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert busy == []


def test_load_stac_reads_a_members_result_exactly_and_within_the_budget(members, tmp_path):
    """A member's job result saved in the exchange form, read back through its signed item
    link by load_stac: the same values, dtype and attributes; a file larger than the run's
    max_cube_bytes is refused before its download (file:size)."""
    from urllib.parse import urlsplit

    import openeo

    from pgc.runner import execute

    servers, _ = members
    a = servers["a"]
    con = openeo.connect(a.url).authenticate_basic("alice", PASSWORDS["alice"])
    graph = {k: v for k, v in crop_graph("S1_GRD")["process_graph"].items()
             if k in ("s2", "ndvi", "ndvi_mean")}  # fmt: skip
    graph["save"] = {**n("save_result", data={"from_node": "ndvi_mean"}, format="netCDF",
                         options={"pgc_exchange": True}), "result": True}  # fmt: skip
    job = con.create_job(graph)
    job.start_and_wait(max_poll_interval=0.3, print=lambda *x: None)
    item = next(k["href"] for k in job.get_results().get_metadata()["links"]
                if k["rel"] == "item")  # fmt: skip
    host = f"http://{urlsplit(item).netloc}"
    load = {"l": {**n("load_stac", url=item), "result": True}}
    read = execute({"process_graph": load}, options=pgc.Options(allowed_hosts=(host,)))
    got = read.value
    graph["ndvi_mean"]["result"] = True
    del graph["save"]
    want = execute({"process_graph": graph}).value
    assert got.data.dtype == want.data.dtype and got.data.attrs == want.data.attrs
    assert np.array_equal(got.data.values, want.data.values, equal_nan=True)
    assert np.array_equal(got.full_valid().values, want.full_valid().values)
    assert read.network["by_host"] == {urlsplit(item).netloc: read.network["bytes"]}
    tight = pgc.Options(allowed_hosts=(host,), limits=pgc.Limits(max_cube_bytes=1000))
    with pytest.raises(pgc.PgcError) as refused:
        execute({"process_graph": load}, options=tight)
    assert refused.value.code == "ProcessGraphComplexity"
    assert "exchanged file" in refused.value.diagnostics[0].message
