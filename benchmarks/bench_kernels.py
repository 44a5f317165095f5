"""Band math side by side (issue 7): pgc's numba executor (warm kernel cache, and a first
run that compiles), the pgc reference executor, numpy, xarray, numexpr, the openEO Python
stack (openeo-pg-parser-networkx + openeo-processes-dask, running the same openEO JSON
graph) and the memory-bandwidth bound, on the same in-memory uint16 cubes, in one process.

Graphs: EVI, NDVI, a long band-math expression (22 operations), and a cloud-masked NDVI
maximum over time (SCL classes 3, 8, 9, 10 masked; ``--dates`` dates).

What is timed (best of ``--repeat`` rounds after a warm-up, each round running every
method once in turn, the garbage collector paused; one run for a method whose warm-up took
over 5 s):

- bandwidth bound: a numba kernel that reads every input byte the graph reads once (the
  bands it uses) and writes the output once, into a buffer it reuses; nothing can be
  faster. "bound, fresh output" writes into newly allocated memory instead (the kernel
  then also pays for the page faults of memory new to the process).
- hand-written numba: the formula written as one numba loop by hand (into a buffer it
  reuses, as the bound).
- pgc.run numba (public API): what users call, the result an ``xarray.DataArray`` with
  no-data as NaN (a float result where every pixel holds data comes back without a copy).
- pgc numba (warm cache): ``pgc.runner.execute`` of the openEO graph on the cube passed
  as a parameter, with the kernel cache and the plan cache warm (the plan of a graph run
  before is reused, as a backend running the same graph on the next tile does). Its
  kernels write into output buffers pgc reuses once the previous result is gone
  (pgc.kernels.buffers), so its peak numpy allocation shows 0: the output's bytes are in
  the "pooled" column. "warm kernels, compiling the graph" turns the plan cache off: the
  graph is validated, typed, optimized and fused on every run (about 2 ms). "first run"
  empties both caches (kernels in memory and on disk) first: all compile time included.
- pgc reference, numpy, xarray, numexpr: the same computation, as each is used plainly
  (numpy and xarray in float64, one operation at a time).
- openEO Python stack: parsing the graph, building and running its callable, computing
  the dask result, warm (in this process); "first run" is one run in a fresh process
  (imports not counted; its peak is the process's resident memory, input included).

Peak memory: the most memory allocated through numpy during one run (tracemalloc, in a
separate run from the timing), beyond the inputs, which exist before. Every method's
result is checked against pgc's reference executor (rtol 1e-9) before it is timed.

    python -m benchmarks [--sizes 1000 3000 6000 10980] [--graphs EVI ...] [--png FILE]
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
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
TREES = {"EVI": EVI, "NDVI": NDVI, "long band math": LONG}
COMPOSITE = "cloud-masked NDVI max composite"
GRAPHS = [*TREES, COMPOSITE]
BANDS = {"b": "B02", "r": "B04", "n": "B08"}
SYMBOLS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}
SLOW = 5.0  # seconds: a method this slow is timed once
CLOUDS = (3, 8, 9, 10)  # Sentinel-2 scene classes: cloud shadow, clouds (medium, high), cirrus


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


def composite_graph() -> dict:
    """NDVI with clouds masked, maximum over time: band math for the NDVI and for the
    cloud mask from SCL (eq/or: per pixel on every stack), mask, reduce_dimension max."""
    from benchmarks.peer_openeo import composite_graph as build

    return build("mask")


@dataclass
class Case:
    """One graph on one cube: the openEO graph, the cube, and what the graph reads."""

    name: str
    graph: dict
    cube: xr.DataArray  # uint16, dims (bands, y, x) or (t, bands, y, x)
    reads: list[str]  # the bands the graph uses

    @property
    def bytes_read(self) -> int:
        return sum(self.cube.sel(bands=b).nbytes for b in self.reads)


def make_case(name: str, n: int, dates: int) -> Case:
    rng = np.random.default_rng(42)
    if name in TREES:
        labels = ["B02", "B04", "B08"]
        values = rng.integers(1, 10000, size=(3, n, n), dtype=np.uint16)
        cube = xr.DataArray(values, dims=("bands", "y", "x"), coords={"bands": labels})
        used = sorted({BANDS[leaf] for leaf in _leaves(TREES[name])})
        return Case(name, graph_of(reducer(TREES[name])), cube, used)
    labels = ["B04", "B08", "SCL"]
    values = rng.integers(1, 10000, size=(dates, 3, n, n), dtype=np.uint16)
    values[:, 2] = rng.integers(0, 12, size=(dates, n, n), dtype=np.uint16)
    cube = xr.DataArray(values, dims=("t", "bands", "y", "x"), coords={"bands": labels})
    return Case(name, composite_graph(), cube, labels)


def _leaves(tree) -> list[str]:
    if isinstance(tree, str):
        return [tree]
    if not isinstance(tree, tuple):
        return []
    return [leaf for t in tree[1:] for leaf in _leaves(t)]


# -- the methods -----------------------------------------------------------------------------


PEER = "openEO Python stack (warm)"


def methods(case: Case, skip: set[str] = frozenset()) -> dict[str, Callable[[], object]]:
    """name -> a function computing the case's result (as each method gives it)."""
    import pgc
    from pgc.executors.values import Cube
    from pgc.runner import execute

    cube = Cube(case.cube, xr.DataArray(True))

    def pgc_run(executor):
        return lambda: execute(case.graph, parameters={"cube": cube}, executor=executor).value

    found: dict[str, Callable[[], object]] = {}
    bound, fresh = bound_kernels(case)
    found["bandwidth bound"] = bound
    found["bound, fresh output"] = fresh
    found["hand-written numba"] = hand_written(case)
    found["pgc numba (warm cache)"] = pgc_run("numba")
    # what users call: the result as an xarray.DataArray, no-data as NaN (issue 19)
    found["pgc.run numba (public API)"] = lambda: pgc.run(
        case.graph, parameters={"cube": cube}, executor="numba"
    )
    # pgc.run as the README shows it: executor "auto" chooses (pgc.executors.choice)
    found["pgc.run (defaults)"] = lambda: pgc.run(case.graph, parameters={"cube": cube})
    found["pgc numba (warm kernels, compiling the graph)"] = uncached(pgc_run("numba"))
    found["pgc reference"] = pgc_run("reference")
    found.update(plain_methods(case))
    if PEER in skip:  # not even imported: importing the stack changes the process
        return found
    from benchmarks import peer_openeo

    if peer_openeo.available() is None:
        found[PEER] = peer_openeo.runner(case.graph, case.cube)
    return found


