"""The store of ``pgc serve`` (pgc/server/store.py) on SQLite and on a real PostgreSQL
server: jobs, logs and user-defined processes kept per user, job transitions that only one
caller wins, and two stores ("two server processes") sharing one database.

The PostgreSQL tests use a throwaway server for the session (tests/postgres_fixture.py:
``initdb`` into a temporary folder, ``pg_ctl start`` on a free port of 127.0.0.1, stopped
and removed afterwards) and skip, saying why, when the PostgreSQL programs or psycopg are
not installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import postgres_fixture
import pytest
from postgres_fixture import PostgresServer

from pgc.server.store import (
    CANCELED,
    CREATED,
    ERROR,
    FINISHED,
    QUEUED,
    RUNNING,
    PostgresStore,
    SqliteStore,
    Store,
)

postgres_server = postgres_fixture.postgres_server  # the session's server, a fixture here


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.new_database()


KINDS = ["sqlite-memory", "sqlite-file", "postgresql"]
SHARED_KINDS = ["sqlite-file", "postgresql"]  # a database two stores can open


def _url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "postgresql":
        return request.getfixturevalue("postgres_url")
    if kind == "sqlite-memory":
        return ":memory:"
    return str(tmp_path / "pgc.sqlite")


@pytest.fixture(params=KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return Store.open(_url(request.param, request, tmp_path))


@pytest.fixture(params=SHARED_KINDS)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that several stores (and processes) can open."""
    return _url(request.param, request, tmp_path)


