"""pgc as a process runner of the openEO test suite (openeo-test-suite 0.2.2).

``pgc conformance`` checks the openEO process vectors strictly (the exact openEO error code of
every ``throws`` case, values within ``delta``). The suite's own harness
(``openeo_test_suite/tests/processes/processing/test_example.py::test_process``) is more
lenient: any exception passes a ``throws`` case (a different class name only warns), results
are compared with DeepDiff. This module runs that harness with pgc in-process, so pgc's figure
can be set beside other back-ends':

    pip install -e ".[testsuite]"
    python tools/testsuite_runner.py [../shared/openeo-processes] [--errata] [-- PYTEST ARGS]

It is also the pytest plugin that does the work (``-p testsuite_runner`` with ``tools`` on the
path): with ``--runner=pgc`` the suite's ``connection`` fixture is pgc's :class:`PgcRunner`
(the suite knows only dask, vito, skip and http). The suite reads the process definitions and
vectors from ``./assets/processes`` (there is no option for it) and resolves
``$ref: assets/x.json5`` against the folder of the process JSON, so the script runs pytest in
a temporary folder whose ``assets/processes`` links to the openeo-processes tree, with an
``assets`` link beside the definitions. Nothing is written outside that folder.

Every case is one process run as a one-node graph through :func:`pgc.runner.execute`, exactly as
``pgc conformance`` runs it (:func:`pgc.conformance.run_process`); a pgc error is raised as an
exception whose class name is its openEO code (``ProcessParameterInvalid``, ...), so the suite's
name check sees pgc's codes. The summary counts the ``throws`` cases that passed only because any
exception counts (pgc threw another code than the vector names).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pgc.conformance import decode, instant, run_process
from pgc.errors import PgcError
from pgc.executors.values import Cube, CubeArray, LabeledArray, dimension_type

try:  # the base class when the suite is installed; the runner works without it too
    from openeo_test_suite.lib.process_runner.base import ProcessTestRunner
except ImportError:  # pragma: no cover - exercised only without the [testsuite] extra
    ProcessTestRunner = object  # type: ignore[assignment,misc]

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = {"external-service", "udf", "workspace", "resolver"}  # as pgc.conformance skips them
SUITE_TEST = "openeo_test_suite.tests.processes.processing.test_example"


# -- errors ----------------------------------------------------------------------------------


class OpenEOError(Exception):
    """A pgc error as the suite sees it: subclasses are named after the openEO error code."""

    code = "Internal"


_ERROR_CLASSES: dict[str, type[OpenEOError]] = {}


def openeo_error_class(code: str) -> type[OpenEOError]:
    """The exception class named ``code`` (one per code)."""
    if code not in _ERROR_CLASSES:
        _ERROR_CLASSES[code] = type(code, (OpenEOError,), {"code": code, "__module__": __name__})
    return _ERROR_CLASSES[code]


def openeo_error(exc: PgcError) -> OpenEOError:
    return openeo_error_class(exc.code)(str(exc))


# -- the runner ------------------------------------------------------------------------------


class PgcRunner(ProcessTestRunner):
    """openeo-test-suite's ``ProcessTestRunner`` for pgc: arguments are decoded as
    ``pgc conformance`` decodes vectors, results encoded in the vectors' JSON form.

    ``base``: the folder ``$ref`` paths are relative to (the suite's: the folder of the
    process JSON; the plugin sets it for every case), used to read an expected value that is
    a ``$ref``."""

    def __init__(
        self,
        base: str | Path | None = None,
        executor: str = "reference",
        pipeline: str = "none",
        specs: Any = None,
    ):
        from pgc.specs import load_specs

        self.base = Path(base) if base is not None else Path("assets/processes")
        self.executor = executor
        self.pipeline = pipeline
        self.specs = specs or load_specs()
        self.last_error: BaseException | None = None  # what the last execute raised
        self._processes: list[dict] | None = None

    # what the suite's Skipper asks
    def list_processes(self) -> list[dict]:
        if self._processes is None:
            self._processes = [
                {"id": pid, "summary": self.specs[pid].summary}
                for pid in self.specs.ids()
                if self.specs[pid].traits.get("requires") not in OUTSIDE
            ]
        return self._processes

    def execute(self, id: str, arguments: dict) -> Any:  # noqa: A002 - the suite's name
        self.last_error = None
        try:
            return run_process(id, arguments, self.executor, self.pipeline)
        except PgcError as exc:
            self.last_error = openeo_error(exc)
            raise self.last_error from exc
        except Exception as exc:
            self.last_error = exc
            raise

    # specification -> pgc (the suite has loaded $refs and decodes nested values itself)
    def encode_process_graph(
        self, process: dict, parent_process_id: Any = None, parent_parameter: Any = None
    ) -> Any:
        return decode(process, self.base)

    def encode_labeled_array(self, data: dict) -> Any:
        return decode(data, self.base)

    def encode_datacube(self, data: dict) -> Any:
        return decode(data, self.base)

    def encode_data(self, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "datetime":
            return data.get("value")  # the suite only warns about this one
        return data

    def get_nodata_value(self) -> Any:
        return None  # pgc's no-data is null, as the vectors' default

    def is_json_only(self) -> bool:
        return False

    # pgc -> specification
    def decode_data(self, data: Any, expected: Any) -> Any:
        return to_vector_json(data, self._resolved(expected))

    def _resolved(self, expected: Any) -> Any:
        if isinstance(expected, dict) and isinstance(expected.get("$ref"), str):
            import json5

            try:
                return json5.loads((self.base / expected["$ref"]).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
        return expected


# -- pgc values as the vectors write them ----------------------------------------------------


def to_vector_json(value: Any, expected: Any = None) -> Any:
    """``value`` (a pgc result: Cube, LabeledArray, numpy scalars and arrays, lists, dicts) in
    the JSON form of the test vectors: a cube as ``{"type": "datacube", "order",
    "dimensions", "data"}``, a labeled array as ``{"type": "labeled-array", "data": [{key,
    value}]}`` where ``expected`` is one (else its values), numpy values as Python values.

    ``expected`` (the vector's value, decoded JSON) only picks between spellings of the same
    thing, never a value: how no-data is written in a cube (its ``nodata``, else null), an
    instant written as the vector writes it (``2020-01-01`` for midnight), and ``axis`` only
    where the vector gives its spatial dimensions one."""
    if isinstance(value, CubeArray):
        value = value.cube
    if isinstance(value, Cube):
        like = expected if _is_kind(expected, "datacube") else {}
        return cube_to_json(value, like)
    if isinstance(value, LabeledArray):
        if _is_kind(expected, "labeled-array"):
            hints = [d.get("value") for d in expected.get("data", []) if isinstance(d, dict)]
            return {
                "type": "labeled-array",
                "data": [
                    {"key": _scalar(k), "value": to_vector_json(v, _at(hints, i))}
                    for i, (k, v) in enumerate(zip(value.labels, value.values, strict=True))
                ],
            }
        value = value.values
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.dtype.kind != "M" else [_scalar(v) for v in value]
    if isinstance(value, list | tuple):
        hints = expected if isinstance(expected, list) else []
        return [to_vector_json(v, _at(hints, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        hints = expected if isinstance(expected, dict) else {}
        return {k: to_vector_json(v, hints.get(k)) for k, v in value.items()}
    return _scalar(value)


def _is_kind(value: Any, kind: str) -> bool:
    return isinstance(value, dict) and value.get("type") == kind


def _at(items: list, i: int) -> Any:
    return items[i] if i < len(items) else None


def _scalar(value: Any) -> Any:
    if isinstance(value, np.datetime64):
        return _iso(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _iso(value: np.datetime64) -> str:
    """An instant in RFC 3339 (UTC, ``Z``), with milliseconds only where there are any."""
    text = np.datetime_as_string(value.astype("datetime64[ms]"), unit="ms")
    return (text[:-4] if text.endswith(".000") else text) + "Z"


def cube_to_json(cube: Cube, like: dict | None = None) -> dict:
    """A data cube as the vectors write one (see :func:`to_vector_json` for ``like``)."""
    like = like or {}
    like_dims = like.get("dimensions") if isinstance(like.get("dimensions"), dict) else {}
    nodata = like.get("nodata")
    fills = nodata if isinstance(nodata, list) else [nodata]
    fill = next((v for v in fills if v is not None), None)
    crs = cube.data.attrs.get("crs")
    dimensions = {}
    for name in cube.dims:
        kind = dimension_type(cube, name)
        hint = like_dims.get(name) if isinstance(like_dims.get(name), dict) else {}
        entry: dict[str, Any] = {"type": kind}
        if kind == "spatial" and ("axis" in hint or not hint) and name in ("x", "y", "z"):
            entry["axis"] = name
        entry["values"] = _labels(cube, name, hint.get("values"))
        if kind == "spatial" and crs is not None:
            text = str(crs)
            entry["reference_system"] = f"EPSG:{text}" if text.isdigit() else text
        dimensions[name] = entry
    out = {
        "type": "datacube",
        "order": list(cube.dims),
        "dimensions": dimensions,
        "data": _cube_data(cube, fill),
    }
    if "nodata" in like:
        out["nodata"] = nodata
    return out


def _labels(cube: Cube, name: str, hints: Any) -> list:
    if name not in cube.data.coords:
        return list(range(cube.data.sizes[name]))
    values = cube.data.coords[name].values
    hints = hints if isinstance(hints, list) else []
    if values.dtype.kind != "M":
        return [_scalar(v) for v in values.tolist()]
    labels = []
    for i, v in enumerate(values):
        text = _iso(v)
        hint = _at(hints, i)
        same = isinstance(hint, str) and instant(hint) is not None
        labels.append(hint if same and instant(hint) == instant(text) else text)
    return labels


def _cube_data(cube: Cube, fill: Any) -> Any:
    values = np.asarray(cube.data.values)
    if hasattr(cube.valid, "dims"):  # matched by dimension name, in the values' order
        valid = np.asarray(cube.full_valid().values, dtype=bool)
    else:
        valid = np.broadcast_to(np.asarray(cube.valid, dtype=bool), values.shape)
    if values.dtype.kind == "M":
        items = np.array([_iso(v) for v in values.ravel()], dtype=object).reshape(values.shape)
    else:
        items = values.astype(object)
    if items.shape == ():  # no dimensions: one value, or none (the vectors write [])
        return _scalar(items[()]) if valid[()] else []
    items = np.where(valid, items, fill if fill is not None else None)
    return _nested(items.tolist())


def _nested(value: Any) -> Any:
    if isinstance(value, list):
        return [_nested(v) for v in value]
    return _scalar(value)


# -- the pytest plugin -----------------------------------------------------------------------

_RUNNER = pytest.StashKey[PgcRunner]()
_TALLY = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pgc", "pgc as the openEO test suite's runner (--runner=pgc)")
    group.addoption("--pgc-executor", default="reference", help="reference, numba or dask")
    group.addoption("--pgc-pipeline", default="none", help="passes before running (none)")
    group.addoption("--pgc-summary", default=None, help="write the tally as JSON to this file")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TALLY] = {
        "outcomes": Counter(),
        "cases": {},
        "lenient": [],
        "exact": 0,
        "any": 0,
    }


_CASE_IDS: dict[int, str] = {}


def _case_id(example: dict) -> str | None:
    """``pgc conformance``'s name of a suite case (``add.json5#3``): the suite's test
    parameters are the very dicts its process registry read."""
    if not _CASE_IDS:
        from openeo_test_suite.lib.process_selection import get_selected_processes

        for process in get_selected_processes():
            for i, test in enumerate(process.tests):
                _CASE_IDS[id(test)] = f"{process.process_id}.json5#{i}"
    return _CASE_IDS.get(id(example))


def _using_pgc(config: pytest.Config) -> bool:
    try:
        return config.getoption("--runner") == "pgc"
    except ValueError:  # the suite's plugin is not loaded
        return False


def pgc_runner(config: pytest.Config) -> PgcRunner:
    if _RUNNER not in config.stash:
        config.stash[_RUNNER] = PgcRunner(
            executor=config.getoption("--pgc-executor"),
            pipeline=config.getoption("--pgc-pipeline"),
        )
    return config.stash[_RUNNER]


@pytest.hookimpl(tryfirst=True)
def pytest_fixture_setup(fixturedef: Any, request: pytest.FixtureRequest) -> Any:
    """The suite's ``connection`` fixture is pgc's runner under ``--runner=pgc`` (the
    suite's own fixture raises for a runner it does not know)."""
    if fixturedef.argname != "connection" or not _using_pgc(request.config):
        return None
    runner = pgc_runner(request.config)
    fixturedef.cached_result = (runner, fixturedef.cache_key(request), None)
    return runner


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    runner = getattr(item, "funcargs", {}).get("connection")
    if isinstance(runner, PgcRunner):
        runner.last_error = None
        file = getattr(item, "callspec", None) and item.callspec.params.get("file")
        if file is not None:
            runner.base = Path(file).parent
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "example" not in params or not _using_pgc(item.config):
        return report
    tally = item.config.stash[_TALLY]
    case = _case_id(params["example"]) or item.nodeid
    if report.when == "setup" and not report.passed:  # a fixture failed or skipped
        tally["outcomes"]["skipped" if report.skipped else "error"] += 1
        tally["cases"][case] = "skipped" if report.skipped else "error"
    elif report.when == "call":
        tally["outcomes"][report.outcome] += 1
        tally["cases"][case] = report.outcome
        throws = params["example"].get("throws")
        runner = item.funcargs.get("connection")
        error = getattr(runner, "last_error", None)
        if report.passed and throws and error is not None:
            if throws is True:
                tally["any"] += 1
            elif type(error).__name__ == throws:
                tally["exact"] += 1
            else:
                tally["lenient"].append((case, throws, type(error).__name__))
    return report


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not _using_pgc(config):
        return
    tally = config.stash[_TALLY]
    out = tally["outcomes"]
    lenient = tally["lenient"]
    write = terminalreporter.write_line
    terminalreporter.section("pgc in the openEO test suite's harness")
    for case, expected, got in lenient:
        write(f"  passed only because any exception counts: {case}: {got}, expected {expected}")
    runner = config.stash.get(_RUNNER, None)
    where = f" ({runner.executor} executor, pipeline {runner.pipeline})" if runner else ""
    write(
        f"test_process{where}: {out['passed']} passed, {out['failed']} failed, "
        f"{out['skipped']} skipped{f', {e} errors' if (e := out['error']) else ''}; "
        f"throws cases passed: {tally['exact']} with the vector's "
        f"code, {tally['any']} with throws: true, {len(lenient)} only because any exception "
        "counts (pgc threw another code)"
    )
    path = config.getoption("--pgc-summary")
    if path:
        summary = {
            "passed": out["passed"],
            "failed": out["failed"],
            "skipped": out["skipped"],
            "throws_exact": tally["exact"],
            "throws_true": tally["any"],
            "throws_lenient": [{"case": n, "expected": e, "raised": g} for n, e, g in lenient],
            "cases": tally["cases"],
        }
        Path(path).write_text(json.dumps(summary, indent=2), encoding="utf-8")


# -- the script ------------------------------------------------------------------------------


def default_processes_dir() -> Path:
    """$OPENEO_PROCESSES_DIR, else ../shared/openeo-processes beside the checkout."""
    return Path(os.environ.get("OPENEO_PROCESSES_DIR") or ROOT.parent / "shared/openeo-processes")


def make_suite_folder(processes: Path, where: Path, errata: bool = False) -> Path:
    """``where/assets/processes``: the definitions and vectors of ``processes`` as links (the
    suite's layout), with ``assets`` beside the definitions for its ``$ref`` paths; with
    ``errata``, the vectors pgc's errata correct are written patched (the rest are links)."""
    processes = processes.resolve()
    target = where / "assets" / "processes"
    target.mkdir(parents=True)
    (where / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    tests = processes / "tests"
    for entry in processes.iterdir():
        if entry.name not in ("tests", "proposals"):
            (target / entry.name).symlink_to(entry)
    for folder in (target, target / "proposals"):
        folder.mkdir(exist_ok=True)
        (folder / "assets").symlink_to(tests / "assets")
    for entry in (processes / "proposals").glob("*.json"):
        (target / "proposals" / entry.name).symlink_to(entry)
    if not errata:
        (target / "tests").symlink_to(tests)
        return target
    from pgc.conformance import case_digest, load_errata, load_json5
    from pgc.jsonvalue import merge_patch

    fixes = load_errata()
    (target / "tests").mkdir()
    for entry in tests.iterdir():
        if entry.suffix != ".json5":
            (target / "tests" / entry.name).symlink_to(entry)
            continue
        doc = load_json5(entry)
        cases = doc.get("tests", [])
        patched = False
        for i, case in enumerate(cases):
            fix = fixes.get((f"{entry.name}#{i}", case_digest(case)))
            if fix is not None:
                cases[i] = merge_patch(case, fix["patch"])
                patched = True
        if patched:  # JSON with NaN/Infinity is JSON5
            (target / "tests" / entry.name).write_text(json.dumps(doc, indent=1), "utf-8")
        else:
            (target / "tests" / entry.name).symlink_to(entry)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run openeo-test-suite's process tests (test_example.py) with pgc.",
        epilog="Arguments after -- go to pytest (e.g. -- --processes add,apply -rf).",
    )
    parser.add_argument(
        "processes",
        nargs="?",
        type=Path,
        default=default_processes_dir(),
        help="an openeo-processes tree (definitions and tests/)",
    )
    parser.add_argument("--executor", default="reference")
    parser.add_argument("--pipeline", default="none")
    parser.add_argument(
        "--errata",
        action="store_true",
        help="apply pgc's conformance errata (default: vectors as published)",
    )
    parser.add_argument("--summary", type=Path, help="write the tally as JSON here")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    if not (args.processes / "tests").is_dir():
        parser.error(f"no openeo-processes tree with tests/ at {args.processes}")
    try:
        import openeo_test_suite  # noqa: F401
    except ImportError:
        parser.error('openeo-test-suite is not installed: pip install -e ".[testsuite]"')
    summary = args.summary.resolve() if args.summary else None
    # the suite looks for its own git checkout and the API's package.json to report versions
    logging.getLogger("openeo_test_suite.lib.version").setLevel(logging.ERROR)
    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="pgc-testsuite-") as tmp:
        make_suite_folder(args.processes, Path(tmp), errata=args.errata)
        os.chdir(tmp)  # the suite finds ./assets/processes
        try:
            pytest_args = [
                "-c", str(Path(tmp) / "pytest.ini"), "--rootdir", tmp,
                "-p", "no:cacheprovider",
                "-p", "openeo_test_suite.lib.pytest_plugin",
                "--pyargs", SUITE_TEST,
                "--runner=pgc", "--experimental",
                "--pgc-executor", args.executor, "--pgc-pipeline", args.pipeline,
                "-q", "--tb=no", "-W", "ignore",
                *(["--pgc-summary", str(summary)] if summary else []),
                *extra,
            ]  # fmt: skip
            code = pytest.main(pytest_args, plugins=[sys.modules[__name__]])
        finally:
            os.chdir(here)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
