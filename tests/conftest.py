"""Shared test helpers: where the upstream openEO material is, and small graph builders."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT.parent / "shared" / "openeo-processes"

needs_upstream = pytest.mark.skipif(
    not UPSTREAM.is_dir(), reason="the upstream openEO definitions (../shared) are not present"
)


def node(process_id: str, result: bool = False, **arguments) -> dict:
    out = {"process_id": process_id, "arguments": arguments}
    if result:
        out["result"] = True
    return out


def codes(result) -> set[tuple[str, str]]:
    return {(d.code, d.pointer) for d in result.errors}
