"""The corpus of hostile inputs (issue 16): one file per attack under ``tests/hostile/CLASS/``.

Each case runs the real command line (``pgc run --json`` or ``pgc compile``) in a separate
process with a memory cap and a time limit, from a working folder of its own, beside a folder
``{outside}`` that no case may touch and a loopback HTTP server ``{server}`` that no case may
reach. A case passes when the run ends in its expected openEO code (the first error's), in
time, with no traceback, nothing under ``{outside}`` (or beside the working folder) created,
changed or deleted, and no request to the server.

A case file (JSON)::

    {"attack": "what the attacker tries",
     "command": "run",                       # or "compile"; default run
     "graph": {...} or "IR or raw text",     # written as graph.json in the working folder
     "args": ["--allow-read", "{work}"],     # after the graph file
     "files": {"stac/collection.json": {...}},  # objects as JSON, strings as text
     "symlinks": {"stac/b04.tif": "{outside}/secret.tif"},
     "copies": {"stac/b04.tif": "{work}/inside.tif"},
     "expect": "ProcessParameterInvalid",    # or "OutputError" (refused output), or "ok"
     "env": {"PGC_COLLECTIONS": "{work}/broken"},   # the operator's environment
     "timeout": 60, "memory_mb": 4096}

Placeholders in every string: ``{work}``, ``{outside}``, ``{server}``. The working folder
holds ``inside.tif`` (8 x 8 uint16, EPSG:32631, all 1); ``{outside}`` holds ``secret.tif``
(the same grid, all 31337) and ``secret.txt``.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

CORPUS = Path(__file__).parent / "hostile"
CASES = sorted(CORPUS.glob("*/*.json"))
SECRET = "pgc-hostile-secret-7f3a"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def _record(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.end_headers()

    do_GET = do_HEAD = do_POST = do_PUT = _record  # noqa: N815

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _geotiff(path: Path, value: int) -> None:
    import rasterio
    from rasterio.transform import from_origin

    profile = dict(
        driver="GTiff", width=8, height=8, count=1, dtype="uint16", crs="EPSG:32631",
        transform=from_origin(600000, 5000000, 10, 10),
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((1, 8, 8), value, dtype="uint16"))


def _tree(folder: Path) -> dict[str, str]:
    """Every file and link under ``folder`` with its content hash (links: their target)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            out[key] = "link:" + os.readlink(path)
        elif path.is_file():
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[key] = "folder"
    return out


def _fill(value, places: dict[str, str]):
    if isinstance(value, str):
        for key, text in places.items():
            value = value.replace("{" + key + "}", text)
        return value
    if isinstance(value, list):
        return [_fill(v, places) for v in value]
    if isinstance(value, dict):
        return {_fill(k, places): _fill(v, places) for k, v in value.items()}
    return value


def _limits(memory_mb: int):
    def apply() -> None:  # in the child, before it runs pgc
        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        os.setsid()  # its own process group: killed whole on a time-out

    return apply


def _first_code(stdout: str) -> str | None:
    try:
        errors = json.loads(stdout)["errors"]
    except (ValueError, KeyError, TypeError):
        return None
    return errors[0]["code"] if errors else None


def _million_nodes() -> str:
    nodes = {f"n{i}": {"process_id": "add", "arguments": {"x": 1, "y": 2}} for i in range(10**6)}
    nodes["n0"]["result"] = True
    return json.dumps(nodes)


def _huge_array() -> str:
    values = ",".join(["0"] * 30_000_000)
    return '{"a": {"process_id": "sum", "arguments": {"data": [' + values + ']}, "result": true}}'


# Cases too large to keep as files (65 MB, 60 MB of text), made when the test runs.
GENERATED = {
    "budget/million_nodes": {
        "attack": "A 65 MB graph of a million nodes (it took 51 s and 2 GB to reject).",
        "graph": _million_nodes,
        "expect": "ProcessGraphInvalid",
        "args": ["--max-seconds", "30"],
    },
    "budget/thirty_million_values": {
        "attack": "An array of 30 million numbers (validated for a minute, then out of memory).",
        "graph": _huge_array,
        "expect": "ProcessGraphInvalid",
    },
}


@pytest.mark.parametrize("name", GENERATED)
def test_generated_case(name: str, tmp_path: Path, server: str):
    case = dict(GENERATED[name])
    case["graph"] = case["graph"]()
    _run_case(name, case, tmp_path, server)


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_hostile_case(path: Path, tmp_path: Path, server: str):
    _run_case(path.name, json.loads(path.read_text(encoding="utf-8")), tmp_path, server)


def _run_case(name: str, case: dict, tmp_path: Path, server: str) -> None:
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    _geotiff(work / "inside.tif", 1)
    _geotiff(outside / "secret.tif", 31337)
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    places = {"work": str(work), "outside": str(outside), "server": server}
    case = _fill(case, places)
    for name, content in (case.get("files") or {}).items():
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content)
        target.write_text(text, encoding="utf-8")
    for name, source in (case.get("copies") or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, work / name)
    for name, source in (case.get("symlinks") or {}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).symlink_to(source)
    graph = case["graph"]
    (work / "graph.json").write_text(
        graph if isinstance(graph, str) else json.dumps(graph), encoding="utf-8"
    )
    before_outside, before_beside = _tree(outside), sorted(p.name for p in tmp_path.iterdir())
    _Recorder.seen.clear()

    command = case.get("command", "run")
    argv = [sys.executable, "-m", "pgc.cli", command, "graph.json", *case.get("args", [])]
    if command == "run":
        argv.append("--json")
    env = {**os.environ, "PGC_HOSTILE_SECRET": SECRET, **case.get("env", {})}
    try:
        done = subprocess.run(
            argv, cwd=work, env=env, capture_output=True, text=True,
            timeout=case.get("timeout", 60), preexec_fn=_limits(case.get("memory_mb", 4096)),
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name}: no answer within {exc.timeout} s")
    said = done.stdout + done.stderr
    assert "Traceback" not in said, said[-3000:]
    expect = case["expect"]
    if expect == "ok":
        assert done.returncode == 0, said[-2000:]
    elif expect == "OutputError":
        assert done.returncode == 2 and "pgc: error:" in done.stderr, said[-2000:]
    elif command == "run":
        assert _first_code(done.stdout) == expect, said[-2000:]
    else:
        assert done.returncode != 0 and expect in said, said[-2000:]
    assert _tree(outside) == before_outside, "a file outside the allowed folders changed"
    assert sorted(p.name for p in tmp_path.iterdir()) == before_beside
    assert SECRET not in said and "31337" not in done.stdout
    assert _Recorder.seen == [], f"requests reached the loopback server: {_Recorder.seen}"


def test_corpus_covers_every_class():
    """One folder per class of the issue, each with cases."""
    classes = {p.parent.name for p in CASES}
    assert {"reads", "writes", "budget", "tracebacks", "ir", "udf"} <= classes
