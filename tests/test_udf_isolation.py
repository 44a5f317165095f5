"""run_udf's isolation (issue 16, class 6): one test per protection the UDF process gets
(:func:`pgc.executors.reference.udf.isolation`): a memory limit, no process outliving the call
(even after a ``setsid`` double fork), no network, nothing of pgc's environment, no writes
outside the scratch folder. A test skips, saying why, only where this machine lacks the
mechanism; the fallback (no namespaces) is tested too, in a child process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import node, processes_with

import pgc
from pgc.executors import udf_sandbox
from pgc.executors.reference import udf as ref_udf
from pgc.runner import execute

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux mechanisms")


def protected(name: str):
    """Skip unless this machine enforces protection ``name``."""
    active = ref_udf.isolation()["protections"].get(name, False)
    return pytest.mark.skipif(
        not active, reason=f"UDF isolation {name!r} is not available on this machine"
    )


def array_udf(body: str, context: dict | None = None) -> dict:
    """A graph running ``body`` (an apply_datacube) on the array [1, 2, 3]."""
    run = node("run_udf", True, data=[1, 2, 3], udf=textwrap.dedent(body).lstrip(),
               runtime="Python", context=context or {})  # fmt: skip
    return {"process_graph": {"u": run}}


def run(graph: dict, **options):
    return execute(graph, python_udf=True, **options).value


def failure(graph: dict, **options) -> pgc.PgcError:
    with pytest.raises(pgc.PgcError) as info:
        run(graph, **options)
    return info.value


def test_isolation_reports_every_protection():
    report = ref_udf.isolation()
    assert report["level"] in ("namespaces", "subreaper", "group")
    names = {"time", "memory", "processes", "network", "parent_environ", "writes", "privileges"}
    assert names <= set(report["protections"])
    assert report["missing"] == [n for n, on in report["protections"].items() if not on]


# ---------------------------------------------------------------------------------------
# Memory


@protected("memory")
def test_a_udf_past_its_memory_limit_fails_with_udferror():
    graph = array_udf(
        """
        def apply_datacube(cube, context):
            hog = bytearray(3 * 2**30)  # 3 GB, past the 512 MB limit
            return cube + len(hog)
        """
    )
    error = failure(graph, udf_memory_mb=512)
    assert error.code == "UdfError"
    assert "ran out of memory" in str(error) and "512 MB" in str(error)


@protected("memory")
def test_the_limit_is_the_udfs_own_memory_beyond_the_worker():
    """The worker's Python, numpy, pandas and xarray (which imports dask.array) map about
    0.5 GB of address space before the UDF starts: a limit of 100 MB counts beyond that."""
    fits = array_udf(
        """
        def apply_datacube(cube, context):
            hog = bytearray(40 * 2**20)
            return cube + len(hog) // 2**20
        """
    )
    assert run(fits, udf_memory_mb=100) == [41.0, 42.0, 43.0]
    too_much = array_udf(fits["process_graph"]["u"]["arguments"]["udf"].replace("40", "200"))
    error = failure(too_much, udf_memory_mb=100)
    assert error.code == "UdfError" and "ran out of memory (limit 100 MB)" in str(error)


@protected("memory")
def test_the_default_memory_limit_applies(monkeypatch):
    monkeypatch.setattr(ref_udf, "MEMORY_MB", 600)
    graph = array_udf(
        """
        import numpy as np

        def apply_datacube(cube, context):
            return cube + np.ones(2**30).sum()  # 8 GB
        """
    )
    error = failure(graph)
    assert error.code == "UdfError" and "ran out of memory (limit 600 MB)" in str(error)
    assert run(array_udf("def apply_datacube(cube, context):\n    return cube * 2\n")) == [
        2.0,
        4.0,
        6.0,
    ]


# ---------------------------------------------------------------------------------------
# Processes


DOUBLE_FORK = """
import os, sys

LOOP = '''
import sys, time
while True:
    try:
        with open("marker", "a") as f:  # in the scratch folder, the working directory
            f.write("x")
    except OSError:  # the folder is gone: pgc cleaned it up
        pass
    time.sleep(0.1)
'''

def apply_datacube(cube, context):
    if os.fork() == 0:
        os.setsid()  # a new session and process group: out of reach of killpg
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", LOOP, context["token"]])
        os._exit(0)
    os.wait()
    return cube
"""


@protected("processes")
def test_no_process_survives_a_setsid_double_fork():
    token = f"pgc-test-double-fork-{os.getpid()}-{time.time_ns()}"
    assert run(array_udf(DOUBLE_FORK, {"token": token})) == [1.0, 2.0, 3.0]
    for _ in range(60):  # SIGKILL is delivered asynchronously: give the kernel a moment
        if not processes_with(token):
            break
        time.sleep(0.05)
    assert processes_with(token) == []


def test_without_namespaces_a_subreaper_still_kills_survivors():
    """The fallback level (``Options(udf_namespaces=False)``, the command line's
    ``PGC_UDF_NO_NAMESPACES=1``), in a child pgc process."""
    token = f"pgc-test-fallback-{os.getpid()}-{time.time_ns()}"
    script = textwrap.dedent(
        """
        import json, sys
        from pgc.executors.reference import udf as ref_udf
        from pgc.options import Options, using
        from pgc.runner import execute
        graph = json.loads(sys.argv[1])
        with using(Options(udf_namespaces=False)):
            print(json.dumps([ref_udf.isolation()["level"],
                              execute(graph, python_udf=True).value]))
        """
    )
    graph = array_udf(DOUBLE_FORK, {"token": token})
    done = subprocess.run([sys.executable, "-c", script, json.dumps(graph)],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    level, value = json.loads(done.stdout.strip().splitlines()[-1])
    assert level == "subreaper" and value == [1.0, 2.0, 3.0]
    for _ in range(60):
        if not processes_with(token):
            break
        time.sleep(0.05)
    assert processes_with(token) == []


# ---------------------------------------------------------------------------------------
# Network


@pytest.fixture
def server():
    """A loopback TCP server in pgc's network namespace that records connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    seen: list = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            seen.append(address)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], seen
    stop.set()
    thread.join(2)
    listener.close()


