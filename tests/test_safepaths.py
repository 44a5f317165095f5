"""Writes stay inside the output (issue 16, class 2): user-given ids become safe file names,
final paths are checked to lie inside their folder, and nothing that exists is replaced
without an explicit overwrite; with it, pgc replaces only files and Zarr stores it could have
written, never a folder holding anything else."""

from __future__ import annotations

import json
import os

import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from pgc.data.safepaths import (
    MAX_COMPONENT,
    OutsideFolder,
    TargetExists,
    check_target,
    fresh_target,
    inside,
    is_zarr_store,
    path_component,
)
from pgc.runner import OutputError, execute

# -- path_component ---------------------------------------------------------------------------


def one_component(name: str) -> None:
    part = path_component(name)
    assert part and part not in (".", "..") and len(part) <= MAX_COMPONENT
    assert not {"/", "\\", "\x00"} & set(part)
    assert part.isascii() and part[0] not in ".-" and not part.endswith(".")
    assert os.path.basename(part) == part and os.path.normpath(part) == part
    assert path_component(name) == part  # stable


@settings(max_examples=examples(300), deadline=None)
@given(st.text(max_size=200))
def test_any_string_is_one_safe_component(name):
    one_component(name)


@settings(max_examples=examples(50), deadline=None)
@given(st.lists(st.text(max_size=40), min_size=2, max_size=40, unique=True))
def test_different_names_never_share_a_component(names):
    parts = [path_component(n) for n in names]
    assert len(set(parts)) == len(parts)
    # also on a case-insensitive file system
    assert len({p.lower() for p in parts}) == len(parts)


@pytest.mark.parametrize(
    "name",
    ["../../x", "..", ".", "", "/abs", "/tmp/x", "a/b", "a\\b", "a\x00b", "-rf", ".hidden",
     "con", "x" * 500, "\ud800", "é", "a.", "a--0123456789abcdef"],
)  # fmt: skip
def test_hostile_names(name):
    one_component(name)
    assert path_component(name) != name


def test_plain_lowercase_names_are_kept_and_lookalikes_are_not_confused():
    for name in ("mean", "a-0", "b-12", "save_mean", "load1.x"):
        assert path_component(name) == name
    hashed = path_component("Mean")
    assert hashed != "Mean" and path_component(hashed) != hashed  # never a fixed point
    assert path_component("../x") != path_component("..x") != path_component("x")


def test_inside_resolves_symlinks(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    assert inside(folder, folder / "a" / "b") == (folder / "a" / "b").resolve()
    for bad in (folder / ".." / "x", tmp_path / "x", folder, folder / "a" / ".." / ".."):
        with pytest.raises(OutsideFolder):
            inside(folder, bad)
    (folder / "link").symlink_to(tmp_path)
    with pytest.raises(OutsideFolder):
        inside(folder, folder / "link" / "x")


# -- targets ---------------------------------------------------------------------------------


def test_targets_that_exist_need_overwrite_and_foreign_folders_are_never_deleted(tmp_path):
    assert check_target(tmp_path / "new") == "new"
    (tmp_path / "empty").mkdir()
    assert check_target(tmp_path / "empty") == "new"
    (tmp_path / "f.tif").write_text("x")
    with pytest.raises(TargetExists, match="--overwrite"):
        check_target(tmp_path / "f.tif")
    fresh_target(tmp_path / "f.tif", overwrite=True)
    assert not (tmp_path / "f.tif").exists()
    (tmp_path / "secret").write_text("s")
    (tmp_path / "link").symlink_to(tmp_path / "secret")
    fresh_target(tmp_path / "link", overwrite=True)  # the link goes, not what it points to
    assert not (tmp_path / "link").is_symlink() and (tmp_path / "secret").read_text() == "s"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "zarr.json").write_text("{}")  # looks like a store, holds something else
    (foreign / "thesis.tex").write_text("t")
    for overwrite in (False, True):
        with pytest.raises(TargetExists):
            fresh_target(foreign, overwrite=overwrite)
    assert (foreign / "thesis.tex").read_text() == "t"


