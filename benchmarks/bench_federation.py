"""Bytes moved between federation members (issue 8): pgc's placement against the two
strategies of today's federation layer, measured in the local federation.

Five scenarios over two collections on the same 10 m grid: the embedded Sentinel-2 L2A
sample and a synthetic Sentinel-1 GRD-like sample (benchmarks/s1_sample.py, 12 dates of VV
and VH). For each scenario and strategy the graph is placed, split into member jobs, and
run in :class:`pgc.federation.local.LocalFederation`: every member a pgc executor over only
its own collections (under its own names), results passed on as STAC collections with a
netCDF asset. "moved" is the bytes of those files sent to other members, measured; "est."
is pgc's estimate from the typed IR. Every strategy's result is checked against the
single-catalog run of the same graph.

- **pgc**: :func:`pgc.federation.placement.place` (fewest estimated bytes moved).
- **load_collection split**: the loads of secondary members split off, everything else on
  the member used most (:func:`pgc.federation.baselines.load_split`).
- **support cut**: cut only where process support forces it, members picked by name
  (:func:`pgc.federation.baselines.support_cut`).

    python -m benchmarks.bench_federation [--out benchmarks/results/federation.md]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import s1_sample

AREA = {"west": 600000, "south": 5692440, "east": 602560, "north": 5695000, "crs": 32631}
EVERYTHING = None  # every process of the specs
CLOUDS = (3, 8, 9, 10)
# Exchanged files carry metadata that differs by a few bytes between equal-sized values (a
# "nodata": null attribute against "nodata": 0): "pgc moves no more than a baseline" allows
# this many bytes per exchanged file
METADATA = 64


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
    reduces: bool  # a reduction can move upstream of the cut


def scenarios() -> list[Scenario]:
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
            "merge_cubes; vito holds S1 and runs everything.",
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
            "gamma holds S1 and runs everything.",
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


@dataclass
class Row:
    scenario: str
    strategy: str
    estimated: int | None
    moved: int | None
    jobs: int
    seconds: float
    note: str = ""
    files: int = 0  # exchanged results


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


def run(scenario: Scenario) -> list[Row]:
    from pgc.federation import Federation, canonical_names, federate
    from pgc.federation.local import LocalFederation
    from pgc.federation.placement import Placement
    from pgc.federation.split import split
    from pgc.frontend.validate import validate
    from pgc.runner import execute

    federation = Federation.from_json(scenario.description)
    folder = s1_sample.ensure()
    from pgc.data.catalog import Catalog, default_catalog

    s1_catalog = Catalog()
    s1_catalog.add_folder(folder)
    sources = {
        "S2": (default_catalog().stac("SENTINEL2_L2A_SAMPLE"), None),
        "S1": (s1_sample.stac(), s1_catalog.items[s1_sample.COLLECTION_ID]),
    }
    whole = Catalog()
    for canonical, (stac, items) in sources.items():
        whole.add({**stac, "id": canonical}, list(items) if items is not None else None)
    truth = execute(canonical_names(scenario.graph, federation), catalog=whole).value

    federated = federate(scenario.graph, federation)
    graph = federated.plan.graph
    strategies = {"pgc": (federated.placement.members, federated.split.bytes_moved)}
    for name, (where, size) in federated.baselines.items():
        strategies[name] = (where, size)
    rows = []
    for name, (where, estimated) in strategies.items():
        if where is None:
            rows.append(Row(scenario.name, name, None, None, 0, 0.0, "cannot place the graph"))
            continue
        jobs = split(graph, Placement(where, estimated or 0, False), federation)
        for job in jobs.jobs:
            assert validate(job.to_openeo()).ok, (scenario.name, name, job.id)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = LocalFederation(federation, tmp, sources).run(jobs)
            seconds = time.perf_counter() - start
        ok = same(truth, result.value)
        rows.append(Row(scenario.name, name, jobs.bytes_moved, result.bytes_moved,
                        len(jobs.jobs), seconds, "" if ok else "RESULT DIFFERS",
                        len(result.moved)))  # fmt: skip
    return rows


def table(rows: list[Row]) -> str:
    from pgc.ir.types import format_bytes

    lines = [
        "| scenario | strategy | est. moved | moved (measured) | / pgc | jobs | run (s) | result |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    pgc = {r.scenario: r.moved for r in rows if r.strategy == "pgc"}
    for r in rows:
        if r.moved is None:
            lines.append(f"| {r.scenario} | {r.strategy} | - | - | - | - | - | {r.note} |")
            continue
        base = pgc[r.scenario]
        ratio = "-" if r.strategy == "pgc" else (
            f"{r.moved / base:.1f}x" if base else ("1x" if r.moved == 0 else "inf"))  # fmt: skip
        lines.append(
            f"| {r.scenario} | {r.strategy} | {format_bytes(r.estimated)} | "
            f"{format_bytes(r.moved)} | {ratio} | {r.jobs} | {r.seconds:.2f} | "
            f"{r.note or 'same as single catalog'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="also write the table (Markdown) to this file")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    found = scenarios()
    for scenario in found:
        rows += run(scenario)
    text = table(rows)
    print(text)
    problems = []
    for scenario in found:
        mine = [r for r in rows if r.scenario == scenario.name]
        pgc = next(r for r in mine if r.strategy == "pgc")
        for r in mine:
            if r.note == "RESULT DIFFERS":
                problems.append(f"{scenario.name}: {r.strategy} differs from the single catalog")
            if r.moved is not None and r.moved + METADATA * r.files < pgc.moved:
                problems.append(f"{scenario.name}: {r.strategy} moves less than pgc")
            if (scenario.reduces and r.strategy == "load_collection split" and r.moved
                    is not None and r.moved < 10 * pgc.moved):  # fmt: skip
                problems.append(f"{scenario.name}: less than 10x below the load split")
    for problem in problems:
        print("FAILED:", problem)
    if args.out:
        intro = [
            "# Bytes moved between federation members",
            "",
            "`python -m benchmarks.bench_federation`: each scenario's graph placed by pgc and by",
            "the two baselines, split into member jobs, and run in the local federation (members",
            "as pgc executors over their own collections, results exchanged as STAC collections",
            "with a netCDF asset). `moved` is measured: the bytes of the exchanged files times the",
            "members that read them. Area: 256 x 256 pixels of 10 m, 12 dates. Equal-sized",
            f"values may differ by a few bytes of metadata; up to {METADATA} bytes per exchanged",
            "file count as equal.",
            "",
        ]
        notes = [f"- **{s.name}**: {s.why}" for s in found]
        Path(args.out).write_text("\n".join([*intro, text, "", *notes]) + "\n", encoding="utf-8")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
