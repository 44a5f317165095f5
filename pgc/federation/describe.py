"""A federation description from the members themselves (issue 22).

``pgc federation describe URL [URL...] -o FED.toml`` asks each member's openEO API for its
collections (``/collections``, then ``/collections/{id}`` for the datacube metadata), its
processes (``/processes``) and its file formats (``/file_formats``), and writes the
description :mod:`pgc.federation.description` reads.

Which collections are the same across members decides where work can run, so it is
decided conservatively:

1. The same name (id or ``pgc:aliases``) and the same metadata (:func:`signature`: the
   grid's reference system, pixel size and extent, the dates' extent, the band names and
   each band's data type, scale, offset and no-data, the platform): one collection.
2. The same name with different metadata (a calls its L2A ``SENTINEL2``, b its L1C): two
   collections, the second named ``NAME@member``; a note names both, for the user to join
   them (``same_as``) if they are one.
3. Different names with the same, specific metadata (grid and bands known): one
   collection, and a note says so; with several candidates, none is chosen and the note
   names them.

Members are named after their URL's host and port (``openeo.vito.be``,
``127.0.0.1-8081``). What openEO does not advertise (how a member's loads take filters,
its egress price, its speed) is left at the defaults for the user to set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MAX_DOCUMENT = 32 * 2**20  # bytes of one answer pgc reads
MAX_PAGES = 100  # pages of one listing (openEO paginates with links rel=next)
TIMEOUT = 30.0

Fetch = Callable[[str], Any]


class DescribeError(ValueError):
    """A member that could not be described (the message names it and why)."""


def http_json(url: str) -> Any:
    """GET ``url`` as JSON (at most :data:`MAX_DOCUMENT` bytes)."""
    import requests

    try:
        with requests.get(url, timeout=TIMEOUT, stream=True,
                          headers={"Accept": "application/json"}) as response:  # fmt: skip
            data = response.raw.read(MAX_DOCUMENT + 1, decode_content=True)
            status = response.status_code
    except requests.RequestException as exc:
        raise DescribeError(f"{url}: {type(exc).__name__}") from None
    if status != 200:
        raise DescribeError(f"{url} answered {status}")
    if len(data) > MAX_DOCUMENT:
        raise DescribeError(f"{url}: the answer is larger than {MAX_DOCUMENT // 2**20} MB")
    try:
        return json.loads(data)
    except ValueError:
        raise DescribeError(f"{url}: the answer is not JSON") from None


def member_id(url: str) -> str:
    """A member id from a URL: its host, and its port when it has one; letters, digits,
    dots and dashes only."""
    parts = urlsplit(url)
    text = (parts.hostname or "member") + (f"-{parts.port}" if parts.port else "")
    return re.sub(r"[^A-Za-z0-9.\-]", "-", text)


def signature(stac: dict) -> tuple:
    """What identifies a collection's data, from its STAC metadata (see the module)."""
    dims = stac.get("cube:dimensions") or {}
    summaries = stac.get("summaries") or {}

    def spatial(axis: str) -> tuple:
        found = [d for d in dims.values() if isinstance(d, dict) and d.get("axis") == axis]
        d = found[0] if found else {}
        return (json.dumps(d.get("reference_system"), sort_keys=True), d.get("step"),
                json.dumps(d.get("extent")))  # fmt: skip

    temporal = [d for d in dims.values() if isinstance(d, dict) and d.get("type") == "temporal"]
    band_dim = [d for d in dims.values() if isinstance(d, dict) and d.get("type") == "bands"]
    bands = tuple(band_dim[0].get("values") or ()) if band_dim else tuple(
        b.get("name") for b in summaries.get("eo:bands") or [] if isinstance(b, dict))  # fmt: skip
    raster = {b.get("name"): b for b in summaries.get("raster:bands") or [] if isinstance(b, dict)}
    values = tuple(tuple(raster.get(name, {}).get(k) for k in ("data_type", "scale", "offset",
                                                                "nodata"))
                   for name in bands)  # fmt: skip
    return (spatial("x"), spatial("y"), json.dumps(temporal[0].get("extent") if temporal else
                                                   None), bands, values,
            json.dumps(summaries.get("platform"), sort_keys=True))  # fmt: skip


def _specific(sig: tuple) -> bool:
    """Whether a signature pins data down enough to match by it alone: a placed grid and
    named bands."""
    (_, x_step, x_extent), _, _, bands, _, _ = sig
    return x_step is not None and x_extent != "null" and bool(bands)


@dataclass
class _Collection:
    canonical: str
    signature: tuple
    stac: dict
    names: set[str]
    holders: dict[str, str] = field(default_factory=dict)  # member id -> its own name


def _listing(fetch: Fetch, url: str, key: str) -> list[dict]:
    """Every entry of a paginated openEO listing (``collections``, ``processes``)."""
    out: list[dict] = []
    for _ in range(MAX_PAGES):
        page = fetch(url)
        if not isinstance(page, dict) or not isinstance(page.get(key), list):
            raise DescribeError(f"{url} is not an openEO {key} listing")
        out += [e for e in page[key] if isinstance(e, dict)]
        following = [link.get("href") for link in page.get("links") or []
                     if isinstance(link, dict) and link.get("rel") == "next"]  # fmt: skip
        if not following or not isinstance(following[0], str):
            return out
        url = following[0]
    raise DescribeError(f"{url}: more than {MAX_PAGES} pages")


