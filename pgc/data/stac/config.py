"""Catalog files: openEO collections backed by STAC, declared by the operator in TOML.

One table per collection, keyed by its openEO id::

    [collections.SENTINEL2_L2A]
    aliases = ["sentinel-2-l2a", "S2_L2A"]
    title = "Sentinel-2 L2A"
    stac_api = "https://earth-search.aws.element84.com/v1"   # searched with pystac-client
    collection = "sentinel-2-l2a"                           # the collection id there
    # or: static = "catalog/collection.json" (a path, relative to this file) or a URL
    temporal_extent = ["2015-06-27T00:00:00Z", ""]         # "": open
    cloud_cover = "eo:cloud_cover"                          # the item property (default)
    crs = "utm"            # the target grid: "utm" (the zone covering most of the extent)
    resolution = 10        # or an EPSG code ("EPSG:32632"); pixel size in its units
    group_by = "day"       # one label per UTC day ("day") or per solar day ("solar_day")
    asset_hosts = ["sentinel-cogs.s3.us-west-2.amazonaws.com"]  # where assets may be

    [collections.SENTINEL2_L2A.bands]
    B04 = { asset = "red", common_name = "red", center_wavelength = 0.665 }
    B08 = "nir"            # just the asset's key
    SCL = { asset = "scl", data_type = "uint8", nodata = 0 }

Band values are the assets' digital numbers; ``scale``, ``offset`` and ``nodata`` describe
them (defaults: ``nodata = 0``, ``data_type = "uint16"``). A collection's STAC API or
static catalog host, and its ``asset_hosts``, are what pgc may reach for it (plus
:attr:`pgc.Options.allowed_hosts`); link-local and metadata addresses never
(:mod:`pgc.hosts`).

Errors name the file's key, never the file's contents beyond it: a
:class:`~pgc.errors.ConfigurationError`.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...errors import ConfigurationError, echo
from ...hosts import HostPolicy

DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
GROUPS = ("day", "solar_day")
_KEYS = {
    "aliases", "title", "description", "stac_api", "collection", "static", "temporal_extent",
    "spatial_extent", "cloud_cover", "crs", "resolution", "group_by", "asset_hosts", "bands",
    "max_items", "overviews",
}  # fmt: skip
_BAND_KEYS = {"asset", "common_name", "center_wavelength", "nodata", "scale", "offset",
              "data_type"}  # fmt: skip


@dataclass(frozen=True)
class BandSource:
    """One band: the item asset holding it and what its values are."""

    name: str
    asset: str
    common_name: str | None = None
    center_wavelength: float | None = None
    nodata: float | None = 0
    scale: float | None = None
    offset: float | None = None
    data_type: str = "uint16"


@dataclass(frozen=True)
class StacSource:
    """A collection whose items come from a STAC API or a static STAC catalog."""

    id: str
    bands: tuple[BandSource, ...]
    stac_api: str | None = None
    collection: str | None = None
    static: str | None = None  # a URL, or an absolute local path of a collection.json
    aliases: tuple[str, ...] = ()
    title: str | None = None
    description: str | None = None
    temporal_extent: tuple[str | None, str | None] = (None, None)
    spatial_extent: tuple[float, float, float, float] = (-180.0, -90.0, 180.0, 90.0)
    cloud_cover: str = "eo:cloud_cover"
    crs: str = "utm"  # "utm" or an EPSG code as digits
    resolution: float = 10.0
    group_by: str = "day"
    asset_hosts: tuple[str, ...] = ()
    max_items: int = 2000  # items one load may find; more is an error asking for less
    overviews: bool = True  # read a COG's overview when the grid is coarser than the data
    folder: Path | None = field(default=None, compare=False)  # the catalog file's folder
    # the operator named the source (a catalog file): its own host may be reached; a URL
    # from a graph (load_stac) is reached only through the allowed hosts
    trusted: bool = True

    def band(self, name: str) -> BandSource:
        return next(b for b in self.bands if b.name == name)

    @property
    def source_url(self) -> str | None:
        if self.stac_api is not None:
            return self.stac_api
        if self.static is not None and "://" in self.static:
            return self.static
        return None

    def policy(self, allowed: tuple[str, ...] = ()) -> HostPolicy:
        """What a load of this collection may reach: its source's host (when the operator
        named it), its asset hosts and the run's ``allowed`` hosts."""
        own = _entry(self.source_url) if self.trusted else ()
        return HostPolicy((*own, *self.asset_hosts, *allowed))

    def stac_collection(self) -> dict:
        """The STAC collection pgc describes it by (``/collections``, typing): the bands'
        metadata, the extents and the datacube dimensions. x and y have no extent or
        reference system: the grid is chosen per load (:mod:`pgc.data.stac.grid`)."""
        west, south, east, north = self.spatial_extent
        crs_text = "UTM, the zone covering most of the extent" if self.crs == "utm" else (
            f"EPSG:{self.crs}")  # fmt: skip
        return {
            "type": "Collection",
            "stac_version": "1.0.0",
            "stac_extensions": [
                "https://stac-extensions.github.io/datacube/v2.2.0/schema.json",
                "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
            ],
            "id": self.id,
            "title": self.title or self.id,
            "description": self.description or f"{self.title or self.id}, read from STAC "
            f"items; the grid is {crs_text} at {self.resolution:g} units.",
            "license": "proprietary",
            "extent": {
                "spatial": {"bbox": [[west, south, east, north]]},
                "temporal": {"interval": [list(self.temporal_extent)]},
            },
            "links": [],
            "cube:dimensions": {
                "x": {"type": "spatial", "axis": "x", "step": self.resolution},
                "y": {"type": "spatial", "axis": "y", "step": self.resolution},
                "t": {"type": "temporal", "extent": list(self.temporal_extent)},
                "bands": {"type": "bands", "values": [b.name for b in self.bands]},
            },
            "summaries": {
                "eo:bands": [
                    {k: v for k, v in (("name", b.name), ("common_name", b.common_name),
                                       ("center_wavelength", b.center_wavelength))
                     if v is not None}
                    for b in self.bands
                ],  # fmt: skip
                "raster:bands": [
                    {k: v for k, v in (("name", b.name), ("nodata", b.nodata),
                                       ("scale", b.scale), ("offset", b.offset),
                                       ("data_type", b.data_type)) if v is not None}
                    for b in self.bands
                ],  # fmt: skip
            },
            "pgc:aliases": sorted(self.aliases),
            "pgc:stac": {"grid": self.crs, "resolution": self.resolution,
                         "group_by": self.group_by},  # fmt: skip
        }


