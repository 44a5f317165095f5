"""The same STAC request through pgc, odc-stac and stackstac (issue 21): time, bytes over
HTTP, requests, peak memory, and whether the values agree.

It builds (or reuses, from tests/stac_fixture.py's cache) Sentinel-2-like COG tiles over
UTM zones 31N and 32N, serves them with nginx on loopback (range requests, a JSON access
log), loads their STAC items into a real STAC API (stac-fastapi-pgstac on a throwaway
PostgreSQL), and runs each scenario's request through:

- ``pgc``: ``pgc.Session(catalog=FILE).execute(graph)`` with a catalog file whose
  collections point at the STAC API; the graph is one ``load_collection`` (extent in
  EPSG:32632, June 2023, the bands, ``properties`` eo:cloud_cover <= 90) and its cube is
  returned in memory, not written to a file. Time and peak memory are ``execute``'s (the
  cube holds the uint16 values and a validity mask, as the peers return uint16 arrays);
  what ``pgc.run`` adds to make its float64 ``xarray.DataArray`` with NaN for no-data is
  reported beside. pgc's own count of the bytes it received and its estimate of them
  (``RunResult.network``, what ``pgc run --stats`` prints) are recorded.
- ``odc-stac``: ``odc.stac.load(items, geobox=..., groupby="solar_day",
  resampling="nearest", pool=4)`` on the pystac items of a pystac-client search.
- ``stackstac``: ``stackstac.stack(item dicts, epsg=, resolution=, bounds=,
  resampling=nearest)``, then a mosaic per day (first item by time on top), computed with
  dask's threaded scheduler and 4 threads.

The peers' search (pystac-client: the same collection, lon/lat bbox, dates and cloud
filter) is part of their timed request, as pgc's search is part of its own. Every method
runs in a fresh process (GDAL caches blocks across opens), imports done before the clock
starts, and nginx's log is emptied before each run. Measured: wall time (median of the
repeats), the body bytes nginx sent for ``.tif`` requests and their number, the child's
peak RSS (``VmHWM``) and its RSS before the request. Each peer's array is
compared with pgc's on the same grid: equal pixels overall, on pixels a zone-32 tile
(the grid's own CRS) covers, and on pixels that come from a reprojected zone-31 tile.

    python benchmarks/bench_stac.py [--repeats 3] [--scenarios straddle large ...]
        [--methods pgc odc-stac stackstac] [--json results.json]

Needs nginx, PostgreSQL with PostGIS, the ``test`` extra (stac-fastapi-pgstac, pypgstac,
uvicorn) and the ``stac-peers`` extra (odc-stac, stackstac). Results:
benchmarks/results/stac.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EPSG = 32632
THREADS = 4  # pgc's reads per part (pgc.data.stac.load.THREADS); the peers get as many
DATES = ("2023-06-01", "2023-07-01")  # openEO's interval: the end is excluded
MAX_CLOUD = 90
# GDAL settings for the peers' /vsicurl/ reads of COGs (research report, issue 21, sec. 3):
# no directory listing or sidecar probes at open, consecutive ranges merged, no VSI_CACHE
# (it doubles the header read). pgc makes its own requests and needs none of them.
GDAL_HTTP = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_PAM_ENABLED": "NO",
    "GDAL_HTTP_MAX_RETRY": "2",
}
METHODS = ("pgc", "odc-stac", "stackstac")


@dataclass(frozen=True)
class Scenario:
    """One request: the pgc collection (in the catalog file written here), the STAC
    collection behind it, the extent in EPSG:32632, the pixel size and the bands."""

    name: str
    collection: str  # the openEO id in the catalog file
    stac_collection: str
    scenes: str  # "small" or "large": which fixture scenes (stac_fixture.SMALL / LARGE)
    bounds: tuple[int, int, int, int]  # west, south, east, north in EPSG:32632 metres
    resolution: int
    bands: tuple[str, ...]
    what: str

    @property
    def shape(self) -> tuple[int, int]:
        w, s, e, n = self.bounds
        return (n - s) // self.resolution, (e - w) // self.resolution


# Small scenes: 2 x 2 tiles of 1024 px (10 m) per zone, 4 dates (one 97 % cloudy), zone
# 32's western tiles start at x = 280000 and 6 deg E is at x ~ 282800 (49.5 N); zone 31's
# tiles reach x ~ 284600 of zone 32. Large scenes: zone 32's 2 x 2 tiles of 4096 px with
# 256-px blocks, one date; 32UAP spans x 280000..320960, y 5454040..5495000.
SMALL_10, SMALL_40, LARGE_10 = (
    ("S2_BENCH", "sentinel-2-l2a", "small"),
    ("S2_BENCH_40M", "sentinel-2-l2a", "small"),
    ("S2_BENCH_4096", "sentinel-2-l2a-large", "large"),
)
STRADDLE = (279000, 5486000, 287000, 5492000)
LARGE = (268000, 5476000, 298000, 5494000)
RGN = ("red", "green", "nir")
SCENARIOS = {
    s.name: s
    for s in (
        Scenario("straddle", *SMALL_10, STRADDLE, 10, ("red", "nir"),
                 "8 x 6 km across 6 deg E (its western 1 km only in zone 31), 2 bands"),
        Scenario("straddle-40m", *SMALL_40, STRADDLE, 40, ("red", "nir"),
                 "the straddle extent on a 40 m grid (COG overviews)"),
        Scenario("one-tile-1pct", *LARGE_10, (293310, 5467350, 297410, 5471450), 10, RGN,
                 "410 x 410 px (1.0 % of a 4096-px tile) inside 32UAP, on 2 x 2 blocks"),
        Scenario("one-tile-1pct-9blocks", *LARGE_10, (292000, 5468900, 296100, 5473000), 10,
                 RGN, "the same size inside 32UAP, on 3 x 3 blocks"),
        Scenario("large", *SMALL_10, LARGE, 10, RGN,
                 "30 x 18 km over all 8 tiles of both zones, 3 bands"),
        Scenario("large-40m", *SMALL_40, LARGE, 40, RGN,
                 "the large extent on a 40 m grid (overviews of both zones' tiles)"),
    )
}  # fmt: skip


# ---------------------------------------------------------------------------------- child
# One method's run of one scenario, in a fresh process: prints one JSON line.


def _rss_mb(key: str = "VmRSS") -> float:
    """This process's resident memory (``VmRSS``) or its peak (``VmHWM``), MB. Not
    ``getrusage``'s ``ru_maxrss``: exec keeps it, so a child forked from a parent holding
    large arrays reports the parent's size; the high-water mark starts anew at exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _search_bbox(bounds: tuple[int, ...]) -> list[float]:
    """The lon/lat box of an EPSG:32632 box (edges densified), for the peers' search."""
    from rasterio.warp import transform_bounds

    return list(transform_bounds(f"EPSG:{EPSG}", "EPSG:4326", *bounds, densify_pts=21))