def _bands(case: Case) -> dict[str, np.ndarray]:
    """Views of the used bands (no copies), keyed by b/r/n or red/nir/scl."""
    picks = {label: case.cube.sel(bands=label).values for label in case.reads}
    if case.name in TREES:
        return {k: picks[v] for k, v in BANDS.items() if v in picks}
    return {"red": picks["B04"], "nir": picks["B08"], "scl": picks["SCL"]}


def bound_kernels(case: Case) -> tuple[Callable, Callable]:
    """The bandwidth bound: read each used band once, write one value of the compute dtype
    per output pixel (into a buffer it reuses, and into fresh memory). Band math reads its
    bands as views (each is C-contiguous); the composite indexes the whole (t, bands, y, x)
    array with the bands' positions."""
    from numba import njit, prange

    from pgc.dtypes import compute_dtype

    dtype = compute_dtype()
    if case.name in TREES:
        arrays = list(_bands(case).values())  # NDVI: two bands
        shape = arrays[0].shape

        @njit(parallel=True)
        def touch2(a, b, out):
            for i in prange(out.shape[0]):
                for j in range(out.shape[1]):
                    out[i, j] = a[i, j] + b[i, j]

        @njit(parallel=True)
        def touch3(a, b, c, out):
            for i in prange(out.shape[0]):
                for j in range(out.shape[1]):
                    out[i, j] = a[i, j] + b[i, j] + c[i, j]

        touch = touch2 if len(arrays) == 2 else touch3
    else:
        values = case.cube.values
        picks = [list(case.cube.bands.values).index(b) for b in case.reads]
        arrays = [values, *picks]
        shape = values.shape[2:]

        @njit(parallel=True)
        def touch(c, p0, p1, p2, out):
            for i in prange(out.shape[0]):
                for j in range(out.shape[1]):
                    out[i, j] = 0.0
                for t in range(c.shape[0]):
                    for j in range(out.shape[1]):
                        out[i, j] += c[t, p0, i, j] + c[t, p1, i, j] + c[t, p2, i, j]

    out = np.empty(shape, dtype=dtype)
    return (
        lambda: touch(*arrays, out),
        lambda: touch(*arrays, np.empty(shape, dtype=dtype)),
    )


