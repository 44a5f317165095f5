"""``load_stac`` of an openEO batch job's results: the value another member computed.

A federated run (issue 22) passes a value between members as the producer's job result:
the producing job saves it in pgc's exact exchange form (:mod:`pgc.data.cube_file`), and
the consuming job's ``load_stac`` gets the URL of the producer's results -- the STAC
collection ``GET /jobs/{id}/results`` answers, or one of its items -- as the member gives
it (signed, so no token is needed). That document names its files as ``assets`` (the
collection's own, or the item's); the one netCDF data asset is downloaded whole, within
the run's budget, and read back exactly.

>>> doc = {"type": "Feature", "assets": {"result.nc": {"href": "assets/result.nc",
...        "type": "application/x-netcdf", "roles": ["data"], "file:size": 1200}}}
>>> exchanged_asset("https://a.example/jobs/j-1/results/items/result.nc", doc)
('https://a.example/jobs/j-1/results/items/assets/result.nc', 1200)
>>> exchanged_asset("https://a.example/collections/S2", {"type": "Collection"}) is None
True
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from .http import HttpFiles


def exchanged_asset(url: str, document: Any) -> tuple[str, int | None] | None:
    """(absolute href, ``file:size``) of the netCDF data asset of a job-results document
    (a STAC collection with ``assets`` of its own, or an item); None for any other STAC
    document (a collection of items, read as a STAC-backed collection). ValueError for job
    results pgc cannot take one value from: unfinished, or several netCDF assets."""
    if not isinstance(document, dict) or not isinstance(document.get("assets"), dict):
        return None
    if document.get("type") == "Collection" and "item_assets" in document:
        return None  # a collection of items that happens to carry assets of its own
    status = document.get("openeo:status")
    if status not in (None, "finished"):
        raise ValueError(f"the batch job's results are not ready (openeo:status {status!r})")
    found = [
        asset for asset in document["assets"].values()
        if isinstance(asset, dict) and "netcdf" in str(asset.get("type", "")).lower()
        and "data" in (asset.get("roles") or ["data"]) and isinstance(asset.get("href"), str)
    ]  # fmt: skip
    if not found:
        return None
    if len(found) > 1:
        raise ValueError(f"the job's results hold {len(found)} netCDF assets; give the URL "
                         "of the item that holds the one to load")  # fmt: skip
    size = found[0].get("file:size")
    return urljoin(url, found[0]["href"]), size if isinstance(size, int) else None


@dataclass
class Download:
    """One asset read whole, for the run's network figures
    (:meth:`pgc.data.reading.ReadStats.remote`): its bytes are its own estimate."""

    files: HttpFiles
    size: int

    def estimate(self) -> int:
        return self.size


def download_cube(files: HttpFiles, href: str, limit: int) -> tuple[Any, Any, Download]:
    """(values, validity, the download) of the exchanged cube at ``href``: fetched whole
    (at most ``limit`` bytes), read from a private temporary file that is then removed.
    ValueError when the file is not pgc's exchange form."""
    from .. import cube_file
    from ..access import ReadAccess

    data = files.download(href, limit)
    with tempfile.TemporaryDirectory(prefix="pgc-exchanged-") as folder:
        path = Path(folder) / "cube.nc"
        path.write_bytes(data)
        values, valid = cube_file.read(path, ReadAccess((Path(folder),)))
    return values, valid, Download(files, len(data))
