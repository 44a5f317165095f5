"""What starting pgc costs (issue 23, "No waste at the edges"): a cold ``pgc run
examples/evi.json -o OUT.tif`` beside ``pgc validate``'s start-up, each with its breakdown.

``python -m benchmarks startup`` runs, each in a fresh process, best of ``--repeat``:

- ``python``: ``python -c pass``, the interpreter's own start;
- ``version``: ``pgc --version``, the command line's start (argparse, ``pgc.cli``);
- ``validate``: ``pgc validate examples/evi.json`` (typed with the catalog, as by default);
- ``run``: ``pgc run examples/evi.json -o OUT.tif --stats`` with pgc's defaults;
- ``run-numba``: the same with ``--executor numba``.

pgc runs as ``python -m pgc.cli`` (the ``pgc`` script less its two lines, and it honours
``PYTHONPATH``). Caches are warm: every command runs once untimed first, so numba's disk
cache holds the kernels, Python's ``__pycache__`` the bytecode (``PYTHONDONTWRITEBYTECODE``
is dropped for the commands) and the page cache the files. Per command: the wall time
and the CPU time (user + system; less disturbed than the wall by other processes on a
shared machine) of the fastest run, the median wall, and the peak resident memory (the
child's ``ru_maxrss`` from ``wait4``).

The breakdown comes from two more runs of each command after each timed one, the fastest
of each kept. One under ``python -X importtime``
gives the imports, summed per top-level package (self times, so a package is not counted
again inside the one that imported it; its bookkeeping costs little: ``import xarray,
dask.array`` takes the same time with it and without). The other runs the command twice in
one process (``pgc.cli.main``) and times the second call, when everything is imported and
loaded: the command's own work, with the stages ``pgc run --stats`` prints for it. What
remains of the best wall after the interpreter's start (the ``python`` row), the imports and
that work is the one-time work of a first call: reading the specs and the catalog, loading
numba's cached kernels from disk, the first calls into GDAL, exit.

    python -m benchmarks startup [--repeat 7] [--out benchmarks/results/startup.md]
        [--pgc OTHER_CHECKOUT]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVI = ROOT / "examples" / "evi.json"

# The packages a breakdown names; the rest are summed as "other" (stdlib included).
PACKAGES = ("pgc", "numpy", "xarray", "pandas", "pyarrow", "dask", "scipy", "numba",
            "llvmlite", "rasterio", "boto3", "botocore", "networkx", "lark", "jsonschema",
            "zarr")  # fmt: skip

# Runs ``pgc ARGS`` twice in this process and prints the second call's time and output.
_WARM_DRIVER = """
import contextlib, io, sys, time
from pgc.cli import main
def call():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(sys.argv[1:])
    return out.getvalue()
call()
start = time.perf_counter()
text = call()
print(f"warm call: {time.perf_counter() - start!r}")
print(text)
"""
_WARM_LINE = re.compile(r"^warm call: (\S+)$", re.MULTILINE)
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")
_STAGES_LINE = re.compile(r"^time: (.*)$", re.MULTILINE)


@dataclass
class Sample:
    wall: float  # seconds
    cpu: float  # user + system seconds
    rss: int  # peak resident bytes


@dataclass
class Case:
    name: str
    argv: list[str]
    samples: list[Sample] = field(default_factory=list)
    imports: Counter = field(default_factory=Counter)  # package -> seconds (self times)
    stages: dict[str, float] = field(default_factory=dict)  # warm call's --stats, seconds
    warm: float = 0.0  # seconds of the second call in one process
    modules: int = 0  # modules imported in the breakdown run

    @property
    def best(self) -> Sample:
        return min(self.samples, key=lambda s: s.wall)


def cases(out: Path) -> list[Case]:
    pgc = [sys.executable, "-m", "pgc.cli"]
    run = [*pgc, "run", str(EVI), "-o", str(out), "--overwrite", "--stats"]
    return [
        Case("python", [sys.executable, "-c", "pass"]),
        Case("version", [*pgc, "--version"]),
        Case("validate", [*pgc, "validate", str(EVI)]),
        Case("run", run),
        Case("run-numba", [*run, "--executor", "numba"]),
    ]


def measure(argv: list[str], env: dict[str, str]) -> tuple[Sample, str, str]:
    """One run of ``argv`` in a fresh process: its sample, stdout and stderr."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # not in a checkout: ``-m`` puts the working directory first on sys.path
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=tempfile.gettempdir())
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({child.returncode}): {stderr[-2000:]}")
    sample = Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)
    return sample, stdout, stderr


def import_times(stderr: str) -> tuple[Counter, int]:
    """Self import time per top-level package (seconds) from ``-X importtime`` output, and
    the number of modules imported."""
    per: Counter = Counter()
    modules = 0
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if not m:
            continue
        modules += 1
        top = m[4].split(".")[0]
        per[top if top in PACKAGES else "other"] += int(m[1]) / 1e6
    return per, modules


def stage_times(stdout: str) -> dict[str, float]:
    """``time: validate 1 ms, lower 0 ms, ...`` of ``pgc run --stats`` in seconds."""
    m = _STAGES_LINE.search(stdout)
    if not m:
        return {}
    stages = {}
    for part in m[1].split(", "):
        name, value, unit = part.rsplit(" ", 2)
        stages[name] = float(value) / (1000 if unit == "ms" else 1)
    return stages


