"""A local federation: every member a pgc executor over a catalog of only its collections.

It runs the jobs of a split (:mod:`pgc.federation.split`) in the plan's order, each on its
member's executor with the member's own collection names. Where a job saves a value for
another member, the simulator writes it as a STAC collection folder
(:mod:`pgc.executors.exchange`) under ``folder/JOB/NODE`` (both ids as safe file names,
:func:`pgc.data.safepaths.path_component`, checked to lie inside ``folder``); the reading
job's ``load_stac`` of ``https://pgc-federation.invalid/JOB/NODE`` resolves, through a table
of what this run wrote, to that folder and nowhere else.
The bytes of those folders, times the other members that read them, are the bytes the
federation moved: measured, not estimated.

>>> # LocalFederation(federation, tmp).run(federate(graph, federation).split)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..data.safepaths import UnsafeOutput, inside, path_component
from ..errors import Diagnostic, PgcError
from ..executors import exchange
from .description import Federation
from .split import Split


@dataclass
class LocalRun:
    """What a federated run gave: the user's result (from the job holding the result
    node), what the user's own ``save_result`` nodes saved, and the bytes that moved."""

    value: Any
    outputs: list
    # exchange URL -> bytes sent to other members (its size times the members reading it;
    # results a member passes to its own later jobs are not counted)
    moved: dict[str, int] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)  # job id -> its RunResult

    @property
    def bytes_moved(self) -> int:
        return sum(self.moved.values())


class LocalFederation:
    """Members as local pgc executors. ``sources`` gives each canonical collection's data
    as (STAC collection, file-backed items or None); by default from pgc's catalog for
    collections described with ``same_as``."""

    def __init__(
        self,
        federation: Federation,
        folder: str | Path,
        sources: dict[str, tuple[dict, list | None]] | None = None,
        executor: str = "reference",
    ):
        self.federation = federation
        self.folder = Path(folder)
        self.executor = executor
        self.sources = sources if sources is not None else _default_sources(federation)

    def catalog_of(self, member_id: str):
        """The member's catalog: its collections under its own names, nothing else."""
        from ..data.catalog import Catalog

        catalog = Catalog()
        for canonical, own in self.federation.member(member_id).collections.items():
            stac, items = self.sources[canonical]
            catalog.add({**stac, "id": own}, list(items) if items is not None else None)
        return catalog

    def exchange_folder(self, job_id: str, node_id: str) -> Path:
        """Where a job's saved node is written: ``folder/JOB/NODE``, each id as one safe
        file-name component, checked to lie inside the folder (symlinks resolved)."""
        from ..runner import OutputError

        target = self.folder / path_component(job_id) / path_component(node_id)
        try:
            inside(self.folder, target)
        except UnsafeOutput as why:
            raise OutputError(f"job {job_id} cannot save node {node_id!r}: {why}") from None
        return target

    def run(self, split: Split) -> LocalRun:
        """Run every job of ``split``; the result is the value of the job that holds the
        user's result node."""
        from ..runner import execute

        written: dict[str, Path] = {}
        moved: dict[str, int] = {}

        def resolve(url: str) -> Path | None:
            return written.get(url)  # only what a job of this run wrote

        value, outputs, results = None, [], {}
        for job in split.jobs:
            save_of = job.saved_values()
            try:
                result = execute(
                    job.to_openeo(),
                    catalog=self.catalog_of(job.member),
                    resolver=resolve,
                    executor=self.executor,
                    name=f"<job {job.id} on {job.member}>",
                )
            except PgcError as error:
                raise PgcError(
                    [_in_job(d, job.id, job.member) for d in error.diagnostics]
                ) from None
            results[job.id] = result
            for output, node in zip(result.outputs, result.saved_nodes, strict=True):
                source = save_of.get(node)
                if source is None:  # the user's own save_result
                    outputs.append(output)
                    continue
                cube = output[0]
                url = job.saves[source]
                target = self.exchange_folder(job.id, source)
                try:
                    # an id of fixed length: names do not change the bytes moved
                    uid = hashlib.sha256(url.encode()).hexdigest()[:16]
                    size = exchange.write(cube, target, f"pgc-{uid}")
                except UnsafeOutput as why:
                    from ..runner import OutputError

                    raise OutputError(f"job {job.id} cannot save node {source!r}: {why}") from None
                except exchange.NotExchangeable as why:
                    raise PgcError([Diagnostic(
                        "FederationUnsatisfiable",
                        f"Job {job.id} on {job.member} cannot pass node '{source}' on: {why}.",
                        node_id=source,
                    )]) from None  # fmt: skip
                written[url] = target
                others = split.readers.get(url, set()) - {job.member}
                if others:  # sent to every other member that reads it
                    moved[url] = size * len(others)
            if job.holds_result:
                value = result.value
        return LocalRun(value, outputs, moved, results)


def _in_job(diagnostic: Diagnostic, job_id: str, member: str) -> Diagnostic:
    return replace(diagnostic, message=f"In job {job_id} on {member}: {diagnostic.message}")


def _default_sources(federation: Federation) -> dict[str, tuple[dict, list | None]]:
    """Each canonical collection's STAC and, when pgc's catalog has it file-backed, its
    items (looked up by the id in the STAC document)."""
    from ..data.catalog import default_catalog

    catalog = default_catalog()
    return {
        canonical: (stac, catalog.items.get(stac.get("id")))
        for canonical, stac in federation.collections.items()
    }
