"""The collection catalog: STAC collections with the datacube extension, as types.

openEO back-ends describe collections as STAC collections whose ``cube:dimensions`` give
the dimensions (extents, steps, labels, reference systems) and whose ``eo:bands`` /
``raster:bands`` summaries give the band metadata. pgc reads the same documents to type
``load_collection`` before any data is read. pgc ships the metadata of its embedded sample
collections (``collections/*.json``; the data is generated, :mod:`pgc.data.sample`); an
embedding application adds its own collections.

>>> cube = default_catalog().cube_type("SENTINEL2_L2A_SAMPLE")
>>> cube.names, cube.dtype
(('t', 'bands', 'y', 'x'), 'uint16')
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, echo, short
from ..ir.types import Band, CubeType, Dimension, promote

COLLECTIONS_DIR = Path(__file__).resolve().parent / "collections"
# openEO's usual dimension order for raster collections.
_ORDER = {"temporal": 0, "bands": 1, "spatial": 2, "other": 3, "geometry": 4}
_AXIS_ORDER = {"z": 0, "y": 1, "x": 2}


@dataclass
class Catalog:
    """Collections by id; ``add`` STAC collection documents of your own."""

    collections: dict[str, dict] = field(default_factory=dict)
    items: dict[str, list[Item]] = field(default_factory=dict)  # file-backed collections
    stores: dict[str, Path] = field(default_factory=dict)  # collections in one Zarr store
    revision: int = field(default=0, compare=False)  # counts the collections added
    aliases: dict[str, str] = field(default_factory=dict)  # another name -> the id
    # collections whose items come from a STAC API or catalog (pgc.data.stac.StacSource)
    sources: dict[str, Any] = field(default_factory=dict)

    def add(
        self,
        stac_collection: dict,
        items: list[Item] | None = None,
        store: Path | None = None,
        aliases: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        """Add a collection: its metadata, and where its data is (``items``: a STAC item per
        date with a file per band; ``store``: one Zarr store with an array per band), and
        the other names it is known by (``aliases``, default the STAC's ``pgc:aliases``):
        any of them loads it. A name that is already another collection's id or alias is
        a :class:`ConfigurationError`, before anything is added."""
        cid = stac_collection["id"]
        names = list(aliases if aliases is not None else stac_collection.get("pgc:aliases", []))
        for name in names:
            self._check_alias(name, cid)
        if cid in self.aliases and self.aliases[cid] != cid:
            raise ConfigurationError(
                f"collection id {echo(cid)} is already an alias of {echo(self.aliases[cid])}"
            )
        self.revision += 1  # plans compiled against the catalog before are stale
        for name in names:
            self.aliases[name] = cid
        if names:
            stac_collection = {**stac_collection, "pgc:aliases": sorted(set(names))}
        self.collections[cid] = stac_collection
        self._types.pop(stac_collection["id"], None)
        if store is not None:
            self.stores[stac_collection["id"]] = Path(store)
        if items is not None:
            items = sorted(items, key=lambda i: i.datetime)
            self.items[stac_collection["id"]] = items
            # The dates of a file-backed collection are its items' dates.
            for dim in (stac_collection.get("cube:dimensions") or {}).values():
                if dim.get("type") == "temporal":
                    dim["values"] = [i.datetime for i in items]

    def add_folder(self, folder: str | Path) -> str:
        """Add a file-backed collection: ``collection.json`` and either the STAC items it
        links (``rel: item``) or ``items/*.json``, whose assets (GeoTIFF/COG, netCDF or Zarr,
        one per band) hold the data; or a collection-level Zarr asset (media type
        ``application/vnd+zarr``, role ``data``): one store with an array [t, y, x] per band
        on the collection's grid, dates as the ``t`` dimension's values. Returns the id.

        Every file it names (item links, asset hrefs, the store) must resolve inside
        ``folder`` (symlinks followed): anything else, a URL or a GDAL ``/vsi`` path is
        refused with :class:`~pgc.data.access.AccessDenied`, whose message names the item
        or asset, not the path. Data is read later only through the GTiff driver (no VRT)
        or as local netCDF/Zarr (:mod:`pgc.data.access`)."""
        from .access import FormatRefused, ReadAccess

        access = ReadAccess((Path(folder),))
        folder = access.check(folder, "the collection folder")
        document = access.check(folder / "collection.json", "the collection's collection.json")
        stac = json.loads(document.read_text(encoding="utf-8"))
        if not isinstance(stac, dict) or not isinstance(stac.get("id"), str):
            raise FormatRefused("collection.json is not a STAC collection with an id")
        store = _zarr_asset(stac)
        if store is not None:
            where = access.href(folder, store, "the collection's Zarr asset href")
            self.add(stac, store=access.check_tree(where, "the collection's Zarr store"))
            return stac["id"]
        links = [
            link for link in stac.get("links") or []
            if isinstance(link, dict) and link.get("rel") == "item"
        ]  # fmt: skip
        paths = [
            access.href(folder, link.get("href"), f"the item link {i + 1} of collection.json")
            for i, link in enumerate(links)
        ] or [
            access.href(folder, f"items/{p.name}", f"the item file {echo(p.name)}")
            for p in sorted((folder / "items").glob("*.json"))
        ]  # fmt: skip
        self.add(stac, [read_item(p, access) for p in paths])
        return stac["id"]

    def add_source(self, source: Any) -> str:
        """Add a STAC-backed collection (a :class:`pgc.data.stac.StacSource`, as a catalog
        file declares them: :meth:`add_catalog_file`). Returns its id."""
        self.add(source.stac_collection(), aliases=source.aliases)
        self.sources[source.id] = source
        return source.id

    def add_catalog_file(self, path: str | Path) -> list[str]:
        """Add the collections a catalog file (TOML, :mod:`pgc.data.stac.config`) declares;
        :class:`ConfigurationError` naming what is wrong, before anything is added. Returns
        their ids."""
        from .stac.config import load_catalog_file

        sources = load_catalog_file(path)
        trial = Catalog(dict(self.collections), aliases=dict(self.aliases))
        for source in sources:  # every name checked before the catalog changes
            if source.id in trial:
                raise ConfigurationError(
                    f"the catalog file declares {echo(source.id)}, a name the catalog "
                    f"already has (for {echo(trial.canonical(source.id))})"
                )
            trial.add(source.stac_collection(), aliases=source.aliases)
        return [self.add_source(source) for source in sources]

    def load_type(self, collection_id: str, extent: Any) -> CubeType:
        """The cube type of a load of the collection with the literal spatial ``extent``:
        :meth:`cube_type`, on the grid the extent chooses for a STAC-backed collection
        (x and y unplaced when it cannot be told)."""
        cid = self.canonical(collection_id) or collection_id
        source = self.sources.get(cid)
        if source is None:
            return self.cube_type(cid)
        from ..grid import bbox_in_crs
        from .stac.grid import grid_crs, lonlat_of

        lonlat = lonlat_of(extent)
        if lonlat is None:  # no box (none, or GeoJSON): x and y are placed when loaded
            return self.cube_type(cid)
        crs = grid_crs(source.crs, lonlat)
        try:
            box = tuple(float(extent[k]) for k in ("west", "south", "east", "north"))
            box = bbox_in_crs(box, str(extent.get("crs", 4326)).replace("EPSG:", ""), crs)
        except Exception:  # noqa: BLE001 - the type rules report a malformed extent
            return self.cube_type(cid)
        return self.cube_type(cid, (crs, box))

    def _check_alias(self, name: Any, cid: str) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"collection {echo(cid)}: an alias must be a name")
        owner = self.aliases.get(name, name if name in self.collections else None)
        if owner is not None and owner != cid:
            raise ConfigurationError(
                f"the name {echo(name)} is claimed by two collections: {echo(owner)} and "
                f"{echo(cid)}"
            )

    def canonical(self, name: object) -> str | None:
        """The id of the collection ``name`` names (its id or one of its aliases), or
        None."""
        if not isinstance(name, str):
            return None
        if name in self.collections:
            return name
        return self.aliases.get(name)

    def __contains__(self, collection_id: object) -> bool:
        return self.canonical(collection_id) is not None

    def ids(self) -> list[str]:
        return sorted(self.collections)

    def stac(self, collection_id: str) -> dict:
        return self.collections[self.canonical(collection_id) or collection_id]

    def cube_type(self, collection_id: str, grid: tuple[str, tuple] | None = None) -> CubeType:
        """The collection's cube type; for a STAC-backed collection with ``grid`` = (crs,
        box): x and y on the grid covering the box (in that CRS) at its resolution."""
        cid = self.canonical(collection_id) or collection_id
        if cid not in self._types:
            self._types[cid] = cube_type_of(self.collections[cid])
        source = self.sources.get(cid)
        if source is None or grid is None:
            return self._types[cid]
        from .stac.grid import grid_type

        return grid_type(self._types[cid], grid[0], grid[1], source.resolution)

    _types: dict[str, CubeType] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Item:
    """One STAC item of a file-backed collection: its date and a file per band."""

    datetime: str
    assets: dict[str, Path]
    # the folders its assets were checked against (reads check again and open them only
    # through pgc.data.access); None: only the asset's own path
    access: Any = field(default=None, compare=False, repr=False)


def _zarr_asset(stac: dict) -> str | None:
    """The href of a collection's Zarr data asset, if it has one."""
    for asset in (stac.get("assets") or {}).values():
        if "zarr" in str(asset.get("type", "")) and "data" in (asset.get("roles") or ["data"]):
            return asset["href"]
    return None


def read_item(path: Path, access: Any = None) -> Item:
    """A STAC item file, read with pystac; asset hrefs are resolved against the item and
    must lie inside ``access``'s folders (default: the item's folder); URLs and GDAL
    ``/vsi`` paths are refused (:class:`~pgc.data.access.AccessDenied`)."""
    import pystac

    from .access import ReadAccess

    access = access if access is not None else ReadAccess((Path(path).parent,))
    path = access.check(path, "an item file")
    item = pystac.Item.from_dict(json.loads(path.read_text(encoding="utf-8")))
    when = item.datetime.strftime("%Y-%m-%dT%H:%M:%SZ") if item.datetime else ""
    name = echo(str(item.id))
    assets = {
        key: access.href(path.parent, asset.href, f"the asset {echo(key)} of item {name}")
        for key, asset in item.assets.items()
    }
    return Item(when, assets, access)


def cube_type_of(stac: dict) -> CubeType:
    """The data cube type of a STAC collection with the datacube extension."""
    dims_raw: dict[str, Any] = stac.get("cube:dimensions") or {}
    summaries = stac.get("summaries") or {}
    eo = {b.get("name"): b for b in summaries.get("eo:bands") or [] if isinstance(b, dict)}
    raster = {b.get("name"): b for b in summaries.get("raster:bands") or [] if isinstance(b, dict)}
    dims = []
    for name, raw in dims_raw.items():
        kind = raw.get("type", "other")
        labels = raw.get("values")
        extent = raw.get("extent")
        crs = raw.get("reference_system")
        dims.append(Dimension(
            name=name,
            type=kind if kind in _ORDER else "other",
            axis=raw.get("axis"),
            labels=tuple(labels) if isinstance(labels, list) else None,
            extent=tuple(extent) if isinstance(extent, list) and len(extent) == 2 else None,
            step=raw.get("step"),
            crs=str(crs) if crs is not None and kind == "spatial" else None,
        ))  # fmt: skip
    dims.sort(key=lambda d: (_ORDER[d.type], _AXIS_ORDER.get(d.axis or "", 3)))
    band_dim = next((d for d in dims if d.type == "bands"), None)
    bands = []
    dtypes = []
    for name in band_dim.labels or () if band_dim else ():
        e, r = eo.get(name, {}), raster.get(name, {})
        bands.append(
            Band(
                name,
                e.get("common_name"),
                e.get("center_wavelength"),
                r.get("nodata"),
                r.get("scale"),
                r.get("offset"),
            )
        )
        if r.get("data_type"):
            dtypes.append(r["data_type"])
    dtype = promote(*dtypes) if dtypes else "float64"
    nodata = next((b.nodata for b in bands if b.nodata is not None), None)
    return CubeType(tuple(dims), dtype=dtype, bands=tuple(bands), nodata=nodata)


def default_catalog(folders: tuple[Path, ...] | None = None) -> Catalog:
    """pgc's own collections (the embedded sample collections), and the file-backed ones in
    ``folders`` (default: the active options' ``collections``; the command line's
    ``PGC_COLLECTIONS`` and ``--catalog``), where a ``.toml`` file is a catalog file of
    STAC-backed collections (:mod:`pgc.data.stac.config`). One catalog per set of folders,
    built once."""
    if folders is None:
        from ..options import active

        folders = active().collections
    return _catalog_of(tuple(Path(f) for f in folders))


@cache
def _catalog_of(folders: tuple[Path, ...]) -> Catalog:
    return build_catalog(folders)


def build_catalog(folders: tuple[Path, ...], samples: bool = True) -> Catalog:
    """A new catalog of pgc's own collections (``samples``: the embedded sample
    collections) and those of ``folders`` (folders of file-backed collections, ``.toml``
    catalog files), read now (:func:`default_catalog` keeps one per set of folders)."""
    catalog = Catalog()
    for path in sorted(COLLECTIONS_DIR.glob("*.json")) if samples else ():
        catalog.add(json.loads(path.read_text(encoding="utf-8")))
    for folder in folders:
        if folder.suffix.lower() == ".toml":  # a catalog file: STAC-backed collections
            catalog.add_catalog_file(folder)
            continue
        try:
            catalog.add_folder(folder)
        except Exception as exc:  # noqa: BLE001 - any way a folder can be broken
            raise ConfigurationError(
                f"The collections folder {short(str(folder))} is not a collection folder "
                f"pgc can read ({type(exc).__name__}: {short(str(exc))})."
            ) from None
    return catalog
