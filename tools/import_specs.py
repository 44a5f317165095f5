"""Import the openEO process definitions into pgc's ``specs/`` folder.

The upstream definitions (openEO processes 2.0.0-rc.2, Apache-2.0) live outside the
repository (``../shared/openeo-processes``). pgc keeps only their machine-readable facts:
ids, categories, flags, parameter names and schemas, optional flags and defaults, return
schemas, exception names with their HTTP codes, and the reference process graphs some
definitions carry. Prose (descriptions, examples, links) is dropped and every process gets a
one-line summary in pgc's own words from ``tools/spec_summaries.toml``.

Usage::

    python tools/import_specs.py [UPSTREAM_DIR] [--out specs] [--check]

``--check`` compares what would be written with what is on disk and exits 1 on a difference,
so tests can prove that ``specs/`` is what this script produces.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_UPSTREAM = ROOT.parent / "shared" / "openeo-processes"
SUMMARIES = Path(__file__).resolve().parent / "spec_summaries.toml"
VERSION = "2.0.0-rc.2"

# JSON-schema keywords that carry prose only.
PROSE_KEYWORDS = {"description", "examples", "$comment"}
# Schema keywords whose value maps *names* to schemas; the names are data, not keywords.
NAME_MAPS = {"properties", "patternProperties", "definitions", "$defs"}


def strip_schema(schema):
    """Return ``schema`` without prose keywords, keeping property names intact."""
    if isinstance(schema, list):
        return [strip_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in PROSE_KEYWORDS:
            continue
        if key in NAME_MAPS and isinstance(value, dict):
            out[key] = {name: strip_schema(sub) for name, sub in value.items()}
        elif key == "parameters" and isinstance(value, list):
            out[key] = [strip_parameter(p) for p in value]
        elif key == "returns" and isinstance(value, dict):
            out[key] = strip_returns(value)
        else:
            out[key] = strip_schema(value)
    return out


def strip_parameter(param: dict) -> dict:
    out = {"name": param["name"], "schema": strip_schema(param["schema"])}
    for key in ("optional", "default", "deprecated", "experimental"):
        if key in param:
            out[key] = param[key]
    return out


def strip_returns(returns: dict) -> dict:
    return {"schema": strip_schema(returns.get("schema", {}))}


def strip_graph(graph: dict) -> dict:
    """Drop node descriptions from a reference process graph (keeps nested callbacks)."""
    out = {}
    for node_id, node in graph.items():
        out[node_id] = {k: strip_value(v) for k, v in node.items() if k != "description"}
    return out


def strip_value(value):
    if isinstance(value, dict):
        if "process_graph" in value and isinstance(value["process_graph"], dict):
            return {"process_graph": strip_graph(value["process_graph"])}
        return {k: strip_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_value(v) for v in value]
    return value


def convert(definition: dict, summary: str, proposal: bool) -> dict:
    out = {
        "id": definition["id"],
        "summary": summary,
        "categories": definition.get("categories", []),
        "experimental": bool(definition.get("experimental", False)),
        "deprecated": bool(definition.get("deprecated", False)),
        "proposal": proposal,
        "parameters": [strip_parameter(p) for p in definition.get("parameters", [])],
        "returns": strip_returns(definition.get("returns", {})),
        "exceptions": {
            name: {"http": int(exc.get("http", 400))}
            for name, exc in definition.get("exceptions", {}).items()
        },
    }
    if "process_graph" in definition:
        out["process_graph"] = strip_graph(definition["process_graph"])
    return out


def render(obj) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False) + "\n"


def build(upstream: Path) -> dict[str, str]:
    """Map of output path (relative to the specs folder) to file content."""
    summaries = tomllib.loads(SUMMARIES.read_text(encoding="utf-8"))["summaries"]
    files: dict[str, str] = {}
    sources = [(p, False) for p in sorted(upstream.glob("*.json"))]
    sources += [(p, True) for p in sorted((upstream / "proposals").glob("*.json"))]
    missing = []
    for path, proposal in sources:
        definition = json.loads(path.read_text(encoding="utf-8"))
        pid = definition["id"]
        if pid not in summaries:
            missing.append(pid)
            continue
        files[f"processes/{pid}.json"] = render(convert(definition, summaries[pid], proposal))
    if missing:
        raise SystemExit(f"no summary in {SUMMARIES.name} for: {', '.join(sorted(missing))}")
    extra = set(summaries) - {Path(k).stem for k in files}
    if extra:
        raise SystemExit(f"summaries for unknown processes: {', '.join(sorted(extra))}")
    subtypes = json.loads((upstream / "meta" / "subtype-schemas.json").read_text("utf-8"))
    files["subtypes.json"] = render(strip_schema(subtypes.get("definitions", {})))
    files["VERSION"] = VERSION + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("upstream", nargs="?", type=Path, default=DEFAULT_UPSTREAM)
    parser.add_argument("--out", type=Path, default=ROOT / "specs")
    parser.add_argument("--check", action="store_true", help="compare only, write nothing")
    args = parser.parse_args(argv)
    files = build(args.upstream)
    stale = [
        rel
        for rel, text in files.items()
        if not (args.out / rel).is_file() or (args.out / rel).read_text("utf-8") != text
    ]
    on_disk = {p.relative_to(args.out).as_posix() for p in (args.out / "processes").glob("*.json")}
    orphans = sorted(on_disk - set(files))
    if args.check:
        for rel in stale + orphans:
            print(f"out of date: {rel}")
        return 1 if stale or orphans else 0
    for rel in orphans:
        (args.out / rel).unlink()
    for rel in stale:
        target = args.out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(files[rel], encoding="utf-8")
    print(f"{len(files)} files, {len(stale)} written, {len(orphans)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
