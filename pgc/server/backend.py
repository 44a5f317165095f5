"""pgc as an openeo-driver back-end: the catalog, processing, batch jobs and user-defined
processes that openeo-driver's web application serves, each a thin adapter over
:class:`pgc.server.service.Service` and :class:`pgc.server.store.Store`.

openeo-driver's own evaluator and dry run are not used: ``/result`` and jobs run through
pgc (whose push-filters and prune-bands passes do at compile time what the dry run does),
``/processes`` lists pgc's definitions, ``/validation`` answers with pgc's diagnostics.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import flask
from openeo_driver.backend import (
    BatchJobMetadata,
    BatchJobs,
    CollectionCatalog,
    JobListing,
    OpenEoBackendImplementation,
    Processing,
    SecondaryServices,
    UdfRuntimes,
    UserDefinedProcesses,
    UserDefinedProcessesListing,
    UserDefinedProcessMetadata,
)
from openeo_driver.errors import (
    JobNotFinishedException,
    JobNotFoundException,
    OpenEOApiException,
    ProcessGraphNotFoundException,
)
from openeo_driver.processes import ProcessRegistry

from .. import formats
from .jobs import JobPool, job_folder
from .process_listing import process_descriptions
from .service import RequestFailed, Service
from .store import CANCELED, CREATED, DONE, ERROR, QUEUED, RUNNING, Job

LOG = logging.getLogger("pgc.server")


def api_error(failed: RequestFailed) -> OpenEOApiException:
    return OpenEOApiException(message=failed.message, code=failed.code, status_code=failed.status)


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class PgcCatalog(CollectionCatalog):
    """pgc's collections (the catalog of the server's configuration), as STAC."""

    def __init__(self, service: Service) -> None:
        super().__init__(service.collections())
        self.service = service

    def get_collection_metadata(self, collection_id: str) -> dict:
        """A collection by its id or any of its aliases (``/collections/S2_L2A``)."""
        cid = self.service.catalog.canonical(collection_id)
        return super().get_collection_metadata(cid if cid is not None else collection_id)


class PgcProcessing(Processing):
    def __init__(self, service: Service) -> None:
        self.service = service
        self._registry = ProcessRegistry(argument_names=None, target_version="2.0.0-rc.2")
        for spec in process_descriptions():
            if spec["id"] in service.specs:  # less the processes the operator excluded
                self._registry.add_spec(spec)

    def get_process_registry(self, api_version: Any) -> ProcessRegistry:
        return self._registry

    def evaluate(self, process_graph: dict, env: Any = None) -> flask.Response:
        """A synchronous run: the result file, streamed, and its folder removed after."""
        user = env.get("user") if env is not None else None
        try:
            output = self.service.run({"process_graph": dict(process_graph)},
                                      user.user_id if user else None)  # fmt: skip
        except RequestFailed as failed:
            raise api_error(failed) from None
        name, media = output.files[0]
        response = flask.send_file(output.folder / name, mimetype=media, download_name=name)
        response.call_on_close(output.cleanup)
        return response

    def validate(self, process_graph: dict, env: Any = None) -> list[dict]:
        user = _request_user()
        return self.service.validate({"process_graph": dict(process_graph)}, user)


def _request_user() -> str | None:
    """The user of a request that openeo-driver does not authenticate (``/validation``),
    when it carries a valid bearer token: their own user-defined processes are known."""
    header = flask.request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    handler = flask.current_app.extensions.get("auth_handler")
    try:
        return handler.get_user_from_bearer_token(flask.request).user_id
    except Exception:  # noqa: BLE001 - a bad token validates as nobody's
        return None


class PgcBatchJobs(BatchJobs):
    def __init__(self, service: Service, pool: JobPool) -> None:
        super().__init__()
        self.service, self.pool = service, pool

    def _job(self, job_id: str, user_id: str) -> Job:
        job = self.service.store.job(user_id, job_id)
        if job is None:
            raise JobNotFoundException(job_id=job_id)
        return job

    def create_job(self, *, user: Any, process: dict, api_version: str, metadata: dict,
                   job_options: dict | None = None) -> BatchJobMetadata:  # fmt: skip
        job = self.service.store.create_job(
            user.user_id, process, title=metadata.get("title"),
            description=metadata.get("description"), plan=metadata.get("plan"),
            budget=metadata.get("budget"), log_level=metadata.get("log_level") or "info",
        )  # fmt: skip
        self.service.store.log(job.id, "info", "Created.")
        return metadata_of(job)

    def update(self, job_id: str, user_id: str, changes: dict) -> None:
        """PATCH /jobs/{id}: title, description, process, plan, budget, log_level, while
        the job has not been started."""
        job = self._job(job_id, user_id)
        if job.status in (QUEUED, RUNNING):
            raise OpenEOApiException(code="JobLocked", status_code=400,
                                     message="A queued or running job cannot be changed.")
        allowed = {"title", "description", "process", "plan", "budget", "log_level"}
        unknown = set(changes) - allowed
        if unknown:
            raise OpenEOApiException(code="ParameterInvalid", status_code=400,
                                     message=f"Cannot change {', '.join(sorted(unknown))}.")
        self.service.store.update_job(job_id, **changes)

    def get_job_info(self, job_id: str, user_id: str) -> BatchJobMetadata:
        return metadata_of(self._job(job_id, user_id))

    def get_user_jobs(self, user_id: str, limit: int | None = None,
                      request_parameters: dict | None = None) -> JobListing:  # fmt: skip
        return JobListing(jobs=[metadata_of(j) for j in self.service.store.jobs(user_id, limit)])

    def start_job(self, job_id: str, user: Any) -> None:
        job = self._job(job_id, user.user_id)
        if len(self.service.store.queued_ids()) >= self.service.config.max_queued:
            raise OpenEOApiException(
                code="TooManyRequests", status_code=429,
                message="The server's job queue is full; start the job again later.",
            )  # fmt: skip
        if self.service.store.transition(job.id, (CREATED, CANCELED, ERROR), QUEUED,
                                         progress=0.0, results=[]):  # fmt: skip
            self.service.store.log(job.id, "info", "Queued.")
            self.pool.wake()

    def get_result_assets(self, job_id: str, user_id: str) -> dict[str, dict]:
        job = self._job(job_id, user_id)
        if job.status != "finished":
            raise JobNotFinishedException()
        folder = job_folder(self.service.config, job_id)
        return {
            asset["name"]: {
                "title": asset["name"], "type": asset["type"], "roles": ["data"],
                "file:size": asset["bytes"], "output_dir": str(folder),
            }
            for asset in job.results
        }  # fmt: skip

    def get_log_entries(self, job_id: str, *, user_id: str, offset: str | None = None,
                        limit: int | None = None, level: str = "debug") -> list[dict]:  # fmt: skip
        self._job(job_id, user_id)
        entries = self.service.store.logs(job_id, offset, level, limit or 1000)
        return [
            {"id": e.id, "level": e.level, "message": e.message,
             "time": datetime.fromtimestamp(e.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
             **({"code": e.code} if e.code else {}), **({"data": e.data} if e.data else {})}
            for e in entries
        ]  # fmt: skip

    def cancel_job(self, job_id: str, user_id: str) -> None:
        job = self._job(job_id, user_id)
        if self.service.store.transition(job.id, (QUEUED, RUNNING), CANCELED,
                                         finished=time.time()):  # fmt: skip
            self.pool.cancel(job.id)
            self.service.store.log(job.id, "info", "Canceled by the user.")

    def delete_job(self, job_id: str, user_id: str) -> None:
        self.cancel_job(job_id, user_id)
        if not self.service.store.delete_job(user_id, job_id):
            raise JobNotFoundException(job_id=job_id)
        shutil.rmtree(job_folder(self.service.config, job_id), ignore_errors=True)

    def estimate(self, job_id: str, user_id: str) -> dict:
        job = self._job(job_id, user_id)
        try:
            return self.service.estimate(job.process, user_id)
        except RequestFailed as failed:
            raise api_error(failed) from None


def metadata_of(job: Job) -> BatchJobMetadata:
    duration = None
    if job.started is not None and job.finished is not None:
        duration = timedelta(seconds=job.finished - job.started)
    return BatchJobMetadata(
        id=job.id, status=job.status, created=_time(job.created), process=job.process,
        title=job.title, description=job.description, updated=_time(job.updated),
        plan=job.plan, budget=job.budget, started=_time(job.started),
        finished=_time(job.finished) if job.status in DONE else None,
        progress=job.progress, duration_=duration, usage=job.usage or None, costs=0.0,
    )  # fmt: skip


class PgcProcesses(UserDefinedProcesses):
    """Each user's own processes, in the store."""

    def __init__(self, service: Service) -> None:
        self.store = service.store

    def get(self, user_id: str, process_id: str) -> UserDefinedProcessMetadata | None:
        stored = self.store.process(user_id, process_id)
        if stored is None:
            return None
        return UserDefinedProcessMetadata.from_dict({**stored.process, "id": process_id})

    def list_for_user(self, user_id: str) -> UserDefinedProcessesListing:
        return UserDefinedProcessesListing(udps=self.get_for_user(user_id))

    def get_for_user(self, user_id: str) -> list[UserDefinedProcessMetadata]:
        return [
            UserDefinedProcessMetadata.from_dict({**p.process, "id": p.id})
            for p in self.store.processes(user_id)
        ]

    def save(self, user_id: str, process_id: str, spec: dict) -> None:
        process = {k: v for k, v in spec.items() if k != "id"}
        self.store.save_process(user_id, process_id, process, bool(spec.get("public")))

    def delete(self, user_id: str, process_id: str) -> None:
        if not self.store.delete_process(user_id, process_id):
            raise ProcessGraphNotFoundException(process_graph_id=process_id)


