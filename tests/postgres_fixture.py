"""A throwaway PostgreSQL server for the tests of ``pgc serve`` on PostgreSQL
(tests/test_server_store.py, tests/test_server_postgres.py).

``initdb`` into a temporary folder, ``pg_ctl start`` on a free port of 127.0.0.1, stopped
and removed at the end of the session; the fixture skips, saying why, when the PostgreSQL
programs or psycopg are not installed. A test file registers the fixture by naming it
at its top level (an assignment, not an import: ruff would take the tests' parameters of
that name for redefinitions of an unused import)::

    import postgres_fixture

    postgres_server = postgres_fixture.postgres_server

Each file that imports the fixture has a session fixture of its own (pytest keeps the
fixtures of a plain module per module), but they share one server: it is started by the
first and stopped when the last of them is finished with it.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _postgres_programs() -> Path | None:
    """The folder with ``initdb`` and ``pg_ctl``: on PATH, or where Debian's postgresql
    package puts them (/usr/lib/postgresql/<version>/bin, not on PATH), newest first."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent

    def version(folder: Path) -> int:
        return int(folder.parent.name) if folder.parent.name.isdigit() else 0

    debian = sorted(map(Path, glob.glob("/usr/lib/postgresql/*/bin")), key=version, reverse=True)
    for folder in debian:
        if all(os.access(folder / name, os.X_OK) for name in ("initdb", "pg_ctl")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder. PostgreSQL refuses to run as root: as
    root (CI runs as root), the cluster belongs to the ``postgres`` user when there is one
    (Debian's package makes it) or else to ``nobody``, and its programs run as that user."""

    def __init__(self, programs: Path) -> None:
        self.programs = programs
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.user = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
        # under /tmp, not pytest's tmp_path: that is private to root (0700)
        self.folder = Path(tempfile.mkdtemp(prefix="pgc-postgres-"))
        if self.user is not None:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        self.data = self.folder / "data"
        self.port = _free_port()
        self._databases = itertools.count()

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        user = {}
        if self.user is not None:
            user = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        return subprocess.run(
            [str(self.programs / args[0]), *args[1:]], cwd=self.folder, capture_output=True,
            text=True, timeout=120, env={**os.environ, "LC_ALL": "C"}, **user,
        )  # fmt: skip

    def start(self) -> None:
        done = self._run("initdb", "-D", str(self.data), "-U", "pgc", "-A", "trust",
                         "-E", "UTF8", "--no-locale", "--no-sync")  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        settings = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} "
            f"-c unix_socket_directories={self.folder} -c max_connections=200 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = self.folder / "server.log"
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", settings,
                         "-w", "-t", "60", "start")  # fmt: skip
        if done.returncode != 0:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed:\n{done.stdout}\n{done.stderr}\n{text}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://pgc@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database (one per test: tests never see each other)."""
        import psycopg

        name = f"test_{next(self._databases)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return self.url(name)


# The one server of this test session, and how many of the files' fixtures hold it.
_shared: list[PostgresServer] = []
_holders = [0]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    pytest.importorskip("psycopg", reason="the PostgreSQL store needs psycopg: pip install "
                        "'psycopg[binary]' (pgc[server])")  # fmt: skip
    if not _shared:
        programs = _postgres_programs()
        if programs is None:
            pytest.skip("PostgreSQL is not installed (no initdb and pg_ctl on PATH or under "
                        "/usr/lib/postgresql/*/bin): apt-get install postgresql")  # fmt: skip
        server = PostgresServer(programs)
        try:
            server.start()
        except BaseException:
            server.stop()
            raise
        _shared.append(server)
    _holders[0] += 1
    try:
        yield _shared[0]
    finally:
        _holders[0] -= 1
        if _holders[0] == 0:
            _shared.pop().stop()
