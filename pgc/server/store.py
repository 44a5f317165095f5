"""What ``pgc serve`` keeps across restarts: batch jobs, their logs and results, and the
user-defined processes, in SQLite (one file under the data folder) or PostgreSQL.

Every read and write names the user: a job or process of another user is not found, as if
it did not exist (the server answers 404). Job ids are random (128 bits from
:mod:`secrets`), so they cannot be guessed either.

A job's life: ``created`` -> ``queued`` (started by its owner) -> ``running`` (a worker
took it) -> ``finished`` | ``error`` | ``canceled``. A server that stops while jobs are
running has lost their work: every server beats (:meth:`Store.heartbeat`) and looks for
running jobs of servers that have stopped beating, which :meth:`Store.recover` marks
``error`` with a log entry saying so (never ``running`` forever). Queued jobs wait for
the next server.

>>> store = Store.open(":memory:")
>>> job = store.create_job("alice", {"process_graph": {}}, title="t")
>>> store.job("alice", job.id).status, store.job("bob", job.id)
('created', None)
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CREATED, QUEUED, RUNNING, FINISHED, ERROR, CANCELED = (
    "created", "queued", "running", "finished", "error", "canceled",
)  # fmt: skip
ACTIVE = (QUEUED, RUNNING)
DONE = (FINISHED, ERROR, CANCELED)

# One text for both dialects. Times are epoch seconds in DOUBLE PRECISION (8 bytes): a
# PostgreSQL REAL has 4 bytes and would round them to 128 seconds; SQLite reads either
# name as its REAL. JSON is kept as TEXT.
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY, user_id TEXT NOT NULL, title TEXT, description TEXT,
        process TEXT NOT NULL, plan TEXT, budget DOUBLE PRECISION, log_level TEXT NOT NULL,
        status TEXT NOT NULL, progress DOUBLE PRECISION, created DOUBLE PRECISION NOT NULL,
        updated DOUBLE PRECISION NOT NULL, started DOUBLE PRECISION,
        finished DOUBLE PRECISION, usage TEXT, results TEXT, server TEXT)""",
    "CREATE INDEX IF NOT EXISTS jobs_by_user ON jobs (user_id, created)",
    """CREATE TABLE IF NOT EXISTS job_logs (
        job_id TEXT NOT NULL, seq INTEGER NOT NULL, time DOUBLE PRECISION NOT NULL,
        level TEXT NOT NULL, message TEXT NOT NULL, code TEXT, data TEXT,
        PRIMARY KEY (job_id, seq))""",
    """CREATE TABLE IF NOT EXISTS servers (
        id TEXT PRIMARY KEY, heartbeat DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS processes (
        user_id TEXT NOT NULL, id TEXT NOT NULL, process TEXT NOT NULL, public INTEGER NOT NULL,
        updated DOUBLE PRECISION NOT NULL, PRIMARY KEY (user_id, id))""",
)
LEVELS = ("debug", "info", "warning", "error")
# A server that has not beaten for this long has stopped: its running jobs are lost.
STALE_SECONDS = 10.0


@dataclass(frozen=True)
class Job:
    """One batch job as stored."""

    id: str
    user_id: str
    process: dict
    status: str
    created: float
    updated: float
    title: str | None = None
    description: str | None = None
    plan: str | None = None
    budget: float | None = None
    log_level: str = "info"
    progress: float | None = None
    started: float | None = None
    finished: float | None = None
    usage: dict = field(default_factory=dict)
    results: list[dict] = field(default_factory=list)  # assets: name, path, type, bytes ...
    server: str | None = None  # the server whose worker runs it (JobPool.server_id)


@dataclass(frozen=True)
class LogEntry:
    id: str
    time: float
    level: str
    message: str
    code: str | None = None
    data: Any = None


@dataclass(frozen=True)
class StoredProcess:
    user_id: str
    id: str
    process: dict
    public: bool
    updated: float


_JOB_COLUMNS = (
    "id", "user_id", "title", "description", "process", "plan", "budget", "log_level",
    "status", "progress", "created", "updated", "started", "finished", "usage", "results",
    "server",
)  # fmt: skip
_JSON_COLUMNS = {"process", "usage", "results"}