def _search(spec: dict) -> Any:
    """The peers' pystac-client search: the collection, bbox, dates and cloud filter of
    the request (the same conditions pgc pushes into its search)."""
    from pystac_client import Client

    return Client.open(spec["api"]).search(
        collections=[spec["stac_collection"]],
        bbox=_search_bbox(spec["bounds"]),
        datetime=f"{DATES[0]}T00:00:00Z/{DATES[1]}T00:00:00Z",
        filter={"op": "<=", "args": [{"property": "eo:cloud_cover"}, MAX_CLOUD]},
        filter_lang="cql2-json",
        limit=100,
    )


def graph_of(spec: dict) -> dict:
    """The openEO graph of the request (pgc)."""
    w, s, e, n = spec["bounds"]
    cloud = {
        "c": {
            "process_id": "lte",
            "result": True,
            "arguments": {"x": {"from_parameter": "value"}, "y": MAX_CLOUD},
        }
    }
    return {
        "load": {
            "process_id": "load_collection",
            "result": True,
            "arguments": {
                "id": spec["collection"],
                "spatial_extent": {"west": w, "south": s, "east": e, "north": n, "crs": EPSG},
                "temporal_extent": list(DATES),
                "bands": list(spec["bands"]),
                "properties": {"eo:cloud_cover": {"process_graph": cloud}},
            },
        }
    }


