"""The ``pgc`` command line's options: one sub-command per verb, each bound to the function
that runs it (``args.run``).

>>> args = build_parser().parse_args(["validate", "graph.json", "--no-catalog"])
>>> args.run.__name__, args.file, args.no_catalog
('cmd_validate', 'graph.json', True)
"""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_USAGE
from .compile import cmd_compile, cmd_explain
from .federation import cmd_federation_describe, cmd_federation_run
from .harness import cmd_bench, cmd_conformance
from .listings import cmd_collections, cmd_processes
from .run import cmd_run
from .serve import cmd_serve
from .validate import cmd_validate


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on usage errors, as we want
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"pgc: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``pgc``'s command line, every sub-command included."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--specs",
        metavar="PATH",
        help="process definitions to use instead of pgc's (also: $PGC_SPECS)",
    )
    common.add_argument(
        "--catalog",
        metavar="FILE",
        action="append",
        default=[],
        help="a catalog file (TOML) of STAC-backed collections to add (repeatable; also: "
        "a .toml in $PGC_COLLECTIONS)",
    )
    common.add_argument(
        "--allow-host",
        metavar="HOST",
        action="append",
        default=[],
        help="a host pgc may reach for data: example.com, *.example.com, "
        "http://127.0.0.1:8080 (repeatable; also: $PGC_ALLOWED_HOSTS)",
    )
    graph_args = argparse.ArgumentParser(add_help=False, parents=[common])
    graph_args.add_argument(
        "file", metavar="FILE", help="openEO JSON or pgc IR text; - reads stdin"
    )
    graph_args.add_argument(
        "-p",
        "--pipeline",
        default="default",
        help="passes to run, e.g. dce,cse,fold; 'none' runs no passes",
    )
    graph_args.add_argument(
        "--udp",
        metavar="PATH",
        action="append",
        default=[],
        help="user-defined processes the graph may call (repeatable)",
    )
    parser = _Parser(prog="pgc", description="A compiler for openEO process graphs.")
    parser.add_argument("--version", action="version", version=f"pgc {_version()}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="print the traceback of an internal error (the operator's log) on stderr",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    v = sub.add_parser(
        "validate",
        parents=[common],
        help="validate a process graph",
        description="Validate an openEO process graph and report every problem.",
    )
    v.add_argument("file", metavar="FILE", help="the process graph (JSON); - reads stdin")
    v.add_argument("--json", action="store_true", help="print openEO error objects as JSON")
    v.add_argument(
        "--udp",
        metavar="PATH",
        action="append",
        default=[],
        help="user-defined processes the graph may call: a JSON file with one "
        "process or a list of them, or a folder of such files (repeatable)",
    )
    v.add_argument("--max-nodes", type=int, metavar="N", help="limit on process nodes")
    v.add_argument(
        "--max-depth", type=int, metavar="N", help="limit on the nesting of child process graphs"
    )
    v.add_argument(
        "--max-json-depth",
        type=int,
        metavar="N",
        help="limit on the nesting of JSON arrays and objects",
    )
    v.add_argument("--no-warnings", action="store_true", help="report errors only")
    v.add_argument(
        "--no-catalog",
        action="store_true",
        help="check structure and schemas only, for graphs whose collections pgc does not "
        "have (by default the graph is also typed with pgc's catalog: bands, dimensions, "
        "extents)",
    )
    v.set_defaults(run=cmd_validate)

    c = sub.add_parser(
        "compile",
        parents=[graph_args],
        help="compile a graph to IR, JSON or dot",
        description="Compile an openEO graph (JSON) or pgc IR text.",
    )
    c.add_argument("--emit", choices=["ir", "json", "dot"], default="ir")
    c.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    c.add_argument(
        "--overwrite",
        action="store_true",
        help="with --federation: write into a folder -o names that is not empty, replacing "
        "the files pgc writes there (and nothing else)",
    )
    c.add_argument(
        "--federation",
        metavar="FED",
        help="split for a federation (JSON/TOML): one openEO graph per member job and "
        "plan.json, written to the folder -o names",
    )
    c.set_defaults(run=cmd_compile)

    e = sub.add_parser(
        "explain",
        parents=[graph_args],
        help="print the typed, optimized plan",
        description="Print the optimized typed plan with sizes and remarks.",
    )
    e.add_argument("--verbose", action="store_true", help="print the plan after each pass")
    e.add_argument(
        "--kernels", action="store_true", help="also print the fused numba kernels' source"
    )
    e.add_argument(
        "--dask",
        action="store_true",
        help="also say which nodes the dask executor runs chunk by chunk and which whole",
    )
    e.add_argument(
        "--federation",
        metavar="FED",
        help="show the placement on a federation's members, the bytes crossing each cut "
        "and the two baseline strategies",
    )
    e.set_defaults(run=cmd_explain)

    r = sub.add_parser(
        "run",
        parents=[graph_args],
        help="run a graph with the reference executor",
        description="Run a process graph end to end on the catalog's data.",
    )
    r.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="where to write what save_result saves, in its format (a suffix naming "
        "another format, x.nc for GTiff, is an error); a graph without save_result is "
        "written in the format the suffix names (.tif .nc .zarr .json .csv .geojson)",
    )
    r.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output that exists (a file, or a Zarr store pgc wrote; never "
        "another folder)",
    )
    r.add_argument("--preview", metavar="PNG", help="also write a quick-look PNG of the result")
    r.add_argument(
        "--stats",
        action="store_true",
        help="report bytes read, time per stage, the kernels' compile and run time (numba) "
        "and this run's peak memory",
    )
    r.add_argument(
        "--param",
        metavar="NAME=JSON",
        action="append",
        default=[],
        help="a value for a graph parameter (repeatable): JSON, or a bare word for a "
        "string; checked before the run against the schema the process declares (or, "
        "where it declares none, the arguments the parameter is passed to)",
    )
    r.add_argument(
        "--executor",
        metavar="NAME",
        default="auto",
        help="auto (default: chosen from the plan's types; --stats and explain say which "
        "and why); reference; numba: elementwise work as fused kernels (the rest as the "
        "reference); dask: loads and kernels chunk by chunk; or an installed plug-in's name "
        "(entry points 'pgc.executors')",
    )
    r.add_argument(
        "--dask",
        metavar="WHERE",
        help="run with the dask executor on a dask.distributed cluster: tcp://HOST:PORT, or "
        "local:N to start N local worker processes",
    )
    r.add_argument(
        "--chunk", type=int, metavar="PIXELS", help="dask: the side of a chunk in pixels"
    )
    r.add_argument(
        "--python-udf",
        action="store_true",
        help="let run_udf run Python UDFs (in a separate process; off by default because it "
        "executes code from the graph)",
    )
    r.add_argument(
        "--udf-timeout",
        type=float,
        metavar="SECONDS",
        help="time limit of one run_udf call, process start included (default 60)",
    )
    r.add_argument(
        "--allow-read",
        metavar="DIR",
        action="append",
        default=[],
        help="a folder load_stac and load_url may read (repeatable): the URL "
        "https://pgc-files.invalid/PATH names the local file /PATH, which must be inside "
        "it (symlinks resolved); every other URL is refused",
    )
    r.add_argument(
        "--udf-memory",
        type=float,
        metavar="MB",
        help="memory (address space) a run_udf process may map beyond its own start (default 4096)",
    )
    r.add_argument("--json", action="store_true", help="print errors as openEO error objects")
    r.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        help="the run's time budget (RequestTimeout past it; default: none)",
    )
    r.add_argument(
        "--max-cube-bytes",
        type=int,
        metavar="N",
        help="the budget of one intermediate cube, in bytes (default 8 GiB)",
    )
    r.set_defaults(run=cmd_run)

    cf = sub.add_parser(
        "conformance",
        parents=[common],
        help="run openEO process test vectors (json5) against an executor",
        description="Run the openEO process test vectors in PATH.",
    )
    cf.add_argument("path", metavar="PATH", help="a folder of *.json5 test files")
    cf.add_argument("--executor", default="reference", choices=["reference", "numba", "dask"])
    cf.add_argument(
        "--pipeline",
        default="none",
        help="the passes to run before executing each case: none (default: the graph as "
        "written), default (as pgc run does), or a comma-separated list of passes",
    )
    cf.add_argument("--json", action="store_true", help="print every case's result as JSON")
    cf.add_argument("--failures", action="store_true", help="list the failed cases")
    cf.add_argument(
        "--as-published",
        action="store_true",
        help="run every vector unchanged (by default pgc's errata correct the vectors that "
        "contradict their process definitions, and say so)",
    )
    cf.add_argument("--errata", metavar="FILE", help="errata to apply instead of pgc's own")
    cf.add_argument(
        "--expected",
        metavar="FILE",
        help="case ids that must pass (one per line); exit 1 if one fails",
    )
    cf.add_argument(
        "--write-expected", metavar="FILE", help="write the ids of the cases that passed to FILE"
    )
    cf.set_defaults(run=cmd_conformance)

    b = sub.add_parser(
        "bench",
        help="run the band-math benchmark harness (from a source checkout)",
        description="Run benchmarks/bench_kernels.py: pgc's numba and reference executors "
        "against numpy, xarray, numexpr, the openEO Python stack and the memory-bandwidth "
        "bound. The arguments after 'bench' are the harness's (pgc bench -- --help).",
    )
    b.add_argument("arguments", nargs=argparse.REMAINDER, help="the harness's arguments")
    b.set_defaults(run=cmd_bench)

    k = sub.add_parser(
        "collections",
        parents=[common],
        help="list the collections pgc can load",
        description="List the catalog, as an openEO back-end's /collections.",
    )
    k.add_argument("--json", action="store_true", help="print the STAC collection documents")
    k.set_defaults(run=cmd_collections)

    pr = sub.add_parser(
        "processes",
        parents=[common],
        help="list the processes, or show one across pgc's tables",
        description="Without ID: every process with its flags (type rule, reference, kernel, "
        "dask). With ID: its definition, traits, type rule, filter laws, passes, reference "
        "implementation, kernel form and dask form.",
    )
    pr.add_argument("id", nargs="?", metavar="ID", help="a process id, e.g. ndvi")
    pr.add_argument("--json", action="store_true", help="print JSON")
    pr.set_defaults(run=cmd_processes)

    fd = sub.add_parser(
        "federation",
        aliases=["federate"],
        help="describe a federation's members from their openEO APIs; run a graph on them",
        description="Federation tools (issue 22).",
    )
    fsub = fd.add_subparsers(dest="federation_command", metavar="COMMAND", parser_class=_Parser)
    fsub.required = True
    fdd = fsub.add_parser(
        "describe",
        help="write a federation description from the members' /collections, /processes "
        "and /file_formats",
        description="Ask each member for its collections, processes and file formats and "
        "write the description (FED.toml, with the STAC documents in FED.stac/, or "
        "FED.json). Collections that are the same across members are matched by name and "
        "metadata; what is ambiguous is kept apart and named in a note.",
    )
    fdd.add_argument("urls", nargs="+", metavar="URL", help="a member's openEO API URL")
    fdd.add_argument("-o", "--output", required=True, metavar="FILE",
                     help="FED.toml or FED.json")  # fmt: skip
    fdd.set_defaults(run=cmd_federation_describe)
    fdr = fsub.add_parser(
        "run",
        help="run a graph across the members, each job an openEO batch job",
        description="Compile FILE for the federation, place and split it, run each member "
        "job as a batch job on its member with the openEO client (in dependency order, "
        "independent ones at once; values passed on through the members' signed result "
        "links), download the result to -o and report the bytes that crossed between "
        "members, from the members' logs, beside pgc's estimate. When a job fails or a "
        "member stops answering, every other job of the run is canceled.",
    )
    fdr.add_argument("file", metavar="FILE", help="the openEO process graph (JSON); - for stdin")
    fdr.add_argument("--federation", required=True, metavar="FED",
                     help="the federation description (TOML or JSON)")  # fmt: skip
    fdr.add_argument("-o", "--output", required=True, metavar="OUT",
                     help="where the result goes (a folder when it is several files)")  # fmt: skip
    fdr.add_argument("--credentials", metavar="FILE",
                     help='TOML: [MEMBER] user = "...", password = "..." (["*"]: any member)')
    fdr.add_argument("--specs", help=argparse.SUPPRESS)
    fdr.set_defaults(run=cmd_federation_run)

    sv = sub.add_parser(
        "serve",
        help="serve an openEO back-end (API 1.2) whose engine is pgc",
        description="An openEO back-end on openeo-driver: collections, processes, validation, "
        "synchronous results, batch jobs and user-defined processes, persisted in SQLite "
        "(or PostgreSQL). Settings: a TOML file (--config; see pgc.server.config).",
    )
    sv.add_argument("--config", help="the server's TOML configuration file")
    sv.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port (default 8080; 0: any free one)")
    sv.add_argument("--data", help="folder of the database, job results and secrets")
    sv.add_argument("--federation", metavar="FED",
                    help="serve as the aggregator in front of the members FED describes "
                    "(credentials for them: [federation] credentials in --config)")  # fmt: skip
    sv.add_argument("--hash-password", action="store_true",
                    help="read a password (stdin or prompt), print its hash for [users]")
    sv.set_defaults(run=cmd_serve)
    return parser


def _version() -> str:
    from .. import __version__

    return __version__
