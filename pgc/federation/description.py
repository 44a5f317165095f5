"""A federation of openEO back-ends, as pgc needs to know it (issue 8).

openEO Platform puts several back-ends (members) behind one API. Each holds some
collections under its own names and supports its own processes. A federation description
says, per member: its id and URL; its collections, each mapped to a *canonical* collection
id with the member's own name; the processes it supports (a list of ids, or an openEO
``/processes`` listing); how well it absorbs filters into its loads (``exact``,
``inexact`` or ``none``); and a cost model (cost per GB leaving it, relative compute
speed). Canonical collections carry the metadata pgc types graphs with: a STAC collection
document, or ``"same_as"`` a collection of pgc's catalog.

The description is JSON or TOML, or the same as Python objects (:class:`Federation`,
:class:`Member`). A collection name a user writes is resolved through the canonical ids
(:meth:`Federation.canonical`), so a graph written with one back-end's names runs anywhere
its data exists.

>>> fed = Federation.from_json({"members": [
...     {"id": "a", "url": "https://a.example", "processes": ["load_collection"],
...      "collections": {"S2": {"name": "SENTINEL2_L2A"}}},
...     {"id": "b", "url": "https://b.example", "processes": ["load_collection", "ndvi"],
...      "collections": {"S2": {"name": "sentinel-2-l2a"}}}],
...     "collections": {"S2": {"same_as": "SENTINEL2_L2A_SAMPLE"}}})
>>> fed.canonical("sentinel-2-l2a"), [m.id for m in fed.holding("S2")]
('S2', ['a', 'b'])
>>> fed.member("b").name_of("S2")
'sentinel-2-l2a'
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Diagnostic, PgcError, echo
from ..jsonvalue import is_number
from ..pointer import join

PUSHDOWN = ("exact", "inexact", "none")
INVALID = "FederationInvalid"


class AmbiguousName(ValueError):
    """A collection name that members use for different collections."""


@dataclass(frozen=True)
class Member:
    """One back-end of the federation."""

    id: str
    url: str
    collections: Mapping[str, str] = field(default_factory=dict)  # canonical id -> own name
    processes: frozenset[str] = frozenset()
    pushdown: str = "exact"  # how its loads absorb filters: exact, inexact or none
    egress_per_gb: float = 0.0  # cost of a GB leaving this member
    compute_speed: float = 1.0  # relative: 2.0 computes twice as fast

    def holds(self, canonical: str) -> bool:
        return canonical in self.collections

    def name_of(self, canonical: str) -> str | None:
        """The member's own name of a canonical collection (None: it does not hold it)."""
        return self.collections.get(canonical)

    def supports(self, process_id: str) -> bool:
        return process_id in self.processes


