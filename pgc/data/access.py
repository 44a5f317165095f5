"""The read policy: which local files pgc may open, and how (issue 16, class 1).

Every file pgc reads for a graph is resolved (symlinks included) and must lie inside one of
the *roots* of a :class:`ReadAccess`: the folders the embedding application allowed
(``execute(allow_read=...)``, ``pgc run --allow-read``), the folder of a STAC collection
for the hrefs in it, or an operator's own catalog folder. STAC hrefs and item links are
user input: :meth:`ReadAccess.href` refuses any with a scheme (``http:``, ``file:`` ...),
a GDAL ``/vsi`` prefix, or that resolves outside the roots.

GDAL only ever gets a resolved absolute local path that passed the check, opened with an
explicit driver list (GTiff, which reads COGs too: never VRT, whose XML reads other files
and URLs) and with sidecar probing and network access off (:func:`gdal_options`).
netCDF is opened by path with the netCDF4 engine, Zarr stores only when no file in them
resolves outside the roots.

Errors are :class:`ReadRefused` (a ``ValueError``) whose messages never contain a local
path: they say what was refused (``an asset href of item 'a'``) and why.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> access = ReadAccess((root,))
>>> try:
...     access.href(root, "../secret.tif", "the asset 'B04' of item 'a'")
... except AccessDenied as refused:
...     print(refused)
the asset 'B04' of item 'a' points outside the collection folder
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

RASTER_DRIVERS = ("GTiff",)  # a COG is a GeoTIFF (rasterio takes one driver name)
GEOJSON_MAX_BYTES = 64 * 2**20
# a scheme (RFC 3986): http:, file:, s3:, gs: ... (and Windows drive letters, refused too)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# GDAL configuration for every open: no sidecar files (.aux.xml, .ovr, .msk, world
# files) probed or read, and the network drivers refusing any file name
GDAL_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
    "GDAL_GEOREF_SOURCES": "INTERNAL",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".pgc-no-network",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_HTTP_CONNECTTIMEOUT": "1",
}


class ReadRefused(ValueError):
    """pgc will not read something; the message names it without any local path."""


class AccessDenied(ReadRefused):
    """A path or href outside the allowed folders, a URL, or a GDAL ``/vsi`` path."""


class FileMissing(ReadRefused):
    """A path inside the allowed folders that does not exist."""


class FormatRefused(ReadRefused):
    """A file that is not what its reader accepts (a VRT named ``.tif``, not netCDF ...)."""


class TooLarge(ReadRefused):
    """A file larger than pgc reads whole (GeoJSON over 64 MB)."""


def sentence(refused: Exception) -> str:
    """A refusal's message as a sentence: capital first letter, full stop."""
    text = str(refused)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _real(path: str | os.PathLike) -> Path:
    """The absolute path with every symlink that exists resolved (non-strict: a missing
    tail stays as written, so that outside paths are refused whether they exist or not)."""
    text = os.fspath(path)
    if not isinstance(text, str) or "\x00" in text:
        raise AccessDenied("the path is not a file name")
    return Path(os.path.abspath(text)).resolve(strict=False)


def _gdal_safe(real: Path) -> bool:
    """Whether GDAL sees a plain local file name in ``real`` (no /vsi prefix, no driver
    prefix, no URL)."""
    text = str(real)
    return text.startswith("/") and not text.startswith("/vsi") and "://" not in text


