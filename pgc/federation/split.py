"""Splitting a placed graph into one openEO process graph per member job (issue 8).

Where the placement changes between a producer and a consumer, the stitch: the producer's
job saves the value (``save_result`` as netCDF, the format that holds any dimensions, with
the option ``pgc_exchange`` for the exact form of :mod:`pgc.data.cube_file`) and the
consumer's job reads it back with ``load_stac`` from the placeholder URL
``https://pgc-federation.invalid/JOB/NODE``: the orchestrator maps it to the producer's
result (:mod:`pgc.federation.local` to a folder, :mod:`pgc.federation.remote` to the
member's signed URL of the item holding it). Collection names become each member's own.

Jobs are (member, stage) pairs: a node's stage is the most member changes on any path
from a source to it. So the jobs' dependencies form a DAG even when the work goes back and
forth (a -> b -> a is three jobs), and the plan lists them in an order that runs each after
the jobs it reads from.

>>> # see tests/test_federation.py for worked examples
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..data import cube_file
from ..ir.graph import Graph
from ..ir.nodes import Literal, Node, NodeRef, map_refs
from .description import Federation
from .placement import Placement, sent_bytes, stages

# a placeholder in a reserved domain (RFC 2606): the orchestrator maps it to the job's
# result (the STAC item load_stac reads), once the producing job has run
SCHEME = "https://pgc-federation.invalid/"


@dataclass
class Job:
    """One member's share of the work: an openEO graph over its own collections and the
    results of the jobs it ``needs``."""

    id: str
    member: str
    graph: Graph
    needs: list[str] = field(default_factory=list)
    saves: dict[str, str] = field(default_factory=dict)  # original node id -> its URL
    save_nodes: list[str] = field(default_factory=list)
    holds_result: bool = False  # the user's result node is in this job

    def to_openeo(self) -> dict:
        from ..ir.raising import to_openeo

        return to_openeo(self.graph)

    def saved_values(self) -> dict[str, str]:
        """save_result node id -> the node whose value it saves for another job."""
        return {node.id: next(iter(node.node_refs())) for node in self.graph.nodes()
                if node.id in self.save_nodes}  # fmt: skip


@dataclass
class Split:
    """The jobs in an order that runs every job after those it reads from, and the values
    that cross between members: (node id, from member, to member, estimated bytes). A value
    passed between two jobs of the same member is saved and loaded too, but stays there."""

    jobs: list[Job]
    crossings: list[tuple[str, str, str, int]]
    readers: dict[str, set[str]] = field(default_factory=dict)  # saved URL -> reading members

    @property
    def bytes_moved(self) -> int:
        return sum(c[3] for c in self.crossings)

    def plan(self) -> dict:
        """The orchestration plan as JSON: jobs in order, with member and dependencies."""
        return {
            "jobs": [
                {"id": j.id, "member": j.member, "needs": j.needs, "saves": j.saves}
                for j in self.jobs
            ],
            "crossings": [
                {"node": n, "from": a, "to": b, "bytes": size} for n, a, b, size in self.crossings
            ],
        }


def url_of(job_id: str, node_id: str) -> str:
    """The placeholder URL of a job's saved node: both ids percent-encoded as one path
    segment each, so a ``/`` or ``..`` in an id neither adds segments nor makes two
    (job, node) pairs share a URL.

    >>> url_of("a-0", "mean"), url_of("../b-1", "..")
    ('https://pgc-federation.invalid/a-0/mean', 'https://pgc-federation.invalid/..%2Fb-1/%2E%2E')
    """
    return f"{SCHEME}{_segment(job_id)}/{_segment(node_id)}"


def _segment(text: str) -> str:
    if text in (".", ".."):  # dot segments: a URL parser would drop them
        return text.replace(".", "%2E")
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


PLAN = "plan.json"


def job_file(job_id: str) -> str:
    """The file name of a job's graph in a folder of jobs: the id as a safe file name
    (:func:`pgc.data.safepaths.path_component`; ``plan.json`` holds the original ids)."""
    from ..data.safepaths import path_component

    return path_component(job_id) + ".json"


def write_jobs(result: Split, folder: str | Path, overwrite: bool = False) -> Path:
    """Write each job's openEO graph (``JOB.json``, :func:`job_file`) and the plan
    (``plan.json``, with each job's ``file``) into ``folder``; the plan's path. A folder that
    is not empty is written into only with ``overwrite``, and then only the files named
    here are replaced: nothing else there is touched. Every file is checked to lie inside
    ``folder``. Raises :class:`pgc.data.safepaths.UnsafeOutput` (or OSError)."""
    from ..data.safepaths import TargetExists, check_target, inside

    folder = Path(folder)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise TargetExists(f"{folder} exists and is not a folder: pgc writes jobs into a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise TargetExists(f"{folder} exists and is not empty: pass --overwrite to write into it")
    files = {job.id: job_file(job.id) for job in result.jobs}
    if len(set(files.values()) | {PLAN}) != len(files) + 1:  # cannot happen: names are distinct
        raise TargetExists("two jobs would share a file name")
    texts = {name: json.dumps(job.to_openeo(), indent=2, ensure_ascii=False) + "\n"
             for name, job in zip(files.values(), result.jobs, strict=True)}  # fmt: skip
    plan = result.plan()
    for entry in plan["jobs"]:
        entry["file"] = files[entry["id"]]
    texts[PLAN] = json.dumps(plan, indent=2) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    for name in texts:  # everything checked before anything is written
        if check_target(inside(folder, folder / name), overwrite) not in ("new", "file"):
            raise TargetExists(f"{folder / name} is a folder: pgc does not replace it")
    for name, text in texts.items():
        target = folder / name
        if target.is_symlink():  # replace the link, never what it points to
            target.unlink()
        target.write_text(text, encoding="utf-8")
    return folder / PLAN


def split(graph: Graph, placement: Placement, federation: Federation) -> Split:
    """The jobs of ``graph`` placed by ``placement``."""
    where = placement.members
    stage = stages(graph, where)
    job_of = {n: f"{where[n]}-{stage[n]}" for n in stage}
    order = sorted(dict.fromkeys(job_of.values()), key=lambda j: (int(j.rsplit("-", 1)[1]), j))
    jobs = {j: Job(j, j.rsplit("-", 1)[0], Graph()) for j in order}
    crossings: list[tuple[str, str, str, int]] = []
    readers: dict[str, set[str]] = {}
    for node in graph.nodes():
        job = jobs[job_of[node.id]]
        imported: dict[str, NodeRef] = {}
        for producer in dict.fromkeys(node.node_refs()):
            source = jobs[job_of[producer]]
            if source is job:
                continue
            url = _export(source, graph.node(producer))
            if source.id not in job.needs:
                job.needs.append(source.id)
            imported[producer] = _import(job, producer, url)
            readers.setdefault(url, set()).add(job.member)
            if source.member == job.member:  # a later job of the same member: nothing moves
                continue
            crossing = (producer, source.member, job.member, sent_bytes(graph.node(producer)))
            if crossing not in crossings:
                crossings.append(crossing)

        def swap(ref: NodeRef, imported=imported) -> NodeRef:
            return imported.get(ref.id, ref)

        node = node.with_arguments(tuple((k, map_refs(v, swap)) for k, v in node.arguments))
        job.graph.add(_renamed(node, job.member, federation))
    for job in jobs.values():
        _set_result(job, graph.result)
    return Split([jobs[j] for j in order], crossings, readers)


def _export(job: Job, node: Node) -> str:
    """Make ``job`` save ``node``'s value (once) and return where it will be."""
    if node.id in job.saves:
        return job.saves[node.id]
    url = url_of(job.id, node.id)
    save = Node(
        job.graph.fresh_id(f"save_{node.id}"),
        "save_result",
        (
            ("data", NodeRef(node.id)),
            ("format", Literal("netCDF")),
            ("options", Literal({cube_file.OPTION: True})),  # the exact form
        ),
    )
    job.graph.add(save)
    job.saves[node.id] = url
    job.save_nodes.append(save.id)
    return url


def _import(job: Job, producer: str, url: str) -> NodeRef:
    for node in job.graph.nodes():  # imported once per job
        if node.process_id == "load_stac" and node.literal("url") == url:
            return NodeRef(node.id)
    node = Node(job.graph.fresh_id(f"load_{producer}"), "load_stac", (("url", Literal(url)),))
    job.graph.add(node)
    return NodeRef(node.id)


def _renamed(node: Node, member_id: str, federation: Federation) -> Node:
    """load_collection with the member's own name for the collection."""
    if node.process_id != "load_collection":
        return node
    canonical = federation.canonical(node.literal("id"))
    own = federation.member(member_id).name_of(canonical)
    args = tuple((k, Literal(own) if k == "id" else v) for k, v in node.arguments)
    return node.with_arguments(args)


def _set_result(job: Job, result: str | None) -> None:
    """The job's result node: the user's result if it is here, else its last save."""
    graph = job.graph
    if result in graph:
        graph.set_result(result)
        job.holds_result = True
        return
    graph.set_result(job.save_nodes[-1])
