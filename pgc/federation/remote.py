"""Running a split on real member back-ends (issue 22): each job an openEO batch job.

:class:`RemoteFederation` takes the jobs of a split (:mod:`pgc.federation.split`) and runs
each on its member with the official ``openeo`` client:

- **Order.** A job is created and started once every job it reads from has finished; jobs
  that do not depend on each other run at the same time. A job is never started before its
  inputs exist, so no member holds a worker waiting for another member's partial results.
- **Passing values.** A producer's job saves each value another job needs in pgc's exact
  exchange form (``save_result`` netCDF with ``pgc_exchange``). Its log says which file
  each ``save_result`` node wrote; the consumer's ``load_stac`` placeholder
  (``https://pgc-federation.invalid/JOB/NODE``) is replaced by the member's own link to the
  item holding that file -- signed, as the member gives it, so the consumer needs no token.
  A member that does not log its files (not pgc) is read through its results' canonical
  link when it saved one netCDF file.
- **Polling** has its own loop with a short timeout per request: the client's retries
  would take minutes to notice a member that is gone (research: 63 s to 80 min). A
  transient failure (connection refused or reset, timeout, 5xx) is retried with backoff
  (:data:`BACKOFF`); when it persists, or a job ends in ``error``, every job this run
  started and that is still queued or running is canceled, and :class:`RunFailed` names the
  member, its URL, the job and the member's own error.
- **Bytes.** What crossed between members is read from the members' job logs: the
  producers log every asset download they served (``pgc:sent_bytes``), the consumers the
  bytes they received per host (``pgc:received_by_host``). :class:`RemoteRun` reports
  both beside pgc's estimate.

>>> # RemoteFederation(federation, connect).run(federate(graph, federation).split, "out.nc")
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import Diagnostic, PgcError, echo
from .description import Federation
from .split import Job, Split

BACKOFF = (0.5, 1.0, 2.0, 4.0)  # seconds before each retry of a failed request (~7.5 s)
TIMEOUT = 10  # seconds per request to a member
POLL = 0.5  # seconds between status requests, per running job


class RunFailed(PgcError):
    """A federated run that failed: which member, job and why; the run's other jobs were
    canceled."""


class MemberUnreachable(Exception):
    """A member that did not answer after every retry."""


@dataclass
class Started:
    """A job of the split as a batch job on its member."""

    job: Job
    remote: Any  # openeo.BatchJob
    status: str = "queued"
    assets: dict[str, str] = field(default_factory=dict)  # save_result node -> file name
    results: dict | None = None  # its results document, once read (for every value it saved)

    @property
    def where(self) -> str:
        return f"job {self.job.id} ({self.remote.job_id}) on member {self.job.member}"


@dataclass
class RemoteRun:
    """What a federated run did: the files written, the member jobs (split job id ->
    remote job id), and the bytes that crossed between members as the members' logs show
    them: sent by producers and received by consumers, per exchanged value."""

    written: list[Path]
    jobs: dict[str, str]
    sent: dict[str, int]  # placeholder URL -> bytes its producer served to other members
    received: dict[str, int]  # consuming job id -> bytes it received from other members
    estimate: int  # pgc's estimate of the bytes crossing (Split.bytes_moved)

    @property
    def bytes_sent(self) -> int:
        return sum(self.sent.values())

    @property
    def bytes_received(self) -> int:
        return sum(self.received.values())


def transient(error: BaseException) -> bool:
    """Whether a request's failure may pass: the member unreachable, a timeout, a 5xx."""
    import requests
    from openeo.rest import OpenEoApiError

    if isinstance(error, OpenEoApiError):
        status = error.http_status_code or 0
        return status >= 500 or status in (408, 429)
    return isinstance(error, requests.ConnectionError | requests.Timeout)


class MemberRefused(Exception):
    """A member that answered a request with an openEO error (not one that may pass)."""

    def __init__(self, what: str, code: str, message: str) -> None:
        super().__init__(f"{what}: the member answered {code}: {message}")
        self.code = code


