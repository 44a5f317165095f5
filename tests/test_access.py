"""Reads and requests past the resolver (issue 16, class 1): pgc opens only files inside the
folders the embedding application allowed (symlinks resolved), a STAC collection's hrefs
stay inside its folder, GDAL gets only checked local paths through the GTiff driver (no VRT,
no /vsi, no network), and messages never name the local path.

Each attack runs through ``pgc.runner.execute`` (with ``allow_read`` and with a resolver
only) and through ``pgc run --allow-read``; each checks the code, that the outside file's
values (999) never come back, that the message does not name the outside folder, and that
a loopback HTTP server got no request.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from pgc.cli import main
from pgc.data.access import (
    AccessDenied,
    FileMissing,
    FolderResolver,
    FormatRefused,
    ReadAccess,
    TooLarge,
    check_href,
)
from pgc.data.catalog import Catalog
from pgc.errors import PgcError
from pgc.runner import execute

SIDE, STEP, WEST, NORTH = 8, 10.0, 600_000.0, 5_000_080.0
URL = "https://stac.example.org/collection.json"
DATE = "2024-05-01T10:00:00Z"


# -- building blocks -------------------------------------------------------------------------


def tif(path: Path, value: int) -> Path:
    """A 1-band 8x8 uint16 GeoTIFF, EPSG:32631, every pixel ``value``."""
    profile = {"driver": "GTiff", "width": SIDE, "height": SIDE, "count": 1, "dtype": "uint16",
               "crs": "EPSG:32631", "transform": from_origin(WEST, NORTH, STEP, STEP)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.full((1, SIDE, SIDE), value, dtype="uint16"))
    return path


def vrt(source: str) -> str:
    """VRT XML (to be saved under a .tif name) whose one band is ``source``'s band 1."""
    return (
        f'<VRTDataset rasterXSize="{SIDE}" rasterYSize="{SIDE}"><SRS>EPSG:32631</SRS>'
        f"<GeoTransform>{WEST},{STEP},0,{NORTH},0,-{STEP}</GeoTransform>"
        '<VRTRasterBand dataType="UInt16" band="1"><SimpleSource>'
        f'<SourceFilename relativeToVRT="0">{source}</SourceFilename><SourceBand>1</SourceBand>'
        "</SimpleSource></VRTRasterBand></VRTDataset>"
    )


def collection(links: list[str] | None = None) -> dict:
    """A STAC collection of one band B04 on the 8x8 grid; ``links``: its item hrefs."""
    return {
        "type": "Collection", "stac_version": "1.0.0", "id": "USER", "description": "t",
        "license": "proprietary",
        "links": [{"rel": "item", "href": h} for h in (links or ["items/a.json"])],
        "extent": {"spatial": {"bbox": [[0, 0, 1, 1]]}, "temporal": {"interval": [[DATE, DATE]]}},
        "cube:dimensions": {
            "x": {"type": "spatial", "axis": "x", "extent": [WEST, WEST + SIDE * STEP],
                  "step": STEP, "reference_system": 32631},
            "y": {"type": "spatial", "axis": "y", "extent": [NORTH - SIDE * STEP, NORTH],
                  "step": STEP, "reference_system": 32631},
            "t": {"type": "temporal", "extent": [DATE, DATE]},
            "bands": {"type": "bands", "values": ["B04"]},
        },
        "summaries": {"raster:bands": [{"name": "B04", "data_type": "uint16"}]},
    }  # fmt: skip


def item(href: str, item_id: str = "a") -> dict:
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "geometry": None,
            "properties": {"datetime": DATE}, "links": [],
            "assets": {"B04": {"href": href}}}  # fmt: skip


def write_json(path: Path, value: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


@pytest.fixture
def place(tmp_path):
    """``work`` (allowed: inside.tif, values 1) and ``outside`` beside it (secret.tif,
    values 999; secret.txt), as the hostile corpus's harness lays them out."""
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir()
    outside.mkdir()
    tif(work / "inside.tif", 1)
    tif(outside / "secret.tif", 999)
    (outside / "secret.txt").write_text("secret")
    return work, outside


@pytest.fixture
def server():
    """A loopback HTTP server recording every request it gets."""
    requests: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            requests.append(f"{self.command} {self.path}")
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}", requests
    httpd.shutdown()
    httpd.server_close()