class PgcBackend(OpenEoBackendImplementation):
    """The back-end openeo-driver serves: pgc's catalog, processing, jobs and processes."""

    def __init__(self, service: Service, pool: JobPool, config: Any) -> None:
        self.service = service
        self.jobs = PgcBatchJobs(service, pool)
        super().__init__(
            catalog=PgcCatalog(service), processing=PgcProcessing(service),
            batch_jobs=self.jobs, user_defined_processes=PgcProcesses(service),
            secondary_services=SecondaryServices(), udf_runtimes=UdfRuntimes(), config=config,
        )  # fmt: skip
        self.cache_control = lambda view: view  # listings change with the configuration

    def file_formats(self) -> dict:
        output = {
            fmt.title: {
                "title": fmt.title,
                "gis_data_types": [t for t, ok in (("raster", fmt.raster), ("vector", fmt.vector),
                                                   ("table", fmt.values)) if ok],
                "parameters": dict(fmt.parameters),
            }
            for fmt in formats.OUTPUT_FORMATS.values()
        }  # fmt: skip
        return {"input": {}, "output": output}

    def capabilities_billing(self) -> dict:
        return {"currency": "EUR", "plans": []}

    def conformance_classes(self) -> list[str]:
        return [
            "https://api.openeo.org/1.2.0",
            "https://api.stacspec.org/v1.0.0/collections",
        ]

    def postprocess_capabilities(self, capabilities: dict) -> dict:
        """The endpoints pgc adds (PATCH of a job, its estimate) listed, the signed-URL
        ones it does not serve left out."""
        endpoints = [e for e in capabilities.get("endpoints", [])
                     if "{secure_key}" not in e.get("path", "")]  # fmt: skip
        for endpoint in endpoints:
            if endpoint.get("path") == "/jobs/{job_id}" and "PATCH" not in endpoint["methods"]:
                endpoint["methods"] = [*endpoint["methods"], "PATCH"]
        if not any(e.get("path") == "/jobs/{job_id}/estimate" for e in endpoints):
            endpoints.append({"path": "/jobs/{job_id}/estimate", "methods": ["GET"]})
        return {**capabilities, "endpoints": endpoints}

    def summarize_exception(self, error: Exception) -> Any:
        """An unexpected error answers ``Internal`` with no more than that (openeo-driver
        would put the exception's repr in the response); the server's log has it whole."""
        from openeo_driver.backend import ErrorSummary

        LOG.error("internal error", exc_info=error)
        return ErrorSummary(error, is_client_error=False,
                            summary="Internal error in the server; its log has the details.")

    def health_check(self, options: dict | None = None) -> dict:
        return {"status": "OK", "queued": len(self.service.store.queued_ids())}