def retried(call: Callable[[], Any], what: str, backoff: tuple[float, ...] = BACKOFF) -> Any:
    """``call()``, retried after each pause of ``backoff`` while it fails transiently;
    :class:`MemberUnreachable` (saying ``what`` failed and how) when it still does,
    :class:`MemberRefused` at once for an openEO error that will not pass (401, 400 ...)."""
    from openeo.rest import OpenEoApiError, OpenEoClientException

    for pause in (*backoff, None):
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - sorted by transient() below
            if isinstance(error, OpenEoApiError) and not transient(error):
                raise MemberRefused(what, str(error.code), str(error.message)[:300]) from None
            if isinstance(error, OpenEoClientException) and not transient(error):
                raise MemberRefused(what, "Internal", str(error)[:300]) from None
            if not transient(error):
                raise
            if pause is None:
                raise MemberUnreachable(f"{what}: {_reason(error)}.") from None
            time.sleep(pause)
    raise AssertionError("unreachable")


def _reason(error: BaseException) -> str:
    from openeo.rest import OpenEoApiError

    if isinstance(error, OpenEoApiError):
        return f"it answered {error.http_status_code} ({error.code})"
    text = str(error)
    for known in ("Connection refused", "Connection reset", "timed out", "Read timed out"):
        if known.lower() in text.lower():
            return known.lower()
    return type(error).__name__


