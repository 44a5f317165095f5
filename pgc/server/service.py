"""The engine behind ``pgc serve``, in openEO's terms and without the web framework: what
the collections, processes and formats are, validation, synchronous runs and estimates.
:mod:`pgc.server.backend` adapts it to openeo-driver; :mod:`pgc.server.jobs` runs batch
jobs in worker processes.

Runs go through two :class:`pgc.Session` objects on the server's catalog: ``sync`` for
``/result``, with the [sync] budget (:class:`pgc.limits.Limits`) checked from the types
before anything is read -- a request for more fails at once with
``ProcessGraphComplexity``, not later with an out-of-memory kill -- and ``batch`` for
jobs, their estimates and ``/validation`` (what a job could run), with pgc's default
budget and no time limit. User-defined processes are the user's own, read from the store for
each request.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ..errors import Diagnostic, PgcError
from ..formats import OUTPUT_FORMATS, output_format
from ..limits import Limits
from ..options import Options
from ..session import Session
from ..specs import load_specs
from .config import ServerConfig
from .store import Store

MEDIA_TYPES = {
    "gtiff": "image/tiff; application=geotiff",
    "netcdf": "application/x-netcdf",
    "zarr": "application/vnd+zarr",
    "json": "application/json",
    "csv": "text/csv",
    "geojson": "application/geo+json",
}
SUFFIXES = {key: fmt.suffixes[0] for key, fmt in OUTPUT_FORMATS.items()}


class Logger(Protocol):
    """A job's log: one entry, with an openEO code and figures in ``data`` when it has them."""

    def __call__(self, level: str, message: str, code: str | None = None,
                 data: Any = None) -> None: ...  # fmt: skip


class RequestFailed(Exception):
    """An openEO error to answer with: code, message, HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def failure_of(error: PgcError) -> RequestFailed:
    """The openEO error for pgc's diagnostics: the first error's code, every error's
    message with its place in the document (the client shows the message)."""
    errors = [d for d in error.diagnostics if d.is_error] or error.diagnostics
    first = errors[0]
    text = "; ".join(sentence(d) for d in errors[:5])
    if len(errors) > 5:
        text += f"; and {len(errors) - 5} more"
    status = 500 if first.code == "Internal" else 400
    return RequestFailed(first.code, text, status)


def api_errors(diagnostics: Any) -> list[dict]:
    """openEO error objects (code, message with its place, path) of the errors among
    ``diagnostics``, as ``/validation`` answers them."""
    return [{"code": d.code, "message": sentence(d), "path": d.pointer}
            for d in diagnostics if d.is_error]  # fmt: skip


def output_of(plan: Any, written: Callable[[Path], list[Path]]) -> Output:
    """A run's result in a new folder: ``written(target)`` writes it to ``target`` (the
    file name and media type the plan's save_result asks for) and gives the files it
    wrote. RequestFailed with the openEO error when it fails; the folder is the
    request's alone and never left behind."""
    name, media = result_file(plan)
    folder = Path(tempfile.mkdtemp(prefix="pgc-result-"))
    try:
        paths = written(folder / name)
    except PgcError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise failure_of(exc) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return Output(folder, [(str(p.relative_to(folder)), media) for p in paths])


def sentence(d: Diagnostic) -> str:
    """A diagnostic's message with its place in the document, for an API answer."""
    return f"{d.message} (at {d.pointer})" if d.pointer else d.message


