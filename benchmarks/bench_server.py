"""A load test of ``pgc serve`` on loopback (issue 20): many concurrent clients for a
bounded time, each sending small synchronous requests (``/validation`` and a small
``/result``) and, now and then, a batch job it follows to the end.

It starts a real ``pgc serve`` (a child process, SQLite under a temporary folder), logs
every client in with basic auth, and then checks what a back-end owes its users: every
request answered (no connection error, no 5xx), every job started reaching ``finished``,
the server's memory bounded (its resident set and its workers', sampled each second).
It prints the throughput and latency of each kind of request.

    python benchmarks/bench_server.py --clients 50 --seconds 60 [--workers 2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

SAMPLE = "SENTINEL2_L2A_SAMPLE"
WINDOW = {"west": 600000, "south": 5690000, "east": 600320, "north": 5690320, "crs": 32631}
SMALL = {
    "l": {"process_id": "load_collection", "arguments": {
        "id": SAMPLE, "spatial_extent": WINDOW, "bands": ["B04", "B08"],
        "temporal_extent": ["2023-06-01", "2023-07-01"]}},
    "n": {"process_id": "ndvi", "arguments": {"data": {"from_node": "l"}}},
    "s": {"process_id": "save_result", "result": True, "arguments": {
        "data": {"from_node": "n"}, "format": "GTiff"}},
}  # fmt: skip


def start_server(folder: Path, users: dict[str, str], workers: int) -> tuple[subprocess.Popen, str]:
    from pgc.server.config import hash_password

    lines = ["[server]", "port = 0", 'data = "data"', f"workers = {workers}", "max_queued = 1000",
             "", "[users]"]  # fmt: skip
    lines += [f'{u} = "{hash_password(p, iterations=1000)}"' for u, p in users.items()]
    (folder / "pgc.toml").write_text("\n".join(lines) + "\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "pgc.cli", "serve", "--config", str(folder / "pgc.toml")],
        stdout=subprocess.PIPE, stderr=open(folder / "server.log", "wb"), text=True,  # noqa: SIM115
        cwd=folder,
    )  # fmt: skip
    url = re.search(r"(http://\S+)", process.stdout.readline()).group(1)
    return process, url


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (MB), from /proc."""
    total = 0.0
    pids, seen = [pid], []
    while pids:
        p = pids.pop()
        seen.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):  # each thread's children
            with contextlib.suppress(OSError):
                pids += [int(c) for c in (task / "children").read_text().split()]
    for p in seen:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


class Client(threading.Thread):
    def __init__(self, url: str, user: str, password: str, until: float, job_every: int,
                 record) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.url, self.user, self.password, self.until = url, user, password, until
        self.job_every, self.record = job_every, record
        self.session = requests.Session()
        self.jobs: list[str] = []

    def run(self) -> None:
        login = self.session.get(self.url + "credentials/basic", auth=(self.user, self.password))
        token = login.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer basic//{token}"
        n = 0
        while time.time() < self.until:
            n += 1
            self.call("validation", "post", "validation", json={"process_graph": SMALL})
            self.call("result", "post", "result", json={"process": {"process_graph": SMALL}})
            if n % self.job_every == 0:
                answer = self.call("job create+start", "post", "jobs",
                                   json={"process": {"process_graph": SMALL}})  # fmt: skip
                if answer is not None and answer.status_code == 201:
                    job_id = answer.headers["OpenEO-Identifier"]
                    self.call("job create+start", "post", f"jobs/{job_id}/results")
                    self.jobs.append(job_id)

    def call(self, kind: str, method: str, path: str, **kwargs):
        start = time.perf_counter()
        try:
            answer = getattr(self.session, method)(self.url + path, timeout=120, **kwargs)
            ok = answer.status_code < 500 and answer.status_code != 429
            if ok:
                answer.content  # noqa: B018 - read the body whole
        except requests.RequestException:
            answer, ok = None, False
        self.record(kind, time.perf_counter() - start, ok)
        return answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2, help="the server's job workers")
    parser.add_argument("--job-every", type=int, default=10,
                        help="each client starts a batch job every N rounds")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pgc-load-"))
    users = {f"user{i}": f"pw{i}" for i in range(args.clients)}
    process, url = start_server(folder, users, args.workers)
    times: dict[str, list[float]] = defaultdict(list)
    failures: dict[str, int] = defaultdict(int)
    lock = threading.Lock()

    def record(kind: str, seconds: float, ok: bool) -> None:
        with lock:
            (times[kind].append(seconds) if ok else None)
            if not ok:
                failures[kind] += 1

    memory: list[float] = []
    try:
        start = time.time()
        until = start + args.seconds
        clients = [Client(url, u, p, until, args.job_every, record) for u, p in users.items()]
        for c in clients:
            c.start()
        while any(c.is_alive() for c in clients):
            memory.append(rss_mb(process.pid))
            time.sleep(1.0)
        elapsed = time.time() - start
        # every job started must finish: wait for the queue to drain
        jobs = [(c, j) for c in clients for j in c.jobs]
        deadline = time.time() + 600
        pending = list(jobs)
        while pending and time.time() < deadline:
            memory.append(rss_mb(process.pid))
            still = []
            for client, job_id in pending:
                status = client.session.get(url + f"jobs/{job_id}").json().get("status")
                if status not in ("finished", "error", "canceled"):
                    still.append((client, job_id))
                elif status != "finished":
                    failures["job outcome"] += 1
            pending = still
            time.sleep(1.0)
        drained = time.time() - start - elapsed
    finally:
        process.terminate()
        process.wait(30)
    print(f"{args.clients} clients for {args.seconds:.0f} s against pgc serve "
          f"({args.workers} job workers), {elapsed:.1f} s until the last client stopped")
    print("| request | answered | failed | per second | median (s) | p95 (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in sorted(set(times) | set(failures)):
        got = sorted(times[kind])
        p95 = got[int(0.95 * (len(got) - 1))] if got else float("nan")
        median = statistics.median(got) if got else float("nan")
        print(f"| {kind} | {len(got)} | {failures[kind]} | {len(got) / elapsed:.1f} | "
              f"{median:.3f} | {p95:.3f} |")  # fmt: skip
    print(f"batch jobs: {len(jobs)} started, {len(jobs) - len(pending)} ended within "
          f"{drained:.0f} s after the clients stopped, {len(pending)} still pending")
    print(f"server memory (RSS, with its workers): max {max(memory):.0f} MB, "
          f"last {memory[-1]:.0f} MB")
    print(json.dumps({"failures": dict(failures), "pending_jobs": len(pending)}))
    return 0 if not failures and not pending else 1


if __name__ == "__main__":
    sys.exit(main())
