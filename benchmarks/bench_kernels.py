"""Band math side by side (issue 7, in progress): pgc's numba executor (warm kernel cache,
and a first run that compiles), the pgc reference executor, numpy, xarray, numexpr and the
memory-bandwidth bound, on the same in-memory uint16 bands, in one process.

The bound is a numba kernel that reads the same input bytes and writes the same output
bytes as the graph (no arithmetic to speak of): nothing can be faster than it. pgc's times
include compiling the openEO graph (validation, types, passes) and running it on cubes
passed as a parameter. Reported: best of ``--repeat`` runs, the ratio to the bound and the
peak of memory allocated by numpy during the run (tracemalloc); a PNG of time against cube
size when matplotlib is installed (``pip install -e ".[bench]"``).

Graphs: EVI, NDVI and a long band-math expression (22 operations). Not yet here: the
openEO Python stack (openeo-pg-parser-networkx + openeo-processes-dask) and the
cloud-masked composite; see the issue note.

    python benchmarks/bench_kernels.py [--sizes 1000 3000 6000] [--repeat 5] [--png FILE]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

# Band math as small trees: ("op", operand, ...) with leaves "b", "r", "n" (blue, red,
# near infrared) and numbers; each becomes an openEO reducer and a numexpr/numpy string.
EVI = (
    "multiply",
    2.5,
    (
        "divide",
        ("subtract", "n", "r"),
        ("add", ("subtract", ("add", "n", ("multiply", 6, "r")), ("multiply", 7.5, "b")), 10000),
    ),
)
NDVI = ("divide", ("subtract", "n", "r"), ("add", "n", "r"))
LONG = ("add", ("add", ("add",
        ("multiply", NDVI, 0.5),
        ("multiply", ("divide", ("subtract", "n", "b"), ("add", "n", "b")), 0.25)),
        ("multiply", ("sqrt", ("absolute", ("subtract", "n", "b"))), 0.001)),
        ("divide", ("subtract", ("multiply", "r", 0.0001), ("multiply", "b", 0.0001)),
         ("add", ("multiply", "n", 0.0001), 1)))  # fmt: skip
GRAPHS = {"EVI": EVI, "NDVI": NDVI, "long band math": LONG}
BANDS = {"b": "B02", "r": "B04", "n": "B08"}
SYMBOLS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}


def operations(tree) -> int:
    return 0 if not isinstance(tree, tuple) else 1 + sum(operations(t) for t in tree[1:])


def reducer(tree) -> dict:
    """The openEO reducer computing ``tree`` from array_element picks."""
    nodes: dict = {}

    def build(t):
        if isinstance(t, str):
            nodes.setdefault(t, {"process_id": "array_element", "arguments": {
                "data": {"from_parameter": "data"}, "label": BANDS[t]}})  # fmt: skip
            return {"from_node": t}
        if not isinstance(t, tuple):
            return t
        args = [build(a) for a in t[1:]]
        names = ("x", "y") if len(args) == 2 else ("x",)
        node_id = f"op{len(nodes)}"
        nodes[node_id] = {"process_id": t[0], "arguments": dict(zip(names, args, strict=True))}
        return {"from_node": node_id}

    result = build(tree)["from_node"]
    nodes[result]["result"] = True
    return {"process_graph": nodes}


def formula(tree) -> str:
    """``tree`` as a numexpr (and Python) expression over b, r, n."""
    if not isinstance(tree, tuple):
        return str(tree)
    op, *args = tree
    if op in SYMBOLS:
        return f"({formula(args[0])} {SYMBOLS[op]} {formula(args[1])})"
    return f"{'abs' if op == 'absolute' else op}({formula(args[0])})"


def graph_of(reducer: dict) -> dict:
    reduce = {"process_id": "reduce_dimension", "result": True, "arguments": {
        "data": {"from_parameter": "cube"}, "dimension": "bands", "reducer": reducer}}  # fmt: skip
    return {"parameters": [{"name": "cube", "schema": {}}], "process_graph": {"r": reduce}}


def bands(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    return {b: rng.integers(1, 10000, size=(n, n), dtype=np.uint16) for b in ("B02", "B04", "B08")}


def bound_kernel():
    from numba import njit, prange

    @njit(parallel=True)
    def bound(a, b, c, out):  # reads 3 x uint16, writes one float64 per pixel
        for i in prange(a.shape[0]):
            for j in range(a.shape[1]):
                out[i, j] = a[i, j] + b[i, j] + c[i, j]

    return bound


def methods(data: dict[str, np.ndarray], tree):
    """name -> a function computing ``tree`` from ``data`` (float64 result)."""
    from pgc.executors.values import Cube
    from pgc.runner import execute

    blue, red, nir = data["B02"], data["B04"], data["B08"]
    stacked = np.stack([blue, red, nir])
    cube = Cube(
        xr.DataArray(stacked, dims=("bands", "y", "x"), coords={"bands": ["B02", "B04", "B08"]}),
        xr.DataArray(True),
    )
    graph = graph_of(reducer(tree))
    text = formula(tree)
    bound = bound_kernel()
    out = np.empty(blue.shape)

    def pgc_run(executor):
        return lambda: execute(graph, parameters={"cube": cube}, executor=executor).value

    # numpy and xarray evaluate the same formula one operation at a time, as users write it
    code = compile(text, "<band math>", "eval")
    floats = {"sqrt": np.sqrt, "abs": np.abs}

    def numpy_way():
        local = {k: v.astype(np.float64) for k, v in (("b", blue), ("r", red), ("n", nir))}
        with np.errstate(all="ignore"):  # x / 0 is inf, as in every method here
            return eval(code, floats, local)  # noqa: S307 - the benchmark's own formula

    arrays = {k: xr.DataArray(v, dims=("y", "x")) for k, v in (("b", blue), ("r", red),
                                                                ("n", nir))}  # fmt: skip
    xfuncs = {"sqrt": np.sqrt, "abs": abs}

    def xarray_way():
        with np.errstate(all="ignore"):
            return eval(code, xfuncs, dict(arrays))  # noqa: S307 - the benchmark's own formula

    def numexpr_way():
        import numexpr

        return numexpr.evaluate(text, local_dict={"b": blue, "r": red, "n": nir})

    found = {
        "bandwidth bound": lambda: bound(blue, red, nir, out),
        "pgc numba (warm cache)": pgc_run("numba"),
        "pgc reference": pgc_run("reference"),
        "numpy": numpy_way,
        "xarray": xarray_way,
    }
    try:
        import numexpr  # noqa: F401

        found["numexpr"] = numexpr_way
    except ImportError:
        pass
    return found, pgc_run("numba")


def best_of(fn, repeat: int) -> tuple[float, float]:
    """(best seconds, peak MB allocated through numpy) of ``repeat`` runs after a warm-up."""
    fn()
    best, peak = float("inf"), 0.0
    for _ in range(repeat):
        gc.collect()
        tracemalloc.start()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        peak = max(peak, tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
    return best, peak


def first_run(fn) -> float:
    """One run with an empty kernel cache: compiling included."""
    from pgc.kernels import codegen

    saved, previous = dict(codegen._LOADED), os.environ.get("PGC_CACHE_DIR")
    codegen._LOADED.clear()
    with tempfile.TemporaryDirectory() as folder:
        os.environ["PGC_CACHE_DIR"] = folder
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
    codegen._LOADED.clear()
    codegen._LOADED.update(saved)
    if previous is None:
        os.environ.pop("PGC_CACHE_DIR", None)
    else:
        os.environ["PGC_CACHE_DIR"] = previous
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 6000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--graphs", nargs="+", choices=list(GRAPHS), help="default: all")
    parser.add_argument("--png", help="write a plot of time against size (needs matplotlib)")
    args = parser.parse_args(argv)
    results: dict[str, list[float]] = {}
    names = args.graphs or list(GRAPHS)
    for name in names:
        tree = GRAPHS[name]
        for n in args.sizes:
            data = bands(n)
            found, numba_run = methods(data, tree)
            inputs = sum(a.nbytes for a in data.values())
            sizes = f"inputs {inputs / 2**20:.0f} MB + output {n * n * 8 / 2**20:.0f} MB"
            print(f"\n{name} ({operations(tree)} operations), 3 x uint16 bands of {n}x{n} "
                  f"-> float64 ({sizes})")  # fmt: skip
            print("| method | time (s) | / bound | peak numpy memory (MB) |")
            print("|---|---:|---:|---:|")
            times = {m: best_of(fn, args.repeat) for m, fn in found.items()}
            times["pgc numba (first run, compiling)"] = (first_run(numba_run), float("nan"))
            bound = times["bandwidth bound"][0]
            for method, (seconds, peak) in times.items():
                print(f"| {method} | {seconds:.4f} | {seconds / bound:.1f}x | {peak:.0f} |")
                if name == names[0]:
                    results.setdefault(method, []).append(seconds)
    if args.png:
        _plot(args.sizes, results, args.png)
    return 0


def _plot(sizes: list[int], results: dict[str, list[float]], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(no plot: matplotlib is not installed; pip install -e '.[bench]')")
        return
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for name, seconds in results.items():
        axes.loglog([n * n for n in sizes], seconds, marker="o", label=name)
    axes.set_xlabel("pixels")
    axes.set_ylabel("seconds (best of runs)")
    axes.set_title("band math on three uint16 bands (the first graph)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    sys.exit(main())
