"""Bytes moved between federation members (issues 8 and 22): pgc's placement against the
real cross-back-end splitters of openeo-aggregator, measured in the local federation.

Ten scenarios over two collections on the same 10 m grid: the embedded Sentinel-2 L2A
sample and a synthetic Sentinel-1 GRD-like sample (benchmarks/s1_sample.py, 12 dates of VV
and VH). Strategies:

- **pgc**: :func:`pgc.federation.federate` (placement with the fewest estimated bytes).
- **aggregator LoadCollection (always_split)**: openeo-aggregator's
  ``LoadCollectionGraphSplitter(backend_for_collection, always_split=True)``, configured as
  the aggregator configures it (the first member holding a collection).
- **aggregator Deep (loads only)**: its ``DeepGraphSplitter`` as the aggregator configures
  it: only ``load_collection`` nodes are constrained (the members holding the collection),
  ``split_deny_list={"aggregate_spatial", "load_geojson", "load_url"}``.
- **aggregator Deep (process-aware)**: the same splitter told, for every node some member
  cannot run, which members can (an extra row; the aggregator does not do this). It raises
  IndexError when a process constraint matters, reported as "cannot split".

The real splitters run in-process on each scenario's openEO graph
(``CrossBackendJobSplitter.split_streaming`` with the aggregator's tracker's replacement:
``load_stac`` of the producing sub-job's results, not the default ``load_result``). Their
sub-jobs are checked as given against each member (processes it lacks, collection names it
does not use, a GTiff save of a value GTiff cannot hold), and turned into a node -> member
placement. Every placement, pgc's and theirs, is then split into member jobs with pgc's
exchange (netCDF) and run in :class:`pgc.federation.local.LocalFederation`: every member a
pgc executor over only its own collections (under its own names). "moved" is the bytes of
the exchanged files sent to other members, measured; "est." is pgc's estimate from the
typed IR for that placement. Every result is checked against the single-catalog run.

openeo-aggregator must be installed without its dependencies (they would downgrade flask,
openeo, pystac and xarray):

    pip install --no-deps "openeo-aggregator==0.47.0a1"
    python -m benchmarks.bench_federation [--out benchmarks/results/federation.md]
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks import s1_sample

AREA = {"west": 600000, "south": 5692440, "east": 602560, "north": 5695000, "crs": 32631}
EVERYTHING = None  # every process of the specs
CLOUDS = (3, 8, 9, 10)
# Exchanged files carry metadata that differs by a few bytes between equal-sized values (a
# "nodata": null attribute against "nodata": 0): "pgc moves no more than a splitter" allows
# this many bytes per exchanged file
METADATA = 64
AGGREGATOR = "openeo-aggregator==0.47.0a1"
INSTALL = (
    f'pip install --no-deps "{AGGREGATOR}"  (without --no-deps it would downgrade flask, '
    "openeo, pystac and xarray)"
)
PGC = "pgc"
LOAD_COLLECTION = "aggregator LoadCollection (always_split)"
DEEP = "aggregator Deep (loads only)"
DEEP_PROCESSES = "aggregator Deep (process-aware)"
# openeo-aggregator's backend.py: the processes the Deep splitter never cuts at
DENY = frozenset({"aggregate_spatial", "load_geojson", "load_url"})
# where a sub-job reads another's result (the tracker puts the job-results URL here)
PLACEHOLDER = "https://aggregator-subjob.invalid/"


def n(process_id: str, **arguments) -> dict:
    return {"process_id": process_id, "arguments": arguments}


def ref(node_id: str) -> dict:
    return {"from_node": node_id}


def param(name: str) -> dict:
    return {"from_parameter": name}


def callback(**nodes) -> dict:
    last = list(nodes)[-1]
    nodes[last] = {**nodes[last], "result": True}
    return {"process_graph": nodes}


def band(label: str) -> dict:
    return n("array_element", data=param("data"), label=label)


def load(collection: str, bands: list[str]) -> dict:
    return n("load_collection", id=collection, spatial_extent=AREA, temporal_extent=None,
             bands=bands)  # fmt: skip


def over_time(data: str, reducer: str) -> dict:
    return n("reduce_dimension", data=ref(data), dimension="t",
             reducer=callback(r=n(reducer, data=param("data"))))  # fmt: skip


def graph(**nodes) -> dict:
    last = list(nodes)[-1]
    nodes[last] = {**nodes[last], "result": True}
    return {"process_graph": nodes}


def crop_classification(s2: str, s1: str) -> dict:
    """The yearly mean NDVI (S2) and the yearly mean cross-polarisation ratio VH/VV (S1),
    merged: where both have data a pixel is cropland when NDVI + 2 x ratio exceeds 0.9."""
    nd = callback(red=band("B04"), nir=band("B08"),
                  nd=n("normalized_difference", x=ref("nir"), y=ref("red")))  # fmt: skip
    ratio = callback(vv=band("VV"), vh=band("VH"), r=n("divide", x=ref("vh"), y=ref("vv")))
    rule = callback(
        twice=n("multiply", x=param("y"), y=2), score=n("add", x=param("x"), y=ref("twice")),
        crop=n("gt", x=ref("score"), y=0.9),
    )  # fmt: skip
    return graph(
        s2=load(s2, ["B04", "B08"]),
        ndvi=n("reduce_dimension", data=ref("s2"), dimension="bands", reducer=nd),
        ndvi_mean=over_time("ndvi", "mean"),
        s1=load(s1, ["VV", "VH"]),
        ratio=n("reduce_dimension", data=ref("s1"), dimension="bands", reducer=ratio),
        ratio_mean=over_time("ratio", "mean"),
        crops=n("merge_cubes", cube1=ref("ndvi_mean"), cube2=ref("ratio_mean"),
                overlap_resolver=rule),
    )  # fmt: skip


def evi_composite(s2: str, s1: str) -> dict:
    """Cloud-masked EVI maximum over the year (SCL classes and bright blue pixels masked),
    smoothed with a 3x3 kernel, plus the S1 VH yearly mean."""
    evi = callback(
        blue=band("B02"), red=band("B04"), nir=band("B08"),
        d=n("subtract", x=ref("nir"), y=ref("red")),
        r6=n("multiply", x=ref("red"), y=6), b7=n("multiply", x=ref("blue"), y=7.5),
        s1_=n("add", x=ref("nir"), y=ref("r6")), s2_=n("subtract", x=ref("s1_"), y=ref("b7")),
        s3=n("add", x=ref("s2_"), y=10000), q=n("divide", x=ref("d"), y=ref("s3")),
        evi=n("multiply", x=ref("q"), y=2.5),
    )  # fmt: skip
    tests = {f"c{c}": n("eq", x=ref("scl"), y=c) for c in CLOUDS}
    clouds = callback(scl=band("SCL"), green=band("B03"),
                      bright=n("gt", x=ref("green"), y=3000),
                      **tests,
                      o1=n("or", x=ref("c3"), y=ref("c8")), o2=n("or", x=ref("o1"), y=ref("c9")),
                      o3=n("or", x=ref("o2"), y=ref("c10")),
                      o4=n("or", x=ref("o3"), y=ref("bright")))  # fmt: skip
    vh = callback(v=band("VH"))
    return graph(
        s2=load(s2, ["B02", "B03", "B04", "B08", "SCL"]),
        evi=n("reduce_dimension", data=ref("s2"), dimension="bands", reducer=evi),
        cloudy=n("reduce_dimension", data=ref("s2"), dimension="bands", reducer=clouds),
        clear=n("mask", data=ref("evi"), mask=ref("cloudy")),
        best=over_time("clear", "max"),
        smooth=n("apply_kernel", data=ref("best"), kernel=[[1, 2, 1], [2, 4, 2], [1, 2, 1]],
                 factor=1 / 16),
        s1=load(s1, ["VH"]), s1mean=over_time("s1", "mean"),
        s1vh=n("reduce_dimension", data=ref("s1mean"), dimension="bands", reducer=vh),
        both=n("merge_cubes", cube1=ref("smooth"), cube2=ref("s1vh"),
               overlap_resolver=callback(a=n("add", x=param("x"), y=param("y")))),
    )  # fmt: skip


def fields() -> dict:
    """20 rectangular fields (4 x 5) inside the area, as a GeoJSON FeatureCollection."""
    from rasterio.warp import transform_geom

    features = []
    for i in range(4):
        for j in range(5):
            x0, y0 = 600100 + i * 600, 5692600 + j * 480
            ring = [[x0, y0], [x0 + 500, y0], [x0 + 500, y0 + 400], [x0, y0 + 400], [x0, y0]]
            geometry = transform_geom("EPSG:32631", "EPSG:4326",
                                      {"type": "Polygon", "coordinates": [ring]})  # fmt: skip
            features.append({"type": "Feature", "properties": {"field": i * 5 + j},
                             "geometry": geometry})  # fmt: skip
    return {"type": "FeatureCollection", "features": features}


def zonal_series(s2: str) -> dict:
    """Mean NDVI per field and date, then rescaled to 0..250 for a crop calendar."""
    nd = callback(red=band("B04"), nir=band("B08"),
                  nd=n("normalized_difference", x=ref("nir"), y=ref("red")))  # fmt: skip
    scale = callback(s=n("linear_scale_range", x=param("x"), inputMin=-1, inputMax=1,
                         outputMin=0, outputMax=250))  # fmt: skip
    return graph(
        s2=load(s2, ["B04", "B08"]),
        ndvi=n("reduce_dimension", data=ref("s2"), dimension="bands", reducer=nd),
        zones=n("aggregate_spatial", data=ref("ndvi"), geometries=fields(),
                reducer=callback(m=n("mean", data=param("data")))),
        scaled=n("apply", data=ref("zones"), process=scale),
    )  # fmt: skip


def members(*entries) -> list[dict]:
    """(id, {canonical: own name}, processes or EVERYTHING)."""
    from pgc.specs import load_specs

    every = sorted(load_specs().ids())
    return [{"id": i, "url": f"https://{i}.example/openeo", "collections": held,
             "processes": every if processes is EVERYTHING else [*processes, "save_result",
                                                                  "load_stac"]}
            for i, held, processes in entries]  # fmt: skip


BAND_MATH = ["load_collection", "reduce_dimension", "array_element", "add", "subtract",
             "multiply", "divide", "normalized_difference", "eq", "gt", "or", "mask", "max",
             "mean"]  # fmt: skip


@dataclass
class Scenario:
    name: str
    why: str
    description: dict
    graph: dict
    # a reduction that makes the crossing value at least 10x smaller can move to the data
    reduces: bool


LEAVES_S2 = (
    " The LoadCollection splitter keeps the rest on the S2 member (on a tie, the first "
    "load's) and moves S1's raw VH there, which a mean over time makes only 6x smaller."
)


def platform_scenarios() -> list[Scenario]:
    """Five graphs of the kind openEO Platform users federate."""
    s2 = {"same_as": "SENTINEL2_L2A_SAMPLE"}
    s1 = {"stac": s1_sample.stac()}
    both = {"S2": s2, "S1": s1}
    return [
        Scenario(
            "crop classification, S1 and S2 on different members",
            "vito holds S2, eodc holds S1; both run everything. The graph names the collections "
            "as the members do.",
            {
                "members": members(
                    ("vito", {"S2": "TERRASCOPE_S2_TOC_V2"}, EVERYTHING),
                    ("eodc", {"S1": "s1a_csar_grdh_iw"}, EVERYTHING),
                ),
                "collections": both,
            },
            crop_classification("TERRASCOPE_S2_TOC_V2", "s1a_csar_grdh_iw"),
            True,
        ),  # fmt: skip
        Scenario(
            "time series reduced before moving: cloud-masked EVI composite",
            "sentinelhub holds S2 and runs band math and reductions, not apply_kernel or "
            "merge_cubes; vito holds S1 and runs everything." + LEAVES_S2,
            {
                "members": members(
                    ("sentinelhub", {"S2": "sentinel-2-l2a"}, BAND_MATH),
                    ("vito", {"S1": "SENTINEL1_GRD"}, EVERYTHING),
                ),
                "collections": both,
            },
            evi_composite("S2", "S1"),
            True,
        ),  # fmt: skip
        Scenario(
            "zonal time series: aggregate_spatial before moving",
            "sentinelhub holds S2 and runs band math and aggregate_spatial, not "
            "linear_scale_range; vito runs everything, holding S1 only.",
            {
                "members": members(
                    ("sentinelhub", {"S2": "sentinel-2-l2a"}, [*BAND_MATH, "aggregate_spatial"]),
                    ("vito", {"S1": "SENTINEL1_GRD"}, EVERYTHING),
                ),
                "collections": both,
            },
            zonal_series("S2"),
            True,
        ),  # fmt: skip
        Scenario(
            "members picked by name: the kernel runs where S1 is (the EVI composite)",
            "alpha holds nothing and runs everything; beta holds S2, without apply_kernel; "
            "gamma holds S1 and runs everything." + LEAVES_S2,
            {
                "members": members(
                    ("alpha", {}, EVERYTHING),
                    ("beta", {"S2": "S2_L2A"}, BAND_MATH),
                    ("gamma", {"S1": "S1_GRD"}, EVERYTHING),
                ),
                "collections": both,
            },
            evi_composite("S2_L2A", "S1_GRD"),
            True,
        ),  # fmt: skip
        Scenario(
            "replicated collections under other names",
            "sentinelhub holds S2, eodc holds S1, vito holds both; all run everything.",
            {
                "members": members(
                    ("sentinelhub", {"S2": "sentinel-2-l2a"}, EVERYTHING),
                    ("eodc", {"S1": "s1a_csar_grdh_iw"}, EVERYTHING),
                    ("vito", {"S2": "TERRASCOPE_S2_TOC_V2", "S1": "SENTINEL1_GRD"}, EVERYTHING),
                ),
                "collections": both,
            },
            crop_classification("S2", "S1"),
            False,
        ),  # fmt: skip
    ]


def ab_scenarios() -> list[Scenario]:
    """Five small graphs over collection A (S2) only on member a and B (S1) only on b: the
    shapes where the two splitters differ (issue 22's research)."""
    s2 = {"same_as": "SENTINEL2_L2A_SAMPLE"}
    s1 = {"stac": s1_sample.stac()}
    both = {"A": s2, "B": s1}
    a_all, b_all = ("a", {"A": "A"}, EVERYTHING), ("b", {"B": "B"}, EVERYTHING)
    add = callback(a=n("add", x=param("x"), y=param("y")))
    six = (
        " The mean over 12 dates of one float32 band is float64: 6x smaller, so no placement "
        "can move 10x less than the load split here."
    )

    def rename(data: str, source: str, target: str) -> dict:
        return n("rename_labels", data=ref(data), dimension="bands", target=[target],
                 source=[source])  # fmt: skip

    return [
        Scenario(
            "ab: load A, load B, merge, reduce over time",
            "a holds A, b holds B; both run everything. The reduction is after the merge: "
            "one of the two cubes must move whole.",
            {"members": members(a_all, b_all), "collections": both},
            graph(
                la=load("A", ["B04"]),
                lb=load("B", ["VV"]),
                ra=rename("la", "B04", "x"),
                rb=rename("lb", "VV", "x"),
                m=n("merge_cubes", cube1=ref("ra"), cube2=ref("rb"), overlap_resolver=add),
                r=over_time("m", "mean"),
            ),  # fmt: skip
            False,
        ),
        Scenario(
            "ab: reduce each over time, then merge",
            "a holds A, b holds B; both run everything." + six,
            {"members": members(a_all, b_all), "collections": both},
            graph(
                la=load("A", ["B04"]),
                ma=over_time("la", "mean"),
                lb=load("B", ["VV"]),
                mb=over_time("lb", "mean"),
                ra=rename("ma", "B04", "x"),
                rb=rename("mb", "VV", "x"),
                m=n("merge_cubes", cube1=ref("ra"), cube2=ref("rb"), overlap_resolver=add),
            ),  # fmt: skip
            False,
        ),
        Scenario(
            "ab: one collection, a process only b runs",
            "a holds A and runs band math only (no apply_kernel); b holds nothing and runs "
            "everything. The maximum over time moves to b, 3x smaller than A's B04 (uint16).",
            {
                "members": members(("a", {"A": "A"}, BAND_MATH), ("b", {}, EVERYTHING)),
                "collections": {"A": s2},
            },
            graph(
                la=load("A", ["B04"]),
                ma=over_time("la", "max"),
                k=n("apply_kernel", data=ref("ma"), kernel=[[1, 1, 1], [1, 1, 1], [1, 1, 1]]),
            ),  # fmt: skip
            False,
        ),
        Scenario(
            "ab: two loads of A on a, one of B on b",
            "a holds A, b holds B; both run everything. A is loaded twice (one band each)." + six,
            {"members": members(a_all, b_all), "collections": both},
            graph(
                l1=load("A", ["B04"]),
                m1=over_time("l1", "mean"),
                l2=load("A", ["B08"]),
                m2=over_time("l2", "mean"),
                ab=n("merge_cubes", cube1=ref("m1"), cube2=ref("m2")),
                lb=load("B", ["VV"]),
                mb=over_time("lb", "mean"),
                rb=rename("mb", "VV", "B04"),
                m=n("merge_cubes", cube1=ref("ab"), cube2=ref("rb"), overlap_resolver=add),
            ),  # fmt: skip
            False,
        ),
        Scenario(
            "ab: shared load (A read twice), then B",
            "a holds A, b holds B; both run everything. A's cube feeds two branches." + six,
            {"members": members(a_all, b_all), "collections": both},
            graph(
                la=load("A", ["B04", "B08"]),
                red=n("filter_bands", data=ref("la"), bands=["B04"]),
                nir=n("filter_bands", data=ref("la"), bands=["B08"]),
                mr=over_time("red", "mean"),
                mn=over_time("nir", "max"),
                ab=n("merge_cubes", cube1=ref("mr"), cube2=ref("mn")),
                lb=load("B", ["VV"]),
                mb=over_time("lb", "mean"),
                rb=rename("mb", "VV", "B04"),
                m=n("merge_cubes", cube1=ref("ab"), cube2=ref("rb"), overlap_resolver=add),
            ),  # fmt: skip
            False,
        ),
    ]


def scenarios() -> list[Scenario]:
    return platform_scenarios() + ab_scenarios()


# -- openeo-aggregator's splitters, configured as the aggregator configures them -------------
class AggregatorMissing(RuntimeError):
    """openeo-aggregator is not installed (it is compared with, never a dependency)."""


def crossbackend():
    """openeo_aggregator.partitionedjobs.crossbackend, or :class:`AggregatorMissing` saying
    how to install it."""
    try:
        from openeo_aggregator.partitionedjobs import crossbackend as module
    except ImportError as error:
        raise AggregatorMissing(
            f"openeo-aggregator's splitters are not importable ({error}). Install them with: "
            + INSTALL
        ) from None
    return module


def processes_of(node: dict) -> set[str]:
    """The process ids of a flat-graph node and of every callback inside it."""
    found = {node["process_id"]}
    stack = list(node.get("arguments", {}).values())
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if isinstance(value.get("process_graph"), dict):
                for inner in value["process_graph"].values():
                    found |= processes_of(inner)
            else:
                stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def splitters(federation) -> dict:
    """Strategy name -> the real graph splitter, configured as openeo-aggregator's
    backend.py configures it (the process-aware Deep splitter is an extra)."""
    cb = crossbackend()

    def holders(name: str) -> list[str]:
        canonical = federation.canonical(name)
        return [m.id for m in federation.holding(canonical)] if canonical else []

    def backend_for_collection(cid: str) -> str:
        # backend.py: catalog.get_backends_for_collection(cid)[0]. The aggregator knows a
        # collection only by an id all its holders share; here each member's name resolves
        return holders(cid)[0]

    def loads_only(node_id: str, node: dict):
        if node["process_id"] == "load_collection":
            return holders(node["arguments"]["id"])
        return None  # unconstrained: the intersection of the inputs' members

    def process_aware(node_id: str, node: dict):
        able = [m.id for m in federation.members if processes_of(node) <= m.processes]
        if node["process_id"] == "load_collection":
            able = [m for m in able if m in holders(node["arguments"]["id"])]
        return None if len(able) == len(federation.members) else able

    return {
        LOAD_COLLECTION: cb.LoadCollectionGraphSplitter(backend_for_collection, always_split=True),
        DEEP: cb.DeepGraphSplitter(loads_only, split_deny_list=DENY),
        DEEP_PROCESSES: cb.DeepGraphSplitter(process_aware, split_deny_list=DENY),
    }


def tracker_load_stac(node_id: str, node: dict, subgraph_id: str) -> dict:
    """What openeo-aggregator's tracker (partitionedjobs/tracking.py) puts where a sub-job
    reads another's result: load_stac of its job-results URL (here a placeholder)."""
    return {node_id: {"process_id": "load_stac",
                      "arguments": {"url": PLACEHOLDER + subgraph_id}}}  # fmt: skip


@dataclass
class SubJob:
    id: str
    member: str
    process_graph: dict  # flat openEO graph, as the splitter gives it
    needs: list[str] = field(default_factory=list)


def real_split(splitter, document: dict) -> list[SubJob]:
    """The sub-jobs of openeo-aggregator's CrossBackendJobSplitter, in dependency order."""
    cb = crossbackend()
    flat = copy.deepcopy(document["process_graph"])
    return [
        SubJob(sid, job.backend_id, job.process_graph, list(deps))
        for sid, job, deps in cb.CrossBackendJobSplitter(splitter).split_streaming(
            flat, get_replacement=tracker_load_stac
        )
    ]


def placeholder(node: dict) -> bool:
    return node["process_id"] == "load_stac" and str(node["arguments"].get("url", "")).startswith(
        PLACEHOLDER
    )


def placement_of(subjobs: list[SubJob], graph) -> dict[str, str]:
    """Node -> member: a node belongs to the sub-job that computes it (not to one where a
    placeholder stands in for it). A node the optimizer added goes with its first input."""
    where = {}
    for job in subjobs:
        for node_id, node in job.process_graph.items():
            if node_id in graph and not placeholder(node):
                where[node_id] = job.member
    for node in graph.nodes():  # in dependency order
        if node.id not in where:
            inputs = [where[r] for r in node.node_refs() if r in where]
            if not inputs:
                raise ValueError(f"the split leaves node {node.id!r} on no member")
            where[node.id] = inputs[0]
    return where


# what stops a job as given: "placement" where the member is the wrong one (a process it
# lacks, a collection it does not hold), "plumbing" where the member is right but the graph
# is not (a collection id it calls otherwise, a save GTiff cannot hold)
PLACEMENT, PLUMBING = "placement", "plumbing"


def blockers(jobs: list[SubJob], federation, dims: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Why a member cannot run its job as given, as (kind, reason): a process it lacks, a
    collection it does not hold or calls by another name, a GTiff save of a value GTiff
    cannot hold (pgc writes a cube with ``t`` as bands named date/band and reads it back
    without ``t``)."""
    out = []
    for job in jobs:
        member = federation.member(job.member)
        for node in job.process_graph.values():
            lacks = sorted(processes_of(node) - member.processes)
            if lacks:
                out.append((PLACEMENT, f"{job.member} lacks {', '.join(lacks)}"))
            args = node["arguments"]
            if node["process_id"] == "load_collection":
                canonical = federation.canonical(args["id"])
                own = member.name_of(canonical) if canonical else None
                if own is None:
                    out.append((PLACEMENT, f"{job.member} does not hold {args['id']}"))
                elif own != args["id"]:
                    out.append((PLUMBING, f"{job.member} calls {args['id']} {own} (not renamed)"))
            if node["process_id"] == "save_result" and str(args.get("format")).lower() in (
                "gtiff",
                "geotiff",
            ):
                saved = args["data"]["from_node"]
                extra = sorted(set(dims.get(saved, ["?"])) - {"x", "y", "bands"})
                if extra:
                    out.append((PLUMBING, f"GTiff save of {saved} loses {', '.join(extra)}"))
    return list(dict.fromkeys(out))


# -- running a placement in the local federation -----------------------------------------------
@dataclass
class Row:
    scenario: str
    strategy: str
    estimated: int | None
    moved: int | None
    jobs: int
    runs: str  # "yes", or why not
    result: str = "-"
    files: int = 0  # exchanged results
    # every node on a member that holds its collections and runs its processes (the split
    # may still not run as given, for plumbing: names, the GTiff save)
    placed: bool = False

    @property
    def can_run(self) -> bool:
        return self.runs == "yes"


def sources_of(federation) -> dict:
    """Each canonical collection's data: the S1 sample's files, or pgc's embedded S2."""
    from pgc.data.catalog import Catalog, default_catalog

    s1 = Catalog()
    s1.add_folder(s1_sample.ensure())
    out = {}
    for canonical, stac in federation.collections.items():
        if stac.get("id") == s1_sample.COLLECTION_ID:
            out[canonical] = (stac, s1.items[s1_sample.COLLECTION_ID])
        else:
            out[canonical] = (default_catalog().stac("SENTINEL2_L2A_SAMPLE"), None)
    return out


def same(a, b) -> bool:
    """Equal cubes: dimensions, labels, validity and values where there is data."""
    if a.dims != b.dims or a.data.dtype != b.data.dtype:
        return False
    for dim in a.dims:
        if not np.array_equal(a.data[dim].values, b.data[dim].values):
            return False
    ok_a = np.broadcast_to(a.valid.values, a.data.shape)
    ok_b = np.broadcast_to(b.valid.values, b.data.shape)
    if not np.array_equal(ok_a, ok_b):
        return False
    va, vb = np.where(ok_a, a.data.values, 0), np.where(ok_a, b.data.values, 0)
    return bool(np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"))


def run(scenario: Scenario, strategies: list[str] | None = None) -> list[Row]:
    """One row per strategy (all by default): its split checked against the members and its
    placement run in the local federation."""
    from pgc.data.catalog import Catalog
    from pgc.federation import Federation, canonical_names, federate
    from pgc.federation.local import LocalFederation
    from pgc.federation.placement import Placement
    from pgc.federation.split import split
    from pgc.frontend.validate import validate
    from pgc.runner import execute

    federation = Federation.from_json(scenario.description)
    real = splitters(federation)
    wanted = strategies or [PGC, *real]
    sources = sources_of(federation)
    whole = Catalog()
    for canonical, (stac, items) in sources.items():
        whole.add({**stac, "id": canonical}, list(items) if items is not None else None)
    truth = execute(canonical_names(scenario.graph, federation), catalog=whole).value

    federated = federate(scenario.graph, federation)
    graph = federated.plan.graph
    dims = {
        node.id: [d.name for d in getattr(node.type, "dimensions", ())] for node in graph.nodes()
    }
    rows = []
    for name in wanted:
        if name == PGC:
            where = dict(federated.placement.members)
            given = [SubJob(j.id, j.member, j.to_openeo()["process_graph"], list(j.needs))
                     for j in federated.split.jobs]  # fmt: skip
        else:
            try:
                given = real_split(real[name], scenario.graph)
            except IndexError:  # the Deep splitter's sorted(set())[0], not GraphSplitException
                rows.append(Row(scenario.name, name, None, None, 0,
                                "cannot split (IndexError in the splitter)"))  # fmt: skip
                continue
            except crossbackend().GraphSplitException as error:
                rows.append(Row(scenario.name, name, None, None, 0, f"cannot split: {error}"))
                continue
            where = placement_of(given, graph)
        why = blockers(given, federation, dims)
        jobs = split(graph, Placement(where, 0, False), federation)
        for job in jobs.jobs:
            assert validate(job.to_openeo()).ok, (scenario.name, name, job.id)
        with tempfile.TemporaryDirectory() as tmp:
            result = LocalFederation(federation, tmp, sources).run(jobs)
        rows.append(Row(
            scenario.name, name, jobs.bytes_moved, result.bytes_moved, len(given),
            "no: " + "; ".join(text for _, text in why) if why else "yes",
            "same as single catalog" if same(truth, result.value) else "RESULT DIFFERS",
            len(result.moved), all(kind != PLACEMENT for kind, _ in why),
        ))  # fmt: skip
    return rows


# -- the table and the criteria ------------------------------------------------------------------
def ratio(moved: int, pgc: int) -> str:
    if pgc:
        return f"{moved / pgc:.1f}x"
    return "1x" if moved == 0 else "inf"


def table(rows: list[Row]) -> str:
    from pgc.ir.types import format_bytes

    lines = [
        "| scenario | strategy | est. moved | moved (measured) | / pgc | jobs "
        "| runs on the members as given? | result |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    pgc = {r.scenario: r.moved for r in rows if r.strategy == PGC}
    for r in rows:
        if r.moved is None:
            lines.append(f"| {r.scenario} | {r.strategy} | - | - | - | - | {r.runs} | - |")
            continue
        shown = "-" if r.strategy == PGC else ratio(r.moved, pgc[r.scenario])
        lines.append(
            f"| {r.scenario} | {r.strategy} | {format_bytes(r.estimated)} | "
            f"{format_bytes(r.moved)} | {shown} | {r.jobs} | {r.runs} | {r.result} |"
        )
    return "\n".join(lines)


def problems(found: list[Scenario], rows: list[Row]) -> list[str]:
    """What breaks the issue's criterion: a result that differs; pgc moving more than a real
    splitter whose placement is valid (every node on a member that can run it: this
    includes every split that runs as given); pgc moving less than 10x below a valid
    LoadCollection placement where a reduction can move to the data."""
    out = []
    for scenario in found:
        mine = [r for r in rows if r.scenario == scenario.name]
        pgc = next(r for r in mine if r.strategy == PGC)
        for r in mine:
            if r.result == "RESULT DIFFERS":
                out.append(f"{scenario.name}: {r.strategy} differs from the single catalog")
            if r.strategy == PGC or r.moved is None or not r.placed:
                continue
            if r.moved + METADATA * r.files < pgc.moved:
                out.append(f"{scenario.name}: {r.strategy} moves less than pgc")
            if scenario.reduces and r.strategy == LOAD_COLLECTION and r.moved < 10 * pgc.moved:
                out.append(f"{scenario.name}: less than 10x below the LoadCollection split")
    return out


def criteria(found: list[Scenario], rows: list[Row]) -> list[str]:
    """The criterion per splitter, from the figures: two Markdown tables and a summary."""
    pgc = {r.scenario: r for r in rows if r.strategy == PGC}
    reducing = [s.name for s in found if s.reduces]
    names = (LOAD_COLLECTION, DEEP, DEEP_PROCESSES)
    by = {name: {r.scenario: r for r in rows if r.strategy == name} for name in names}

    def equal(r: Row) -> bool:  # within 1 % (exchanged files differ in metadata)
        return abs(r.moved - pgc[r.scenario].moved) <= max(METADATA, pgc[r.scenario].moved // 100)

    lines = [
        "| splitter | splits | runs as given | valid placement | pgc moves no more "
        "(where valid) | their bytes / pgc's (where valid) | same bytes as pgc, within 1 % "
        "(where valid) |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    summary = []
    for name in names:
        mine = list(by[name].values())
        split_ = [r for r in mine if r.moved is not None]
        placed = [r for r in split_ if r.placed]
        fewer = [r for r in placed if pgc[r.scenario].moved <= r.moved + METADATA * r.files]
        ratios = ", ".join(ratio(r.moved, pgc[r.scenario].moved) for r in placed)
        lines.append(
            f"| {name} | {len(split_)} of {len(mine)} | {sum(r.can_run for r in split_)} | "
            f"{len(placed)} | {len(fewer)} of {len(placed)} | {ratios} | "
            f"{sum(equal(r) for r in placed)} of {len(placed)} |"
        )
        valid = [by[name][s] for s in reducing if by[name][s].moved is not None]
        valid = [r for r in valid if r.placed]
        tenfold = [r for r in valid if r.moved >= 10 * pgc[r.scenario].moved]
        summary.append(
            f"- pgc moves at least 10x less than **{name}** in {len(tenfold)} of the "
            f"{len(reducing)} scenarios where a reduction can move to the data ({len(valid)} "
            "of them with a valid placement of theirs)."
        )
    lines += ["", "Where a reduction can move to the data (their bytes / pgc's):", ""]
    lines += ["| scenario | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for scenario in reducing:
        cells = []
        for name in names:
            r = by[name][scenario]
            if r.moved is None:
                cells.append("cannot split")
            else:
                shown = ratio(r.moved, pgc[scenario].moved)
                cells.append(shown if r.placed else f"{shown} (placement not valid)")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return [*lines, "", *summary]


INTRO = """\
# Bytes moved between federation members: pgc against openeo-aggregator's splitters

`python -m benchmarks.bench_federation` (openeo-aggregator 0.47.0a1, installed with
`pip install --no-deps "openeo-aggregator==0.47.0a1"`). Each scenario's graph is placed by
pgc and split by the real `openeo_aggregator.partitionedjobs.crossbackend` splitters,
configured as the aggregator configures them (`LoadCollectionGraphSplitter(...,
always_split=True)`; `DeepGraphSplitter` with only `load_collection` constrained and
`split_deny_list={aggregate_spatial, load_geojson, load_url}`), plus a Deep splitter also
told which members run each process (not what the aggregator does).

- **runs on the members as given?** checks each sub-job the splitter gives against its
  member. Their sub-jobs read each other's results with `load_result` by default, which
  pgc lacks; the aggregator's tracker puts `load_stac` of the job-results URL there, and so
  do we before checking. What remains: a process the member lacks (neither splitter as
  configured looks at processes), a collection id the member calls otherwise (the
  aggregator never renames a load), and `save_result(format="GTiff")`, hard-coded for every
  sub-job, of a value with `t` (pgc writes dates as bands and reads back no `t`).
- **moved (measured)**: their split turned into a node -> member placement, run like pgc's
  in the local federation (members as pgc executors over their own collections, results
  exchanged as STAC collections with a netCDF asset): the bytes of the exchanged files
  times the other members that read them. So rows that cannot run as given still measure
  their placement, with pgc's exchange. **est.**: pgc's estimate for the same placement.
- **jobs**: the sub-jobs the splitter creates (pgc: its own jobs).
- **result**: the federated run (of the placement) against the single-catalog run.

Area: 256 x 256 pixels of 10 m, 12 dates. Equal-sized values may differ by a few bytes of
metadata; up to {metadata} bytes per exchanged file count as equal.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="also write the table (Markdown) to this file")
    args = parser.parse_args(argv)
    try:
        crossbackend()
    except AggregatorMissing as missing:
        print(missing, file=sys.stderr)
        return 2
    found = scenarios()
    rows: list[Row] = []
    for scenario in found:
        rows += run(scenario)
    text = table(rows)
    print(text)
    verdict = criteria(found, rows)
    print("\n" + "\n".join(verdict))
    failed = problems(found, rows)
    for problem in failed:
        print("FAILED:", problem)
    if args.out:
        notes = [f"- **{s.name}**: {s.why}" for s in found]
        intro = INTRO.replace("{metadata}", str(METADATA))
        body = [intro, text, "", "## The criterion per splitter", "",
                "Checked: every result equals the single-catalog run; pgc moves no more than a "
                "splitter wherever that splitter's placement is valid (this includes every "
                "split that runs as given); at least 10x less than a valid LoadCollection "
                "placement where a reduction can move to the data"
                + (": holds." if not failed else ": FAILS (" + "; ".join(failed) + ")."),
                "", *verdict, "", "## Scenarios", "", *notes]  # fmt: skip
        Path(args.out).write_text("\n".join(body) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
