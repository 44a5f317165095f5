"""``/processes``: every process pgc runs, as openEO process descriptions.

pgc's bundled definitions (``specs/``) hold the facts of each process (parameters, schemas,
return value) and a one-line summary in pgc's words; the API wants a description for the
process, each parameter and the return value. They are written here from those facts:
what the parameter takes (from its schema), whether it is optional and its default.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from ..specs import bundled_specs_dir

KINDS = {
    "number": "a number", "integer": "an integer", "string": "a string", "boolean": "a boolean",
    "array": "an array", "object": "an object", "null": "null (no-data)",
}  # fmt: skip
SUBTYPES = {
    "datacube": "a data cube", "process-graph": "a child process (callback)",
    "bounding-box": "a bounding box", "temporal-interval": "a temporal interval",
    "collection-id": "a collection id", "labeled-array": "a labeled array",
    "geojson": "GeoJSON", "date-time": "a date and time", "date": "a date",
    "band-name": "a band name", "epsg-code": "an EPSG code", "output-format": "a file format",
}  # fmt: skip


def takes(schema: Any) -> str:
    """What a schema accepts, in a few words: "a number or null (no-data)"."""
    options = schema if isinstance(schema, list) else [schema]
    words: list[str] = []
    for option in options:
        if not isinstance(option, dict):
            continue
        subtype = option.get("subtype")
        if subtype in SUBTYPES:
            word = SUBTYPES[subtype]
        else:
            kinds = option.get("type", [])
            kinds = kinds if isinstance(kinds, list) else [kinds]
            word = " or ".join(KINDS.get(k, k) for k in kinds) or "any value"
        if word not in words:
            words.append(word)
    return " or ".join(words) or "any value"


def describe(raw: dict) -> dict:
    """The openEO description of one bundled definition."""
    summary = raw.get("summary") or raw["id"]
    parameters = []
    for p in raw.get("parameters", []):
        text = f"Takes {takes(p.get('schema', {}))}."
        if p.get("optional") or "default" in p:
            text += f" Optional; by default {json.dumps(p.get('default'))}."
        parameters.append({**p, "description": text})
    returns = dict(raw.get("returns", {}))
    returns["description"] = f"Gives {takes(returns.get('schema', {}))}."
    spec = {
        k: v for k, v in raw.items() if k not in ("proposal", "process_graph", "parameters")
    }
    spec.update(
        description=f"{summary} Runs in pgc's reference executor"
        + (" and fused into kernels by its numba executor." if _fused(raw["id"]) else "."),
        parameters=parameters,
        returns=returns,
    )
    if raw.get("proposal"):
        spec["experimental"] = True
    return spec


def _fused(process_id: str) -> bool:
    from ..process_table import kernel_form

    return kernel_form(process_id) is not None


@cache
def process_descriptions() -> tuple[dict, ...]:
    """Every process pgc's reference executor implements, described (cached)."""
    from ..executors.reference import IMPLEMENTATIONS, load_implementations

    load_implementations()
    folder = bundled_specs_dir() / "processes"
    found = []
    for path in sorted(folder.glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("id") in IMPLEMENTATIONS:
            found.append(describe(raw))
    return tuple(found)