class RemoteFederation:
    """The members of ``federation`` as openEO back-ends. ``connect(member)`` gives an
    authenticated ``openeo.Connection`` to a member (:func:`connector` makes one from
    credentials); ``progress(line)`` hears what happens."""

    def __init__(
        self,
        federation: Federation,
        connect: Callable[[Any], Any],
        progress: Callable[[str], None] | None = None,
        poll: float = POLL,
        backoff: tuple[float, ...] = BACKOFF,
    ) -> None:
        self.federation = federation
        self.connect = connect
        self.progress = progress or (lambda line: None)
        self.poll = poll
        self.backoff = backoff
        self._connections: dict[str, Any] = {}

    def _retried(self, call: Callable[[], Any], what: str) -> Any:
        return retried(call, what, self.backoff)

    def connection(self, member_id: str) -> Any:
        if member_id not in self._connections:
            member = self.federation.member(member_id)
            self._connections[member_id] = self._retried(
                lambda: self.connect(member), f"member {member_id} ({member.url})"
            )
        return self._connections[member_id]

    def run(self, split: Split, output: str | Path) -> RemoteRun:
        """Run every job of ``split``; download the result to ``output`` (a file; a folder
        when the result is several files). :class:`RunFailed` when a job fails or a member
        stops answering, after canceling the run's other jobs."""
        started: dict[str, Started] = {}
        finished: set[str] = set()
        try:
            while len(finished) < len(split.jobs):
                for job in split.jobs:
                    if job.id not in started and set(job.needs) <= finished:
                        started[job.id] = self._start(job, started)
                running = [s for s in started.values() if s.job.id not in finished]
                for entry in self._poll(running):
                    finished.add(entry.job.id)
                    entry.assets = self._assets(entry)
                if len(finished) < len(split.jobs):
                    time.sleep(self.poll)
            final = next(s for s in started.values() if s.job.holds_result)
            written = self._download(final, Path(output))
        except BaseException as error:
            canceled = self._cancel_all(started, finished)
            if isinstance(error, RunFailed):
                raise RunFailed([_with_canceled(d, canceled) for d in error.diagnostics]) from None
            if isinstance(error, MemberUnreachable):
                raise RunFailed([_with_canceled(Diagnostic("ServiceUnavailable", str(error)),
                                                canceled)]) from None  # fmt: skip
            if isinstance(error, MemberRefused):
                raise RunFailed([_with_canceled(Diagnostic(error.code, str(error) + "."),
                                                canceled)]) from None  # fmt: skip
            raise
        sent, received = self._crossings(split, started)
        jobs = {job_id: s.remote.job_id for job_id, s in started.items()}
        return RemoteRun(written, jobs, sent, received, split.bytes_moved)

    # -- steps ---------------------------------------------------------------------------

    def _start(self, job: Job, started: dict[str, Started]) -> Started:
        """Create and start ``job`` on its member, its placeholders replaced by the links
        to its producers' results."""
        member = self.federation.member(job.member)
        graph = self._linked(job, started)
        con = self.connection(job.member)
        what = f"creating job {job.id} on member {job.member} ({member.url})"
        title = f"pgc federated: {job.id}"
        remote = self._retried(lambda: con.create_job(graph, title=title), what)
        entry = Started(job, remote)
        self._retried(remote.start, f"starting {entry.where} ({member.url})")
        self.progress(f"{entry.where}: started")
        return entry

    def _linked(self, job: Job, started: dict[str, Started]) -> dict:
        """The job's openEO graph with every placeholder URL replaced by the member's link
        to the value's item (or results)."""
        process = copy.deepcopy(job.to_openeo())
        graph = process["process_graph"]
        links: dict[str, str] = {}
        for producer_id in job.needs:
            producer = started[producer_id]
            for source, url in producer.job.saves.items():
                links[url] = self._link(producer, source)
        for node in graph.values():
            args = node.get("arguments", {})
            if node.get("process_id") == "load_stac" and args.get("url") in links:
                args["url"] = links[args["url"]]
        return graph  # the flat graph: the client wraps it

    def _link(self, producer: Started, source: str) -> str:
        """The member's link to the file holding node ``source``'s value."""
        member = self.federation.member(producer.job.member)
        save = next(s for s, n in producer.job.saved_values().items() if n == source)
        if producer.results is None:
            what = f"reading the results of {producer.where} ({member.url})"
            producer.results = self._retried(
                lambda: producer.remote.get_results().get_metadata(), what
            )
        results = producer.results
        asset = producer.assets.get(save)
        links = results.get("links", [])
        if asset is not None:
            for link in links:
                path = urlsplit(str(link.get("href", ""))).path
                if link.get("rel") == "item" and path.rsplit("/", 1)[-1] == asset:
                    return str(link["href"])
        netcdf = [a for a in results.get("assets", {}).values()
                  if "netcdf" in str(a.get("type", "")).lower()]  # fmt: skip
        canonical = [str(k["href"]) for k in links if k.get("rel") == "canonical"]
        if len(netcdf) == 1 and canonical:
            return canonical[0]
        raise RunFailed([Diagnostic(
            "FederationUnsatisfiable",
            f"{producer.where} finished, but its results do not say which file holds "
            f"node {echo(source)} (a member that is not pgc logs no files; it saved "
            f"{len(netcdf)} netCDF files).",
        )])  # fmt: skip

    def _assets(self, entry: Started) -> dict[str, str]:
        """save_result node -> the file it wrote, from the job's log."""
        logs = self._logs(entry)
        return {str(data["pgc:node"]): str(data["pgc:asset"]) for data in logs
                if "pgc:node" in data and "pgc:asset" in data}  # fmt: skip

    def _logs(self, entry: Started) -> list[dict]:
        member = self.federation.member(entry.job.member)
        logs = self._retried(entry.remote.logs, f"reading the log of {entry.where} ({member.url})")
        return [dict(log.get("data") or {}) for log in logs if isinstance(log.get("data"), dict)]

    def _poll(self, running: list[Started]) -> Iterable[Started]:
        """The jobs of ``running`` that finished since the last look; RunFailed for one
        that failed (its member's error messages in the message)."""
        done = []
        for entry in running:
            member = self.federation.member(entry.job.member)
            what = f"{entry.where} ({member.url}) stopped answering"
            info = self._retried(entry.remote.describe, what)
            status = info.get("status", "")
            if status != entry.status:
                entry.status = status
                done_part = info.get("progress")
                shown = f" {done_part:.0f} %" if isinstance(done_part, int | float) else ""
                self.progress(f"{entry.where}: {status}{shown}")
            if status == "finished":
                done.append(entry)
            elif status in ("error", "canceled"):
                raise RunFailed([self._failure(entry, status)])
        return done

    def _failure(self, entry: Started, status: str) -> Diagnostic:
        """The member's own account of a failed job: its error entries' codes and messages."""
        member = self.federation.member(entry.job.member)
        try:
            logs = self._retried(lambda: entry.remote.logs(level="error"), "reading the log")
        except Exception:  # noqa: BLE001 - the failure is the news; its details may be gone
            logs = []
        errors = [log for log in logs if log.get("level") == "error"]
        code = next((str(e["code"]) for e in errors if e.get("code")), "Internal")
        said = "; ".join(str(e.get("message", ""))[:300] for e in errors[:3])
        message = (f"{entry.where} ({member.url}) ended with status '{status}'"
                   + (f": {said}" if said else "."))  # fmt: skip
        return Diagnostic(code, message)

    def _cancel_all(self, started: dict[str, Started], finished: set[str]) -> list[str]:
        """Stop every started job that has not finished (each member tried once, quickly:
        one that is gone takes its jobs with it); the jobs canceled."""
        canceled = []
        for job_id, entry in started.items():
            if job_id in finished:
                continue
            try:
                entry.remote.stop()
                canceled.append(entry.where)
            except Exception:  # noqa: BLE001 - a member that is gone ends its own jobs
                pass
        return canceled

    def _download(self, final: Started, output: Path) -> list[Path]:
        """The result-holding job's files: one file to ``output``, several into it as a
        folder."""
        member = self.federation.member(final.job.member)
        what = f"downloading the result of {final.where} ({member.url})"
        results = self._retried(final.remote.get_results, what)
        assets = self._retried(results.get_assets, what)
        exchanged = set(final.assets.get(s) for s in final.job.save_nodes)
        assets = [a for a in assets if _key(a) not in exchanged]
        if len(assets) == 1:
            output.parent.mkdir(parents=True, exist_ok=True)
            return [Path(self._retried(lambda: assets[0].download(output), what))]
        output.mkdir(parents=True, exist_ok=True)
        written = []
        for asset in assets:
            target = output / _key(asset)
            written.append(Path(self._retried(partial(asset.download, target), what)))
        return written

    def _crossings(self, split: Split, started: dict[str, Started]) -> tuple[dict, dict]:
        """Bytes crossing between members from the logs: each exchanged file's downloads
        that its producer served, and each consumer's bytes received from other members'
        hosts."""
        host_of = {m.id: urlsplit(m.url).netloc for m in self.federation.members}
        sent: dict[str, int] = {}
        received: dict[str, int] = {}
        for entry in started.values():
            logs = self._logs(entry)
            files = {entry.assets.get(save): entry.job.saves[source]
                     for save, source in entry.job.saved_values().items()}  # fmt: skip
            for data in logs:
                url = files.get(data.get("pgc:asset")) if "pgc:sent_bytes" in data else None
                if url is not None and split.readers.get(url, set()) - {entry.job.member}:
                    sent[url] = sent.get(url, 0) + int(data["pgc:sent_bytes"])
                by_host = data.get("pgc:received_by_host")
                if isinstance(by_host, dict):
                    own = host_of[entry.job.member]
                    others = sum(int(n) for h, n in by_host.items() if h != own)
                    received[entry.job.id] = received.get(entry.job.id, 0) + others
        return sent, received