def hand_written(case: Case) -> Callable:
    """The formula as one numba loop, written as a user would (in the compute dtype, into
    a buffer it reuses, as the bound)."""
    from numba import njit, prange

    from pgc.dtypes import compute_dtype

    real = getattr(np, compute_dtype())

    bands = _bands(case)
    if case.name == COMPOSITE:

        @njit(parallel=True)
        def composite(c, out):  # bands B04, B08, SCL
            for i in prange(out.shape[0]):
                for j in range(out.shape[1]):
                    out[i, j] = np.nan
                for t in range(c.shape[0]):
                    for j in range(out.shape[1]):
                        s = c[t, 2, i, j]
                        if s == 3 or s == 8 or s == 9 or s == 10:
                            continue
                        r, n = real(c[t, 0, i, j]), real(c[t, 1, i, j])
                        v = (n - r) / (n + r)
                        if np.isnan(out[i, j]) or v > out[i, j]:
                            out[i, j] = v
            return out

        values = case.cube.values
        out = np.empty(values.shape[2:], dtype=real)
        return lambda: composite(values, out)
    text = formula(TREES[case.name]).replace("sqrt(", "np.sqrt(").replace("abs(", "np.abs(")
    source = (
        "def loop(blue, red, nir, out):\n"
        "    for i in prange(out.shape[0]):\n"
        "        for j in range(out.shape[1]):\n"
        "            b, r, n = real(blue[i, j]), real(red[i, j]), real(nir[i, j])\n"
        f"            out[i, j] = {text}\n"
    )
    space: dict = {"np": np, "prange": prange, "real": real}
    exec(compile(source, "<hand-written>", "exec"), space)  # noqa: S102 - the benchmark's own
    loop = njit(parallel=True, error_model="numpy")(space["loop"])
    b, r, n = (bands.get(k, bands["r"]) for k in ("b", "r", "n"))
    out = np.empty(r.shape, dtype=real)
    return lambda: loop(b, r, n, out)


def plain_methods(case: Case) -> dict[str, Callable]:
    """numpy, xarray and numexpr as users write them: float64, one operation at a time."""
    bands = _bands(case)
    if case.name == COMPOSITE:
        return _plain_composite(case, bands)
    text = formula(TREES[case.name])
    code = compile(text, "<band math>", "eval")
    floats = {"sqrt": np.sqrt, "abs": np.abs}

    def numpy_way():
        local = {k: v.astype(np.float64) for k, v in bands.items()}
        with np.errstate(all="ignore"):  # x / 0 is inf, as in every method here
            return eval(code, floats, local)  # noqa: S307 - the benchmark's own formula

    arrays = {k: xr.DataArray(v, dims=("y", "x")) for k, v in bands.items()}

    def xarray_way():
        local = {k: v.astype(np.float64) for k, v in arrays.items()}
        with np.errstate(all="ignore"):
            return eval(code, {"sqrt": np.sqrt, "abs": abs}, local)  # noqa: S307

    found = {"numpy": numpy_way, "xarray": xarray_way}
    try:
        import numexpr

        found["numexpr"] = lambda: numexpr.evaluate(text, local_dict=dict(bands))
    except ImportError:
        pass
    return found