def bench(repeat: int, out: Path, checkout: Path = ROOT) -> list[Case]:
    """The commands of :func:`cases` with pgc from ``checkout`` (``PYTHONPATH``)."""
    env = dict(os.environ)
    # warm includes Python's bytecode cache: without it every pgc module compiles anew
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(checkout), env.get("PYTHONPATH")) if p)
    all_cases = cases(out)
    for case in all_cases:
        measure(case.argv, env)  # warm: numba's disk cache, the page cache
    for _ in range(repeat):  # interleaved, so a slow spell of the machine hits all alike
        for case in all_cases:
            case.samples.append(measure(case.argv, env)[0])
            breakdown(case, env)
    return all_cases


def breakdown(case: Case, env: dict[str, str]) -> None:
    """One ``-X importtime`` run and one warm call of ``case``; each kept where it is the
    fastest so far (the least disturbed by the rest of the machine)."""
    _, _, stderr = measure([case.argv[0], "-X", "importtime", *case.argv[1:]], env)
    imports, modules = import_times(stderr)
    if not case.imports or sum(imports.values()) < sum(case.imports.values()):
        case.imports, case.modules = imports, modules
    if case.argv[1:3] != ["-m", "pgc.cli"]:
        return
    _, stdout, _ = measure([case.argv[0], "-c", _WARM_DRIVER, *case.argv[3:]], env)
    warm = float(_WARM_LINE.search(stdout)[1])  # type: ignore[index]
    if not case.stages or warm < case.warm:
        case.warm, case.stages = warm, stage_times(stdout)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def report(all_cases: list[Case], repeat: int, checkout: Path = ROOT) -> str:
    python = next(c for c in all_cases if c.name == "python")
    lines = [
        f"Start-up of pgc (issue 23), pgc at {_commit(checkout)}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores; each command in a fresh process, best of {repeat} "
        "(interleaved) after one untimed run (caches warm).",
        "",
        "| command | wall ms (best) | wall ms (median) | CPU ms | peak RSS MB | modules |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in all_cases:
        b = c.best
        median = statistics.median(s.wall for s in c.samples)
        lines.append(f"| {c.name} | {_ms(b.wall)} | {_ms(median)} | {_ms(b.cpu)} | "
                     f"{b.rss / 1e6:.0f} | {c.modules} |")  # fmt: skip
    lines += ["", "Commands: " + "; ".join(f"`{c.name}`: `{_shown(c.argv)}`" for c in all_cases)]
    lines += [
        "",
        "Breakdown (ms) of the best wall, as the module docstring says: the interpreter's "
        "start (`python` row less its imports), imports per package (`-X importtime` "
        "self times), one-time work of a first call (the rest), and the command's own "
        "work when everything is loaded (a second call in one process), of which the stages of "
        "`pgc run --stats`.",
        "",
    ]
    shown = [c for c in all_cases if c.name != "python"]
    packages = [p for p in (*PACKAGES, "other") if any(c.imports.get(p, 0) >= 0.0005
                                                       for c in shown)]  # fmt: skip
    stages = list(dict.fromkeys(s for c in shown for s in c.stages))
    lines.append("| part | " + " | ".join(c.name for c in shown) + " |")
    lines.append("|---|" + "---:|" * len(shown))

    def row(label: str, values: list[float]) -> None:
        lines.append(f"| {label} | " + " | ".join(_ms(v) for v in values) + " |")

    # the python row's own imports (site, encodings) are in every command's imports too
    interpreter = python.best.wall - sum(python.imports.values())
    row("interpreter start, less its imports", [interpreter] * len(shown))
    for p in packages:
        row(f"import {p}", [c.imports.get(p, 0.0) for c in shown])
    row("**imports, all**", [sum(c.imports.values()) for c in shown])
    row(
        "**one-time work of a first call**",
        [c.best.wall - interpreter - sum(c.imports.values()) - c.warm for c in shown],
    )
    row("**the command's work, warm**", [c.warm for c in shown])
    for s in stages:
        row(f"&nbsp;&nbsp;stage {s}", [c.stages.get(s, 0.0) for c in shown])
    row("**wall (best)**", [c.best.wall for c in shown])
    return "\n".join(lines) + "\n"


def _shown(argv: list[str]) -> str:
    def word(a: str) -> str:
        if a == sys.executable:
            return "python"
        if a.endswith(".tif"):
            return "OUT.tif"
        return os.path.relpath(a, ROOT) if a.startswith(str(ROOT)) else a

    return " ".join(word(a) for a in argv)


def _commit(checkout: Path) -> str:
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    dirty = subprocess.run(["git", "-C", str(checkout), "status", "--porcelain", "--", "pgc"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    return (done.stdout.strip() or "unknown") + (" (pgc/ modified)" if dirty.stdout else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write the report here (default: stdout)")
    parser.add_argument("--pgc", type=Path, default=ROOT,
                        help="the checkout whose pgc runs (default: this one), to compare "
                        "two commits with the same benchmark")  # fmt: skip
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pgc-startup-") as tmp:
        all_cases = bench(args.repeat, Path(tmp) / "evi.tif", args.pgc.resolve())
    text = report(all_cases, args.repeat, args.pgc.resolve())
    if args.out:
        args.out.write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