def _key(asset: Any) -> str:
    """A result asset's file name (``key`` in openeo >= 0.38, ``name`` before)."""
    return str(getattr(asset, "key", None) or asset.name)


def _with_canceled(diagnostic: Diagnostic, canceled: list[str]) -> Diagnostic:
    from dataclasses import replace

    if not canceled:
        return replace(diagnostic, message=diagnostic.message + " No other job was running.")
    return replace(diagnostic, message=diagnostic.message + " Canceled: "
                   + ", ".join(canceled) + ".")  # fmt: skip


def load_credentials(path: str | Path) -> dict[str, tuple[str, str]]:
    """Member id -> (user, password) from a TOML file of ``[MEMBER]`` tables with ``user``
    and ``password`` (``["*"]``: every member not named). ValueError naming the problem."""
    import tomllib

    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read the credentials {path}: {exc}") from None
    out = {}
    for member, entry in raw.items():
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("user", "password")
        ):
            raise ValueError(f"{path}: [{member}] needs user and password (strings)")
        out[member] = (entry["user"], entry["password"])
    return out


def connector(credentials: dict[str, tuple[str, str]] | None = None,
              timeout: int = TIMEOUT) -> Callable[[Any], Any]:  # fmt: skip
    """``connect(member)`` for :class:`RemoteFederation`: an ``openeo.Connection`` with a
    short timeout and without the client's own retries (the runner retries), logged in
    with basic auth where ``credentials`` (member id, or ``*`` for any member, -> (user,
    password)) has the member."""

    def connect(member: Any) -> Any:
        import openeo

        con = openeo.connect(member.url, default_timeout=timeout, retry=False,
                             auto_validate=False)  # fmt: skip
        found = (credentials or {}).get(member.id) or (credentials or {}).get("*")
        if found is not None:
            con.authenticate_basic(*found)
        return con

    return connect