def run_pgc(spec: dict) -> tuple[np.ndarray, dict]:
    import pgc
    from pgc.executors.convert import result_value

    session = pgc.Session(catalog=spec["catalog"])
    t0 = time.perf_counter()
    result = session.execute(graph_of(spec))  # the cube: uint16 values, as the peers' arrays
    executed = time.perf_counter() - t0
    peak = _rss_mb("VmHWM")
    cube = result_value(result.value)  # what pgc.run returns: float64, NaN for no-data
    wall = time.perf_counter() - t0
    cube = cube.transpose("t", "bands", "y", "x")
    values = np.nan_to_num(cube.values, nan=0).astype("uint16")
    return values, {
        "wall_s": executed,
        "peak_rss_mb": peak,
        "run_s": wall,
        "run_peak_rss_mb": _rss_mb("VmHWM"),
        "convert_s": wall - executed,
        "network": result.network,
        "timings": result.timings,
        "days": [str(t)[:10] for t in cube.t.values],
        "crs": str(cube.attrs.get("crs")),
        "x0": float(cube.x.values[0]),
        "y0": float(cube.y.values[0]),
        "dtype_returned": str(cube.dtype),
        "returned_mb": cube.nbytes / 1e6,
    }


def run_odc(spec: dict) -> tuple[np.ndarray, dict]:
    import odc.stac
    from odc.geo.geobox import GeoBox

    odc.stac.configure_rio(cloud_defaults=False, activate=True, **GDAL_HTTP)
    t0 = time.perf_counter()
    items = list(_search(spec).items())
    searched = time.perf_counter() - t0
    geobox = GeoBox.from_bbox(spec["bounds"], crs=f"EPSG:{EPSG}", resolution=spec["resolution"])
    ds = odc.stac.load(
        items,
        bands=list(spec["bands"]),
        geobox=geobox,
        groupby="solar_day",
        resampling="nearest",
        pool=THREADS,
    )
    wall = time.perf_counter() - t0
    arr = ds[list(spec["bands"])].to_dataarray("band").transpose("time", "band", "y", "x")
    return arr.values, {
        "wall_s": wall,
        "search_s": searched,
        "items": len(items),
        "days": [str(t)[:10] for t in arr.time.values],
        "x0": float(arr.x.values[0]),
        "y0": float(arr.y.values[0]),
        "dtype_returned": str(arr.dtype),
        "returned_mb": arr.nbytes / 1e6,
    }


def run_stackstac(spec: dict) -> tuple[np.ndarray, dict]:
    import dask
    import stackstac
    from rasterio.enums import Resampling

    # stackstac's defaults (VSI_CACHE among them) with the same HTTP settings as odc-stac
    env = stackstac.DEFAULT_GDAL_ENV.updated(always=GDAL_HTTP)
    t0 = time.perf_counter()
    # the API's own dicts: stackstac 0.5 reads proj:epsg only, which pystac's Item
    # migrates to proj:code (research report, pitfall 1)
    items = list(_search(spec).items_as_dicts())
    searched = time.perf_counter() - t0
    # pgc's and odc-stac's order inside a day: time, then id (tiles of one zone share a
    # time); stackstac's sortby_date keeps the API's order among equal times
    items.sort(key=lambda d: (d["properties"]["datetime"], d["id"]))
    stack = stackstac.stack(
        items,
        assets=list(spec["bands"]),
        epsg=EPSG,
        resolution=spec["resolution"],
        bounds=tuple(spec["bounds"]),
        snap_bounds=False,
        resampling=Resampling.nearest,
        dtype="uint16",
        fill_value=np.uint16(0),
        rescale=False,
        xy_coords="center",
        chunksize=1024,
        gdal_env=env,
        sortby_date=False,
    )
    day = stack.time.dt.strftime("%Y-%m-%d").values
    mosaic = (
        stack.assign_coords(day=("time", day))
        .groupby("day")
        .map(lambda a: stackstac.mosaic(a, dim="time", reverse=True, nodata=0))
    )
    with dask.config.set(scheduler="threads", num_workers=THREADS):
        arr = mosaic.transpose("day", "band", "y", "x").compute()
    wall = time.perf_counter() - t0
    return arr.values, {
        "wall_s": wall,
        "search_s": searched,
        "items": len(items),
        "days": [str(d) for d in arr.day.values],
        "x0": float(arr.x.values[0]),
        "y0": float(arr.y.values[0]),
        "dtype_returned": str(arr.dtype),
        "returned_mb": arr.nbytes / 1e6,
    }