@dataclass(frozen=True)
class Federation:
    """Members and the canonical collections' metadata (STAC documents by canonical id)."""

    members: tuple[Member, ...]
    collections: Mapping[str, dict] = field(default_factory=dict)

    def member(self, member_id: str) -> Member:
        for m in self.members:
            if m.id == member_id:
                return m
        raise KeyError(member_id)

    def holding(self, canonical: str) -> list[Member]:
        """The members that hold a canonical collection, in the description's order."""
        return [m for m in self.members if m.holds(canonical)]

    def canonical(self, name: str) -> str | None:
        """The canonical id of a collection name a user wrote: a canonical id itself, or
        any member's own name for one (None if no member knows it).
        :class:`AmbiguousName` when members use the name for different collections (a
        calls its L2A ``SENTINEL2``, b its L1C): the graph must say which, by a canonical
        id."""
        if name in self.collections or any(m.holds(name) for m in self.members):
            return name
        meanings = self.meanings(name)
        found = sorted({canonical for _, canonical in meanings})
        if len(found) > 1:
            who = "; ".join(f"member {m} calls {echo(c)} so" for m, c in meanings)
            raise AmbiguousName(
                f"The collection name {echo(name)} means different collections on different "
                f"members ({who}): name one of them by its id ({', '.join(map(echo, found))})."
            )
        return found[0] if found else None

    def meanings(self, name: str) -> list[tuple[str, str]]:
        """(member id, canonical id) of every member whose own name for a collection is
        ``name``."""
        return [(m.id, canonical) for m in self.members
                for canonical, own in m.collections.items() if own == name]  # fmt: skip

    def full_bytes(self, canonical: str) -> int | None:
        """The bytes of a canonical collection whole (None: not known from its metadata)."""
        if canonical not in self._sizes:
            cube = self.catalog().cube_type(canonical) if canonical in self.collections else None
            self._sizes[canonical] = cube.nbytes if cube is not None else None
        return self._sizes[canonical]

    @property
    def _sizes(self) -> dict[str, int | None]:
        return self.__dict__.setdefault("_size_cache", {})

    def catalog(self):
        """A pgc catalog of the canonical collections (for typing graphs)."""
        from ..data.catalog import Catalog

        catalog = Catalog()
        for canonical, stac in self.collections.items():
            catalog.add({**stac, "id": canonical})
        return catalog

    # -- reading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> Federation:
        """Read a federation description from a JSON or TOML file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise PgcError([Diagnostic(INVALID, f"Cannot read {path}: {exc}")]) from None
        except RecursionError:  # the C JSON reader's own depth limit
            message = f"Cannot read {path}: it nests too deeply."
            raise PgcError([Diagnostic(INVALID, message)]) from None
        return cls.from_json(data, base=path.parent)

    @classmethod
    def from_json(cls, data: Any, base: Path | None = None) -> Federation:
        """The federation of a parsed description; PgcError with every problem (code
        FederationInvalid, pointers into the description) when it is not one."""
        problems: list[Diagnostic] = []

        def bad(pointer: str, message: str) -> None:
            problems.append(Diagnostic(INVALID, message, pointer))

        if not isinstance(data, dict) or not isinstance(data.get("members"), list):
            raise PgcError([Diagnostic(INVALID, "A federation needs a list of 'members'.")])
        collections = _collections(data.get("collections", {}), bad, base)
        members = []
        for i, raw in enumerate(data["members"]):
            member = _member(raw, join("/members", str(i)), bad, base)
            if member is not None:
                members.append(member)
        ids = [m.id for m in members]
        for i, member_id in enumerate(ids):
            if member_id in ids[:i]:
                bad(join("/members", str(i), "id"), f"Member id {echo(member_id)} is used twice.")
        for i, member in enumerate(members):
            for canonical in member.collections:
                if canonical not in collections:
                    where = join("/members", str(i), "collections", canonical)
                    bad(where, f"Collection {echo(canonical)} has no entry in 'collections'.")
        if not members and not problems:
            bad("/members", "A federation needs at least one member.")
        if problems:
            raise PgcError(problems)
        return cls(tuple(members), collections)


def _collections(raw: Any, bad, base: Path | None = None) -> dict[str, dict]:
    """Canonical id -> STAC collection document (``stac`` given, or the path of a JSON file
    holding it relative to the description, or ``same_as`` a collection of pgc's
    catalog)."""
    from ..data.catalog import default_catalog

    if not isinstance(raw, dict):
        bad("/collections", "'collections' must be an object of canonical collection ids.")
        return {}
    out = {}
    for canonical, entry in raw.items():
        where = join("/collections", canonical)
        if isinstance(entry, dict) and isinstance(entry.get("stac"), str):
            path = (base or Path.cwd()) / entry["stac"]
            try:
                stac = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                bad(join(where, "stac"), f"Cannot read the STAC document {echo(entry['stac'])}: "
                                         f"{type(exc).__name__}.")  # fmt: skip
                continue
            if not isinstance(stac, dict):
                bad(join(where, "stac"), "The STAC document is not a JSON object.")
                continue
            out[canonical] = stac
        elif isinstance(entry, dict) and isinstance(entry.get("stac"), dict):
            out[canonical] = entry["stac"]
        elif isinstance(entry, dict) and isinstance(entry.get("same_as"), str):
            catalog = default_catalog()
            if entry["same_as"] not in catalog:
                bad(join(where, "same_as"), f"pgc has no collection {echo(entry['same_as'])}.")
                continue
            out[canonical] = catalog.stac(entry["same_as"])
        else:
            bad(where, "A collection needs 'stac' (a STAC collection) or 'same_as' (an id).")
    return out


def _member(raw: Any, where: str, bad, base: Path | None) -> Member | None:
    if not isinstance(raw, dict):
        bad(where, "A member must be an object.")
        return None
    member_id, url = raw.get("id"), raw.get("url", "")
    if not isinstance(member_id, str) or not member_id:
        bad(join(where, "id"), "A member needs an 'id' (a string).")
        return None
    if not isinstance(url, str):
        bad(join(where, "url"), "'url' must be a string.")
    collections: dict[str, str] = {}
    named = raw.get("collections") or {}
    if not isinstance(named, dict):
        bad(join(where, "collections"), "'collections' must map canonical ids to names.")
        named = {}
    for canonical, entry in named.items():
        name = entry.get("name", canonical) if isinstance(entry, dict) else entry
        if not isinstance(name, str):
            bad(join(where, "collections", canonical), "A collection's 'name' must be a string.")
            continue
        collections[canonical] = name
    processes = _processes(raw.get("processes"), join(where, "processes"), bad, base)
    pushdown = raw.get("filters", "exact")
    if pushdown not in PUSHDOWN:
        bad(join(where, "filters"), f"'filters' must be one of {', '.join(PUSHDOWN)}.")
        pushdown = "none"
    cost = raw.get("cost") or {}
    if not isinstance(cost, dict):
        bad(join(where, "cost"), "'cost' must be an object (egress_per_gb, compute_speed).")
        cost = {}
    egress, speed = cost.get("egress_per_gb", 0.0), cost.get("compute_speed", 1.0)
    if not is_number(egress) or egress < 0:
        bad(join(where, "cost", "egress_per_gb"), "'egress_per_gb' must be a number >= 0.")
        egress = 0.0
    if not is_number(speed) or speed <= 0:
        bad(join(where, "cost", "compute_speed"), "'compute_speed' must be a number > 0.")
        speed = 1.0
    return Member(member_id, url, collections, processes, pushdown, float(egress), float(speed))


def _processes(raw: Any, where: str, bad, base: Path | None) -> frozenset[str]:
    """Process ids: a list of ids, an openEO /processes listing ({"processes": [{"id"...}]}),
    or the path of a file holding either (relative to the description)."""
    if isinstance(raw, str):
        path = (base or Path.cwd()) / raw
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            bad(where, f"Cannot read the process listing {echo(raw)}: {exc}")
            return frozenset()
    if isinstance(raw, dict) and isinstance(raw.get("processes"), list):
        raw = [p.get("id") if isinstance(p, dict) else p for p in raw["processes"]]
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        bad(where, "'processes' must list process ids (or be an openEO /processes listing).")
        return frozenset()
    return frozenset(raw)
