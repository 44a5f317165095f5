"""``pgc serve --federation FED.toml``: one openEO back-end in front of several (issue 22).

The aggregator holds no data and runs nothing itself. What a user sees through it:

- ``/collections``: every collection of the federation under its canonical id, each
  member's own name for it an alias (``/collections/sentinel-1-grd`` answers for
  ``S1_GRD``). A name members use for different collections is no alias: the graph must
  use a canonical id, and validation says so.
- ``/processes``: what at least one member runs.
- ``/validation``: the graph compiled and placed on the members; a graph no placement can
  run is ``FederationUnsatisfiable``, naming the node and which member lacks what.
- ``/result`` and ``/jobs``: the graph split into member jobs and run on the members as
  batch jobs (:class:`pgc.federation.remote.RemoteFederation`); the result downloaded
  here and served as this back-end's own. A batch job's log holds the progress of its
  member jobs and the bytes that crossed between members, from the members' logs.

The aggregator logs in to the members with its own accounts (``[federation]
credentials``), not as the user: basic auth cannot be forwarded, and openEO Platform's
way, the user's OIDC token passed on, needs members that trust the same provider.
User-defined processes are not run through the federation (federate does not take them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import PgcError
from ..specs import load_specs
from .config import ServerConfig
from .service import (
    Logger,
    Output,
    Service,
    api_errors,
    as_process,
    failure_of,
    output_of,
    result_bytes,
    result_file,
)
from .store import Store


class FederationConfigError(RuntimeError):
    """A federation description or credentials file the aggregator cannot use."""


class FederatedService(Service):
    """The aggregator's engine: a :class:`Service` whose runs are federated."""

    def __init__(self, config: ServerConfig, store: Store | None = None) -> None:
        from ..federation import Federation
        from ..federation.remote import load_credentials

        self.config = config
        self.store = store if store is not None else Store.open(config.database_url)
        try:
            self.federation = Federation.load(config.federation)  # type: ignore[arg-type]
            path = config.federation_credentials
            self.credentials = load_credentials(path) if path is not None else {}
        except PgcError as exc:
            raise FederationConfigError("; ".join(d.message for d in exc.diagnostics)) from None
        except ValueError as exc:
            raise FederationConfigError(str(exc)) from None
        self.catalog = aggregated_catalog(self.federation)
        offered = set().union(*(m.processes for m in self.federation.members))
        specs = load_specs()
        self.specs = specs.without(p for p in specs.ids() if p not in offered)

    def _federated(self, process: dict) -> Any:
        from ..federation import federate

        return federate(as_process(process), self.federation, specs=self.specs)

    def _runner(self, progress: Any = None) -> Any:
        from ..federation.remote import RemoteFederation, connector

        return RemoteFederation(self.federation, connector(self.credentials), progress=progress)

    def validate(self, process: dict, user_id: str | None) -> list[dict]:
        """What keeps the graph from running on the members: the compiler's errors, and
        ``FederationUnsatisfiable`` naming the node no member can run and why."""
        try:
            self._federated(process)
        except PgcError as exc:
            return api_errors(exc.diagnostics)
        return []

    def run(self, process: dict, user_id: str | None) -> Output:
        """The graph run on the members (their batch jobs), its result downloaded into a
        new folder."""
        try:
            federated = self._federated(process)
        except PgcError as exc:
            raise failure_of(exc) from None
        return output_of(federated.plan,
                         lambda target: self._runner().run(federated.split, target).written)

    def run_job(self, process: dict, user_id: str | None, folder: Path, log: Logger,
                progress: Any = None) -> list[dict]:  # fmt: skip
        """A batch job through the federation: its member jobs' progress and the bytes that
        crossed between them (the members' logs) in this job's log."""
        federated = self._federated(process)
        jobs = federated.split.jobs
        log("info", f"Placed on the members as {len(jobs)} job(s): "
            + ", ".join(f"{j.id} on {j.member}" for j in jobs)
            + f"; pgc estimates {federated.split.bytes_moved} bytes crossing between them.")
        name, media = result_file(federated.plan)
        run = self._runner(lambda line: log("info", line)).run(
            federated.split, folder / name
        )
        log("info", f"Between members: {run.bytes_sent} bytes sent and {run.bytes_received} "
            f"received (the members' logs); pgc estimated {run.estimate}.",
            data={"pgc:bytes_sent": run.bytes_sent, "pgc:bytes_received": run.bytes_received,
                  "pgc:estimate": run.estimate, "pgc:member_jobs": run.jobs})  # fmt: skip
        return [{"name": str(p.relative_to(folder)), "type": media, "bytes": p.stat().st_size}
                for p in run.written]  # fmt: skip

    def estimate(self, process: dict, user_id: str | None) -> dict:
        """The result's size and the bytes pgc estimates will cross between members."""
        try:
            federated = self._federated(process)
        except PgcError as exc:
            raise failure_of(exc) from None
        estimate: dict[str, Any] = {"costs": 0, "pgc:bytes_moved": federated.split.bytes_moved,
                                    "pgc:member_jobs": len(federated.split.jobs)}  # fmt: skip
        size = result_bytes(federated.plan)
        if size is not None:
            estimate["size"] = size
        return estimate


def aggregated_catalog(federation: Any) -> Any:
    """The canonical collections, each with the members' own names as aliases (a name
    that means different collections on different members, or that is another
    collection's id, is left out)."""
    from ..data.catalog import Catalog

    catalog = Catalog()
    for canonical, stac in federation.collections.items():
        names = {m.name_of(canonical) for m in federation.holding(canonical)} - {canonical, None}
        aliases = sorted(
            n for n in names
            if n not in federation.collections
            and len({c for _, c in federation.meanings(n)}) == 1
        )  # fmt: skip
        catalog.add({**stac, "id": canonical}, aliases=aliases)
    return catalog