class Store:
    """Jobs, logs and user-defined processes in one database. ``Store.open(url)``: a path
    (SQLite; ``":memory:"`` for tests) or a ``postgresql://`` URL."""

    placeholder = "?"
    # Where the dialects differ: a statement run first in the transaction it protects, or
    # None where the dialect needs none (SQLite takes the whole database's write lock at
    # the start of every transaction).
    lock_schema: str | None = None  # before creating the tables: servers starting together
    lock_job: str | None = None  # before numbering a job's next log entry: several writers

    def __init__(self) -> None:
        self._lock = threading.RLock()  # SQLite in memory: one connection, one user

    @staticmethod
    def open(url: str | Path) -> Store:
        text = str(url)
        if text.startswith(("postgresql://", "postgres://")):
            return PostgresStore(text)
        return SqliteStore(text)

    # -- the database -------------------------------------------------------------------
    @contextmanager
    def _cursor(self) -> Iterator[Any]:  # pragma: no cover - each dialect has its own
        raise NotImplementedError
        yield

    def _execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._cursor() as cursor:
            cursor.execute(sql.replace("?", self.placeholder), args)
            return cursor.fetchall() if cursor.description else []

    def create_schema(self) -> None:
        """The tables, made in one transaction if they do not exist yet."""
        with self._cursor() as cursor:
            if self.lock_schema is not None:
                cursor.execute(self.lock_schema)
            for statement in SCHEMA:
                cursor.execute(statement)

    def close(self) -> None:
        """Close the connections this store keeps for reuse (it opens new ones if used
        again)."""

    # -- jobs -------------------------------------------------------------------------
    def create_job(
        self,
        user_id: str,
        process: dict,
        *,
        title: str | None = None,
        description: str | None = None,
        plan: str | None = None,
        budget: float | None = None,
        log_level: str = "info",
    ) -> Job:
        now = time.time()
        job = Job(
            id="j-" + secrets.token_hex(16), user_id=user_id, process=process, status=CREATED,
            created=now, updated=now, title=title, description=description, plan=plan,
            budget=budget, log_level=log_level if log_level in LEVELS else "info",
        )  # fmt: skip
        values = tuple(_to_column(c, getattr(job, c)) for c in _JOB_COLUMNS)
        self._execute(
            f"INSERT INTO jobs ({', '.join(_JOB_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_JOB_COLUMNS))})",
            values,
        )
        return job

    def job(self, user_id: str | None, job_id: str) -> Job | None:
        """The job, or None when it does not exist or is another user's (``user_id``
        None: any user's, for the server's own workers)."""
        sql = f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs WHERE id = ?"
        args: tuple = (job_id,)
        if user_id is not None:
            sql, args = sql + " AND user_id = ?", (job_id, user_id)
        rows = self._execute(sql, args)
        return _job(rows[0]) if rows else None

    def jobs(self, user_id: str, limit: int | None = None) -> list[Job]:
        """The user's jobs, newest first."""
        sql = f"SELECT {', '.join(_JOB_COLUMNS)} FROM jobs WHERE user_id = ? ORDER BY created DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_job(row) for row in self._execute(sql, (user_id,))]

    def queued_ids(self, limit: int | None = None) -> list[str]:
        """Ids of the jobs waiting for a worker, oldest first (every user's)."""
        sql = "SELECT id FROM jobs WHERE status = ? ORDER BY updated"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [row[0] for row in self._execute(sql, (QUEUED,))]

    def update_job(self, job_id: str, **changes: Any) -> None:
        """Set columns of one job (``updated`` is set to now)."""
        unknown = set(changes) - set(_JOB_COLUMNS)
        if unknown:
            raise ValueError(f"no such job field: {sorted(unknown)}")
        changes["updated"] = time.time()
        names = list(changes)
        self._execute(
            f"UPDATE jobs SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
            (*(_to_column(n, changes[n]) for n in names), job_id),
        )

    def transition(self, job_id: str, allowed: tuple[str, ...], status: str, **changes) -> bool:
        """Move the job to ``status`` only if it is in one of ``allowed`` now (atomically:
        a cancel and a worker finishing cannot both win); whether it moved."""
        changes = {**changes, "status": status, "updated": time.time()}
        names = list(changes)
        with self._lock, self._cursor() as cursor:
            cursor.execute(
                (
                    f"UPDATE jobs SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ? "
                    f"AND status IN ({', '.join('?' * len(allowed))})"
                ).replace("?", self.placeholder),
                (*(_to_column(n, changes[n]) for n in names), job_id, *allowed),
            )
            return cursor.rowcount == 1

    def delete_job(self, user_id: str, job_id: str) -> bool:
        with self._cursor() as cursor:
            p = self.placeholder
            cursor.execute(f"DELETE FROM jobs WHERE id = {p} AND user_id = {p}", (job_id, user_id))
            deleted = cursor.rowcount == 1
            if deleted:
                cursor.execute(f"DELETE FROM job_logs WHERE job_id = {p}", (job_id,))
        return deleted

    def heartbeat(self, server_id: str) -> None:
        """Record that server ``server_id`` is alive now (its dispatcher calls this every
        few seconds; :meth:`recover` goes by it)."""
        self._execute(
            "INSERT INTO servers (id, heartbeat) VALUES (?, ?) "
            "ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat",
            (server_id, time.time()),
        )

    def recover(self, alive: str | None = None, stale: float = STALE_SECONDS) -> list[str]:
        """Running jobs whose server stopped -- it has not beaten for ``stale`` seconds,
        or is unknown -- are marked ``error``, each with a log entry saying why; their
        ids. Server ``alive`` (the caller) counts as alive whatever its heartbeat says.
        Queued jobs wait for a server to take them: nothing was lost."""
        since = time.time() - stale
        rows = self._execute(
            "SELECT jobs.id FROM jobs LEFT JOIN servers ON servers.id = jobs.server "
            "WHERE jobs.status = ? AND (jobs.server IS NULL OR "
            "(jobs.server <> ? AND (servers.heartbeat IS NULL OR servers.heartbeat < ?)))",
            (RUNNING, alive or "", since),
        )
        lost = []
        for (job_id,) in rows:
            if self.transition(job_id, (RUNNING,), ERROR, finished=time.time()):
                lost.append(job_id)
                self.log(
                    job_id, "error",
                    "The server running this job stopped; the job's work was lost. "
                    "Start the job again.",
                    code="Internal",
                )  # fmt: skip
        self._execute("DELETE FROM servers WHERE heartbeat < ?", (time.time() - 86400,))
        return lost

    # -- logs -------------------------------------------------------------------------
    def log(
        self, job_id: str, level: str, message: str, code: str | None = None, data: Any = None
    ) -> None:
        with self._lock, self._cursor() as cursor:
            p = self.placeholder
            if self.lock_job is not None:
                cursor.execute(self.lock_job.replace("?", p), (job_id,))
            cursor.execute(f"SELECT COALESCE(MAX(seq), 0) FROM job_logs WHERE job_id = {p}",
                           (job_id,))  # fmt: skip
            seq = int(cursor.fetchone()[0]) + 1
            cursor.execute(
                "INSERT INTO job_logs (job_id, seq, time, level, message, code, data) "
                f"VALUES ({', '.join([p] * 7)})",
                (job_id, seq, time.time(), level, message, code,
                 None if data is None else json.dumps(data)),
            )  # fmt: skip

    def logs(
        self, job_id: str, offset: str | None = None, level: str = "debug", limit: int = 1000
    ) -> list[LogEntry]:
        """Entries after ``offset`` (an entry id) of at least ``level``, oldest first."""
        after = int(offset) if offset and str(offset).isdigit() else 0
        wanted = LEVELS[LEVELS.index(level) if level in LEVELS else 0 :]
        rows = self._execute(
            "SELECT seq, time, level, message, code, data FROM job_logs WHERE job_id = ? "
            f"AND seq > ? AND level IN ({', '.join('?' * len(wanted))}) ORDER BY seq "
            f"LIMIT {int(limit)}",
            (job_id, after, *wanted),
        )
        return [
            LogEntry(str(seq), t, lvl, msg, code, None if data is None else json.loads(data))
            for seq, t, lvl, msg, code, data in rows
        ]

    # -- user-defined processes -------------------------------------------------------
    def save_process(self, user_id: str, process_id: str, process: dict, public: bool) -> None:
        """Store the process, replacing the user's process of that id (one statement: two
        servers saving it at once both succeed, the later one is kept)."""
        self._execute(
            "INSERT INTO processes (user_id, id, process, public, updated) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, id) DO UPDATE SET "
            "process = excluded.process, public = excluded.public, updated = excluded.updated",
            (user_id, process_id, json.dumps(process), int(public), time.time()),
        )

    def process(self, user_id: str, process_id: str) -> StoredProcess | None:
        rows = self._execute(
            "SELECT user_id, id, process, public, updated FROM processes "
            "WHERE user_id = ? AND id = ?",
            (user_id, process_id),
        )
        return _stored(rows[0]) if rows else None

    def processes(self, user_id: str) -> list[StoredProcess]:
        rows = self._execute(
            "SELECT user_id, id, process, public, updated FROM processes WHERE user_id = ? "
            "ORDER BY id",
            (user_id,),
        )
        return [_stored(row) for row in rows]

    def delete_process(self, user_id: str, process_id: str) -> bool:
        with self._cursor() as cursor:
            p = self.placeholder
            cursor.execute(f"DELETE FROM processes WHERE user_id = {p} AND id = {p}",
                           (user_id, process_id))  # fmt: skip
            return cursor.rowcount == 1