def describe(urls: list[str], fetch: Fetch = http_json) -> tuple[dict, list[str]]:
    """The federation description of the members at ``urls`` (as
    :meth:`pgc.federation.description.Federation.from_json` takes it) and notes on what is
    left for the user to decide. :class:`DescribeError` when a member cannot be read."""
    members, notes = [], []
    groups: list[_Collection] = []
    seen_ids: set[str] = set()
    for url in urls:
        base = url.rstrip("/")
        mid = member_id(base)
        while mid in seen_ids:
            mid += "-2"
        seen_ids.add(mid)
        processes = sorted({p["id"] for p in _listing(fetch, f"{base}/processes", "processes")
                            if isinstance(p.get("id"), str)})  # fmt: skip
        formats = fetch(f"{base}/file_formats")
        outputs = {k.lower() for k in ((formats or {}).get("output") or {})}
        if "netcdf" not in outputs:
            notes.append(f"member {mid} writes no netCDF: it cannot pass results to others")
        held: dict[str, str] = {}
        for entry in _listing(fetch, f"{base}/collections", "collections"):
            own = entry.get("id")
            if not isinstance(own, str):
                continue
            stac = fetch(f"{base}/collections/{own}")
            if not isinstance(stac, dict):
                raise DescribeError(f"{base}/collections/{own} is not a STAC collection")
            group = _place(groups, mid, own, stac, notes)
            group.holders[mid] = own
            held[group.canonical] = own
        members.append({"id": mid, "url": base, "collections": held, "processes": processes})
    collections = {g.canonical: {"stac": {**g.stac, "id": g.canonical}} for g in groups}
    return {"members": members, "collections": collections}, notes


def _place(groups: list[_Collection], mid: str, own: str, stac: dict,
           notes: list[str]) -> _Collection:  # fmt: skip
    """The collection group ``own`` of member ``mid`` belongs to (a new one if none)."""
    names = {own, *[a for a in stac.get("pgc:aliases") or [] if isinstance(a, str)]}
    sig = signature(stac)
    named = [g for g in groups if g.names & names and mid not in g.holders]
    same = [g for g in named if g.signature == sig]
    if same:
        same[0].names |= names
        return same[0]
    for other in named:
        holders = ", ".join(f"member {m} calls it {n!r}" for m, n in other.holders.items())
        notes.append(
            f"{own!r} of member {mid} and {other.canonical!r} ({holders}) share a name but "
            "not their metadata (grid, dates, bands or values): kept apart; join them with "
            "same_as if they are one collection"
        )
    if not named and _specific(sig):
        alike = [g for g in groups if g.signature == sig and mid not in g.holders]
        if len(alike) == 1:
            notes.append(f"{own!r} of member {mid} has the metadata of {alike[0].canonical!r}:"
                         " taken as the same collection")  # fmt: skip
            alike[0].names |= names
            return alike[0]
        if len(alike) > 1:
            candidates = ", ".join(repr(g.canonical) for g in alike)
            notes.append(f"{own!r} of member {mid} has the metadata of several collections "
                         f"({candidates}): kept apart; say which with same_as")  # fmt: skip
    taken = {g.canonical for g in groups}
    canonical = own if own not in taken else f"{own}@{mid}"
    group = _Collection(canonical, sig, stac, names)
    groups.append(group)
    return group


def write_description(description: dict, notes: list[str], path: str | Path) -> list[Path]:
    """Write the description: JSON as it is, or TOML with each collection's STAC document
    in a JSON file beside it (``FED.stac/NAME.json``; TOML has no null). The notes go at
    the top as comments. Returns the files written."""
    from ..data.safepaths import path_component

    path = Path(path)
    if path.suffix.lower() != ".toml":
        path.write_text(json.dumps({**description, "notes": notes}, indent=2) + "\n",
                        encoding="utf-8")  # fmt: skip
        return [path]
    folder = path.with_suffix(".stac")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    lines = [f"# {line}" for line in ("pgc federation describe", *notes)] + [""]
    for member in description["members"]:
        lines += ["[[members]]", f"id = {_q(member['id'])}", f"url = {_q(member['url'])}",
                  f"processes = [{', '.join(_q(p) for p in member['processes'])}]",
                  "[members.collections]"]  # fmt: skip
        lines += [f"{_q(c)} = {_q(own)}" for c, own in member["collections"].items()]
        lines.append("")
    for canonical, entry in description["collections"].items():
        target = folder / f"{path_component(canonical)}.json"
        target.write_text(json.dumps(entry["stac"], indent=1) + "\n", encoding="utf-8")
        written.append(target)
        lines += [f"[collections.{_q(canonical)}]",
                  f"stac = {_q(f'{folder.name}/{target.name}')}", ""]  # fmt: skip
    path.write_text("\n".join(lines), encoding="utf-8")
    return [path, *written]


def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


__all__ = ["DescribeError", "describe", "http_json", "member_id", "signature",
           "write_description"]  # fmt: skip
