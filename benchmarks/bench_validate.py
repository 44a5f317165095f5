"""Validation speed: pgc against openeo-pg-parser-networkx, side by side in one run.

The graph is a chain of N ``apply`` nodes, each with a two-node callback (3N + 1 nodes),
given as JSON text. pgc parses and fully validates it (strict JSON, every argument against
its schema, references, cycles, result nodes); the peer only parses it into its networkx
graph, without schema validation. Each figure is the median of several runs; the table
reports the ratio peer / pgc and how each scales from N to 10 N (linear = 10x).

    python benchmarks/bench_validate.py [--sizes 1000 10000] [--repeat 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pgc  # noqa: E402
from benchmarks.graphs import apply_chain  # noqa: E402


def _time(fn, repeat: int) -> tuple[float, float]:
    """(best, median) wall time in ms over ``repeat`` runs after one warm-up run."""
    fn()  # warm up: imports, spec loading, compiled schemas
    samples = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return 1000 * min(samples), 1000 * statistics.median(samples)


def pgc_validate(text: str, limits: pgc.Limits):
    result = pgc.validate(text, limits=limits)
    assert result.ok, result.errors[:3]


def peer_parse(text: str):
    """The peer walks ``from_node`` chains recursively: a chain of 1,000 ``apply`` nodes
    exceeds Python's default recursion limit, so it runs with a raised limit on a thread
    with a large stack (pgc needs neither)."""
    from openeo_pg_parser_networkx import OpenEOProcessGraph

    failure: list[BaseException] = []

    def work():
        try:
            OpenEOProcessGraph(json.loads(text))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failure.append(exc)

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size(1 << 29)
    sys.setrecursionlimit(1_000_000)
    try:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    finally:
        sys.setrecursionlimit(old_limit)
        threading.stack_size(old_stack)
    if failure:
        raise RuntimeError(f"peer failed: {type(failure[0]).__name__}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    try:
        import openeo_pg_parser_networkx  # noqa: F401

        have_peer = True
    except ImportError:
        have_peer = False
        print(
            "openeo-pg-parser-networkx is not installed (pip install -e '.[bench]'); "
            "reporting pgc only",
            file=sys.stderr,
        )

    limits = pgc.Limits(max_nodes=10 * max(args.sizes) + 10)
    rows = []
    for n in args.sizes:
        text = json.dumps(apply_chain(n))
        row = {
            "apply_nodes": n,
            "nodes": 3 * n + 1,
            "bytes": len(text),
        }
        row["pgc_ms"], row["pgc_median_ms"] = _time(
            lambda t=text: pgc_validate(t, limits), args.repeat
        )
        if have_peer:
            row["peer_ms"], row["peer_median_ms"] = _time(lambda t=text: peer_parse(t), args.repeat)
        rows.append(row)

    print(
        "| nodes | JSON bytes | pgc validate, ms (median) | peer parse only, ms (median) "
        "| peer / pgc |"
    )
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        ours = f"{r['pgc_ms']:.1f} ({r['pgc_median_ms']:.1f})"
        peer = f"{r['peer_ms']:.1f} ({r['peer_median_ms']:.1f})" if "peer_ms" in r else "-"
        ratio = f"{r['peer_ms'] / r['pgc_ms']:.1f}x" if "peer_ms" in r else "-"
        print(f"| {r['nodes']} | {r['bytes']} | {ours} | {peer} | {ratio} |")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        factor = b["nodes"] / a["nodes"]
        growth = b["pgc_ms"] / a["pgc_ms"]
        line = f"\nscaling {a['nodes']} -> {b['nodes']} nodes ({factor:.0f}x): pgc {growth:.1f}x"
        if "peer_ms" in a:
            line += f", peer {b['peer_ms'] / a['peer_ms']:.1f}x"
        print(line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