def _entry(url: str | None) -> tuple[str, ...]:
    """The allow-list entry for a URL's own host (scheme, host and port as written)."""
    if not url:
        return ()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return (f"{parts.scheme}://{host}{port}",)


def load_catalog_file(path: str | Path) -> list[StacSource]:
    """The collections a catalog file declares; :class:`ConfigurationError` naming the key
    that is wrong."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"The catalog file cannot be read ({exc.strerror}).") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"The catalog file is not valid TOML: {exc}.") from None
    collections = document.get("collections")
    unknown = set(document) - {"collections"}
    if unknown:
        raise ConfigurationError(f"The catalog file has unknown tables: {sorted(unknown)}.")
    if not isinstance(collections, dict) or not collections:
        raise ConfigurationError("The catalog file declares no [collections.ID] table.")
    return [parse_source(cid, table, path.resolve().parent) for cid, table in collections.items()]


def parse_source(cid: str, table: Any, folder: Path | None = None) -> StacSource:
    """One ``[collections.ID]`` table as a :class:`StacSource`."""
    where = f"collections.{cid}"

    def fail(message: str) -> ConfigurationError:
        return ConfigurationError(f"In the catalog file, {where}: {message}.")

    if not isinstance(table, dict):
        raise fail("must be a table")
    unknown = set(table) - _KEYS
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)}")
    api, static = table.get("stac_api"), table.get("static")
    if (api is None) == (static is None):
        raise fail("give either stac_api (with collection) or static")
    if api is not None and not (isinstance(api, str) and api.startswith(("http://", "https://"))):
        raise fail("stac_api must be an http(s) URL")
    if api is not None and not isinstance(table.get("collection"), str):
        raise fail("collection (the collection's id in the STAC API) is missing")
    if static is not None:
        if not isinstance(static, str) or not static:
            raise fail("static must be a path or a URL")
        if not static.startswith(("http://", "https://")):
            if "://" in static or static.startswith("/vsi"):
                raise fail("static must be a local path or an http(s) URL")
            static = str(((folder or Path.cwd()) / static).resolve())
    bands = table.get("bands")
    if not isinstance(bands, dict) or not bands:
        raise fail("bands: give at least one band (NAME = \"asset\" or a table)")
    crs = table.get("crs", "utm")
    crs = str(crs).upper().removeprefix("EPSG:") if crs != "utm" else "utm"
    if crs != "utm" and not crs.isdigit():
        raise fail("crs must be \"utm\" or an EPSG code")
    resolution = table.get("resolution", 10)
    if isinstance(resolution, bool) or not isinstance(resolution, int | float) or not (
        math.isfinite(resolution) and resolution > 0
    ):
        raise fail("resolution must be a positive number")
    group_by = table.get("group_by", "day")
    if group_by not in GROUPS:
        raise fail(f"group_by must be one of {list(GROUPS)}")
    temporal = table.get("temporal_extent", ["", ""])
    if not (isinstance(temporal, list) and len(temporal) == 2
            and all(isinstance(t, str) for t in temporal)):  # fmt: skip
        raise fail("temporal_extent must be [start, end] (\"\": open)")
    temporal = [t or None for t in temporal]
    spatial = table.get("spatial_extent", [-180, -90, 180, 90])
    if not (isinstance(spatial, list) and len(spatial) == 4
            and all(isinstance(v, int | float) for v in spatial)):  # fmt: skip
        raise fail("spatial_extent must be [west, south, east, north] in degrees")
    aliases = table.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise fail("aliases must be a list of names")
    hosts = table.get("asset_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise fail("asset_hosts must be a list of hosts")
    try:
        HostPolicy(tuple(hosts))
    except ValueError as exc:
        raise fail(str(exc)) from None
    max_items = table.get("max_items", 2000)
    if isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1:
        raise fail("max_items must be a positive whole number")
    return StacSource(
        id=cid,
        bands=tuple(_band(name, spec, fail) for name, spec in bands.items()),
        stac_api=api.rstrip("/") if api else None,
        collection=table.get("collection"),
        static=static,
        aliases=tuple(aliases),
        title=table.get("title"),
        description=table.get("description"),
        temporal_extent=(temporal[0], temporal[1]),
        spatial_extent=(float(spatial[0]), float(spatial[1]), float(spatial[2]),
                        float(spatial[3])),  # fmt: skip
        cloud_cover=str(table.get("cloud_cover", "eo:cloud_cover")),
        crs=crs,
        resolution=float(resolution),
        group_by=group_by,
        asset_hosts=tuple(hosts),
        max_items=max_items,
        overviews=bool(table.get("overviews", True)),
        folder=folder,
    )


def source_of_collection(url: str, collection: dict) -> StacSource:
    """The source of a STAC collection a graph names (``load_stac``'s ``url``): searched
    through its API when the collection document links its ``items`` endpoint, else read
    as a static catalog; bands are the data assets its ``item_assets`` list (values as
    their ``raster:bands`` say); the grid is the UTM rule at the assets' finest ``gsd``.
    Not trusted: only the run's allowed hosts are reached. ValueError saying what the
    document lacks."""
    from urllib.parse import urljoin

    cid = collection.get("id")
    if collection.get("type") != "Collection" or not isinstance(cid, str):
        raise ValueError("the URL is not a STAC collection")
    assets = collection.get("item_assets")
    if not isinstance(assets, dict) or not assets:
        raise ValueError("the STAC collection lists no item_assets (pgc needs them to know "
                         "its bands before reading items)")  # fmt: skip
    bands, sizes = [], []
    for key, asset in assets.items():
        if not isinstance(asset, dict) or "data" not in (asset.get("roles") or ["data"]):
            continue
        eo = (asset.get("eo:bands") or [{}])[0]
        raster = (asset.get("raster:bands") or [{}])[0]
        eo, raster = (eo if isinstance(eo, dict) else {}), (raster if isinstance(raster, dict)
                                                            else {})  # fmt: skip
        dtype = raster.get("data_type", "uint16")
        bands.append(BandSource(
            name=str(key), asset=str(key), common_name=eo.get("common_name"),
            center_wavelength=eo.get("center_wavelength"), nodata=raster.get("nodata"),
            scale=raster.get("scale"), offset=raster.get("offset"),
            data_type=dtype if dtype in DTYPES else "float64",
        ))  # fmt: skip
        gsd = asset.get("gsd", raster.get("spatial_resolution"))
        if isinstance(gsd, int | float) and gsd > 0:
            sizes.append(float(gsd))
    if not bands:
        raise ValueError("the STAC collection's item_assets have no data asset")
    links = {link.get("rel"): link.get("href") for link in collection.get("links") or []
             if isinstance(link, dict) and isinstance(link.get("href"), str)}  # fmt: skip
    api = None
    if "items" in links:  # a collection of a STAC API: search at the API's root
        api = urljoin(url, links.get("root") or "../..").rstrip("/")
    return StacSource(
        id=cid, bands=tuple(bands), stac_api=api, collection=cid if api else None,
        static=None if api else url, resolution=min(sizes) if sizes else 10.0, trusted=False,
    )  # fmt: skip


def _band(name: str, spec: Any, fail: Any) -> BandSource:
    if isinstance(spec, str):
        spec = {"asset": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("asset"), str):
        raise fail(f"band {echo(name)} needs an asset (its key in the items' assets)")
    unknown = set(spec) - _BAND_KEYS
    if unknown:
        raise fail(f"band {echo(name)} has unknown keys {sorted(unknown)}")
    dtype = spec.get("data_type", "uint16")
    if dtype not in DTYPES:
        raise fail(f"band {echo(name)}: data_type must be one of {list(DTYPES)}")
    for key in ("nodata", "scale", "offset", "center_wavelength"):
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise fail(f"band {echo(name)}: {key} must be a number")
    return BandSource(
        name=name,
        asset=spec["asset"],
        common_name=spec.get("common_name"),
        center_wavelength=spec.get("center_wavelength"),
        nodata=spec.get("nodata", 0),
        scale=spec.get("scale"),
        offset=spec.get("offset"),
        data_type=dtype,
    )


__all__ = ["BandSource", "StacSource", "load_catalog_file", "parse_source", "source_of_collection"]
