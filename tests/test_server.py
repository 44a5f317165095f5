"""``pgc serve`` (issue 20): a real server process on loopback, driven by the official
openEO Python client -- connect, list, validate, download, batch jobs, user-defined
processes, users kept apart, restarts that keep what was stored."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openeo_driver", reason="pgc serve needs openeo-driver (README: pgc serve)")
openeo = pytest.importorskip("openeo")

from pgc.server.config import hash_password  # noqa: E402

SAMPLE = "SENTINEL2_L2A_SAMPLE"
WINDOW = {"west": 600000, "south": 5690000, "east": 600640, "north": 5690640, "crs": 32631}
PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw"}


class Server:
    """``pgc serve`` in a child process, on a free port of 127.0.0.1."""

    def __init__(self, folder: Path, **server: object) -> None:
        self.folder = folder
        settings = {"port": 0, "data": "data", "workers": 2, **server}
        lines = ["[server]"] + [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
        lines += ["", "[users]"] + [
            f'{user} = "{hash_password(pw, iterations=1000)}"' for user, pw in PASSWORDS.items()
        ]
        self.config = folder / "pgc.toml"
        if not self.config.exists():
            self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> Server:
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pgc.cli", "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=self.folder,
        )  # fmt: skip
        line = self.process.stdout.readline()
        found = re.search(r"(http://\S+)", line)
        assert found, f"no URL from pgc serve: {line!r}"
        self.url = found.group(1)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGINT)
            self.process.wait(30)
            self.process = None

    def connect(self, user: str = "alice"):
        return openeo.connect(self.url).authenticate_basic(user, PASSWORDS[user])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("serve")).start()
    yield running
    running.stop()


def ndvi(con):
    cube = con.load_collection(SAMPLE, spatial_extent=WINDOW, bands=["B04", "B08"],
                               temporal_extent=["2023-06-01", "2023-07-15"])  # fmt: skip
    return cube.ndvi()


def evi(con):
    cube = con.load_collection(SAMPLE, spatial_extent=WINDOW, bands=["B02", "B04", "B08"],
                               temporal_extent=["2023-06-01", "2023-06-20"])  # fmt: skip
    blue, red, nir = (cube.band(b) * 0.0001 for b in ("B02", "B04", "B08"))
    return 2.5 * (nir - red) / (nir + 6.0 * red - 7.5 * blue + 1.0)


def heavy_graph() -> dict:
    """A job that runs for many seconds: a 31 x 31 convolution of the whole sample."""
    return {
        "l": {"process_id": "load_collection", "arguments": {
            "id": SAMPLE, "spatial_extent": None, "temporal_extent": None,
            "bands": ["B02", "B03", "B04", "B08"]}},
        "k": {"process_id": "apply_kernel", "arguments": {
            "data": {"from_node": "l"}, "kernel": np.ones((31, 31)).tolist()}},
        "s": {"process_id": "save_result", "result": True, "arguments": {
            "data": {"from_node": "k"}, "format": "netCDF"}},
    }  # fmt: skip


def descendants(pid: int) -> set[int]:
    """The processes a process started, and theirs (Linux /proc)."""
    found, stack = set(), [pid]
    while stack:
        current = stack.pop()
        children = []
        for task in Path(f"/proc/{current}/task").glob("*"):  # each thread's children
            try:
                children += (task / "children").read_text().split()
            except OSError:
                continue
        for child in map(int, children):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    return {p for p in pids if _running(p)}


def _running(pid: int) -> bool:
    """Whether ``pid`` is a process that has not ended (one that ends while it is read
    is not: /proc then answers ProcessLookupError or FileNotFoundError)."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