def child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    method = spec["method"]
    # imports before the clock (each process pays them once; they are not the request)
    import dask.array  # noqa: F401 (xarray imports it at the first DataArray when installed)
    import pyproj  # noqa: F401
    import rasterio  # noqa: F401
    import rasterio.warp  # noqa: F401
    import xarray  # noqa: F401
    from pystac_client import Client  # noqa: F401

    if method == "pgc":
        import pgc

        # pgc's compiler modules are imported when first used: compile the graph once in
        # a session of its own (its plan cache is not the timed session's)
        pgc.Session(catalog=spec["catalog"]).compile(graph_of(spec))
        run = run_pgc
    elif method == "odc-stac":
        import odc.stac  # noqa: F401

        run = run_odc
    else:
        import stackstac  # noqa: F401

        run = run_stackstac
    before = _rss_mb()
    values, info = run(spec)
    info["rss_before_mb"] = before
    info.setdefault("peak_rss_mb", _rss_mb("VmHWM"))
    info["shape"] = list(values.shape)
    np.save(spec["out"], values)
    print(json.dumps(info))


# ------------------------------------------------------------------------------ orchestra


def catalog_file(path: Path, api: str, assets: str) -> None:
    """The catalog file pgc runs with: three collections over the API's two collections
    (the small scenes at 10 m and at 40 m, the large scenes at 10 m)."""
    tables = [
        ("S2_BENCH", "sentinel-2-l2a", 10),
        ("S2_BENCH_40M", "sentinel-2-l2a", 40),
        ("S2_BENCH_4096", "sentinel-2-l2a-large", 10),
    ]
    lines = []
    for cid, collection, resolution in tables:
        lines += [
            f"[collections.{cid}]",
            f'stac_api = "{api}"',
            f'collection = "{collection}"',
            'crs = "utm"',
            f"resolution = {resolution}",
            f'asset_hosts = ["{assets}"]',
            f"[collections.{cid}.bands]",
            'red = "red"',
            'green = "green"',
            'nir = "nir"',
            "",
        ]
    path.write_text("\n".join(lines))