def tree(folder) -> dict:
    """Every path under ``folder`` with its content (files) or None (folders, links)."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            is_file = os.path.isfile(path) and not os.path.islink(path)
            out[rel] = open(path, "rb").read() if is_file else None  # noqa: SIM115
    return out


def small(fmt: str) -> dict:
    return {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {
            "id": "SENTINEL2_L2A_SAMPLE", "bands": ["B04"],
            "spatial_extent": {"west": 600000, "south": 5690000, "east": 600200,
                               "north": 5690200, "crs": 32631},
            "temporal_extent": ["2023-06-01", "2023-06-15"]}},
        "save": {"process_id": "save_result", "result": True,
                 "arguments": {"data": {"from_node": "load"}, "format": fmt}},
    }}  # fmt: skip


@pytest.mark.parametrize("executor", ["reference", "dask"])
def test_zarr_into_a_folder_with_files_is_refused_and_they_survive(tmp_path, executor):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("keep me")
    before = tree(tmp_path)
    for overwrite in (False, True):  # overwrite never deletes a folder pgc did not write
        with pytest.raises(OutputError, match="overwrite"):
            execute(small("ZARR"), output=out, executor=executor, overwrite=overwrite)
    assert tree(tmp_path) == before


def test_overwrite_replaces_a_zarr_store_pgc_wrote(tmp_path):
    import xarray as xr

    out = tmp_path / "out.zarr"
    execute(small("ZARR"), output=out)
    assert is_zarr_store(out)
    with pytest.raises(OutputError, match="--overwrite"):
        execute(small("ZARR"), output=out)
    (out / "values" / "zarr.json").write_text((out / "values" / "zarr.json").read_text())
    result = execute(small("ZARR"), output=out, overwrite=True)
    assert result.written == [out]
    with xr.open_zarr(out, consolidated=False) as stored:
        assert stored["values"].shape == (1, 1, 20, 20)
    (out / "notes.txt").write_text("mine")  # no longer only a store: refused
    with pytest.raises(OutputError, match="did not write"):
        execute(small("ZARR"), output=out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(("fmt", "name"), [("GTiff", "o.tif"), ("netCDF", "o.nc"),
                                           ("JSON", "o.json"), ("CSV", "o.csv")])  # fmt: skip
def test_files_that_exist_are_replaced_only_with_overwrite(tmp_path, fmt, name):
    target = tmp_path / name
    target.write_text("precious")
    with pytest.raises(OutputError, match="--overwrite"):
        execute(small(fmt), output=target)
    assert target.read_text() == "precious"
    result = execute(small(fmt), pipeline="none")
    with pytest.raises(OutputError, match="--overwrite"):
        result.write(target)
    assert result.write(target, overwrite=True) == [target]
    assert target.read_bytes() != b"precious"


def test_several_outputs_are_all_checked_before_any_is_written(tmp_path):
    graph = small("GTiff")
    graph["process_graph"]["save"].pop("result")
    graph["process_graph"]["again"] = {"process_id": "save_result", "result": True, "arguments": {
        "data": {"from_node": "load"}, "format": "GTiff"}}  # fmt: skip
    (tmp_path / "o_2.tif").write_text("precious")
    with pytest.raises(OutputError, match="o_2.tif exists"):
        execute(graph, output=tmp_path / "o.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o_2.tif"]


def test_cli_run_refuses_without_overwrite(tmp_path, capsys):
    from pgc.cli import main

    (tmp_path / "g.json").write_text(json.dumps(small("GTiff")))
    out = tmp_path / "o.tif"
    out.write_text("precious")
    assert main(["run", str(tmp_path / "g.json"), "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_text() == "precious"
    assert main(["run", str(tmp_path / "g.json"), "-o", str(out), "--overwrite"]) == 0
    assert out.read_bytes()[:2] in (b"II", b"MM")  # a TIFF now
    png = tmp_path / "p.png"
    png.write_text("precious")  # the preview is an output too
    assert main(["run", str(tmp_path / "g.json"), "--preview", str(png)]) == 2
    assert "--overwrite" in capsys.readouterr().err and png.read_text() == "precious"
    zarr = tmp_path / "z"
    zarr.mkdir()
    (zarr / "sentinel").write_text("s")
    (tmp_path / "z.json").write_text(json.dumps(small("ZARR")))
    assert main(["run", str(tmp_path / "z.json"), "-o", str(zarr), "--overwrite"]) == 2
    assert "did not write" in capsys.readouterr().err
    assert os.listdir(zarr) == ["sentinel"]


# -- federations -----------------------------------------------------------------------------


def fed_graph(node_id: str) -> dict:
    """Load, mean over time on the data's member (``node_id``), scale elsewhere."""
    return {"process_graph": {
        "load": {"process_id": "load_collection", "arguments": {
            "id": "S2", "spatial_extent": {"west": 600000, "south": 5690000, "east": 600300,
                                           "north": 5690300, "crs": 32631},
            "temporal_extent": ["2023-01-01", "2024-01-01"], "bands": ["B04"]}},
        node_id: {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": "load"}, "dimension": "t", "reducer": {"process_graph": {
                "m": {"process_id": "mean", "arguments": {"data": {"from_parameter": "data"}},
                      "result": True}}}}},
        "scaled": {"process_id": "apply", "result": True, "arguments": {
            "data": {"from_node": node_id}, "process": {"process_graph": {
                "x": {"process_id": "multiply", "arguments": {"x": {"from_parameter": "x"},
                                                              "y": 0.0001}, "result": True}}}}},
    }}  # fmt: skip


def fed_description(first: str = "a", second: str = "b") -> dict:
    from pgc.specs import load_specs

    return {"members": [
        {"id": first, "url": "https://a.example", "collections": {"S2": "TERRASCOPE_S2"},
         "processes": ["load_collection", "reduce_dimension", "mean", "save_result"]},
        {"id": second, "url": "https://b.example", "processes": sorted(load_specs().ids())},
    ], "collections": {"S2": {"same_as": "SENTINEL2_L2A_SAMPLE"}}}  # fmt: skip


