"""The STAC test fixtures (tests/stac_fixture.py, issue 21) are real and say what they are:
nginx answers byte ranges with exactly those bytes and logs them, GDAL reads the COGs over
HTTP as from disk, the COGs are tiled with overviews and match their items, the scenes
cover two UTM zones with overlapping tiles, one overcast date and a no-data wedge, the
pgstac API finds by bbox, date and CQL2 filter what the items say it should, and the
static catalog reads with pystac. The expectations come from the items' own geometry and
properties (shapely, plain comparisons) and from the files read locally, not from the
servers' answers.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
import stac_fixture
from rasterio.windows import Window
from stac_fixture import Nginx, Scenes, StacApi

stac_scenes = stac_fixture.stac_scenes
cog_server = stac_fixture.cog_server
stac_api = stac_fixture.stac_api
stac_scenes_large = stac_fixture.stac_scenes_large
cog_server_large = stac_fixture.cog_server_large

# GDAL over HTTP as the research found it cheapest: no directory listing or sidecar probes
VSICURL = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_PAM_ENABLED": "NO",
           "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif"}  # fmt: skip


def _date(item: dict) -> datetime:
    return datetime.fromisoformat(item["properties"]["datetime"].replace("Z", "+00:00"))


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as answer:
        return answer.status, dict(answer.headers), answer.read()


def test_nginx_answers_a_range_with_exactly_its_bytes_and_logs_them(
    stac_scenes: Scenes, cog_server: Nginx
) -> None:
    href = stac_scenes.items[0]["assets"]["red"]["href"]
    whole = (stac_scenes.root / href).read_bytes()
    cog_server.reset()
    status, headers, body = _get(f"{cog_server.url}/{href}", {"Range": "bytes=1000-4999"})
    assert status == 206
    assert headers["Content-Range"] == f"bytes 1000-4999/{len(whole)}"
    assert body == whole[1000:5000]
    status, _, tail = _get(f"{cog_server.url}/{href}", {"Range": "bytes=-100"})
    assert (status, tail) == (206, whole[-100:])
    entries = cog_server.entries()
    assert [(e["method"], e["uri"], e["status"], e["range"], e["body_bytes_sent"])
            for e in entries] == [
        ("GET", f"/{href}", 206, "bytes=1000-4999", 4000),
        ("GET", f"/{href}", 206, "bytes=-100", 100),
    ]  # fmt: skip
    assert cog_server.body_bytes() == 4100
    assert cog_server.body_bytes(f"/{href.rsplit('/', 1)[0]}/") == 4100
    assert cog_server.body_bytes("/catalog/") == 0
    cog_server.reset()
    assert cog_server.entries() == []
    with pytest.raises(urllib.error.HTTPError) as listing:  # no directory listings
        _get(f"{cog_server.url}/cogs/")
    assert listing.value.code == 404


def test_gdal_reads_a_window_over_http_as_from_disk_with_range_requests_only(
    stac_scenes: Scenes, cog_server: Nginx
) -> None:
    item = next(i for i in stac_scenes.items if i["properties"]["proj:epsg"] == 32631)
    href = item["assets"]["nir"]["href"]
    window = Window(300, 280, 200, 150)  # inside the 256-px block (1, 1)
    with rasterio.open(stac_scenes.root / href) as local:
        expected = local.read(1, window=window)
    cog_server.reset()
    url = f"{cog_server.url}/{href}"
    # a fresh read: GDAL keeps what it fetched for the whole process otherwise
    with (
        rasterio.Env(**VSICURL, CPL_VSIL_CURL_NON_CACHED=f"/vsicurl/{url}"),
        rasterio.open(f"/vsicurl/{url}") as remote,
    ):
        got = remote.read(1, window=window)
    np.testing.assert_array_equal(got, expected)
    assert expected.any()
    entries = cog_server.entries()
    assert {e["uri"] for e in entries} == {f"/{href}"}  # no listing, no sidecar probes
    assert all(e["range"] for e in entries if e["method"] == "GET")
    size = (stac_scenes.root / href).stat().st_size
    # the header and one block of a 16-block file, in 16 KB chunks
    assert 0 < cog_server.body_bytes() < size / 4


def test_the_cogs_are_tiled_with_two_overviews_and_match_their_items(
    stac_scenes: Scenes,
) -> None:
    first = [i for i in stac_scenes.items if i["properties"]["datetime"].startswith("2023-06-01")]
    assert len(first) == 8
    for item in first:
        assert set(item["assets"]) == {"red", "green", "nir", "scl"}
        for band, asset in item["assets"].items():
            path = stac_scenes.root / asset["href"]
            with rasterio.open(path) as src:
                structure = src.tags(ns="IMAGE_STRUCTURE")
                assert structure["LAYOUT"] == "COG"
                assert (structure["COMPRESSION"], structure["PREDICTOR"]) == ("DEFLATE", "2")
                assert src.block_shapes == [(256, 256)]
                assert src.overviews(1) == [2, 4]
                assert src.nodata == 0
                assert src.dtypes[0] == ("uint8" if band == "scl" else "uint16")
                assert src.res == ((20.0, 20.0) if band == "scl" else (10.0, 10.0))
                assert asset["proj:shape"] == [src.height, src.width]
                assert asset["proj:transform"] == list(src.transform)[:6]
                assert asset["proj:bbox"] == list(src.bounds)
                assert asset["proj:epsg"] == src.crs.to_epsg() == item["properties"]["proj:epsg"]
                assert asset["proj:code"] == f"EPSG:{src.crs.to_epsg()}"
                assert asset["raster:bands"][0]["data_type"] == src.dtypes[0]
            assert asset["file:size"] == path.stat().st_size
            assert asset["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
        red = item["assets"]["red"]
        assert red["eo:bands"] == [{"name": "B04", "common_name": "red",
                                    "center_wavelength": 0.665}]  # fmt: skip
        assert (red["raster:bands"][0]["scale"], red["raster:bands"][0]["offset"]) == (1e-4, -0.1)


def test_two_zones_overlapping_tiles_one_overcast_date_and_a_nodata_wedge(
    stac_scenes: Scenes,
) -> None:
    from shapely.geometry import Point, shape
    from shapely.ops import unary_union

    items = stac_scenes.items
    assert len(items) == 8 * 4 and len({i["id"] for i in items}) == 32
    zone = {e: [i for i in items if i["properties"]["proj:epsg"] == e] for e in (32631, 32632)}
    assert len(zone[32631]) == len(zone[32632]) == 16
    # the zones overlap around 6 deg E, and the tiles of a zone overlap each other
    both = unary_union([shape(i["geometry"]) for i in zone[32631]]).intersection(
        unary_union([shape(i["geometry"]) for i in zone[32632]])
    )
    assert both.contains(Point(6.0, 49.5)) and both.area > 0
    tiles = {i["id"].split("_")[1]: shape(i["geometry"]) for i in items}
    assert tiles["32UAP"].intersection(tiles["32UBP"]).area > 0
    assert tiles["31UAP"].intersection(tiles["31UAQ"]).area > 0
    # zone 32's items are 10 s older than zone 31's of the same pass
    for mine in zone[32632]:
        other = next(i for i in zone[32631] if _date(i).date() == _date(mine).date())
        assert (_date(other) - _date(mine)).total_seconds() == 10
    # one date overcast everywhere, the others under 90 % and not all alike
    cover: dict = {}
    for item in items:
        cover.setdefault(_date(item).date(), []).append(item["properties"]["eo:cloud_cover"])
    overcast = [d for d, c in cover.items() if min(c) >= 90]
    assert [str(d) for d in overcast] == ["2023-06-11"]
    clear = [c for d, cs in cover.items() if d not in overcast for c in cs]
    assert max(clear) < 90 and len(set(clear)) > 4
    # the wedge: zeros exactly where an item says it lacks data
    for item in items:
        with rasterio.open(stac_scenes.path(item, "red")) as src:
            zeros = float((src.read(1) == 0).mean() * 100)
        assert zeros == pytest.approx(item["properties"]["s2:nodata_pixel_percentage"], abs=0.01)
    assert sum(i["properties"]["s2:nodata_pixel_percentage"] > 30 for i in items) == 4


def test_overlapping_tiles_of_a_zone_show_the_same_ground(stac_scenes: Scenes) -> None:
    """Tiles are sampled from one field grid: where two tiles of a zone overlap, the scene
    classification agrees and the reflectances differ by the per-pixel noise only."""
    west, east = (next(i for i in stac_scenes.items if f"_{name}_20230606" in i["id"])
                  for name in ("32UAP", "32UBP"))  # fmt: skip
    with rasterio.open(stac_scenes.path(west, "scl")) as a, \
            rasterio.open(stac_scenes.path(east, "scl")) as b:  # fmt: skip
        overlap = a.bounds.right - b.bounds.left
        assert overlap == 1240
        cols = int(overlap // 20)
        ours = a.read(1, window=Window(a.width - cols, 0, cols, a.height))
        theirs = b.read(1, window=Window(0, 0, cols, b.height))
    assert (ours == theirs).mean() > 0.999
    assert len(np.unique(ours)) >= 4  # vegetation, bare ground, clouds, shadows ...
    with rasterio.open(stac_scenes.path(west, "red")) as a, \
            rasterio.open(stac_scenes.path(east, "red")) as b:  # fmt: skip
        cols = 124
        ours = a.read(1, window=Window(a.width - cols, 0, cols, a.height)).astype(float)
        theirs = b.read(1, window=Window(0, 0, cols, b.height)).astype(float)
    both = (ours > 0) & (theirs > 0)
    assert both.mean() > 0.5
    difference = (ours - theirs)[both]
    # two independent N(0, 25) noises: the difference has a spread of 25 * sqrt(2)
    assert abs(difference.mean()) < 2 and 30 < difference.std() < 42
    assert ours[both].std() > 3 * difference.std()  # the ground varies more than the noise


def test_the_pgstac_api_searches_by_bbox_datetime_and_cql2_filter(
    stac_scenes: Scenes, stac_api: StacApi, cog_server: Nginx
) -> None:
    from pystac_client import Client
    from shapely.geometry import box, shape

    bbox = [5.99, 49.50, 6.00, 49.52]  # across 6 deg E: the tiles of both zones hold it

    def expected(keep) -> set[str]:
        return {i["id"] for i in stac_scenes.items
                if shape(i["geometry"]).intersects(box(*bbox)) and keep(i)}  # fmt: skip

    client = Client.open(stac_api.url)
    assert [c.id for c in client.get_collections()] == ["sentinel-2-l2a"]
    found = client.search(collections=["sentinel-2-l2a"], bbox=bbox,
                          datetime="2023-06-01/2023-06-08", max_items=100)  # fmt: skip
    ids = {i["id"] for i in found.items_as_dicts()}
    assert ids == expected(lambda i: _date(i).day < 8)
    assert {i.split("_")[1][:2] for i in ids} == {"31", "32"} and len(ids) == 4
    clear = client.search(
        collections=["sentinel-2-l2a"], bbox=bbox, max_items=100, filter_lang="cql2-json",
        filter={"op": "<", "args": [{"property": "eo:cloud_cover"}, 90]},
    )  # fmt: skip
    found_dicts = list(clear.items_as_dicts())
    ids = {i["id"] for i in found_dicts}
    assert ids == expected(lambda i: i["properties"]["eo:cloud_cover"] < 90)
    assert len(ids) == 6 and not any("20230611" in i for i in ids)
    # the assets point at the COG server, which serves them
    href = found_dicts[0]["assets"]["red"]["href"]
    assert href.startswith(f"{cog_server.url}/cogs/")
    status, _, _ = _get(href, {"Range": "bytes=0-15"})
    assert status == 206


def test_the_static_catalog_reads_with_pystac_from_disk_and_over_http(
    stac_scenes: Scenes, cog_server: Nginx, tmp_path: Path
) -> None:
    import pystac

    ids = sorted(i["id"] for i in stac_scenes.items)
    local = pystac.Collection.from_file(str(stac_scenes.static_collection))
    items = list(local.get_items())
    assert sorted(i.id for i in items) == ids
    path = Path(items[0].assets["red"].get_absolute_href())
    assert path.is_file() and path.resolve().is_relative_to(stac_scenes.root.resolve())
    remote = pystac.Collection.from_file(f"{cog_server.url}/catalog/collection.json")
    item = next(iter(remote.get_items()))
    href = item.assets["nir"].get_absolute_href()
    assert href.startswith(f"{cog_server.url}/cogs/") and _get(href)[0] == 200
    # absolute asset hrefs under a base URL
    written = stac_scenes.write_static_catalog(tmp_path / "catalog", base="http://example.test")
    again = pystac.Collection.from_file(str(written))
    hrefs = {a.href for i in again.get_items() for a in i.assets.values()}
    assert len(hrefs) == 32 * 4 and all(h.startswith("http://example.test/cogs/") for h in hrefs)


def test_redirects_go_where_they_are_told(stac_scenes: Scenes, cog_server: Nginx) -> None:
    href = stac_scenes.items[0]["assets"]["red"]["href"]
    with Nginx(stac_scenes.root, redirect_to=cog_server.url) as redirecting:
        connection = http.client.HTTPConnection("127.0.0.1", redirecting.port, timeout=10)
        connection.request("GET", f"/redirect/{href}")
        answer = connection.getresponse()
        answer.read()
        connection.close()
        assert answer.status == 302
        assert answer.getheader("Location") == f"{cog_server.url}/{href}"
        assert _get(f"{redirecting.url}/{href}")[0] == 200  # the rest is served as usual
    assert redirecting.process is not None and redirecting.process.poll() is not None


def test_the_large_scenes_make_a_one_percent_window_50x_cheaper_than_the_assets(
    stac_scenes_large: Scenes, cog_server_large: Nginx
) -> None:
    """The layout of the issue's bytes criterion (4096-px tiles of 256-px blocks): a 1 %
    window within 2 x 2 blocks of 3 bands costs at least 50x less than the 3 whole assets."""
    (item,) = [i for i in stac_scenes_large.items if "32UBQ" in i["id"]]
    window = Window(256 * 7 + 40, 256 * 9 + 30, 410, 410)  # 1 % of 4096², 2 x 2 blocks
    whole = cost = 0
    for band in ("red", "green", "nir"):
        href = item["assets"][band]["href"]
        with rasterio.open(stac_scenes_large.root / href) as src:
            assert src.shape == (4096, 4096) and src.block_shapes == [(256, 256)]
            assert src.overviews(1) == [2, 4]
            expected = src.read(1, window=window)
        url = f"{cog_server_large.url}/{href}"
        cog_server_large.reset()
        with (
            rasterio.Env(**VSICURL, CPL_VSIL_CURL_NON_CACHED=f"/vsicurl/{url}"),
            rasterio.open(f"/vsicurl/{url}") as remote,
        ):
            np.testing.assert_array_equal(remote.read(1, window=window), expected)
        cost += cog_server_large.body_bytes()
        whole += item["assets"][band]["file:size"]
    assert whole / cost >= 50
