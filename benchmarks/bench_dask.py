"""The dask executor on data larger than its workers' memory (issue 9): a cloud-masked NDVI
composite over time of a Zarr collection on disk, on a dask.distributed LocalCluster whose
workers are each limited in memory.

Data: :mod:`benchmarks.zarr_sample`, ``B04``, ``B08`` and ``SCL`` (uint16, uncompressed:
the bytes on disk are the values' bytes) of ``--dates`` dates of ``--side`` x ``--side``
pixels, in storage chunks of 1024 x 1024 pixels of one date; by default a whole Sentinel-2
tile (10980 px) on 12 dates, 8.7 GB. The graph is written with the official openEO client:
``ndvi``, ``mask`` by SCL 3/8/9/10, ``max_time``, ``save_result`` as Zarr; the result
(float64, 0.96 GB for a tile) is written chunk by chunk by the workers.

Measured, each in a fresh process with the page cache of the collection's files emptied
first (``posix_fadvise(DONTNEED)``, no root needed), so every byte is read from the disk:

- **disk read bound**: every chunk file of the store read with as many threads as the
  machine has cores, into a reused buffer: the time reading those bytes takes at the least;
- **pgc, N workers**: ``pgc.runner.execute(..., executor="dask")`` on a LocalCluster of N
  worker processes of one thread each, each limited to ``--memory``; each worker's peak
  resident memory (``ru_maxrss``) is read from the worker after the run. A worker that
  passes its limit is restarted by its nanny: the benchmark fails then;
- **xarray + dask (peer)**: the same composite written by hand with xarray on dask, on the
  same cluster, reading the same store with the same chunks.

    python -m benchmarks.bench_dask [--side 10980] [--dates 12] [--memory 2GB]
        [--workers 1 2] [--out benchmarks/results/dask.md]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks import zarr_sample

CLOUDS = [3, 8, 9, 10]
BLOCK = 1024


def composite_graph(collection_id: str, fmt: str = "ZARR", **load) -> dict:
    """The cloud-masked NDVI composite as a user writes it with the openEO client (``load``:
    load_collection's extents; April to July by default)."""
    from openeo.rest.datacube import DataCube

    load = {"temporal_extent": ["2023-04-01", "2023-08-01"], **load}
    cube = DataCube.load_collection(
        collection_id, connection=None, bands=["B04", "B08", "SCL"], **load
    )
    scl = cube.band("SCL")
    clouds = (scl == 3) | (scl == 8) | (scl == 9) | (scl == 10)
    best = cube.ndvi(nir="B08", red="B04").mask(clouds).max_time()
    return best.save_result(format=fmt).flat_graph()


# -- the page cache and the disk ------------------------------------------------------------


def store_files(folder: Path) -> list[Path]:
    """The chunk files of the store's band arrays (what a composite over every date reads)."""
    return sorted(p for b in zarr_sample.BANDS for p in (folder / "cube.zarr" / b).rglob("*")
                  if p.is_file() and p.name != "zarr.json")  # fmt: skip


def evict(files: list[Path]) -> None:
    """Drop the files' pages from the page cache, so the next read comes from the disk."""
    os.sync()
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_bound(files: list[Path], threads: int) -> float:
    """Seconds to read every file once with ``threads`` readers (cold cache)."""
    evict(files)

    def read(part: list[Path]) -> int:
        buffer = bytearray(8 * 2**20)
        total = 0
        for path in part:
            with open(path, "rb", buffering=0) as file:
                while n := file.readinto(buffer):
                    total += n
        return total

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        sum(pool.map(read, [files[i::threads] for i in range(threads)]))
    return time.perf_counter() - start


# -- one measured run, in its own process -------------------------------------------------


def one(kind: str, folder: Path, workers: int, memory: str) -> dict:
    """Run the composite (``kind``: pgc or xarray) on a fresh cluster; seconds and peaks."""
    import resource

    import distributed
    from dask.utils import parse_bytes

    cluster = distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory,
        host="127.0.0.1", dashboard_address=None,
    )  # fmt: skip
    with cluster, distributed.Client(cluster) as client, tempfile.TemporaryDirectory() as tmp:
        run = _pgc if kind == "pgc" else _xarray
        run(client, folder, Path(tmp) / "warm.zarr", warm=True)  # imports, numba kernels
        before = sorted(client.scheduler_info()["workers"])
        evict(store_files(folder))
        start = time.perf_counter()
        run(client, folder, Path(tmp) / "out.zarr", warm=False)
        seconds = time.perf_counter() - start
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
        after = sorted(client.scheduler_info()["workers"])
        return {
            "seconds": seconds,
            "worker_peaks": sorted(peaks.values()),
            "client_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "restarted": before != after,
            "workers": [before, after],
            "limit": parse_bytes(memory),
        }


