"""``pgc conformance`` and ``pgc bench``: the harnesses that measure pgc, the openEO process
test vectors against an executor and the band-math benchmarks of a source checkout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_INVALID, EXIT_OK, UsageError, load_specs


def cmd_conformance(args: argparse.Namespace) -> int:
    """``pgc conformance PATH``: run the test vectors; exit 1 when a case in ``--expected``
    fails."""
    from ..conformance import ERRATA, load_errata, run_folder, table, to_json

    folder = Path(args.path)
    if not folder.is_dir():
        raise UsageError(f"{args.path} is not a folder of *.json5 test files")
    try:
        errata = {} if args.as_published else load_errata(args.errata or ERRATA)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the errata {args.errata}: {exc}") from None
    report = run_folder(folder, load_specs(args.specs), errata, args.executor, args.pipeline)
    if args.json:
        print(to_json(report))
    else:
        print(table(report))
        if args.failures:
            for r in report.results:
                if r.status == "failed":
                    print(f"FAILED {r.case_id}: {r.reason}")
        corrected = report.corrected()
        if corrected:
            print(
                f"{len(corrected)} cases ran corrected by errata "
                f"(they contradict their process definitions; --as-published runs them "
                f"unchanged): {', '.join(r.case_id for r in corrected)}"
            )
    passed = {r.case_id for r in report.results if r.status == "passed"}
    if args.write_expected:
        Path(args.write_expected).write_text("".join(f"{c}\n" for c in sorted(passed)))
    code = EXIT_OK
    if args.expected:
        wanted = [
            line.strip()
            for line in Path(args.expected).read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        lost = [c for c in wanted if c not in passed]
        for case_id in lost:
            print(f"REGRESSION {case_id} passed before and fails now")
        code = EXIT_INVALID if lost else EXIT_OK
    if not args.json:
        print(f"conformance: {report.summary()}")
    return code


def cmd_bench(args: argparse.Namespace) -> int:
    """``python -m benchmarks`` of the source checkout, in its own process: the harness lives
    in the source tree (benchmarks/), not in the installed package, which never imports it
    (issue 19: no ``sys.path`` editing, the peers it imports stay out of pgc's process)."""
    import subprocess

    root = Path(__file__).resolve().parents[2]  # pgc/cli/harness.py -> the checkout
    if not (root / "benchmarks" / "__main__.py").is_file():
        raise UsageError(
            "pgc bench runs the harness of a source checkout (python -m benchmarks), "
            "which this installation does not have; clone pgc and install it with "
            "pip install -e '.[bench]'"
        )
    arguments = [a for a in args.arguments if a != "--"]
    sys.stdout.flush()
    return subprocess.run([sys.executable, "-m", "benchmarks", *arguments], cwd=root).returncode