@dataclass(frozen=True)
class Output:
    """A run's result as files in ``folder`` (names relative to it), with their types."""

    folder: Path
    files: list[tuple[str, str]]  # (file name, media type)

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class Service:
    """What ``pgc serve`` knows and does, shared by its request threads."""

    def __init__(self, config: ServerConfig, store: Store | None = None) -> None:
        from ..data.catalog import build_catalog, default_catalog

        self.config = config
        self.store = store if store is not None else Store.open(config.database_url)
        folders = tuple(config.collections)
        self.catalog = (default_catalog(folders) if config.samples
                        else build_catalog(folders, samples=False))  # fmt: skip
        limits = replace(
            Limits(), max_seconds=self.config.sync_seconds,
            max_cube_bytes=self.config.sync_cube_bytes,
        )  # fmt: skip
        hosts = tuple(config.allowed_hosts)  # what load_stac may reach
        self.specs = load_specs().without(config.exclude_processes)  # what this back-end offers
        self.sync = Session(catalog=self.catalog, specs=self.specs,
                            options=Options(limits=limits, allowed_hosts=hosts))  # fmt: skip
        self.batch = Session(catalog=self.catalog, specs=self.specs,
                             options=Options(allowed_hosts=hosts))  # fmt: skip

    # -- what there is ---------------------------------------------------------------
    def collections(self) -> list[dict]:
        return [self.collection(cid) for cid in self.catalog.ids()]

    def collection(self, collection_id: str) -> dict:
        stac = json.loads(json.dumps(self.catalog.stac(collection_id)))  # a copy
        stac.pop("pgc:sample", None)  # which generator makes its data: pgc's own business
        stac.setdefault("stac_version", "1.0.0")
        stac.setdefault("type", "Collection")
        stac.setdefault("license", "proprietary")
        stac.setdefault("description", stac.get("title") or collection_id)
        return stac

    def user_processes(self, user_id: str | None) -> dict[str, dict]:
        if user_id is None:
            return {}
        return {p.id: {**p.process, "id": p.id} for p in self.store.processes(user_id)}

    # -- validation and runs -----------------------------------------------------------
    def validate(self, process: dict, user_id: str | None) -> list[dict]:
        """openEO validation errors (code, message with the JSON pointer) for ``process``
        (a process object, or a bare flat graph) with the catalog and the batch budget:
        what a job would find before reading anything (``/result`` holds a request to the
        smaller [sync] budget when it runs)."""
        result = self.batch.validate(
            as_process(process), user_processes=self.user_processes(user_id)
        )
        return api_errors(result.diagnostics)

    def run(self, process: dict, user_id: str | None) -> Output:
        """Run ``process`` synchronously (the [sync] budget) and write its result into a
        new folder; RequestFailed with the openEO error when it fails."""
        document = as_process(process)
        users = self.user_processes(user_id)
        try:
            plan = self.sync.compile(document, user_processes=users)
        except PgcError as exc:
            raise failure_of(exc) from None

        def written(target: Path) -> list[Path]:  # the plan comes from the session's cache
            return self.sync.execute(document, user_processes=users, output=target).written

        return output_of(plan, written)

    def run_job(self, process: dict, user_id: str | None, folder: Path, log: Logger,
                progress: Any = None) -> list[dict]:  # fmt: skip
        """Run a batch job's ``process`` (the batch budget), writing its results into
        ``folder``; its assets (name, media type, bytes). ``log(level, message, code,
        data)`` records what happens in the job's log, with the figures a federated run
        reads (:func:`log_outputs`). PgcError when it fails."""
        users = self.user_processes(user_id)
        plan = self.batch.compile(process, user_processes=users)
        log("info", f"Compiled: {len(plan.graph.nodes())} nodes after "
            f"{', '.join(plan.pipeline)}; estimated bytes read: {plan.bytes_read()}.")  # fmt: skip
        for warning in plan.diagnostics:
            log("warning", warning.message, warning.code, {"path": warning.pointer})
        name, media = result_file(plan)
        result = self.batch.execute(process, user_processes=users, output=folder / name,
                                    overwrite=True, progress=progress)  # fmt: skip
        log_outputs(log, result)
        assets = [{"name": p.name, "type": media, "bytes": p.stat().st_size}
                  for p in result.written]  # fmt: skip
        log("info", f"Read {result.bytes_read} bytes, wrote "
            + ", ".join(f"{a['name']} ({a['bytes']} bytes)" for a in assets) + ".")  # fmt: skip
        return assets

    def estimate(self, process: dict, user_id: str | None) -> dict:
        """openEO's estimate of a job: the result's size and the bytes read, from the types
        of the compiled plan (no cost model: costs are 0)."""
        try:
            plan = self.batch.compile(
                as_process(process), user_processes=self.user_processes(user_id)
            )
        except PgcError as exc:
            raise failure_of(exc) from None
        estimate: dict[str, Any] = {"costs": 0}
        size = result_bytes(plan)
        if size is not None:
            estimate["size"] = size
        read = plan.bytes_read()
        if read is not None:
            estimate["pgc:bytes_read"] = int(read)
        return estimate


def as_process(process: dict) -> dict:
    """A process object from what a request holds: ``{"process_graph": ...}`` as is, a
    bare flat graph wrapped."""
    if isinstance(process, dict) and "process_graph" in process:
        return process
    return {"process_graph": process}


def result_bytes(plan: Any) -> int | None:
    """The bytes of what a plan's save_result nodes write (in memory, before the file
    format), else of its result; None where the types do not know."""
    from ..ir.nodes import NodeRef

    graph = plan.graph
    saved = [n.arg("data") for n in graph.nodes() if n.process_id == "save_result"]
    types = [graph.node(v.id).type for v in saved if isinstance(v, NodeRef)]
    sizes = [getattr(t, "nbytes", None) for t in types or [graph.result_node.type]]
    return None if None in sizes or not sizes else int(sum(sizes))


def result_file(plan: Any) -> tuple[str, str]:
    """The file name and media type of a plan's result: its save_result's format, else
    JSON."""
    from ..ir.nodes import Literal

    for _, node in plan.graph.walk():
        if node.process_id == "save_result":
            fmt = node.arg("format")
            key = output_format(fmt.value) if isinstance(fmt, Literal) else None
            if key is not None:
                return f"result{SUFFIXES[key]}", MEDIA_TYPES[key]
    return "result.json", MEDIA_TYPES["json"]


def log_outputs(log: Logger, result: Any) -> None:
    """The job's log entries a federated run reads (:mod:`pgc.federation.remote`), each
    with its figures in ``data``: which file each save_result node wrote (an item of the
    job's results is named after its file), and the bytes that came over the network, per
    host (another member's results among them)."""
    for path, node in zip(result.written, result.saved_nodes, strict=False):
        log("info", f"save_result node '{node}' wrote {path.name}.",
            data={"pgc:asset": path.name, "pgc:node": node})  # fmt: skip
    network = result.network
    if network.get("bytes") or network.get("documents"):
        hosts = network.get("by_host", {})
        shown = ", ".join(f"{h}: {n}" for h, n in sorted(hosts.items()))
        log("info", f"Received {network['bytes']} bytes of data and {network['documents']} "
            "bytes of STAC documents over the network" + (f" ({shown})." if hosts else "."),
            data={"pgc:received_bytes": network["bytes"], "pgc:received_by_host": hosts,
                  "pgc:document_bytes": network["documents"]})  # fmt: skip


def service_for(config: ServerConfig, store: Store | None = None) -> Service:
    """The engine ``config`` asks for: pgc's own, or, with ``[federation]``, the
    aggregator in front of the members (:class:`pgc.server.federated.FederatedService`)."""
    if config.federation is not None:
        from .federated import FederatedService

        return FederatedService(config, store)
    return Service(config, store)