def _pgc(client, folder: Path, out: Path, warm: bool) -> None:
    from pgc.data.catalog import Catalog
    from pgc.executors.dask.chunked import DaskOptions
    from pgc.runner import execute

    catalog = Catalog()
    cid = catalog.add_folder(folder)
    graph = composite_graph(cid)
    if warm:  # one storage chunk's area
        load = graph["loadcollection1"]["arguments"]
        x0, y1 = 600000, 5700000
        load["spatial_extent"] = {"west": x0, "south": y1 - 2560, "east": x0 + 2560,
                                  "north": y1, "crs": 32631}  # fmt: skip
    execute(graph, catalog=catalog, executor="dask", dask=DaskOptions(scheduler=client),
            output=out)  # fmt: skip


def _xarray(client, folder: Path, out: Path, warm: bool) -> None:
    """The composite by hand with xarray on dask: what a user of xarray writes."""
    import xarray as xr
    import zarr

    side = zarr.open_group(folder / "cube.zarr", mode="r")["B04"].chunks[-1]  # as pgc's
    data = xr.open_zarr(folder / "cube.zarr", consolidated=False,
                        chunks={"t": -1, "y": side, "x": side})  # fmt: skip
    if warm:
        data = data.isel(y=slice(0, 256), x=slice(0, 256))
    red, nir = data["B04"].astype("float64"), data["B08"].astype("float64")
    clear = ~data["SCL"].isin(CLOUDS) & (red != 0) & (nir != 0)
    best = ((nir - red) / (nir + red)).where(clear).max("t")
    client.compute(
        best.to_dataset(name="values").to_zarr(out, mode="w", consolidated=False, compute=False)
    ).result()


# -- the report ----------------------------------------------------------------------------


def measure(kind: str, folder: Path, workers: int, memory: str) -> dict:
    """:func:`one` in a fresh process (its own imports, clusters and peak memory)."""
    command = [sys.executable, "-m", "benchmarks.bench_dask", "--one", kind,
               "--folder", str(folder), "--n", str(workers), "--memory", memory]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} on {workers} worker(s) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(
    side: int, dates: int, memory: str, workers: list[int], base: Path | None, block: int = BLOCK
) -> str:
    folder = zarr_sample.ensure(side, dates, block, base)
    files = store_files(folder)
    nbytes = sum(p.stat().st_size for p in files)
    bound = read_bound(files, os.cpu_count() or 1)
    runs = [(f"pgc, {n} worker{'s' * (n > 1)}", n, measure("pgc", folder, n, memory))
            for n in workers]  # fmt: skip
    peer_n = max(workers)
    try:
        runs.append((f"xarray + dask (peer), {peer_n} workers", peer_n,
                     measure("xarray", folder, peer_n, memory)))  # fmt: skip
    except RuntimeError as exc:  # the peer's failure is a result, said in the report
        failed = str(exc).splitlines()[-1][:200]
        runs.append((f"xarray + dask (peer), {peer_n} workers", peer_n, {"failed": failed}))
    gb = 1e9
    lines = [
        f"Data: {side} x {side} px x {dates} dates x 3 bands uint16 in Zarr, "
        f"{nbytes / gb:.2f} GB on disk (uncompressed); workers limited to {memory} each, "
        f"one thread each; {os.cpu_count()} cores.",
        f"Disk read bound (every chunk file read cold, {os.cpu_count()} threads): "
        f"{bound:.1f} s, {nbytes / bound / 1e6:.0f} MB/s.",
        "",
        "| run | seconds | x bound | read rate | peak memory per worker | client peak |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for name, _, r in runs:
        if "failed" in r:
            lines.append(f"| {name} | failed: {r['failed']} | | | | |")
            continue
        peaks = ", ".join(f"{p / gb:.2f} GB" for p in r["worker_peaks"])
        lines.append(
            f"| {name} | {r['seconds']:.1f} | {r['seconds'] / bound:.2f}x | "
            f"{nbytes / r['seconds'] / 1e6:.0f} MB/s | {peaks} | {r['client_peak'] / gb:.2f} GB |"
        )
    pgc_runs = {n: r for name, n, r in runs if name.startswith("pgc")}
    if 1 in pgc_runs and 2 in pgc_runs:
        speedup = pgc_runs[1]["seconds"] / pgc_runs[2]["seconds"]
        lines += ["", f"Speed-up from one worker to two: {speedup:.2f}x."]
    over = [name for name, _, r in runs if name.startswith("pgc")
            and (r["restarted"] or max(r["worker_peaks"]) >= r["limit"])]  # fmt: skip
    if over:
        lines += ["", f"FAILED: workers passed their memory limit of {memory}: {over}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=10980)
    parser.add_argument("--dates", type=int, default=12)
    parser.add_argument("--block", type=int, default=BLOCK, help="storage chunk side (pixels)")
    parser.add_argument("--memory", default="2GB", help="each worker's memory limit")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--data", type=Path, help="where the collection is written")
    parser.add_argument("--out", type=Path, help="also write the report (markdown) there")
    parser.add_argument("--one", choices=["pgc", "xarray"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.folder, args.n, args.memory)))
        return 0
    text = report(args.side, args.dates, args.memory, args.workers, args.data, args.block)
    print(text, end="")
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 1 if "FAILED" in text else 0


if __name__ == "__main__":
    sys.exit(main())
