"""Batch jobs off the request thread: a pool of worker processes fed from the store.

Starting a job only marks it ``queued`` (the request returns at once). A dispatcher thread
of the server hands queued jobs, oldest first, to at most ``workers`` processes; a job is
taken by moving it ``queued -> running`` in the database, atomically, under the server's
id, so several server processes on one PostgreSQL database never run a job twice. Each
server beats every few seconds; the running jobs of a server that stopped beating are
marked ``error`` by the others, or by itself when it comes back. Each job runs in a process
of its own (started by a fork server that has pgc imported), so a job that crashes or
leaks takes nothing else down, and cancelling a job ends its process. A process that
ends without recording an outcome leaves its job ``error``, with a log entry saying so.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import secrets
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from .config import ServerConfig
from .store import ERROR, FINISHED, QUEUED, RUNNING, Store

LOG = logging.getLogger("pgc.server")
POLL_SECONDS = 0.2
BEAT_SECONDS = 2.0  # how often a server records that it is alive (Store.heartbeat)


def job_folder(config: ServerConfig, job_id: str) -> Path:
    """Where a job's results are written (and the only folder its downloads come from)."""
    return config.data / "jobs" / job_id


class JobPool:
    """The worker processes of one server (:meth:`start`, :meth:`stop`)."""

    def __init__(self, config: ServerConfig, store: Store) -> None:
        self.config, self.store = config, store
        self.server_id = "s-" + secrets.token_hex(8)
        self._beaten = 0.0
        self._running: dict[str, Any] = {}  # job id -> its multiprocessing.Process
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["pgc.server.jobs", "pgc.runner"])
        self._context = context

    def start(self) -> None:
        self._thread = threading.Thread(target=self._dispatch, name="pgc-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop dispatching; running jobs are ended (their jobs are left ``running``, for
        a live server's :meth:`Store.recover` to mark once this one stops beating, as
        after a crash)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            for process in self._running.values():
                process.kill()
            self._running.clear()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    def cancel(self, job_id: str) -> None:
        """End the job's process if this server runs it (the store says ``canceled``)."""
        with self._lock:
            process = self._running.pop(job_id, None)
        if process is not None:
            # ended politely first: a federated job cancels its member jobs on the way out
            process.terminate()
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)

    def _dispatch(self) -> None:
        while not self._stop.is_set():
            try:
                self._beat()
                self._reap()
                self._take()
            except Exception:  # noqa: BLE001 - the dispatcher must survive a bad job
                LOG.exception("job dispatcher")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _beat(self) -> None:
        """Every BEAT_SECONDS: say this server is alive, and mark the running jobs of
        servers that are not (crashed, killed, their machine gone) as lost."""
        now = time.monotonic()
        if now - self._beaten < BEAT_SECONDS:
            return
        self._beaten = now
        self.store.heartbeat(self.server_id)
        for job_id in self.store.recover(alive=self.server_id):
            LOG.warning("job %s: its server stopped while it ran; marked error", job_id)

    def _reap(self) -> None:
        with self._lock:
            done = [(i, p) for i, p in self._running.items() if not p.is_alive()]
            for job_id, _ in done:
                del self._running[job_id]
        for job_id, process in done:
            process.join()
            code = process.exitcode
            if self.store.transition(job_id, (RUNNING,), ERROR, finished=time.time()):
                self.store.log(
                    job_id, "error",
                    f"The job's worker process ended without a result (exit code {code}).",
                    code="Internal",
                )  # fmt: skip

    def _take(self) -> None:
        while len(self._running) < self.config.workers and not self._stop.is_set():
            job_id = next(iter(self.store.queued_ids(limit=1)), None)
            if job_id is None:
                return
            if not self.store.transition(job_id, (QUEUED,), RUNNING, started=time.time(),
                                         progress=0.0, server=self.server_id):  # fmt: skip
                continue  # another server took it, or it was canceled meanwhile
            process = self._context.Process(
                target=run_job, args=(self.config, job_id, os.getpid()),
                name=f"pgc-job-{job_id}", daemon=True,
            )  # fmt: skip
            with self._lock:
                process.start()
                self._running[job_id] = process


def watch(store: Store, job_id: str, server_pid: int, seconds: float = 1.0) -> None:
    """A worker's watchdog: end the worker when its server is gone (a killed server's
    workers would otherwise run on, orphaned) or when the job is no longer running (it
    was canceled through another server process of the same database)."""
    while True:
        time.sleep(seconds)
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            os._exit(3)
        except PermissionError:  # alive, another user's: not ours to judge
            pass
        try:
            job = store.job(None, job_id)
        except Exception:  # noqa: BLE001 - the database away for a moment: look again
            continue
        if job is None or job.status != RUNNING:
            os._exit(4)


def run_job(config: ServerConfig, job_id: str, server_pid: int | None = None) -> None:
    """The body of a worker process: run one job that is ``running`` in the store, record
    its logs, progress, results and outcome (``server_pid``: the server, whose end ends
    this process too)."""
    from ..errors import PgcError
    from .service import failure_of, service_for

    store = Store.open(config.database_url)
    job = store.job(None, job_id)
    if job is None or job.status != RUNNING:
        return
    if server_pid is not None:
        threading.Thread(target=watch, args=(store, job_id, server_pid), daemon=True).start()
    # canceled (JobPool.cancel): leave through Python, so what the job started elsewhere
    # (a federated job's member jobs) is canceled on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    service = service_for(config, store)
    folder = job_folder(config, job_id)
    last = [0.0]

    def progress(done: int, total: int, process_id: str) -> None:
        now = time.monotonic()
        if now - last[0] > 1.0 and total:
            last[0] = now
            store.update_job(job_id, progress=round(100.0 * done / total, 1))

    def log(level: str, message: str, code: str | None = None, data: Any = None) -> None:
        store.log(job_id, level, message, code=code, data=data)

    try:
        start = time.perf_counter()
        folder.mkdir(parents=True, exist_ok=True)
        assets = service.run_job(job.process, job.user_id, folder, log, progress)
        seconds = time.perf_counter() - start
        log("info", f"Finished in {seconds:.1f} s.")
        usage = {"duration": {"value": round(seconds, 3), "unit": "seconds"}}
        store.transition(job_id, (RUNNING,), FINISHED, finished=time.time(), progress=100.0,
                         results=assets, usage=usage)  # fmt: skip
    except PgcError as exc:
        failed = failure_of(exc)
        for d in exc.diagnostics:
            store.log(job_id, "error" if d.is_error else "warning", d.message, code=d.code,
                      data={"path": d.pointer} if d.pointer else None)  # fmt: skip
        store.transition(job_id, (RUNNING,), ERROR, finished=time.time())
        LOG.info("job %s failed: %s", job_id, failed.message)
    except Exception as exc:  # noqa: BLE001 - recorded, never lost
        LOG.error("job %s: internal error\n%s", job_id, traceback.format_exc())
        store.log(job_id, "error", f"Internal error in pgc ({type(exc).__name__}); the "
                  "server's log has the details.", code="Internal")  # fmt: skip
        store.transition(job_id, (RUNNING,), ERROR, finished=time.time())