@dataclass(frozen=True)
class ReadAccess:
    """The folders (or single files) pgc may read below; resolved when made."""

    roots: tuple[Path, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "roots", tuple(_real(r) for r in self.roots))

    @classmethod
    def of(cls, roots: Sequence[str | os.PathLike] | str | os.PathLike) -> ReadAccess:
        if isinstance(roots, (str, os.PathLike)):
            roots = [roots]
        return cls(tuple(Path(r) for r in roots))

    def inside(self, path: str | os.PathLike) -> Path | None:
        """The resolved path if it lies inside a root (existing or not), else None."""
        try:
            real = _real(path)
        except (AccessDenied, OSError, ValueError):
            return None
        if any(real == root or real.is_relative_to(root) for root in self.roots):
            return real
        return None

    def check(self, path: str | os.PathLike, what: str = "a file") -> Path:
        """The resolved path of an existing file or folder inside a root; else
        :class:`AccessDenied` (outside) or :class:`FileMissing`."""
        real = self.inside(path)
        if real is None:
            raise AccessDenied(f"{what} is outside the folders pgc may read")
        if not real.exists():
            raise FileMissing(f"{what} does not exist")
        if not _gdal_safe(real):
            raise AccessDenied(f"{what} is not a plain local file name")
        return real

    def href(self, base: str | os.PathLike, href: Any, what: str = "an href") -> Path:
        """A STAC href (relative to the folder ``base`` of the document holding it, or
        absolute) as a resolved path inside the roots; refused: anything with a scheme
        (``http:``, ``file:`` ...), a ``/vsi`` path, or what resolves outside. The file
        need not exist yet (reading it says so)."""
        if not isinstance(href, str) or not href.strip():
            raise AccessDenied(f"{what} is not a file name")
        if _SCHEME.match(href) or href.lstrip().startswith("/vsi") or "\x00" in href:
            raise AccessDenied(
                f"{what} is a URL or a GDAL path: pgc reads only files inside the collection folder"
            )
        real = self.inside(Path(base) / href)
        if real is None or not _gdal_safe(real):
            raise AccessDenied(f"{what} points outside the collection folder")
        return real

    def check_tree(self, path: str | os.PathLike, what: str = "a store") -> Path:
        """A folder (a Zarr store) checked with everything in it: no symlink in it may
        resolve outside the roots."""
        real = self.check(path, what)
        if real.is_dir():
            for top, dirs, files in os.walk(real):
                for name in (*dirs, *files):
                    entry = Path(top) / name
                    if entry.is_symlink() and self.inside(entry) is None:
                        raise AccessDenied(f"a file in {what} points outside the folders pgc "
                                           "may read")  # fmt: skip
        return real

    @contextmanager
    def open_raster(self, path: str | os.PathLike, what: str = "a raster file",
                    **options: Any) -> Iterator[Any]:  # fmt: skip
        """A rasterio dataset of a checked GeoTIFF/COG, opened with the GTiff driver only and
        without sidecars or network (``options``: rasterio's, such as ``overview_level``);
        :class:`FormatRefused` if GDAL's GTiff driver does not read it (a VRT named
        ``.tif``, text, HDF5 ...)."""
        import rasterio
        from rasterio.errors import RasterioError

        real = self.check(path, what)
        with rasterio.Env(**GDAL_OPTIONS):
            try:
                src = rasterio.open(real, driver=RASTER_DRIVERS[0], **options)
            except RasterioError:
                raise FormatRefused(f"{what} is not a GeoTIFF") from None
            with src:
                yield src

    def open_netcdf(self, path: str | os.PathLike, what: str = "a netCDF file", **options):
        """An xarray Dataset of a checked netCDF file (netCDF4 engine, by path only)."""
        import xarray as xr

        real = self.check(path, what)
        if not real.is_file() or "#" in str(real) or "?" in str(real):
            raise FormatRefused(f"{what} is not a netCDF file")
        try:
            return xr.open_dataset(real, engine="netcdf4", **options)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise FormatRefused(f"{what} is not a netCDF file ({type(exc).__name__})") from None

    def open_zarr(self, path: str | os.PathLike, what: str = "a Zarr store"):
        """An xarray Dataset of a checked local Zarr store."""
        import xarray as xr

        real = self.check_tree(path, what)
        try:
            return xr.open_zarr(real)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FormatRefused(f"{what} is not a Zarr store ({type(exc).__name__})") from None

    def read_text(self, path: str | os.PathLike, what: str = "a file",
                  limit: int = GEOJSON_MAX_BYTES) -> str:  # fmt: skip
        """The text of a checked file of at most ``limit`` bytes."""
        real = self.check(path, what)
        if not real.is_file():
            raise FormatRefused(f"{what} is not a file")
        if real.stat().st_size > limit:
            raise TooLarge(f"{what} is larger than {limit // 2**20} MB")
        try:
            return real.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FormatRefused(f"{what} cannot be read ({type(exc).__name__})") from None


def check_href(base_folder: str | os.PathLike, href: Any, what: str = "an href") -> Path:
    """``href`` (relative to ``base_folder``) resolved inside ``base_folder``; see
    :meth:`ReadAccess.href`."""
    return ReadAccess((Path(base_folder),)).href(base_folder, href, what)


# load_stac's and load_url's ``url`` must match ^https?:// (openEO's schema), so local files
# are named under a host that never resolves (RFC 2606's .invalid): pgc maps it, and no
# request is ever made (as the federation's https://pgc-federation.invalid/JOB/NODE)
LOCAL_HOST = "pgc-files.invalid"


@dataclass(frozen=True)
class FolderResolver:
    """A resolver for ``pgc run --allow-read``: ``https://pgc-files.invalid/PATH`` (the
    absolute local path ``/PATH``), a ``file://`` URL or a plain path (relative to the
    working folder) inside the allowed folders is that path; anything else (other http
    URLs, other schemes, ``/vsi`` paths, paths outside) is refused (None). Picklable."""

    access: ReadAccess

    def __call__(self, url: Any) -> Path | None:
        if not isinstance(url, str) or not url or "\x00" in url or url.startswith("/vsi"):
            return None
        if _SCHEME.match(url):
            try:
                parts = urlsplit(url)
            except ValueError:
                return None
            local = (parts.scheme.lower() in ("http", "https")
                     and parts.netloc.lower() == LOCAL_HOST) or (
                parts.scheme.lower() == "file" and parts.netloc in ("", "localhost"))  # fmt: skip
            if not local or parts.query or parts.fragment or not parts.path.startswith("/"):
                return None
            url = unquote(parts.path)
            if "\x00" in url:
                return None
        real = self.access.inside(url)
        return real if real is not None and _gdal_safe(real) else None


__all__ = [
    "AccessDenied",
    "FileMissing",
    "FolderResolver",
    "FormatRefused",
    "GDAL_OPTIONS",
    "LOCAL_HOST",
    "ReadAccess",
    "ReadRefused",
    "TooLarge",
    "check_href",
    "sentence",
]