def _plain_composite(case: Case, bands: dict) -> dict[str, Callable]:
    red, nir, scl = bands["red"], bands["nir"], bands["scl"]

    def numpy_way():
        r, n = red.astype(np.float64), nir.astype(np.float64)
        ndvi = (n - r) / (n + r)
        ndvi[np.isin(scl, CLOUDS)] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # cloudy on every date
            return np.nanmax(ndvi, axis=0)

    cube = case.cube

    def xarray_way():
        r, n = (cube.sel(bands=b).astype(np.float64) for b in ("B04", "B08"))
        cloudy = cube.sel(bands="SCL").isin(list(CLOUDS))
        return ((n - r) / (n + r)).where(~cloudy).max("t")

    found = {"numpy": numpy_way, "xarray": xarray_way}
    try:
        import numexpr

        clouds = " | ".join(f"(s == {c})" for c in CLOUDS)
        text = f"where({clouds}, nan, (n - r) / (n + r))"

        def numexpr_way():
            local = {"r": red, "n": nir, "s": scl, "nan": np.nan}
            ndvi = numexpr.evaluate(text, local_dict=local)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmax(ndvi, axis=0)

        found["numexpr + numpy max"] = numexpr_way
    except ImportError:
        pass
    return found


# -- measuring -------------------------------------------------------------------------------


def values_of(result) -> np.ndarray | None:
    """A method's result as float64 values with NaN for no-data (None: nothing to check)."""
    from pgc.executors.values import Cube

    if result is None:
        return None
    if isinstance(result, Cube):
        return result.filled().values
    return np.asarray(result.values if hasattr(result, "values") else result, dtype=float)


def best_of(fn, repeat: int) -> float:
    """The best seconds of ``repeat`` runs (after the warm-up the caller did)."""
    return min(once(fn) for _ in range(repeat))


def once(fn) -> float:
    """The seconds of one run, after a full collection, with the collector paused."""
    from pgc.gcpause import gc_paused

    gc.collect()
    with gc_paused():
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start