# -- the attacks -----------------------------------------------------------------------------
# Each builds work/stac (a user's STAC collection) and says what it expects.


def _asset(href):
    def build(work: Path, outside: Path, base: str) -> None:
        write_json(work / "stac" / "collection.json", collection())
        write_json(work / "stac" / "items" / "a.json", item(href(outside, base)))

    return build


def _symlinked_asset(work, outside, base):
    _asset(lambda o, b: "../b04.tif")(work, outside, base)
    (work / "stac" / "b04.tif").symlink_to(outside / "secret.tif")


def _symlinked_folder(work, outside, base):
    _asset(lambda o, b: "../data/secret.tif")(work, outside, base)
    (work / "stac" / "data").symlink_to(outside, target_is_directory=True)


def _symlinked_items(work, outside, base):
    write_json(work / "stac" / "collection.json", {**collection(), "links": []})
    write_json(outside / "items" / "a.json", item("../secret.tif"))  # inside outside/
    (work / "stac" / "items").symlink_to(outside / "items", target_is_directory=True)


def _item_link_outside(work, outside, base):
    write_json(work / "stac" / "collection.json", collection(["../../outside/item.json"]))
    write_json(outside / "item.json", item("secret.tif"))


def _vrt_asset(source):
    def build(work, outside, base):
        _asset(lambda o, b: "../b04.tif")(work, outside, base)
        (work / "stac" / "b04.tif").write_text(vrt(source(outside, base)))

    return build


def _exchange_symlink(work, outside, base):
    """A federation exchange folder whose netCDF asset is a symlink to another exchange."""
    import xarray as xr

    from pgc.executors import exchange
    from pgc.executors.values import Cube

    data = xr.DataArray(np.full((1, 1, SIDE, SIDE), 999.0), dims=("t", "bands", "y", "x"),
                        coords={"t": np.array([DATE[:10]], "datetime64[ns]"), "bands": ["B04"],
                                "y": NORTH - (np.arange(SIDE) + 0.5) * STEP,
                                "x": WEST + (np.arange(SIDE) + 0.5) * STEP},
                        attrs={"crs": "32631", "nodata": None})  # fmt: skip
    exchange.write(Cube(data, xr.DataArray(True)), outside / "exch", "x")
    exchange.write(Cube(data * 0 + 1, xr.DataArray(True)), work / "stac", "x")
    (work / "stac" / "items" / "result.nc").unlink()
    (work / "stac" / "items" / "result.nc").symlink_to(outside / "exch" / "items" / "result.nc")


STAC_ATTACKS = {
    "dotdot": _asset(lambda o, b: "../../../outside/secret.tif"),
    "absolute": _asset(lambda o, b: str(o / "secret.tif")),
    "file_url": _asset(lambda o, b: f"file://{o / 'secret.tif'}"),
    "symlinked_asset": _symlinked_asset,
    "symlinked_folder": _symlinked_folder,
    "symlinked_items_folder": _symlinked_items,
    "item_link_outside": _item_link_outside,
    "vsicurl_query": _asset(lambda o, b: f"/vsicurl?url={b}/x.tif"),
    "vsicurl_path": _asset(lambda o, b: f"/vsicurl/{b}/x.tif"),
    "http": _asset(lambda o, b: f"{b}/x.tif"),
    "vrt_asset": _vrt_asset(lambda o, b: str(o / "secret.tif")),
    "vrt_asset_network": _vrt_asset(lambda o, b: f"/vsicurl/{b}/x.tif"),
    "exchange_symlink": _exchange_symlink,
}


def local(path) -> str:
    """The URL ``pgc run --allow-read`` maps to the local ``path`` (openEO's schema wants
    ^https?://; the .invalid host never resolves)."""
    return f"https://pgc-files.invalid{path}"


def load_stac(url: str) -> dict:
    return {"l": {"process_id": "load_stac", "arguments": {"url": url}, "result": True}}


def load_url(url: str, fmt: str = "GTiff") -> dict:
    return {"l": {"process_id": "load_url", "arguments": {"url": url, "format": fmt},
                  "result": True}}  # fmt: skip


def refused(graph: dict, **options) -> PgcError:
    with pytest.raises(PgcError) as info:
        execute(graph, pipeline="none", **options)
    return info.value


