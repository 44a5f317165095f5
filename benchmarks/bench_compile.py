"""Compile time: validate + lower + infer types + passes, and how it scales.

The graph is the front-end benchmark's chain of N ``apply`` nodes with two-node callbacks
(3N + 1 nodes), as JSON text. Reported: best of several runs per phase, and the growth
from N to 10 N nodes (linear = 10x).

    python benchmarks/bench_compile.py [--sizes 1000 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pgc  # noqa: E402
from benchmarks.graphs import apply_chain  # noqa: E402
from pgc.compiler import compile as compile_graph  # noqa: E402

PHASES = ("validate", "lower", "infer", "passes")


def measure(text: str, limits: pgc.Limits, repeat: int) -> dict[str, float]:
    compile_graph(text, limits=limits)  # warm up
    best: dict[str, float] = {}
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        plan = compile_graph(text, limits=limits)
        total = time.perf_counter() - start
        timings = plan.timings
        del plan  # freeing a plan is not compile time: keep it out of the next run's clock
        for phase, seconds in [*timings.items(), ("total", total)]:
            best[phase] = min(best.get(phase, float("inf")), seconds * 1000)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    limits = pgc.Limits(max_nodes=10 * max(args.sizes) + 10)
    rows = []
    for n in args.sizes:
        rows.append((3 * n + 1, measure(json.dumps(apply_chain(n)), limits, args.repeat)))
    print("| nodes | " + " | ".join(f"{p} (ms)" for p in PHASES) + " | total (ms) |")
    print("|---:|" + "---:|" * (len(PHASES) + 1))
    for nodes, best in rows:
        cells = " | ".join(f"{best.get(p, 0):.1f}" for p in (*PHASES, "total"))
        print(f"| {nodes} | {cells} |")
    if len(rows) >= 2:
        (n0, a), (n1, b) = rows[0], rows[-1]
        growth = ", ".join(f"{p} {b[p] / a[p]:.1f}x" for p in (*PHASES, "total") if a.get(p))
        print(f"\ngrowth {n0} -> {n1} nodes ({n1 / n0:.0f}x): {growth}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