@pytest.mark.parametrize(
    ("node_id", "members"),
    [("../../x", ("a", "b")), ("/abs", ("a", "b")), ("..", ("a", "b")),
     ("mean", ("../../m", "b")), ("../y", ("/abs/m", "..")), (".", (".", "../.."))],
)  # fmt: skip
def test_the_local_federation_writes_only_inside_its_folder(tmp_path, node_id, members):
    from pgc.federation import Federation, federate
    from pgc.federation.local import LocalFederation
    from pgc.federation.split import SCHEME

    fed = Federation.from_json(fed_description(*members))
    folder = tmp_path / "deep" / "er" / "fed"
    folder.mkdir(parents=True)
    before = tree(tmp_path)
    document = fed_graph(node_id)
    result = federate(document, fed)
    run = LocalFederation(fed, folder).run(result.split)
    (url,) = run.moved  # the hostile node's value crossed (less than the load's)
    assert result.split.crossings[0][0] == node_id
    assert url.startswith(SCHEME) and url.count("/") == SCHEME.count("/") + 1
    after = tree(tmp_path)
    new = set(after) - set(before)
    assert new and all(p.startswith(os.path.join("deep", "er", "fed") + os.sep) for p in new)
    assert {p: after[p] for p in before} == before  # nothing outside changed
    whole = execute(document, catalog=fed.catalog())
    assert (run.value.filled().values == whole.value.filled().values).all()


def test_the_local_federation_does_not_write_through_a_symlink(tmp_path):
    from pgc.federation import Federation, federate
    from pgc.federation.local import LocalFederation

    fed = Federation.from_json(fed_description())
    folder = tmp_path / "fed"
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (folder / "a-0").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match="outside"):
        LocalFederation(fed, folder).run(federate(fed_graph("mean"), fed).split)
    assert os.listdir(tmp_path / "elsewhere") == []
    (folder / "a-0").unlink()
    (folder / "a-0" / "mean").mkdir(parents=True)
    (folder / "a-0" / "mean" / "mine.txt").write_text("mine")  # not an exchange pgc wrote
    with pytest.raises(OutputError, match="did not write"):
        LocalFederation(fed, folder).run(federate(fed_graph("mean"), fed).split)
    assert os.listdir(folder / "a-0" / "mean") == ["mine.txt"]


def test_the_local_federation_replaces_its_own_exchange_folders(tmp_path):
    from pgc.federation import Federation, federate
    from pgc.federation.local import LocalFederation

    fed = Federation.from_json(fed_description())
    split = federate(fed_graph("mean"), fed).split
    first = LocalFederation(fed, tmp_path).run(split)
    again = LocalFederation(fed, tmp_path).run(split)
    assert first.moved == again.moved


@pytest.mark.parametrize("node_id", ["mean", "../../n"])
def test_compile_federation_writes_only_inside_its_folder(tmp_path, capsys, node_id):
    from pgc.cli import main

    work = tmp_path / "work"
    work.mkdir()
    absolute = str(tmp_path / "abs")  # an absolute member id: tmp_path/abs-0.json, before
    (work / "fed.json").write_text(json.dumps(fed_description("../escaped", absolute)))
    (work / "graph.json").write_text(json.dumps(fed_graph(node_id)))
    out = work / "out"
    before = tree(tmp_path)
    args = ["compile", str(work / "graph.json"), "--federation", str(work / "fed.json")]
    assert main([*args, "-o", str(out)]) == 0, capsys.readouterr()
    after = tree(tmp_path)
    new = set(after) - set(before)
    assert new and all(p == "work/out" or p.startswith("work/out/") for p in new), new
    assert {p: after[p] for p in before} == before
    plan = json.loads((out / "plan.json").read_text())
    assert [j["id"] for j in plan["jobs"]] == ["../escaped-0", f"{absolute}-1"]  # the ids
    files = sorted(os.listdir(out))
    assert files == sorted(["plan.json", *(j["file"] for j in plan["jobs"])])
    second = json.loads((out / plan["jobs"][1]["file"]).read_text())
    load = next(n for n in second["process_graph"].values() if n["process_id"] == "load_stac")
    assert load["arguments"]["url"] == plan["jobs"][0]["saves"][node_id]
    # the folder is not empty now: writing again needs --overwrite, which replaces our files
    (out / "notes.txt").write_text("mine")
    assert main([*args, "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args, "-o", str(out), "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(out)) == sorted([*files, "notes.txt"])


def test_compile_federation_does_not_write_to_a_file_or_through_links(tmp_path, capsys):
    from pgc.cli import main

    (tmp_path / "fed.json").write_text(json.dumps(fed_description()))
    (tmp_path / "graph.json").write_text(json.dumps(fed_graph("mean")))
    args = ["compile", str(tmp_path / "graph.json"), "--federation", str(tmp_path / "fed.json")]
    (tmp_path / "file").write_text("precious")
    assert main([*args, "-o", str(tmp_path / "file"), "--overwrite"]) == 2
    assert (tmp_path / "file").read_text() == "precious"
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.json").symlink_to(tmp_path / "file")  # outside: refused even with overwrite
    assert main([*args, "-o", str(out), "--overwrite"]) == 2
    assert (tmp_path / "file").read_text() == "precious"
    capsys.readouterr()