def _in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` for i in range(count), each in a thread of its own, all started at once;
    their results (the first exception raised, if any)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    return results


# -- opening ----------------------------------------------------------------------------


def test_open_picks_the_dialect(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    assert isinstance(Store.open(tmp_path / "a.sqlite"), SqliteStore)
    assert isinstance(Store.open(":memory:"), SqliteStore)
    url = request.getfixturevalue("postgres_url")
    assert isinstance(Store.open(url), PostgresStore)
    assert isinstance(Store.open(url.replace("postgresql://", "postgres://")), PostgresStore)


def test_postgres_connections_kept_and_renewed(postgres_server: PostgresServer) -> None:
    """Connections are kept for reuse (not one per thread); one that the database ended
    meanwhile is replaced, unnoticed by the caller."""
    import psycopg

    url = postgres_server.new_database()
    store = Store.open(url)
    job = store.create_job("alice", {})
    _in_threads(20, lambda i: store.job("alice", job.id))  # 20 threads, then gone
    assert 1 <= len(store._idle) <= PostgresStore.idle_connections
    database = url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_server.url("postgres"), autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (database,),
        ).fetchall()
    assert ended and all(row[0] for row in ended)
    assert store.job("alice", job.id) == job
    store.log(job.id, "info", "after the restart")
    assert [e.message for e in store.logs(job.id)] == ["after the restart"]
    store.close()
    assert store._idle == []
    assert store.job("alice", job.id) == job  # opens a new one


def test_schema_made_by_many_stores_at_once(shared_url: str) -> None:
    """Servers starting together on an empty database each create the tables."""
    stores = _in_threads(8, lambda i: Store.open(shared_url))
    job = stores[0].create_job("alice", {"process_graph": {}})
    assert all(s.job("alice", job.id) == job for s in stores)


# -- jobs -------------------------------------------------------------------------------


def test_jobs_per_user(store: Store) -> None:
    first = store.create_job(
        "alice",
        {"process_graph": {"a": 1}},
        title="first",
        description="d",
        plan="free",
        budget=2.5,
        log_level="warning",
    )
    time.sleep(0.002)
    second = store.create_job("alice", {"process_graph": {}}, log_level="nonsense")
    bobs = store.create_job("bob", {"process_graph": {}})
    assert first.id != second.id and first.id.startswith("j-") and len(first.id) == 34
    got = store.job("alice", first.id)
    assert got == first  # every field, the times to the last bit
    assert (got.title, got.description, got.plan, got.budget, got.log_level) == (
        "first", "d", "free", 2.5, "warning")  # fmt: skip
    assert got.status == CREATED and got.usage == {} and got.results == []
    assert second.log_level == "info"
    assert store.job("bob", first.id) is None
    assert store.job("alice", bobs.id) is None
    assert store.job(None, bobs.id) == bobs  # the server's own workers see every job
    assert store.job("alice", "j-nonexistent") is None
    assert [j.id for j in store.jobs("alice")] == [second.id, first.id]  # newest first
    assert [j.id for j in store.jobs("alice", limit=1)] == [second.id]
    assert [j.id for j in store.jobs("bob")] == [bobs.id]
    assert store.jobs("carol") == []


def test_epoch_seconds_keep_their_precision(store: Store) -> None:
    """Times are epoch seconds as floats: a 4-byte float would round them to minutes."""
    job = store.create_job("alice", {})
    exact = 1_700_000_000.123456
    store.update_job(job.id, started=exact, finished=exact + 0.001, progress=12.5)
    got = store.job("alice", job.id)
    assert got.created == job.created and got.started == exact
    assert got.finished == exact + 0.001 and got.progress == 12.5


def test_queued_ids_oldest_first(store: Store) -> None:
    ids = []
    for user in ("alice", "bob", "alice"):
        job = store.create_job(user, {})
        store.transition(job.id, (CREATED,), QUEUED)
        ids.append(job.id)
        time.sleep(0.002)
    store.create_job("alice", {})  # created, not queued
    assert store.queued_ids() == ids
    assert store.queued_ids(limit=1) == ids[:1]


def test_results_and_usage_round_trip(store: Store) -> None:
    job = store.create_job("alice", {"process_graph": {"x": {"process_id": "add"}}})
    assets = [{"name": "out.tif", "type": "image/tiff; application=geotiff", "bytes": 123,
               "nested": {"list": [1, 2.5, None, "ü"]}}]  # fmt: skip
    usage = {"duration": {"value": 1.25, "unit": "seconds"}}
    store.update_job(job.id, title="renamed")
    assert store.transition(job.id, (CREATED,), RUNNING)
    assert store.transition(job.id, (RUNNING,), FINISHED, results=assets, usage=usage,
                            progress=100.0)  # fmt: skip
    got = store.job("alice", job.id)
    assert (got.status, got.results, got.usage, got.title, got.progress) == (
        FINISHED, assets, usage, "renamed", 100.0)  # fmt: skip
    assert got.process == {"process_graph": {"x": {"process_id": "add"}}}
    assert got.updated >= job.updated
    with pytest.raises(ValueError, match="no such job field"):
        store.update_job(job.id, owner="bob")


def test_transition_only_from_allowed(store: Store) -> None:
    job = store.create_job("alice", {})
    assert not store.transition(job.id, (QUEUED, RUNNING), CANCELED)
    assert store.transition(job.id, (CREATED,), QUEUED)
    assert not store.transition(job.id, (CREATED,), QUEUED)
    assert store.transition(job.id, (QUEUED, RUNNING), CANCELED)
    assert store.job("alice", job.id).status == CANCELED
    assert not store.transition("j-nonexistent", (CREATED,), QUEUED)


def _race(stores: list[Store], rounds: int) -> None:
    """Each round: one queued job, one thread per store moving it queued -> running at
    the same moment. Exactly one wins, every round."""
    count = len(stores)
    start = threading.Barrier(count + 1, timeout=60)
    done = threading.Barrier(count + 1, timeout=60)
    current: list[str] = [""]
    won: list[list[bool]] = [[] for _ in stores]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        for _ in range(rounds):
            start.wait()
            try:
                won[i].append(stores[i].transition(current[0], (QUEUED,), RUNNING,
                                                   started=time.time()))  # fmt: skip
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                errors.append(exc)
                won[i].append(False)
            done.wait()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    try:
        for _ in range(rounds):
            job = stores[0].create_job("alice", {})
            stores[0].transition(job.id, (CREATED,), QUEUED)
            current[0] = job.id
            start.wait()
            done.wait()
            assert stores[-1].job(None, job.id).status == RUNNING
    finally:
        start.abort()  # a failed round releases the workers still waiting
        done.abort()
        for t in threads:
            t.join(30)
    assert not errors, errors[0]
    winners = [sum(w[r] for w in won) for r in range(rounds)]
    assert winners == [1] * rounds


def test_transition_race_in_one_store(store: Store) -> None:
    _race([store] * 4, rounds=150)


def test_transition_race_between_two_stores(shared_url: str) -> None:
    """Two servers on one database never both take the same queued job."""
    a, b = Store.open(shared_url), Store.open(shared_url)
    _race([a, b, a, b], rounds=150)


def test_two_stores_see_each_others_writes(shared_url: str) -> None:
    a, b = Store.open(shared_url), Store.open(shared_url)
    job = a.create_job("alice", {"process_graph": {}}, title="from a")
    assert b.job("alice", job.id) == job
    assert b.transition(job.id, (CREATED,), QUEUED)
    assert a.job("alice", job.id).status == QUEUED and a.queued_ids() == [job.id]
    b.log(job.id, "info", "from b")
    a.log(job.id, "info", "from a")
    assert [(e.id, e.message) for e in b.logs(job.id)] == [("1", "from b"), ("2", "from a")]
    a.save_process("alice", "p", {"process_graph": {}}, public=False)
    assert b.process("alice", "p").process == {"process_graph": {}}
    assert b.delete_process("alice", "p") and a.process("alice", "p") is None
    assert b.delete_job("alice", job.id) and a.job("alice", job.id) is None


_TAKER = textwrap.dedent("""
    import sys, time
    from pgc.server.store import QUEUED, RUNNING, Store
    store = Store.open(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    taken = []
    while True:  # what JobPool._take does
        job_id = next(iter(store.queued_ids(limit=1)), None)
        if job_id is None:
            break
        if store.transition(job_id, (QUEUED,), RUNNING, started=time.time()):
            taken.append(job_id)
    print(" ".join(taken), flush=True)
""")


def test_server_processes_never_take_one_job_twice(shared_url: str) -> None:
    """Three processes take queued jobs the way the job pool does, all at once: every job
    is taken, each by one of them."""
    store = Store.open(shared_url)
    ids = set()
    for _ in range(300):
        job = store.create_job("alice", {})
        store.transition(job.id, (CREATED,), QUEUED)
        ids.add(job.id)
    takers = [
        subprocess.Popen(
            [sys.executable, "-c", _TAKER, shared_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(3)
    ]
    for p in takers:
        assert p.stdout.readline().strip() == "ready"
    for p in takers:
        p.stdin.write("go\n")
        p.stdin.flush()
    taken = [p.communicate(timeout=120)[0].split() for p in takers]
    assert all(p.returncode == 0 for p in takers)
    everything = [job_id for some in taken for job_id in some]
    assert sorted(everything) == sorted(ids)  # each job once
    assert store.queued_ids() == []
    assert {j.status for j in store.jobs("alice")} == {RUNNING}


def test_recover_marks_the_running_jobs_of_stopped_servers_error(store: Store) -> None:
    """Running jobs of a server that stopped beating (or of none) are lost: error, with a
    log entry; a live server's running jobs and queued jobs (a server will take them)
    are left alone."""
    jobs = {status: store.create_job("alice", {}) for status in
            (CREATED, QUEUED, RUNNING, FINISHED, CANCELED)}  # fmt: skip
    for status, job in jobs.items():
        if status != CREATED:
            store.update_job(job.id, status=status)
    live, dead = store.create_job("alice", {}), store.create_job("alice", {})
    store.heartbeat("s-live")
    store.heartbeat("s-dead")
    store.update_job(live.id, status=RUNNING, server="s-live")
    store.update_job(dead.id, status=RUNNING, server="s-dead")
    assert store.recover() == [jobs[RUNNING].id]  # no server: lost; both servers beat
    time.sleep(0.3)
    store.heartbeat("s-live")
    assert store.recover(stale=0.2) == [dead.id]  # s-dead stopped beating
    assert store.recover(alive="s-dead", stale=0.0) == [live.id]  # even a fresh beat
    for job_id in (jobs[RUNNING].id, dead.id):
        got = store.job("alice", job_id)
        assert got.status == ERROR and got.finished is not None
        (entry,) = store.logs(job_id)
        assert (entry.level, entry.code) == ("error", "Internal")
        assert "server running this job stopped" in entry.message
    for status in (CREATED, QUEUED, FINISHED, CANCELED):
        got = store.job("alice", jobs[status].id)
        assert got.status == status and store.logs(got.id) == []
    assert store.recover() == []


# -- logs -------------------------------------------------------------------------------


def test_logs_offsets_levels_and_data(store: Store) -> None:
    job = store.create_job("alice", {})
    other = store.create_job("alice", {})
    store.log(job.id, "debug", "d", data={"path": "/a"})
    store.log(job.id, "info", "i", data=[1, "two", None])
    store.log(other.id, "info", "other job")
    store.log(job.id, "warning", "w", code="W1")
    store.log(job.id, "error", "e", code="E1", data={"nested": {"x": 1.5}})
    entries = store.logs(job.id)
    assert [(e.id, e.level, e.message, e.code) for e in entries] == [
        ("1", "debug", "d", None), ("2", "info", "i", None), ("3", "warning", "w", "W1"),
        ("4", "error", "e", "E1"),
    ]  # fmt: skip
    assert [e.data for e in entries] == [{"path": "/a"}, [1, "two", None], None,
                                         {"nested": {"x": 1.5}}]  # fmt: skip
    assert all(isinstance(e.time, float) and e.time > 1e9 for e in entries)
    assert [e.id for e in store.logs(job.id, offset="2")] == ["3", "4"]
    assert store.logs(job.id, offset="4") == []
    assert [e.id for e in store.logs(job.id, offset="not-an-id")] == ["1", "2", "3", "4"]
    assert [e.id for e in store.logs(job.id, level="warning")] == ["3", "4"]
    assert [e.id for e in store.logs(job.id, level="info", offset="2")] == ["3", "4"]
    assert [e.id for e in store.logs(job.id, level="unknown")] == ["1", "2", "3", "4"]
    assert [e.id for e in store.logs(job.id, limit=2)] == ["1", "2"]
    assert [e.id for e in store.logs(other.id)] == ["1"]


def test_logs_written_at_once_by_two_stores(shared_url: str) -> None:
    """A worker process and the server log to one job at the same time: every entry is
    kept, with ids 1, 2, 3 ... in order."""
    a, b = Store.open(shared_url), Store.open(shared_url)
    job = a.create_job("alice", {})
    per_thread = 25

    def write(i: int) -> None:
        for n in range(per_thread):
            (a if i % 2 else b).log(job.id, "info", f"{i}-{n}")

    _in_threads(6, write)
    entries = a.logs(job.id)
    assert [e.id for e in entries] == [str(n) for n in range(1, 6 * per_thread + 1)]
    assert sorted(e.message for e in entries) == sorted(
        f"{i}-{n}" for i in range(6) for n in range(per_thread))  # fmt: skip


def test_delete_job_removes_its_logs(store: Store) -> None:
    job = store.create_job("alice", {})
    kept = store.create_job("alice", {})
    store.log(job.id, "info", "one")
    store.log(kept.id, "info", "kept")
    assert not store.delete_job("bob", job.id)  # another user's job: not found
    assert store.job("alice", job.id) is not None and len(store.logs(job.id)) == 1
    assert store.delete_job("alice", job.id)
    assert store.job("alice", job.id) is None and store.logs(job.id) == []
    assert not store.delete_job("alice", job.id)
    assert [e.message for e in store.logs(kept.id)] == ["kept"]


# -- user-defined processes -------------------------------------------------------------


def test_user_processes_per_user(store: Store) -> None:
    graph = {"process_graph": {"a": {"process_id": "add", "arguments": {"x": 1, "y": 2},
                                     "result": True}}}  # fmt: skip
    store.save_process("alice", "plus", graph, public=False)
    store.save_process("alice", "abs2", {"process_graph": {}}, public=True)
    store.save_process("bob", "plus", {"process_graph": {"b": 1}}, public=True)
    got = store.process("alice", "plus")
    assert (got.user_id, got.id, got.process, got.public) == ("alice", "plus", graph, False)
    assert isinstance(got.updated, float)
    assert [p.id for p in store.processes("alice")] == ["abs2", "plus"]  # by id
    assert store.processes("alice")[0].public is True
    assert store.process("bob", "plus").process == {"process_graph": {"b": 1}}
    assert store.process("carol", "plus") is None and store.processes("carol") == []
    store.save_process("alice", "plus", {"process_graph": {"new": 1}}, public=True)  # replace
    got = store.process("alice", "plus")
    assert (got.process, got.public) == ({"process_graph": {"new": 1}}, True)
    assert len(store.processes("alice")) == 2
    assert not store.delete_process("carol", "plus")
    assert store.delete_process("alice", "plus")
    assert not store.delete_process("alice", "plus")
    assert store.process("alice", "plus") is None
    assert store.process("bob", "plus") is not None  # bob's is another process


def test_process_saved_at_once_by_two_stores(shared_url: str) -> None:
    """Two servers storing the same process at the same moment: both succeed, one is kept."""
    a, b = Store.open(shared_url), Store.open(shared_url)

    def save(i: int) -> None:
        for n in range(20):
            (a if i % 2 else b).save_process("alice", "p", {"by": i, "n": n}, public=bool(i % 2))

    _in_threads(6, save)
    (kept,) = a.processes("alice")
    assert kept.id == "p" and kept.process["n"] == 19