@protected("network")
def test_a_udf_cannot_reach_a_loopback_server(server):
    port, seen = server
    graph = array_udf(
        """
        import socket

        def apply_datacube(cube, context):
            try:
                socket.create_connection(("127.0.0.1", context["port"]), timeout=3).close()
                reached = 1
            except OSError:
                reached = 0
            return cube * 0 + reached
        """,
        {"port": port},
    )
    assert run(graph) == [0.0, 0.0, 0.0]
    time.sleep(0.3)
    assert seen == []


# ---------------------------------------------------------------------------------------
# pgc's environment


@protected("parent_environ")
def test_a_udf_cannot_read_the_environment_of_pgc(monkeypatch):
    """pgc runs in a child process whose environment holds the secret from its start:
    ``/proc/PID/environ`` shows a process's initial environment, so setting
    ``os.environ`` here would not put it there."""
    secret = f"hunter2-{time.time_ns()}"
    monkeypatch.setenv("PGC_TEST_SECRET", secret)
    graph = array_udf(
        """
        import os

        def apply_datacube(cube, context):
            found = 0
            pids = {context["pgc"], os.getppid()}
            pids |= {int(p) for p in os.listdir("/proc") if p.isdigit()}
            for pid in pids:
                for name in ("environ", "cmdline", "mem"):
                    try:
                        with open(f"/proc/{pid}/{name}", "rb") as f:
                            text = f.read(1 << 20)
                    except OSError:
                        continue
                    found += context["secret"].encode() in text
            found += context["secret"] in str(os.environ)
            return cube * 0 + found
        """,
        {"secret": secret},
    )
    script = textwrap.dedent(
        """
        import json, os, sys
        from pgc.runner import execute
        graph = json.loads(sys.argv[1])
        graph["process_graph"]["u"]["arguments"]["context"]["pgc"] = os.getpid()
        print(json.dumps(execute(graph, python_udf=True).value))
        """
    )
    done = subprocess.run([sys.executable, "-c", script, json.dumps(graph)],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [0.0, 0.0, 0.0]


# ---------------------------------------------------------------------------------------
# Files


@protected("writes")
def test_a_udf_cannot_write_outside_its_scratch_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    outside.chmod(0o777)  # even a folder anyone may write to
    targets = [str(outside / "escaped.txt"), f"/tmp/pgc-udf-escape-{time.time_ns()}"]
    if os.path.isdir("/dev/shm"):
        targets.append(f"/dev/shm/pgc-udf-escape-{time.time_ns()}")
    graph = array_udf(
        """
        def apply_datacube(cube, context):
            with open("inside.txt", "w") as f:  # the scratch folder: allowed
                f.write("fine")
            written = 0
            for path in context["targets"]:
                try:
                    with open(path, "w") as f:
                        f.write("escaped")
                    written += 1
                except OSError:
                    pass
            return cube * 0 + written
        """,
        {"targets": targets},
    )
    assert run(graph) == [0.0, 0.0, 0.0]
    assert [t for t in targets if os.path.exists(t)] == []


@protected("writes")
def test_a_udf_that_insists_on_writing_outside_gets_udferror(tmp_path):
    target = tmp_path / "escaped.txt"
    graph = array_udf(
        f"""
        def apply_datacube(cube, context):
            open({str(target)!r}, "w").write("escaped")
            return cube
        """
    )
    error = failure(graph)
    assert error.code == "UdfError"
    assert "Read-only file system" in str(error) or "Permission denied" in str(error)
    assert not target.exists()


@protected("privileges")
def test_the_udf_has_no_capabilities_and_setuid_gives_none():
    graph = array_udf(
        """
        def apply_datacube(cube, context):
            with open("/proc/self/status") as f:
                caps = [l for l in f if l.startswith(("CapEff", "CapPrm", "CapBnd", "NoNewPrivs"))]
            effective = int(caps[0].split()[1], 16) + int(caps[1].split()[1], 16)
            bounding = int(caps[2].split()[1], 16)
            return cube * 0 + effective + bounding + (1 - int(caps[3].split()[1]))
        """
    )
    assert run(graph) == [0.0, 0.0, 0.0]


def test_the_host_is_untouched_by_the_sandbox():
    """The UDF's mount namespace is private: pgc's mounts stay as they were."""
    before = Path("/proc/self/mountinfo").read_text()
    run(array_udf("def apply_datacube(cube, context):\n    return cube\n"))
    assert Path("/proc/self/mountinfo").read_text() == before
    assert not os.statvfs("/").f_flag & os.ST_RDONLY or "ro," in before.split("\n")[0]
    assert udf_sandbox.plan() is udf_sandbox.plan()  # probed once


@protected("process_count")
def test_a_udf_run_as_nobody_cannot_start_processes_without_end(monkeypatch):
    monkeypatch.setattr(udf_sandbox, "NPROC", 40)
    graph = array_udf(
        """
        import os, time

        def apply_datacube(cube, context):
            started = 0
            for _ in range(200):
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                started += 1
            return cube * 0 + started
        """
    )
    started = run(graph)[0]
    assert 0 < started < 40
