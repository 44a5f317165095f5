"""Finding a load's items: a STAC API search (pystac-client) or a static catalog's items,
by bounding box, time and item properties.

The search asks the server for what the load absorbed: the bounding box in lon/lat, the
interval, the collection, and the properties' conditions (``load_collection(properties=
...)``, such as ``eo:cloud_cover <= 30``) as a CQL2-JSON ``filter`` where the API conforms
to item-search#filter, else as a ``query`` where it conforms to item-search#query. The
items found are then checked again here with the conditions themselves, so a server that
ignores a filter (some only warn) returns more items, never a different result.

Every request goes through the host policy (:class:`pgc.hosts.HostPolicy`), redirects
included, and its bytes are counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from ...errors import echo
from ...hosts import HostPolicy, HostRefused
from .config import StacSource
from .http import HttpFiles, RemoteError

MAX_JSON = 16 * 2**20  # bytes of one STAC document pgc reads
_CQL2 = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=", "neq": "<>"}
_QUERY = {"lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte", "eq": "eq", "neq": "neq"}
FILTER = "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter"


class SearchError(ValueError):
    """A search that failed: the message is safe to show (it names hosts, not paths)."""


@dataclass(frozen=True)
class Condition:
    """A property condition: ``test(value)`` decides; ``op``/``bound`` is the same test
    when it is one comparison with a number (what a search can take)."""

    name: str
    test: Callable[[Any], bool]
    op: str | None = None
    bound: float | None = None


def simple_comparison(graph: Any) -> tuple[str, float] | None:
    """(op, number) when a callback ``graph`` is one comparison of its ``value`` parameter
    with a number (``lte(value, 30)``; ``gte(30, value)`` is turned around), else None."""
    from ...ir.nodes import Literal, ParamRef

    nodes = graph.nodes()
    if len(nodes) != 1 or nodes[0].process_id not in _CQL2:
        return None
    node = nodes[0]
    x, y = node.arg("x"), node.arg("y")
    flipped = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte", "eq": "eq", "neq": "neq"}

    def number(v: object) -> bool:
        return isinstance(v, Literal) and isinstance(v.value, int | float) and not isinstance(
            v.value, bool)  # fmt: skip

    if isinstance(x, ParamRef) and x.name == "value" and number(y):
        return node.process_id, float(y.value)  # type: ignore[union-attr]
    if isinstance(y, ParamRef) and y.name == "value" and number(x):
        return flipped[node.process_id], float(x.value)  # type: ignore[union-attr]
    return None


def cql2(conditions: list[Condition]) -> dict | None:
    """The conditions that are simple comparisons, as one CQL2-JSON filter."""
    parts = [
        {"op": _CQL2[c.op], "args": [{"property": c.name}, c.bound]}
        for c in conditions
        if c.op is not None
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"op": "and", "args": parts}


def _adapter(policy: HostPolicy, files: HttpFiles) -> Any:
    """A requests adapter that checks every request's URL (each redirect hop is a request
    of its own) against ``policy`` and counts the bytes of each response."""
    from requests.adapters import HTTPAdapter

    class Guarded(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                policy.check(request.url)
            except HostRefused as refused:
                raise SearchError(str(refused)) from None
            response = super().send(request, *args, **kwargs)
            body = response.content
            if len(body) > MAX_JSON:
                raise SearchError(f"a STAC response is larger than {MAX_JSON // 2**20} MB")
            files.documents.add(request.url.split("/")[2], len(body))
            return response

    return Guarded(max_retries=1)


def search_api(source: StacSource, files: HttpFiles, lonlat: tuple[float, ...] | None,
               interval: tuple[str | None, str | None], conditions: list[Condition],
               ) -> list[dict]:  # fmt: skip
    """The items of ``source``'s collection in its STAC API that the search selects."""
    import requests
    from pystac_client import Client
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO

    io = StacApiIO(timeout=30, max_retries=1)
    adapter = _adapter(files.policy, files)
    io.session.mount("http://", adapter)
    io.session.mount("https://", adapter)
    io.session.trust_env = False
    host = str(source.stac_api).split("/")[2]
    try:
        client = Client.open(str(source.stac_api), stac_io=io)
        options: dict[str, Any] = {}
        conforms = client.conforms_to
        found = cql2(conditions)
        if found is not None and conforms("FILTER"):
            options = {"filter": found, "filter_lang": "cql2-json"}
        elif found is not None and conforms("QUERY"):
            options = {"query": {c.name: {_QUERY[c.op]: c.bound} for c in conditions
                                 if c.op is not None}}  # fmt: skip
        search = client.search(
            collections=[str(source.collection)],
            bbox=list(lonlat) if lonlat is not None else None,
            datetime=_interval_text(interval),
            max_items=source.max_items + 1,
            limit=min(500, source.max_items + 1),
            **options,
        )
        items = list(search.items_as_dicts())
    except SearchError:
        raise
    except (APIError, requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise SearchError(f"the STAC API at {host} failed ({type(exc).__name__}: "
                          f"{str(exc)[:200]})") from None  # fmt: skip
    return items


def search_static(source: StacSource, files: HttpFiles, lonlat: tuple[float, ...] | None,
                  interval: tuple[str | None, str | None], conditions: list[Condition],
                  ) -> list[dict]:  # fmt: skip
    """The items a static STAC collection links (``rel: item``), read whole (there is no
    search): a local ``collection.json`` inside its folder, or one over HTTP."""
    location = str(source.static)
    collection = _document(location, files)
    items = []
    for link in collection.get("links") or []:
        if not isinstance(link, dict) or link.get("rel") != "item":
            continue
        href = link.get("href")
        if not isinstance(href, str):
            continue
        where = _join(location, href)
        item = _document(where, files)
        item["pgc:href"] = where  # relative asset hrefs are relative to the item
        items.append(item)
        if len(items) > source.max_items:
            break
    return items


def _join(base: str, href: str) -> str:
    if "://" in base:
        return urljoin(base, href)
    if "://" in href or href.startswith("/vsi"):
        raise SearchError("a static catalog on disk links an URL or a GDAL path")
    return str((Path(base).parent / href).resolve())


def _document(location: str, files: HttpFiles) -> dict:
    """A JSON document at a URL (through the host policy) or a local path."""
    if "://" in location:
        try:
            data = files.get(location, MAX_JSON)
        except RemoteError as exc:
            raise SearchError(str(exc)) from None
    else:
        path = Path(location)
        if not path.is_file() or path.stat().st_size > MAX_JSON:
            raise SearchError(f"the static catalog's file {echo(path.name)} cannot be read")
        data = path.read_bytes()
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise SearchError("a static catalog's document is not JSON") from None
    if not isinstance(document, dict):
        raise SearchError("a static catalog's document is not a JSON object")
    return document


def find_items(source: StacSource, files: HttpFiles, lonlat: tuple[float, ...] | None,
               interval: tuple[str | None, str | None], conditions: list[Condition],
               ) -> list[dict]:  # fmt: skip
    """The items of ``source`` whose footprint meets ``lonlat``, whose time lies in
    ``interval`` (start included, end excluded) and whose properties pass
    ``conditions``; SearchError when more than the collection's ``max_items``."""
    search = search_api if source.stac_api is not None else search_static
    items = [i for i in search(source, files, lonlat, interval, conditions)
             if _selected(i, lonlat, interval, conditions)]  # fmt: skip
    if len(items) > source.max_items:
        raise SearchError(
            f"the load finds more than {source.max_items} items of collection "
            f"{echo(source.id)}: give a smaller spatial or temporal extent"
        )
    return items


def item_time(item: dict) -> datetime | None:
    props = item.get("properties") or {}
    text = props.get("datetime") or props.get("start_datetime")
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    when = datetime.fromisoformat(text if len(text) > 10 else text + "T00:00:00+00:00")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _interval_text(interval: tuple[str | None, str | None]) -> str | None:
    """The interval as a STAC ``datetime`` parameter (the end is exclusive in openEO and
    inclusive in STAC: items exactly at the end are dropped afterwards)."""
    start, end = (_instant(t) for t in interval)
    if start is None and end is None:
        return None
    text = [w.strftime("%Y-%m-%dT%H:%M:%SZ") if w is not None else ".." for w in (start, end)]
    return "/".join(text)


def _selected(item: dict, lonlat: tuple[float, ...] | None,
              interval: tuple[str | None, str | None], conditions: list[Condition]) -> bool:
    """Whether an item found passes the load's filters (checked here whatever the server
    did with them)."""
    if not isinstance(item, dict):
        return False
    when = item_time(item)
    start, end = (_instant(t) for t in interval)
    if when is None or (start is not None and when < start) or (end is not None and when >= end):
        return False
    box = item.get("bbox")
    if lonlat is not None and isinstance(box, list) and len(box) >= 4:
        w, s, e, n = (float(v) for v in (box[0], box[1], box[-2], box[-1]))
        if e < lonlat[0] or w > lonlat[2] or n < lonlat[1] or s > lonlat[3]:
            return False
    props = item.get("properties") or {}
    for condition in conditions:
        value = props.get(condition.name)
        if isinstance(value, float) and math.isnan(value):
            value = None
        if condition.test(value) is not True:
            return False
    return True


__all__ = ["Condition", "SearchError", "cql2", "find_items", "item_time", "simple_comparison"]
