"""Running openEO process test vectors (the json5 format of the openEO processes project).

Each file holds cases for one process: arguments, and the value the process returns or
the exception it throws. Special values are decoded as the format's README says: no-data
(``{"type": "nodata"}``), datetimes, labeled arrays, data cubes (``order``,
``dimensions``, ``nodata``) and ``$ref`` assets. A case becomes a one-node process graph;
values JSON cannot carry (cubes, NaN, labeled arrays) are passed as parameters. Results are
compared with the case's ``delta`` (default 1e-10).

    pgc conformance ../shared/openeo-processes/tests
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .executors.values import Cube, CubeArray, LabeledArray, with_dimension_types
from .jsonvalue import is_json

OUTSIDE = {"external-service", "udf", "workspace", "resolver"}


@dataclass
class CaseResult:
    case_id: str
    process_id: str
    status: str  # passed, failed, skipped
    reason: str = ""
    erratum: str = ""  # why the case ran corrected (pgc/conformance_errata.json), if it did


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def summary(self) -> str:
        return (
            f"{self.count('passed')} passed, {self.count('failed')} failed, "
            f"{self.count('skipped')} skipped"
        )

    def corrected(self) -> list[CaseResult]:
        return [r for r in self.results if r.erratum]


ERRATA = Path(__file__).with_name("conformance_errata.json")


def case_digest(case: dict) -> str:
    """What identifies a case's content: sha256 of its canonical JSON, 16 hex digits."""
    import hashlib

    text = json.dumps(case, sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_errata(path: str | Path = ERRATA) -> dict[tuple[str, str], dict]:
    """Errata by (case id, digest). An erratum corrects a vector that contradicts its
    process definition; it applies only to a case with exactly the content it was written
    for, so vectors fixed upstream (or other vector sets) run as they are."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    return {(e["case"], e["digest"]): e for e in doc["errata"]}


def load_json5(path: Path) -> Any:
    """A JSON5 file (the upstream test vectors' format), parsed."""
    import json5

    return json5.loads(path.read_text(encoding="utf-8"))


class _Undecodable(Exception):
    pass


def decode(value: Any, base: Path) -> Any:
    """The run-time value of a test-vector value (special objects decoded)."""
    if isinstance(value, list):
        return [decode(v, base) for v in value]
    if not isinstance(value, dict):
        return value
    if "$ref" in value:
        ref = str(value["$ref"])
        if "://" in ref:
            raise _Undecodable(f"remote asset {ref}")
        if not ref.endswith((".json", ".json5", ".geojson")):  # e.g. a CRS as WKT2 text
            return (base / ref).read_text(encoding="utf-8")
        return decode(load_json5(base / ref), base)
    kind = value.get("type")
    if kind == "nodata":
        return None
    if kind == "datetime":
        return value.get("value")
    if kind == "labeled-array":
        data = value.get("data", [])
        return LabeledArray(
            [decode(d.get("value"), base) for d in data], [d.get("key") for d in data]
        )
    if kind == "datacube":
        return _cube(value)
    if "process_graph" in value:
        return _modernize(value)
    return {k: decode(v, base) for k, v in value.items()}


def _modernize(callback: dict) -> dict:
    """Some vectors still use openEO 0.4's ``from_argument``; it is ``from_parameter`` now."""
    text = json.dumps(callback)
    return json.loads(text.replace('"from_argument":', '"from_parameter":'))


def _cube(spec: dict):
    import xarray as xr

    order = spec.get("order") or list(spec.get("dimensions", {}))
    dims = spec.get("dimensions", {})
    coords = {}
    for name in order:
        meta = dims.get(name, {})
        labels = meta.get("values", [])
        if meta.get("type") == "temporal" and all(instant(str(v)) for v in labels):
            labels = _instants(labels)
        coords[name] = labels
    shape = tuple(len(coords[d]) for d in order)
    raw = spec.get("data")
    if raw is None:  # "data values are irrelevant for the test": dimensions and labels only
        values = np.zeros(shape)
        missing = np.zeros(shape, dtype=bool)
    elif shape == () and raw == []:  # a cube without dimensions holds no value
        raw = None
        values = np.zeros(shape)
        missing = np.zeros(shape, dtype=bool)
    else:
        obj = np.array(raw, dtype=object).reshape(shape)
        missing = np.vectorize(lambda v: v is None, otypes=[bool])(obj)
        values = np.where(missing, 0, obj).astype("float64") if obj.size else np.zeros(shape)
    nodata = spec.get("nodata", [])
    nodata = nodata if isinstance(nodata, list) else [nodata]
    invalid = missing.copy()
    for nd in nodata:
        if nd is None:
            continue
        invalid |= np.isnan(values) if isinstance(nd, float) and math.isnan(nd) else values == nd
    data = xr.DataArray(values, dims=order, coords=coords)
    crs = next(
        (
            m.get("reference_system")
            for m in dims.values()
            if m.get("type") == "spatial" and m.get("reference_system") is not None
        ),
        None,
    )
    if crs is not None:
        data.attrs["crs"] = str(crs).replace("EPSG:", "")
    kind = _LabelsOnly if raw is None else Cube
    cube = kind(
        data.where(~xr.DataArray(invalid, dims=order), 0),
        xr.DataArray(~invalid, dims=order, coords=coords),
    )
    types = {name: str(dims[name]["type"]) for name in order if dims.get(name, {}).get("type")}
    typed = with_dimension_types(cube, types)
    return kind(typed.data, typed.valid)


def _instants(labels: list):
    """Temporal labels as datetime64 when each is an instant numpy reads; else as written
    (period labels such as ``2020-06-01-00`` for an hour, which Python's ISO reader would
    take for a date with a UTC offset)."""
    try:
        return np.array([np.datetime64(str(v).rstrip("Z")) for v in labels], "datetime64[ns]")
    except ValueError:
        return labels


class _LabelsOnly(Cube):
    """An expected cube whose vector gives ``"data": null``: its values are not compared."""


def run_case(
    process_id: str,
    case: dict,
    base: Path,
    specs,
    executor: str = "reference",
    pipeline: str = "none",
) -> CaseResult | tuple[str, str]:
    """("passed"|"failed"|"skipped", reason) for one case, run by ``executor`` after the
    passes of ``pipeline`` (none: the graph as written; default: as ``pgc run`` runs it)."""
    from .errors import PgcError

    spec = specs.get(process_id)
    if spec is None:
        return "skipped", f"pgc has no process '{process_id}'"
    if spec.traits.get("requires") in OUTSIDE:
        return "skipped", f"needs an outside capability ({spec.traits['requires']})"
    try:
        args = {k: decode(v, base) for k, v in case.get("arguments", {}).items()}
    except _Undecodable as exc:
        return "skipped", str(exc)
    except Exception as exc:  # noqa: BLE001 - a vector pgc cannot read fails, with the reason
        return "failed", f"cannot decode the arguments: {type(exc).__name__}: {exc}"
    throws = case.get("throws")
    try:
        value = run_process(process_id, args, executor, pipeline)
    except PgcError as exc:
        if throws is True or (isinstance(throws, str) and throws == exc.code):
            return "passed", ""
        if throws:
            return "failed", f"threw {exc.code}, expected {throws}"
        return "failed", f"{exc.code}: {exc.diagnostics[0].message[:150]}"
    except Exception as exc:  # noqa: BLE001 - a crash is a failed case, with its reason
        return "failed", f"crashed: {type(exc).__name__}: {str(exc)[:150]}"
    if "returns" not in case:
        return "failed", f"returned instead of throwing {throws}"
    try:
        expected = decode(case["returns"], base)
    except Exception as exc:  # noqa: BLE001
        return "failed", f"cannot decode the expected value: {type(exc).__name__}: {exc}"
    problem = compare(value, expected, float(case.get("delta", 1e-10)))
    return ("passed", "") if problem is None else ("failed", problem)


def one_node_graph(process_id: str, args: dict[str, Any]) -> tuple[dict, dict[str, Any]]:
    """A graph of one node calling ``process_id`` with the decoded ``args``, and the values
    of its parameters: arguments JSON cannot carry (cubes, labeled arrays, NaN) are passed
    as parameters ``arg_NAME``."""
    arguments, parameters, declared = {}, {}, []
    for name, value in args.items():
        if is_json(value, finite=True):
            arguments[name] = value
        else:
            arguments[name] = {"from_parameter": f"arg_{name}"}
            parameters[f"arg_{name}"] = value
            declared.append({"name": f"arg_{name}", "schema": {}})
    graph = {
        "parameters": declared,
        "process_graph": {"n": {"process_id": process_id, "arguments": arguments, "result": True}},
    }
    return graph, parameters


def run_process(
    process_id: str, args: dict[str, Any], executor: str = "reference", pipeline: str = "none"
) -> Any:
    """The value of ``process_id`` with the decoded ``args`` (:func:`one_node_graph`), run by
    ``executor`` after the passes of ``pipeline``; what ``save_result`` saved where the
    process is one. Raises :class:`pgc.PgcError` (openEO codes) on failure."""
    from .runner import execute

    graph, parameters = one_node_graph(process_id, args)
    result = execute(graph, parameters=parameters, pipeline=pipeline, executor=executor)
    value = result.value
    if value is True and result.outputs:
        value = result.outputs[-1][0]
    return value


def compare(actual: Any, expected: Any, delta: float) -> str | None:
    """None when ``actual`` matches ``expected``; else what differs."""
    if isinstance(actual, CubeArray):
        actual = actual.cube
    if isinstance(expected, Cube):
        if not isinstance(actual, Cube):
            return f"expected a data cube, got {_short(actual)}"
        return _compare_cubes(actual, expected, delta)
    if isinstance(expected, LabeledArray):
        if isinstance(actual, LabeledArray):
            if [str(v) for v in actual.labels] != [str(v) for v in expected.labels]:
                return f"labels {actual.labels} != {expected.labels}"
            actual = actual.values
        return compare(actual, expected.values, delta)
    if isinstance(actual, LabeledArray):
        actual = actual.values
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"expected {_short(expected)}, got {_short(actual)}"
        for a, e in zip(actual, expected, strict=True):
            problem = compare(a, e, delta)
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return f"expected {_short(expected)}, got {_short(actual)}"
        for key in expected:
            problem = compare(actual[key], expected[key], delta)
            if problem:
                return problem
        return None
    if isinstance(expected, bool) or expected is None or isinstance(actual, bool):
        return (
            None
            if actual is expected or (actual == expected and type(actual) is type(expected))
            else f"expected {_short(expected)}, got {_short(actual)}"
        )
    if isinstance(expected, int | float):
        if not isinstance(actual, int | float):
            return f"expected {_short(expected)}, got {_short(actual)}"
        if math.isnan(expected):
            return None if math.isnan(actual) else f"expected NaN, got {actual}"
        if math.isinf(expected) or math.isinf(actual):
            return None if actual == expected else f"expected {expected}, got {actual}"
        return None if abs(actual - expected) <= delta else f"expected {expected}, got {actual}"
    if isinstance(expected, str) and isinstance(actual, str):
        if instant(actual) is not None and instant(actual) == instant(expected):
            return None
        return None if actual == expected else f"expected {expected!r}, got {actual!r}"
    return None if actual == expected else f"expected {_short(expected)}, got {_short(actual)}"


def instant(text: str):
    """The moment an RFC 3339 date or date-time names (UTC), or None when ``text`` is
    neither (tools/testsuite_runner.py compares labels with it too)."""
    from datetime import UTC, datetime

    if len(text) > 10 and text[10] not in "T ":
        return None  # a period label (2020-06-01-00: an hour), not a date with an offset
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _compare_cubes(actual, expected, delta: float) -> str | None:
    if actual.dims != expected.dims:
        return f"dimensions {actual.dims} != {expected.dims}"
    for dim in expected.dims:
        a = [_label_key(v) for v in actual.data[dim].values]
        e = [_label_key(v) for v in expected.data[dim].values]
        if a != e and not _close_labels(actual.data[dim].values, expected.data[dim].values):
            return f"labels of {dim}: {a[:5]} != {e[:5]}"
    if isinstance(expected, _LabelsOnly):
        return None
    # Cube vectors mark no-data as NaN (their "nodata"); compare NaN-filled values.
    a = np.asarray(actual.filled().values, dtype="float64").ravel()
    e = np.asarray(expected.filled().values, dtype="float64").ravel()
    if a.shape != e.shape:
        return f"shape {actual.data.shape} != {expected.data.shape}"
    same = (np.abs(a - e) <= delta) | (np.isnan(a) & np.isnan(e)) | (a == e)
    if not same.all():
        i = int(np.flatnonzero(~same)[0])
        return f"value {a[i]} != {e[i]} (and {int((~same).sum()) - 1} more)"
    return None


def _label_key(value: Any) -> Any:
    """Labels compare as instants when they are dates or date-times, else as text."""
    text = str(value)[:19] if isinstance(value, np.datetime64) else str(value)
    moment = instant(text) if len(text) >= 10 else None
    return moment.isoformat() if moment else text


def _close_labels(a, b) -> bool:
    try:
        return len(a) == len(b) and np.allclose(np.asarray(a, float), np.asarray(b, float))
    except (TypeError, ValueError):
        return False


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def run_folder(
    folder: str | Path,
    specs=None,
    errata: dict | None = None,
    executor: str = "reference",
    pipeline: str = "none",
) -> Report:
    """Every case of every ``*.json5`` in ``folder``; cases with an erratum (see
    :func:`load_errata`) run corrected and say so."""
    from .jsonvalue import merge_patch
    from .specs import load_specs

    specs = specs or load_specs()
    errata = errata or {}
    import warnings

    folder = Path(folder)
    report = Report()
    warnings.simplefilter("ignore", RuntimeWarning)  # NaN arithmetic is what vectors test
    for path in sorted(folder.glob("*.json5")):
        try:
            doc = load_json5(path)
        except (OSError, ValueError) as exc:
            report.results.append(CaseResult(path.name, path.stem, "failed", f"cannot read: {exc}"))
            continue
        pid = doc.get("id", path.stem)
        for i, case in enumerate(doc.get("tests", [])):
            case_id = f"{path.name}#{i}"
            erratum = errata.get((case_id, case_digest(case))) if errata else None
            if erratum is not None:
                case = merge_patch(case, erratum["patch"])
            status, reason = run_case(
                case.get("process_id", pid), case, path.parent, specs, executor, pipeline
            )
            why = erratum["reason"] if erratum else ""
            report.results.append(CaseResult(case_id, pid, status, reason, why))
    return report


def table(report: Report) -> str:
    rows: dict[str, list[int]] = {}
    for r in report.results:
        counts = rows.setdefault(r.process_id, [0, 0, 0, 0])
        counts[("passed", "failed", "skipped").index(r.status)] += 1
        counts[3] += bool(r.erratum)
    width = max((len(p) for p in rows), default=7)
    lines = [f"{'process':<{width}}  passed  failed  skipped  corrected"]
    for pid in sorted(rows):
        p, f, s, c = rows[pid]
        lines.append(f"{pid:<{width}}  {p:>6}  {f:>6}  {s:>7}  {c or '':>9}")
    return "\n".join(lines)


def to_json(report: Report) -> str:
    return json.dumps(
        {
            "summary": {
                "passed": report.count("passed"),
                "failed": report.count("failed"),
                "skipped": report.count("skipped"),
                "corrected": len(report.corrected()),
            },
            "cases": [r.__dict__ for r in report.results],
        },
        indent=2,
    )