def interleaved(fns: dict[str, Callable], rounds: int) -> dict[str, float]:
    """The best seconds of each function over ``rounds`` rounds, each round running every
    function once in turn: a slow spell of this shared VM (two processes' runs of one
    kernel differed by 50%) then hits every method alike, and the ratios hold."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(rounds):
        for name, fn in fns.items():
            best[name] = min(best[name], once(fn))
    return best


def peak_mb(fn) -> float:
    """The most memory numpy allocated during one run, in MB."""
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def uncached(fn):
    """``fn`` run with the plan cache off (the graph validated, typed and optimized again)."""

    def run():
        from pgc.options import active, using

        with using(active().replace(plan_cache_size=0)):
            return fn()

    return run


def first_run(fn) -> float:
    """One run with an empty kernel cache (in memory and on disk) and an empty plan cache:
    compiling the graph and its kernels included."""
    from pgc import runner
    from pgc.kernels import codegen
    from pgc.options import active, using

    saved = dict(codegen._LOADED)
    codegen._LOADED.clear()
    runner.DEFAULT_PLANS.clear()
    with tempfile.TemporaryDirectory() as folder, using(active().replace(cache_dir=folder)):
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
    codegen._LOADED.clear()
    codegen._LOADED.update(saved)
    return seconds


def measure(case: Case, repeat: int, skip: set[str], peer_first: bool) -> list[tuple]:
    """Rows (method, seconds, peak MB or None, note) for one case. pgc's reference result
    (else pgc numba's) is the truth every other result is checked against."""
    found = {k: v for k, v in methods(case, skip).items() if k not in skip}
    from pgc.dtypes import compute_dtype

    judge = "pgc reference" if "pgc reference" in found else "pgc numba (warm cache)"
    start = time.perf_counter()
    truth = values_of(found[judge]())  # also the judge's warm-up
    judge_seconds = time.perf_counter() - start
    # float64 methods against a float32 truth: float32 rounding (the dtype policy)
    rtol, atol = (1e-9, 0.0) if compute_dtype() == "float64" else (1e-5, 1e-6)
    out, slow, notes = [], {}, {}
    for name, fn in found.items():
        if name == judge:  # warmed up and checked already
            got, slow[name] = None, judge_seconds > SLOW
        else:
            start = time.perf_counter()
            got = values_of(fn())  # also the warm-up: compiles numba, builds registries ...
            slow[name] = time.perf_counter() - start > SLOW
        if got is not None and "bound" not in name:
            np.testing.assert_allclose(got, truth, rtol, atol, equal_nan=True, err_msg=name)
        del got
        if name.startswith("pgc numba"):
            from pgc.kernels.buffers import pooled_bytes

            notes[name] = f"pooled output buffers {pooled_bytes() / 2**20:.0f} MB"
    # timed in rounds (the ratios to the bound are what the report compares); a slow
    # method once, after the rounds
    seconds = interleaved({k: f for k, f in found.items() if not slow[k]}, repeat)
    seconds.update({k: best_of(f, 1) for k, f in found.items() if slow[k]})
    for name, fn in found.items():
        out.append((name, seconds[name], peak_mb(fn), notes.get(name, "")))
        if name == "pgc numba (warm cache)":
            out.append(("pgc numba (first run, compiling)", first_run(fn), None, ""))
    if peer_first and PEER in found:
        from benchmarks.peer_openeo import first_run as peer_first_run

        shape = case.cube.shape  # its own random cube: B02, B04, B08 (and SCL as 4th band)
        if case.name == COMPOSITE:
            shape = (shape[0], 4, *shape[2:])
        got = peer_first_run(case.graph, shape, seed=42)
        note = f"process peak RSS {got['maxrss_mb']:.0f} MB"
        out.append(("openEO Python stack (first run, fresh process)", got["run_s"], None, note))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 6000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dates", type=int, default=8, help="dates of the composite's cube")
    parser.add_argument("--graphs", nargs="+", choices=GRAPHS, help="default: all")
    parser.add_argument("--skip", nargs="*", default=[], help="methods to leave out")
    parser.add_argument("--no-peer-first-run", action="store_true",
                        help="skip the openEO stack's first run in a fresh process")  # fmt: skip
    parser.add_argument("--png", help="write a plot of time against size (needs matplotlib)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default=None,
                        help="pgc's compute dtype (the dtype policy; default: as set)")  # fmt: skip
    args = parser.parse_args(argv)
    from benchmarks import peer_openeo
    from pgc.dtypes import compute_dtype, set_compute_dtype

    if args.dtype:
        set_compute_dtype(args.dtype)
    size = np.dtype(compute_dtype()).itemsize

    # x / 0 is inf and cloudy-every-date pixels are NaN in every method: no warnings
    # (numpy's errstate does not reach dask's worker threads)
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    reason = peer_openeo.available() if PEER not in args.skip else None
    if reason:
        print(f"(openEO Python stack left out: {reason}; see benchmarks/requirements-peers.txt)")
    results: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for name in args.graphs or GRAPHS:
        for n in args.sizes:
            case = make_case(name, n, args.dates)
            shape = "x".join(str(s) for s in case.cube.shape)
            out_mb = n * n * size / 2**20
            print(f"\n{name}: uint16 cube {shape} ({' '.join(case.cube.dims)}), reads "
                  f"{case.bytes_read / 2**20:.0f} MB ({', '.join(case.reads)}), writes "
                  f"{n}x{n} {compute_dtype()} ({out_mb:.0f} MB); pgc computes in "
                  f"{compute_dtype()}")  # fmt: skip
            print("| method | time (s) | / bound | peak numpy memory (MB) | note |")
            print("|---|---:|---:|---:|---|")
            rows = measure(case, args.repeat, set(args.skip), not args.no_peer_first_run)
            bound = next(s for m, s, _, _ in rows if m == "bandwidth bound")
            for method, seconds, peak, note in rows:
                shown = f"{peak:.0f}" if peak is not None else "-"
                print(f"| {method} | {seconds:.4f} | {seconds / bound:.2f}x | {shown} | {note} |")
                results.setdefault(name, {}).setdefault(method, []).append((n, seconds))
            del case
            gc.collect()
    if args.png:
        _plot(results, args.png)
    return 0


def _plot(results: dict, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(no plot: matplotlib is not installed; pip install -e '.[bench]')")
        return
    figure, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results) + 3, 4.5),
                                squeeze=False)  # fmt: skip
    styles = ["-", "--", ":", "-."]
    for ax, (name, methods_) in zip(axes[0], results.items(), strict=True):
        ax.set_prop_cycle(color=plt.cm.tab20.colors[: len(methods_)])
        for k, (method, points) in enumerate(methods_.items()):
            ax.loglog([n * n for n, _ in points], [s for _, s in points], marker="o",
                      linestyle=styles[k % len(styles)], label=method)  # fmt: skip
        ax.set_xlabel("pixels per band (and date)")
        ax.set_ylabel("seconds (best of runs)")
        ax.set_title(name)
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    sys.exit(main())