def run_cli(tmp_path: Path, graph: dict, *args: str) -> tuple[int, str]:
    path = tmp_path / "graph.json"
    path.write_text(json.dumps({"process_graph": graph}))
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", str(path), *args])
    return code, out.getvalue() + err.getvalue()


def no_leak(message: str, outside: Path) -> None:
    assert str(outside) not in message and "secret" not in message
    assert "999" not in message


@pytest.mark.parametrize("attack", sorted(STAC_ATTACKS))
def test_load_stac_hrefs_stay_in_the_collection_folder(attack, place, server, tmp_path):
    work, outside = place
    base, requests = server
    STAC_ATTACKS[attack](work, outside, base)
    folder = work / "stac"
    resolve = {URL: folder / "collection.json"}.get
    # the embedding application's resolver alone (its path the only root) ...
    error = refused(load_stac(URL), resolver=resolve)
    assert error.code == "ProcessParameterInvalid", error.diagnostics[0].message
    assert error.diagnostics[0].argument == "url"
    no_leak(error.diagnostics[0].message, outside)
    # ... with read roots ...
    error = refused(load_stac(URL), resolver=resolve, allow_read=[work])
    assert error.code == "ProcessParameterInvalid"
    no_leak(error.diagnostics[0].message, outside)
    # ... and pgc run --allow-read
    code, out = run_cli(tmp_path, load_stac(local(folder / "collection.json")),
                        "--allow-read", str(work))  # fmt: skip
    assert code == 1 and "ProcessParameterInvalid" in out, out
    no_leak(out, outside)
    assert requests == []


def test_an_asset_message_names_the_item_and_the_asset(place):
    work, outside = place
    STAC_ATTACKS["absolute"](work, outside, "")
    error = refused(load_stac(URL), resolver={URL: work / "stac"}.get)
    message = error.diagnostics[0].message
    assert "the asset 'B04' of item 'a' points outside the collection folder" in message


def test_a_collection_inside_loads(place, tmp_path):
    """What stays inside is read: through the resolver, with read roots, and by the CLI."""
    work, _ = place
    write_json(work / "stac" / "collection.json", collection())
    write_json(work / "stac" / "items" / "a.json", item("../../inside.tif"))  # work/ is no
    error = refused(load_stac(URL), resolver={URL: work / "stac"}.get)  # collection folder
    assert error.code == "ProcessParameterInvalid"
    tif(work / "stac" / "b04.tif", 7)
    write_json(work / "stac" / "items" / "a.json", item("../b04.tif"))
    for options in ({}, {"allow_read": [work]}, {"allow_read": str(work)}):
        cube = execute(load_stac(URL), resolver={URL: work / "stac"}.get, **options).value
        assert cube.data.shape == (1, 1, SIDE, SIDE) and (cube.data.values == 7).all()
    code, out = run_cli(work, load_stac(local(work / "stac")), "--allow-read", str(work))
    assert code == 0 and "7" in out and "999" not in out, out


def test_the_resolvers_path_must_be_inside_the_read_roots(place, tmp_path):
    work, outside = place
    write_json(outside / "stac" / "collection.json", collection())
    write_json(outside / "stac" / "items" / "a.json", item("../secret.tif"))
    (work / "linked").symlink_to(outside / "stac", target_is_directory=True)  # escapes
    for where in (outside / "stac", work / "linked"):
        error = refused(load_stac(URL), resolver={URL: where}.get, allow_read=[work])
        assert error.code == "ProcessParameterInvalid" and error.diagnostics[0].argument == "url"
        no_leak(error.diagnostics[0].message, outside)
        # the CLI's resolver refuses what is outside: FeatureUnsupported, as for any URL
        code, out = run_cli(tmp_path, load_stac(local(where)), "--allow-read", str(work))
        assert code == 1 and "FeatureUnsupported" in out and "999" not in out