def wait_for(job, status: str, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while job.status() != status and time.time() < deadline:
        time.sleep(0.2)
    assert job.status() == status


def read_tif(path: Path) -> np.ndarray:
    rasterio = pytest.importorskip("rasterio")
    with rasterio.open(path) as f:
        return f.read()


def test_the_client_connects_and_lists(server):
    con = server.connect()
    assert con.describe_account()["user_id"] == "alice"
    assert SAMPLE in con.list_collection_ids()
    collection = con.describe_collection(SAMPLE)
    dims = collection["cube:dimensions"]
    assert {d.get("axis") for d in dims.values() if d["type"] == "spatial"} == {"x", "y"}
    processes = {p["id"]: p for p in con.list_processes()}
    assert {"load_collection", "ndvi", "save_result", "reduce_dimension"} <= set(processes)
    ndvi_spec = processes["ndvi"]
    assert ndvi_spec["description"] and all(p["description"] for p in ndvi_spec["parameters"])
    assert "GTiff" in con.list_output_formats()
    endpoints = {e["path"]: e["methods"] for e in con.capabilities().capabilities["endpoints"]}
    assert "PATCH" in endpoints["/jobs/{job_id}"] and "/jobs/{job_id}/estimate" in endpoints
    assert not any("secure_key" in path for path in endpoints)


def test_validation_gives_pgcs_code_and_pointer(server):
    con = server.connect()
    bad = {"l": {"process_id": "load_collection", "result": True, "arguments": {
        "id": SAMPLE, "spatial_extent": None, "temporal_extent": None, "bands": ["B4"]}}}
    errors = con.validate_process_graph(bad)
    assert [e["code"] for e in errors] == ["ProcessParameterInvalid"]
    assert "/process_graph/l/arguments/bands" in errors[0]["message"]
    assert con.validate_process_graph(ndvi(con).flat_graph()) == []


def test_a_run_error_reaches_the_client_as_an_openeo_error(server):
    con = server.connect()
    cube = con.load_collection(SAMPLE, spatial_extent=WINDOW, bands=["B04"],
                               temporal_extent=["1990-01-01", "1990-02-01"])  # fmt: skip
    with pytest.raises(openeo.rest.OpenEoApiError) as caught:
        cube.download(server.folder / "nothing.tif")
    assert caught.value.code == "NoDataAvailable"


def test_download_equals_pgc_run(server, tmp_path):
    con = server.connect()
    graph = evi(con)
    graph.download(tmp_path / "evi.tif")
    (tmp_path / "graph.json").write_text(graph.save_result("GTiff").to_json())
    done = subprocess.run(
        [sys.executable, "-m", "pgc.cli", "run", str(tmp_path / "graph.json"), "-o",
         str(tmp_path / "local.tif")], capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    served, local = read_tif(tmp_path / "evi.tif"), read_tif(tmp_path / "local.tif")
    assert served.shape == local.shape and served.shape[1:] == (64, 64)
    np.testing.assert_array_equal(served, local)


def test_batch_job_runs_and_its_assets_download(server, tmp_path):
    con = server.connect()
    job = ndvi(con).create_job(title="ndvi")
    assert job.describe()["status"] == "created"
    job.start_and_wait(max_poll_interval=0.5, print=lambda *a: None)
    assert job.status() == "finished"
    results = job.get_results()
    paths = results.download_files(tmp_path)
    tif = [p for p in paths if p.suffix == ".tif"]
    assert tif and read_tif(tif[0]).shape[1:] == (64, 64)
    messages = [entry["message"] for entry in job.logs()]
    assert any(m.startswith("Compiled") for m in messages)
    assert any(m.startswith("Finished") for m in messages)
    assert job.estimate()["size"] > 0


def test_a_user_defined_process_is_stored_and_called(server):
    con = server.connect()
    from openeo.api.process import Parameter

    x = Parameter.number("x")
    con.save_user_defined_process(
        "plus_one", {"p": {"process_id": "add", "arguments": {
            "x": {"from_parameter": "x"}, "y": 1}, "result": True}}, parameters=[x],
    )  # fmt: skip
    assert "plus_one" in [p["id"] for p in con.list_user_defined_processes()]
    assert con.execute({"c": {"process_id": "plus_one", "arguments": {"x": 41},
                              "result": True}}) == 42  # fmt: skip
    call = {"c": {"process_id": "plus_one", "arguments": {"x": 41}, "result": True}}
    assert con.validate_process_graph(call) == []  # /validation knows the caller's processes
    bob = server.connect("bob")
    assert "plus_one" not in [p["id"] for p in bob.list_user_defined_processes()]
    assert [e["code"] for e in bob.validate_process_graph(call)] == ["ProcessUnsupported"]
    with pytest.raises(openeo.rest.OpenEoApiError):
        bob.execute({"c": {"process_id": "plus_one", "arguments": {"x": 41}, "result": True}})


def test_another_user_cannot_see_or_touch_a_job(server):
    alice, bob = server.connect(), server.connect("bob")
    job = ndvi(alice).create_job(title="alice's")
    assert job.job_id not in [j["id"] for j in bob.list_jobs()]
    theirs = bob.job(job.job_id)
    for call in (theirs.describe, theirs.logs, theirs.delete, theirs.start):
        with pytest.raises(openeo.rest.OpenEoApiError) as caught:
            call()
        assert caught.value.http_status_code == 404
    assert alice.job(job.job_id).describe()["status"] == "created"
    assert re.fullmatch(r"j-[0-9a-f]{32}", job.job_id)  # 128 random bits


def test_a_wrong_password_or_a_forged_token_is_refused(server):
    import requests

    with pytest.raises(openeo.rest.OpenEoApiError) as caught:
        openeo.connect(server.url).authenticate_basic("alice", "wrong")
    assert caught.value.http_status_code in (401, 403)
    import base64

    forged = base64.urlsafe_b64encode(b"alice").decode()
    me = requests.get(server.url + "me", headers={"Authorization": f"Bearer basic//{forged}"})
    assert me.status_code in (401, 403)


def test_a_request_body_over_the_limit_is_refused(server):
    import requests

    body = json.dumps({"process_graph": {"x": {"process_id": "add", "result": True,
                      "arguments": {"x": 1, "y": 2}}}, "pad": "x" * (3 * 1024 * 1024)})
    answer = requests.post(server.url + "validation", data=body,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 413 and answer.json()["code"] == "PayloadTooLarge"


def test_cors_lets_browser_clients_in(server):
    import requests

    answer = requests.options(server.url + "collections", headers={
        "Origin": "https://editor.openeo.org", "Access-Control-Request-Method": "GET"})
    assert answer.headers.get("Access-Control-Allow-Origin") in ("*", "https://editor.openeo.org")


def test_a_restarted_server_keeps_jobs_and_processes(tmp_path):
    first = Server(tmp_path).start()
    try:
        con = first.connect()
        done = ndvi(con).create_job(title="kept")
        done.start_and_wait(max_poll_interval=0.5, print=lambda *a: None)
        con.save_user_defined_process("twice", {"m": {"process_id": "multiply", "arguments": {
            "x": {"from_parameter": "x"}, "y": 2}, "result": True}})  # fmt: skip
        slow = con.create_job(heavy_graph(), title="interrupted")
        slow.start()
        wait_for(slow, "running")
        helpers = descendants(first.process.pid)  # the fork server and the job's worker
        assert len(helpers) >= 2
        first.stop(kill=True)  # the job's work is lost; its worker must not run on
        deadline = time.time() + 15
        while alive(helpers) and time.time() < deadline:
            time.sleep(0.2)
        assert not alive(helpers), "a killed server's workers ran on"
    finally:
        first.stop(kill=True)
    second = Server(tmp_path).start()
    try:
        con = second.connect()
        jobs = {j["id"]: j for j in con.list_jobs()}
        assert jobs[done.job_id]["status"] == "finished"
        assert con.job(done.job_id).get_results().download_files(tmp_path / "again")
        assert "twice" in [p["id"] for p in con.list_user_defined_processes()]
        # running when the server died: marked error once its heartbeat is stale, by
        # the new server; never running forever
        interrupted = con.job(slow.job_id)
        wait_for(interrupted, "error", seconds=60)
        assert any("server running this job stopped" in e["message"]
                   for e in interrupted.logs())
    finally:
        second.stop()


def test_cancel_stops_a_running_job(server):
    con = server.connect()
    graph = heavy_graph()
    job = con.create_job(graph, title="long")
    job.start()
    wait_for(job, "running")
    job.stop()
    assert job.status() == "canceled"
    time.sleep(1.0)
    assert job.status() == "canceled"  # the worker did not finish it after all
    assert any("Canceled" in e["message"] for e in job.logs())



def test_the_readme_client_session_runs(server, tmp_path):
    """The five lines under "pgc serve" in the README, against this server."""
    from conftest import ROOT

    text = (ROOT / "README.md").read_text()
    section = text[text.index("## pgc serve"):]
    code = section[section.index("```python") + len("```python"):]
    code = code[: code.index("```")]
    code = code.replace("http://127.0.0.1:8080", server.url.rstrip("/")).replace(
        '"secret"', repr(PASSWORDS["alice"])
    )
    assert len(code.strip().splitlines()) <= 6
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, timeout=120)
    assert read_tif(tmp_path / "ndvi.tif").shape[0] >= 1


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """A server with a small synchronous budget and an OIDC provider configured."""
    folder = tmp_path_factory.mktemp("tight")
    running = Server(folder)
    running.config.write_text(running.config.read_text().replace(
        "[users]", '[sync]\nmax_seconds = 30\nmax_cube_bytes = 1000000\n\n[users]') + (
        '\n[[oidc]]\nid = "egi"\nissuer = "https://aai.egi.eu/auth/realms/egi"\n'
        'title = "EGI Check-in"\n'))  # fmt: skip
    running.start()
    yield running
    running.stop()


def test_a_sync_request_over_the_budget_fails_before_reading(tight):
    con = tight.connect()
    whole = con.load_collection(SAMPLE, bands=["B04", "B08"])  # 12 dates of 512 x 512
    with pytest.raises(openeo.rest.OpenEoApiError) as caught:
        whole.ndvi().download(tight.folder / "big.tif")
    assert caught.value.code == "ProcessGraphComplexity"
    assert "budget" in caught.value.message
    small = con.load_collection(SAMPLE, spatial_extent=WINDOW, bands=["B04", "B08"],
                                temporal_extent=["2023-06-01", "2023-06-20"])  # fmt: skip
    small.ndvi().download(tight.folder / "small.tif")  # within the budget: runs
    # batch jobs are not held to the synchronous budget: nor is what validates or
    # estimates one
    assert con.validate_process_graph(whole.ndvi().flat_graph()) == []
    job = whole.ndvi().create_job()
    assert job.estimate()["size"] == 12 * 512 * 512 * 8  # float64 NDVI of 12 dates
    job.start_and_wait(max_poll_interval=0.5, print=lambda *a: None)
    assert job.status() == "finished"


def test_the_configured_oidc_provider_is_listed(tight):
    import requests

    providers = requests.get(tight.url + "credentials/oidc").json()["providers"]
    assert [(p["id"], p["issuer"]) for p in providers] == [
        ("egi", "https://aai.egi.eu/auth/realms/egi")
    ]


def test_downloads_stay_in_the_jobs_folder(server):
    import requests

    con = server.connect()
    job = ndvi(con).create_job()
    job.start_and_wait(max_poll_interval=0.5, print=lambda *a: None)
    headers = {"Authorization": f"Bearer {con.auth.bearer}"}
    base = server.url + f"jobs/{job.job_id}/results/assets/"
    for name in ("..%2F..%2Fpgc.sqlite", "../../pgc.sqlite", "%2E%2E/token-secret",
                 "..%2F..%2Ftoken-secret"):  # fmt: skip
        answer = requests.get(base + name, headers=headers)
        # FilePathInvalid, no such route, or the signed-link route (.../assets/USER/KEY/FILE)
        # refusing a signature that is not one (CredentialsInvalid)
        assert answer.status_code in (400, 403, 404), name
        assert answer.headers["Content-Type"].startswith("application/json"), name
    bob = server.connect("bob")
    theirs = requests.get(base + "result.tif",
                          headers={"Authorization": f"Bearer {bob.auth.bearer}"})  # fmt: skip
    assert theirs.status_code == 404


def test_result_links_are_signed_expire_and_cannot_be_forged(server, tmp_path):
    """Issue 22: a finished job's results document, items and assets are reachable without
    a token through their signed links (how another member's load_stac reads them); a
    link with a signature changed, or for another file, is refused."""
    import requests

    job = ndvi(server.connect()).create_job()
    job.start_and_wait(max_poll_interval=0.5, print=lambda *a: None)
    document = job.get_results().get_metadata()
    canonical = next(k["href"] for k in document["links"] if k["rel"] == "canonical")
    asset = next(iter(document["assets"].values()))["href"]
    item = next(k["href"] for k in document["links"] if k["rel"] == "item")
    assert "expires=" in canonical and "expires=" in asset
    assert requests.get(canonical).json()["id"] == job.job_id  # no token
    assert requests.get(item).json()["type"] == "Feature"
    got = requests.get(asset)
    assert got.status_code == 200 and len(got.content) == next(
        iter(document["assets"].values()))["file:size"]  # fmt: skip
    path, _, query = asset.partition("?")
    head, key, name = path.rsplit("/", 2)
    forged = f"{head}/{key[:-2]}{'AA' if key[-2:] != 'AA' else 'BB'}/{name}?{query}"
    other = f"{head}/{key}/job-results.json?{query}"
    expired = f"{path}?expires=1000"
    assert requests.get(forged).status_code == 403
    assert requests.get(other).status_code == 403
    assert requests.get(expired).status_code in (403, 410)
    assert requests.get(path).status_code in (403, 410)  # no expiry given
    # the producer's log counts what it sent: the whole file, once
    sent = [e["data"]["pgc:sent_bytes"] for e in job.logs() if "pgc:sent_bytes" in (e.get(
        "data") or {})]  # fmt: skip
    assert sent == [len(got.content)]


def test_execute_batch_downloads_the_result(server, tmp_path):
    con = server.connect()
    job = ndvi(con).execute_batch(tmp_path / "ndvi.tif", max_poll_interval=0.5,
                                  print=lambda *a: None)  # fmt: skip
    assert job.status() == "finished"
    assert read_tif(tmp_path / "ndvi.tif").shape[1:] == (64, 64)


def test_a_sync_request_past_its_time_limit_ends_with_request_timeout(tmp_path):
    """[sync] max_seconds: the run stops between processes once its time is up."""
    slow = Server(tmp_path)
    slow.config.write_text(slow.config.read_text().replace(
        "[users]", "[sync]\nmax_seconds = 1\n\n[users]"))  # fmt: skip
    slow.start()
    try:
        con = slow.connect()
        cube = con.load_collection(SAMPLE, bands=["B04", "B08"])
        # each pass over the whole cube takes a few ms at least; apply_kernel, which no
        # executor fuses (200 applies of x + 1 are one numba kernel, well within 1 s)
        for _ in range(200):
            cube = cube.apply_kernel([[0, 0, 0], [0, 1, 0], [0, 0, 0]])
        start = time.time()
        with pytest.raises(openeo.rest.OpenEoApiError) as caught:
            cube.download(tmp_path / "never.nc", format="netCDF")
        assert caught.value.code == "RequestTimeout"
        assert time.time() - start < 30
    finally:
        slow.stop()