def run_method(method: str, scenario: Scenario, env: dict, folder: Path, server: Any) -> dict:
    spec = {
        "method": method,
        **asdict(scenario),
        "api": env["api"],
        "catalog": env["catalog"],
        "out": str(folder / f"{scenario.name}-{method}.npy"),
    }
    spec_path = folder / f"{scenario.name}-{method}.json"
    spec_path.write_text(json.dumps(spec))
    server.reset()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(spec_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode:
        raise RuntimeError(f"{method} on {scenario.name} failed:\n{done.stderr[-4000:]}")
    info = json.loads(done.stdout.strip().splitlines()[-1])
    tifs = [e for e in server.entries() if e["uri"].endswith(".tif")]
    info["nginx_bytes"] = sum(e["body_bytes_sent"] for e in tifs)
    info["nginx_requests"] = len(tifs)
    info["nginx_heads"] = sum(1 for e in tifs if e["method"] == "HEAD")
    info["files"] = sorted({e["uri"] for e in tifs})
    return info


def summary(runs: list[dict]) -> dict:
    """The runs of one method: wall time and RSS as medians, the rest from the last run
    (bytes and requests are the same in every run; the spread is kept)."""
    out = dict(runs[-1])
    out["wall_s_runs"] = [round(r["wall_s"], 3) for r in runs]
    out["wall_s"] = statistics.median(r["wall_s"] for r in runs)
    out["peak_rss_mb"] = statistics.median(r["peak_rss_mb"] for r in runs)
    out["rss_before_mb"] = statistics.median(r["rss_before_mb"] for r in runs)
    out["nginx_bytes_runs"] = sorted({r["nginx_bytes"] for r in runs})
    out["nginx_requests_runs"] = sorted({r["nginx_requests"] for r in runs})
    return out


def _level(src: Any, resolution: float) -> int | None:
    """pgc's overview rule: the overview with the largest factor not above the ratio of
    the grid's pixel size to the asset's (None: full resolution)."""
    factors = src.overviews(1)
    usable = [f for f in factors if f <= resolution / src.res[0] + 1e-9]
    return factors.index(max(usable)) if usable else None


def _ordered(scenes: Any, day: str, zone_32: bool) -> list[dict]:
    """The items of one day in one zone, in the mosaic's order (time, then id)."""
    chosen = [
        i
        for i in scenes.items
        if i["properties"]["datetime"][:10] == day
        and (i["properties"]["proj:epsg"] == EPSG) is zone_32
    ]
    return sorted(chosen, key=lambda i: (i["properties"]["datetime"], i["id"]))


def same_crs_mask(scenario: Scenario, scenes: Any, days: list[str]) -> np.ndarray:
    """[day, y, x]: where a tile in the grid's own CRS (zone 32) has a valid value at the
    pixel's centre (in its first band, at the overview pgc reads; from the local files).
    Where none has, a valid value comes from a reprojected zone-31 tile."""
    import rasterio

    h, w = scenario.shape
    res = scenario.resolution
    xs = scenario.bounds[0] + (np.arange(w) + 0.5) * res
    ys = scenario.bounds[3] - (np.arange(h) + 0.5) * res
    mask = np.zeros((len(days), h, w), dtype=bool)
    for d, day in enumerate(days):
        for item in _ordered(scenes, day, zone_32=True):
            path = scenes.path(item, scenario.bands[0])
            with rasterio.open(path) as src:
                level = _level(src, res)
            with rasterio.open(path, overview_level=level) as src:
                t = src.transform
                cols = np.floor((xs - t.c) / t.a).astype(int)
                rows = np.floor((ys - t.f) / t.e).astype(int)
                cin = (cols >= 0) & (cols < src.width)
                rin = (rows >= 0) & (rows < src.height)
                if not cin.any() or not rin.any():
                    continue
                c0, c1 = cols[cin].min(), cols[cin].max() + 1
                r0, r1 = rows[rin].min(), rows[rin].max() + 1
                data = src.read(1, window=((r0, r1), (c0, c1)))
            valid = np.zeros((h, w), dtype=bool)
            valid[np.ix_(rin, cin)] = data[np.ix_(rows[rin] - r0, cols[cin] - c0)] != 0
            mask[d] |= valid
    return mask


def warp_check(scenario: Scenario, scenes: Any, days: list[str], ref: np.ndarray,
               same: np.ndarray) -> dict:  # fmt: skip
    """Where the peers' reprojected values come from: the first date's zone-31 tiles
    (first band, the overview pgc reads) warped onto the grid by GDAL itself (rasterio
    WarpedVRT, nearest), mosaicked in pgc's order, with GDAL's default approximate
    transformer (tolerance 0.125 px, what odc-stac and stackstac use) and with an exact
    one (1e-6 px; 0 fails in rasterio 1.4); the share of pgc's reprojected pixels each
    gives the same value."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_origin
    from rasterio.vrt import WarpedVRT

    h, w = scenario.shape
    res = scenario.resolution
    grid = from_origin(scenario.bounds[0], scenario.bounds[3], res, res)
    target = ref[0, 0]
    reprojected = ~same[0] & (target != 0)
    out: dict[str, Any] = {"date": days[0], "band": scenario.bands[0],
                           "reprojected_px": int(reprojected.sum())}  # fmt: skip
    if not reprojected.any():
        return out
    for name, tolerance in (("approximate", 0.125), ("exact", 1e-6)):
        mosaic = np.zeros((h, w), dtype=target.dtype)
        for item in _ordered(scenes, days[0], zone_32=False):
            path = scenes.path(item, scenario.bands[0])
            with rasterio.open(path) as src:
                level = _level(src, res)
            with (
                rasterio.open(path, overview_level=level) as src,
                WarpedVRT(src, crs=f"EPSG:{EPSG}", transform=grid, width=w, height=h,
                          resampling=Resampling.nearest, src_nodata=0, nodata=0,
                          tolerance=tolerance) as vrt,
            ):  # fmt: skip
                values = vrt.read(1)
            np.copyto(mosaic, values, where=mosaic == 0)
        same_value = mosaic[reprojected] == target[reprojected]
        out[f"{name}_equal_pct"] = 100 * float(same_value.mean())
    return out


def agreement(ref: np.ndarray, other: np.ndarray, same: np.ndarray) -> dict:
    """How ``other`` agrees with ``ref`` ([t, band, y, x], 0 = no-data); ``same``: [t, y,
    x] pixels a tile in the grid's CRS covers."""
    if ref.shape != other.shape:
        return {"shape": list(other.shape), "ref_shape": list(ref.shape)}
    same4 = np.broadcast_to(same[:, None], ref.shape)
    equal = ref == other
    valid = ref != 0
    reproj = valid & ~same4
    both = (ref != 0) & (other != 0)
    diff = np.abs(ref.astype(np.int32) - other.astype(np.int32))
    return {
        "equal_pct": 100 * float(equal.mean()),
        "same_crs_px": int(same4.sum()),
        "same_crs_equal_pct": 100 * float(equal[same4].mean()) if same4.any() else None,
        "reprojected_px": int(reproj.sum()),
        "reprojected_equal_pct": 100 * float(equal[reproj].mean()) if reproj.any() else None,
        "nodata_differs_px": int(((ref == 0) != (other == 0)).sum()),
        "max_abs_diff": int(diff[both].max()) if both.any() else 0,
        "differ_px": int((~equal).sum()),
        "total_px": int(ref.size),
    }


def versions() -> dict:
    import importlib.metadata as md

    import rasterio

    out = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
    }
    for name in (
        "odc-stac",
        "odc-geo",
        "odc-loader",
        "stackstac",
        "pystac-client",
        "pystac",
        "dask",
        "xarray",
        "numpy",
        "stac-fastapi-pgstac",
        "pypgstac",
    ):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    nginx = subprocess.run(["/usr/sbin/nginx", "-v"], capture_output=True, text=True)
    out["nginx"] = nginx.stderr.strip().rpartition("/")[2]
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    out["pgc_commit"] = commit.stdout.strip()
    return out