def test_load_url_reads_only_gtiff_through_the_gtiff_driver(place, server, tmp_path):
    work, outside = place
    base, requests = server
    (work / "evil.tif").write_text(vrt(str(outside / "secret.tif")))
    (work / "net.tif").write_text(vrt(f"/vsicurl/{base}/x.tif"))
    for name in ("evil.tif", "net.tif"):
        path = work / name
        for options in ({}, {"allow_read": [work]}):
            error = refused(load_url(URL), resolver={URL: path}.get, **options)
            assert error.code == "FormatUnsuitable", error.diagnostics[0].message
            no_leak(error.diagnostics[0].message, outside)
            assert str(work) not in error.diagnostics[0].message
        code, out = run_cli(tmp_path, load_url(local(path)), "--allow-read", str(work))
        assert code == 1 and "FormatUnsuitable" in out and "999" not in out, out
        no_leak(out, outside)
    assert requests == []
    cube = execute(load_url(URL), resolver={URL: work / "inside.tif"}.get,
                   allow_read=[work]).value  # fmt: skip
    assert (cube.data.values == 1).all()


def test_load_url_outside_the_allowed_folders(place, server, tmp_path):
    work, outside = place
    base, requests = server
    (work / "link.tif").symlink_to(outside / "secret.tif")
    for path in (outside / "secret.tif", work / "link.tif", work / ".." / "outside/secret.tif"):
        error = refused(load_url(URL), resolver={URL: path}.get, allow_read=[work])
        assert error.code == "ProcessParameterInvalid"
        no_leak(error.diagnostics[0].message, outside)
        code, out = run_cli(tmp_path, load_url(local(path)), "--allow-read", str(work))
        assert code == 1 and "FeatureUnsupported" in out and "999" not in out, out
    for url in (f"{base}/x.tif", f"https://pgc-files.invalid/vsicurl/{base}/x.tif",
                f"https://pgc-files.invalid:{base.rsplit(':', 1)[1]}{work}/inside.tif",
                f"{base.replace('127.0.0.1', 'pgc-files.invalid')}{work}/inside.tif",
                f"https://user@pgc-files.invalid{work}/inside.tif"):  # fmt: skip
        code, out = run_cli(tmp_path, load_url(url), "--allow-read", str(work))
        assert code == 1 and "FeatureUnsupported" in out, out
    assert requests == []
    code, out = run_cli(tmp_path, load_url(local(work / "inside.tif")), "--allow-read", str(work))
    assert code == 0, out


def test_netcdf_and_geojson_of_load_url(place, tmp_path):
    import xarray as xr

    work, outside = place
    xr.Dataset({"v": (("y", "x"), np.full((2, 2), 999.0))}).to_netcdf(outside / "s.nc")
    (work / "s.nc").symlink_to(outside / "s.nc")
    error = refused(load_url(URL, "netCDF"), resolver={URL: work / "s.nc"}.get,
                    allow_read=[work])  # fmt: skip
    assert error.code == "ProcessParameterInvalid"
    no_leak(error.diagnostics[0].message, outside)
    big = work / "big.geojson"
    with open(big, "w") as file:  # sparse: 65 MB of nothing
        file.truncate(65 * 2**20)
    error = refused(load_url(URL, "GeoJSON"), resolver={URL: big}.get, allow_read=[work])
    assert error.code == "ProcessParameterInvalid" and "64 MB" in error.diagnostics[0].message
    (work / "a.geojson").write_text(json.dumps({"type": "Point", "coordinates": [1, 2]}))
    value = execute(load_url(URL, "GeoJSON"), resolver={URL: work / "a.geojson"}.get,
                    allow_read=[work]).value  # fmt: skip
    assert value.dims == ("geometry",)


def test_without_allow_read_the_cli_reads_nothing(place, tmp_path):
    work, _ = place
    code, out = run_cli(tmp_path, load_url(local(work / "inside.tif")))
    assert code == 1 and "FeatureUnsupported" in out


# -- operator folders ------------------------------------------------------------------------


def test_an_operators_folder_is_checked_when_added(place):
    work, outside = place
    STAC_ATTACKS["dotdot"](work, outside, "")
    with pytest.raises(AccessDenied, match="asset 'B04' of item 'a' points outside") as info:
        Catalog().add_folder(work / "stac")
    no_leak(str(info.value), outside)


def test_an_operators_vrt_is_refused_when_read(place):
    work, outside = place
    STAC_ATTACKS["vrt_asset"](work, outside, "")
    catalog = Catalog()
    catalog.add_folder(work / "stac")  # the href is inside; the file is not a GeoTIFF
    graph = {"l": {"process_id": "load_collection", "result": True, "arguments": {
        "id": "USER", "spatial_extent": None, "temporal_extent": None}}}  # fmt: skip
    error = refused(graph, catalog=catalog)
    assert error.code == "Internal" and "is not a GeoTIFF" in error.diagnostics[0].message
    no_leak(error.diagnostics[0].message, outside)


