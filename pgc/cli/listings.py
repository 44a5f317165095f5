"""``pgc processes`` and ``pgc collections``: what pgc knows, listed (the processes across
pgc's tables, the catalog as an openEO back-end's ``/collections``).
"""

from __future__ import annotations

import argparse
import json

from .common import EXIT_OK, UsageError, load_specs


def cmd_processes(args: argparse.Namespace) -> int:
    """``pgc processes [ID]``: one process's row across pgc's tables, or every process's
    flags (:mod:`pgc.process_table`)."""
    from ..errors import did_you_mean
    from ..process_table import process_ids, process_row

    specs = load_specs(args.specs)
    ids = process_ids(specs)
    if args.id is not None and args.id not in ids:
        hint = did_you_mean(args.id, ids)
        raise UsageError(f"no process {args.id!r}" + (f"; {hint}" if hint else ""))
    rows = [process_row(pid, specs) for pid in ([args.id] if args.id else ids)]
    if args.json:
        out = rows[0].to_json() if args.id else [{"id": r.id, **r.flags()} for r in rows]
        print(json.dumps(out, indent=2, ensure_ascii=False, default=str))
    elif args.id:
        print("\n".join(rows[0].lines()))
    else:
        width = max(len(r.id) for r in rows)
        for r in rows:
            flags = " ".join(name if on else "-" * len(name) for name, on in r.flags().items())
            print(f"{r.id:<{width}}  {flags}")
    return EXIT_OK


def cmd_collections(args: argparse.Namespace) -> int:
    """``pgc collections``: each collection with its cube type and bands, or the STAC
    documents (``--json``)."""
    from ..data.catalog import default_catalog

    catalog = default_catalog()
    if args.json:
        listing = {"collections": [catalog.stac(cid) for cid in catalog.ids()], "links": []}
        print(json.dumps(listing, indent=2, ensure_ascii=False))
        return EXIT_OK
    for cid in catalog.ids():
        stac = catalog.stac(cid)
        cube = catalog.cube_type(cid)
        synthetic = " (synthetic)" if (stac.get("summaries") or {}).get("pgc:synthetic") else ""
        print(f"{cid}{synthetic}: {stac.get('title', '')}")
        if stac.get("pgc:aliases"):
            print(f"  also known as: {', '.join(stac['pgc:aliases'])}")
        print(f"  {cube}")
        bands = cube.of_type("bands")
        if bands and bands[0].labels:
            print(f"  bands: {', '.join(map(str, bands[0].labels))}")
    return EXIT_OK