def mb(n: float) -> str:
    return f"{n / 1e6:,.2f}"


def report(results: dict, criteria: dict) -> str:
    """The tables (markdown) of a run."""
    lines = []
    for name, entry in results.items():
        sc = SCENARIOS[name]
        lines += [
            f"### {name}",
            "",
            f"{sc.what}; {sc.shape[1]} x {sc.shape[0]} px at "
            f"{sc.resolution} m, dates: {entry['days']}, bands {', '.join(sc.bands)}; whole "
            f"assets of the item-bands pgc read: {mb(entry['whole_assets'])} MB.",
            "",
        ]
        lines += [
            "| method | wall s (median) | runs s | bytes from nginx (MB) | requests | "
            "peak RSS MB (before request) | pgc count / estimate (MB) | equal px % "
            "(same CRS / reprojected) |",
            "|---|---:|---|---:|---:|---:|---:|---|",
        ]
        for method, r in entry["methods"].items():
            net = r.get("network") or {}
            counted = f"{mb(net['bytes'])} / {mb(net['estimate'])}" if net else ""
            agree = entry["agreement"].get(method)
            if method == "pgc":
                text = "(reference)"
            elif agree and "equal_pct" in agree:

                def pct(v: float | None) -> str:
                    return "-" if v is None else f"{v:.2f}"

                text = (
                    f"{agree['equal_pct']:.2f} ({pct(agree['same_crs_equal_pct'])} / "
                    f"{pct(agree['reprojected_equal_pct'])})"
                )
            else:
                text = f"grid differs: {agree}"
            each = ", ".join(f"{w:.2f}" for w in r["wall_s_runs"])
            lines.append(
                f"| {method} | {r['wall_s']:.2f} | {each}"
                f" | {mb(r['nginx_bytes'])} | {r['nginx_requests']} | {r['peak_rss_mb']:.0f} "
                f"({r['rss_before_mb']:.0f}) | {counted} | {text} |"
            )
        pgc_run = entry["methods"].get("pgc")
        if pgc_run:
            lines += [
                "",
                f"pgc's time and memory are those of `Session.execute` (its cube: uint16 "
                f"values and a validity mask, as the peers return uint16 arrays). `pgc.run` "
                f"then turns it into a float64 DataArray ({pgc_run['returned_mb']:.0f} MB): "
                f"+{pgc_run['convert_s']:.2f} s, peak {pgc_run['run_peak_rss_mb']:.0f} MB "
                f"(issue 23: no waste at the edges).",
            ]
        for method, a in entry["agreement"].items():
            if method == "gdal-warp":
                lines.append(
                    f"GDAL's own warp of the zone-31 tiles ({a['date']}, {a['band']}) equals "
                    f"pgc on {a.get('approximate_equal_pct', 100):.2f} % of its "
                    f"{a['reprojected_px']:,} reprojected pixels with the approximate "
                    f"transformer, {a.get('exact_equal_pct', 100):.2f} % with the exact one."
                )
            elif "differ_px" in a:
                lines.append(
                    f"{method}: {a['differ_px']:,} of {a['total_px']:,} values differ from "
                    f"pgc's ({a['reprojected_px']:,} reprojected), max |difference| "
                    f"{a['max_abs_diff']}, no-data differs at {a['nodata_differs_px']:,}."
                )
        lines.append("")
    if criteria:
        lines += [
            "### criteria (1 %-area, 3-band requests)",
            "",
            "| scenario | nginx bytes | pgc estimate | nginx / estimate (<= 1.2) | whole "
            "assets | whole / nginx (>= 50) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, c in criteria.items():
            lines.append(
                f"| {name} | {c['nginx']:,} | {c['estimate']:,} | "
                f"{c['nginx_over_estimate']:.3f} | {c['whole']:,} | "
                f"{c['whole_over_nginx']:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per method (default 3)")
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if "pgc" not in args.methods:
        parser.error("pgc is the reference of the comparison: keep it in --methods")

    sys.path.insert(0, str(ROOT / "tests"))
    import stac_fixture

    missing = stac_fixture.stac_api_missing()
    if missing or stac_fixture.nginx_program() is None:
        print(f"cannot run: {missing or 'nginx is not installed'}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    wanted = {SCENARIOS[n].scenes for n in args.scenarios}
    scenes = {k: stac_fixture.cached_scenes(**getattr(stac_fixture, k.upper())) for k in wanted}
    print(
        f"scenes ready in {time.perf_counter() - t0:.1f} s: "
        + ", ".join(f"{k} {s.root}" for k, s in scenes.items())
    )
    info = versions()
    print(json.dumps(info))
    results: dict[str, Any] = {}
    criteria: dict[str, Any] = {}
    folder = Path(tempfile.mkdtemp(prefix="pgc-bench-stac-"))
    with stac_fixture.Nginx(stac_fixture.cache_base()) as server:
        api = stac_fixture.StacApi().start()
        try:
            for s in scenes.values():  # one nginx over the cache folder serves both
                api.load(*s.with_base_url(f"{server.url}/{s.root.name}"))
            print(
                f"nginx {server.url}, STAC API {api.url} (up in {sum(api.timings.values()):.1f} s)"
            )
            catalog = folder / "catalog.toml"
            catalog_file(catalog, api.url, server.url)
            env = {"api": api.url, "catalog": str(catalog)}
            for name in args.scenarios:
                scenario = SCENARIOS[name]
                runs: dict[str, list[dict]] = {m: [] for m in args.methods}
                for _ in range(args.repeats):  # interleaved: drifts of the machine spread
                    for method in args.methods:
                        runs[method].append(run_method(method, scenario, env, folder, server))
                methods = {m: summary(r) for m, r in runs.items()}
                ref = np.load(folder / f"{name}-pgc.npy")
                days = methods["pgc"]["days"]
                same = same_crs_mask(scenario, scenes[scenario.scenes], days)
                agree = {}
                for m in args.methods:
                    if m == "pgc":
                        continue
                    other = np.load(folder / f"{name}-{m}.npy")
                    r = methods[m]
                    grid_ok = (
                        r["days"] == days
                        and abs(r["x0"] - methods["pgc"]["x0"]) < 1e-6
                        and abs(r["y0"] - methods["pgc"]["y0"]) < 1e-6
                    )
                    agree[m] = (
                        agreement(ref, other, same)
                        if grid_ok
                        else {"days": r["days"], "x0": r["x0"], "y0": r["y0"]}
                    )
                if any(a.get("reprojected_px") for a in agree.values()):
                    check = warp_check(scenario, scenes[scenario.scenes], days, ref, same)
                    agree["gdal-warp"] = check
                root = scenes[scenario.scenes].root.parent
                whole = sum((root / f.lstrip("/")).stat().st_size for f in methods["pgc"]["files"])
                results[name] = {
                    "scenario": asdict(scenario),
                    "methods": methods,
                    "agreement": agree,
                    "days": len(days),
                    "whole_assets": whole,
                }
                net = methods["pgc"]["network"]
                if name.startswith("one-tile-1pct"):
                    nginx = methods["pgc"]["nginx_bytes"]
                    criteria[name] = {
                        "nginx": nginx,
                        "estimate": net["estimate"],
                        "pgc_count": net["bytes"],
                        "whole": whole,
                        "nginx_over_estimate": nginx / net["estimate"],
                        "whole_over_nginx": whole / nginx,
                    }
                print(report({name: results[name]}, {}))
                sys.stdout.flush()
        finally:
            api.stop()
            shutil.rmtree(folder, ignore_errors=True)
    print(report(results, criteria))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "versions": info,
                    "repeats": args.repeats,
                    "results": results,
                    "criteria": criteria,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