# -- the module itself -----------------------------------------------------------------------


def test_check_resolves_symlinks_and_hides_paths(place):
    work, outside = place
    access = ReadAccess((work,))
    assert access.check(work / "inside.tif") == (work / "inside.tif").resolve()
    assert access.check(work / "x" / ".." / "inside.tif") == (work / "inside.tif").resolve()
    (work / "link.tif").symlink_to(outside / "secret.tif")
    for path in (outside / "secret.tif", work / "link.tif", work / ".." / "outside",
                 outside / "missing.tif", "/vsicurl/http://127.0.0.1/x.tif"):  # fmt: skip
        with pytest.raises(AccessDenied) as info:
            access.check(path, "the file")
        no_leak(str(info.value), outside)
    with pytest.raises(FileMissing):
        access.check(work / "missing.tif")
    (work / "inner").mkdir()
    (work / "inner" / "ok.tif").symlink_to(work / "inside.tif")  # a symlink inside: fine
    assert ReadAccess((work / "inner",)).inside(work / "inner" / "ok.tif") is None
    assert access.check(work / "inner" / "ok.tif") == (work / "inside.tif").resolve()


def test_check_href_refuses_urls_gdal_paths_and_escapes(place):
    work, outside = place
    for href in ("http://127.0.0.1/x.tif", "https://x", "file:///etc/passwd", "s3://b/k",
                 "/vsicurl/http://x", "/vsicurl?url=http://x", "../x.tif", "/etc/passwd",
                 str(outside / "secret.tif"), "", None, 3, "a\x00b", "vsimem/../../x"):  # fmt: skip
        with pytest.raises(AccessDenied) as info:
            check_href(work / "items" if href == "../x.tif" else work, href)
        no_leak(str(info.value), outside)
    assert check_href(work, "inside.tif") == (work / "inside.tif").resolve()
    assert check_href(work, "items/../inside.tif") == (work / "inside.tif").resolve()
    assert check_href(work, "vsi_2020/a.tif") == work.resolve() / "vsi_2020" / "a.tif"


def test_open_raster_uses_the_gtiff_driver_only(place):
    work, outside = place
    (work / "evil.tif").write_text(vrt(str(outside / "secret.tif")))
    access = ReadAccess((work,))
    with access.open_raster(work / "inside.tif") as src:
        assert src.driver == "GTiff" and (src.read() == 1).all()
    with pytest.raises(FormatRefused) as info, access.open_raster(work / "evil.tif", "the file"):
        pass
    no_leak(str(info.value), outside)
    big = work / "big.json"
    with open(big, "w") as file:
        file.truncate(2**20 + 1)
    with pytest.raises(TooLarge):
        access.read_text(big, limit=2**20)


def test_folder_resolver(place, tmp_path, monkeypatch):
    work, outside = place
    monkeypatch.chdir(work)
    resolve = FolderResolver(ReadAccess((work,)))
    inside = (work / "inside.tif").resolve()
    assert resolve(str(work / "inside.tif")) == inside
    assert resolve(f"file://{work}/inside.tif") == inside
    assert resolve(f"file://localhost{work}/inside.tif") == inside
    assert resolve(local(work / "inside.tif")) == inside
    assert resolve(f"HTTP://PGC-FILES.invalid{work}/inside.tif") == inside
    assert resolve("inside.tif") == inside
    for url in (str(outside / "secret.tif"), f"file://{outside}/secret.tif", "http://x/a.tif",
                f"file://host{work}/inside.tif", f"/vsicurl/file://{work}/inside.tif",
                "../outside/secret.tif", f"file://{work}/inside.tif?x=1", None,
                local(outside / "secret.tif"), local(work / ".." / "outside" / "secret.tif"),
                f"https://pgc-files.invalid.example.com{work}/inside.tif",
                f"https://pgc-files.invalid:8080{work}/inside.tif",
                f"{local(work / 'inside.tif')}#x", "https://pgc-files.invalid"):  # fmt: skip
        assert resolve(url) is None
    import pickle

    assert pickle.loads(pickle.dumps(resolve)) == resolve