class SqliteStore(Store):
    """SQLite: one connection per thread (and per process), WAL journal so the web threads
    and the job workers read while one writes."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self._local = threading.local()
        self._memory = None
        if path == ":memory:":
            self._memory = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.create_schema()

    def _connection(self) -> sqlite3.Connection:
        if self._memory is not None:
            return self._memory
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=30000")
            self._local.connection = connection
        return connection

    def close(self) -> None:
        """Close the calling thread's connection (an in-memory database is kept open:
        closing it would lose it)."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            self._local.connection = None
            connection.close()

    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        connection = self._connection()
        with self._lock if self._memory is not None else _NO_LOCK:
            cursor = connection.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            finally:
                cursor.close()


class PostgresStore(Store):
    """PostgreSQL (``psycopg``), for several server processes sharing one database.

    Connections are taken for one transaction and then kept for reuse, up to
    :attr:`idle_connections` of them: the web server's threads come and go (one per
    request), so a connection per thread would be opened per request. Each transaction is
    explicit (the connections are in autocommit mode outside them)."""

    placeholder = "%s"
    # one lock per database (the key is any constant of pgc's): CREATE TABLE IF NOT EXISTS
    # run by two transactions at once can fail on PostgreSQL's catalog
    lock_schema = "SELECT pg_advisory_xact_lock(7067459)"
    # the job's row, locked until the new entry is committed: another writer of the job's
    # log waits, then numbers its entry after this one
    lock_job = "SELECT id FROM jobs WHERE id = ? FOR UPDATE"
    idle_connections = 8

    def __init__(self, url: str) -> None:
        super().__init__()
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise RuntimeError("a postgresql:// database needs psycopg: pip install "
                               "'pgc[server]'") from exc  # fmt: skip
        self.url = url
        self._psycopg = psycopg
        self._idle: list[Any] = []
        self._idle_lock = threading.Lock()
        self.create_schema()

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        connection, transaction = self._begin()
        try:
            with ExitStack() as stack:
                stack.push(transaction)  # begun: commits, or rolls back on an exception
                with connection.cursor() as cursor:
                    yield cursor
        finally:
            self._give_back(connection)

    def _begin(self) -> tuple[Any, Any]:
        """A connection and its transaction, begun. A kept connection that the database
        has ended meanwhile (a restart, an idle timeout) fails at BEGIN: then a new one."""
        with self._idle_lock:
            kept = self._idle.pop() if self._idle else None
        if kept is not None:
            try:
                return kept, self._begun(kept)
            except self._psycopg.OperationalError:
                kept.close()
        connection = self._psycopg.connect(self.url, autocommit=True)
        try:
            return connection, self._begun(connection)
        except BaseException:
            connection.close()
            raise

    @staticmethod
    def _begun(connection: Any) -> Any:
        transaction = connection.transaction()
        transaction.__enter__()
        return transaction

    def _give_back(self, connection: Any) -> None:
        idle = self._psycopg.pq.TransactionStatus.IDLE
        if not connection.closed and connection.info.transaction_status == idle:
            with self._idle_lock:
                if len(self._idle) < self.idle_connections:
                    self._idle.append(connection)
                    return
        connection.close()  # broken, or enough are kept

    def close(self) -> None:
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


_NO_LOCK = _NoLock()


def _to_column(name: str, value: Any) -> Any:
    if name in _JSON_COLUMNS:
        return json.dumps(value)
    return value


def _job(row: tuple) -> Job:
    values = dict(zip(_JOB_COLUMNS, row, strict=True))
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name]) if values[name] is not None else None
    values["usage"] = values["usage"] or {}
    values["results"] = values["results"] or []
    return Job(**values)


def _stored(row: tuple) -> StoredProcess:
    user_id, process_id, process, public, updated = row
    return StoredProcess(user_id, process_id, json.loads(process), bool(public), updated)
