"""One collection under many names (issue 21, item 4): any alias of a collection resolves
to it in validation, typing, execution (every executor) and explain; a name two
collections claim is an error when the catalog is configured, not a silent pick."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import node

import pgc
from pgc.data.catalog import Catalog, default_catalog
from pgc.errors import ConfigurationError
from pgc.validation import validate

SAMPLE = "SENTINEL2_L2A_SAMPLE"
WINDOW = {"west": 600000, "south": 5690000, "east": 600320, "north": 5690320, "crs": 32631}
ALIASES = ["S2_L2A_SAMPLE", "sentinel-2-l2a-sample"]


@pytest.fixture
def catalog() -> Catalog:
    """pgc's catalog with the sample collection known under two more names."""
    base = default_catalog()
    made = Catalog()
    for cid in base.ids():
        made.add(base.stac(cid), aliases=ALIASES if cid == SAMPLE else None)
    return made


def ndvi(name: str) -> dict:
    return {
        "l": node("load_collection", id=name, spatial_extent=WINDOW, bands=["B04", "B08"],
                  temporal_extent=["2023-06-01", "2023-08-01"]),
        "n": node("ndvi", result=True, data={"from_node": "l"}),
    }  # fmt: skip


@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("executor", ["reference", "numba", "dask"])
def test_an_alias_loads_the_collection_on_every_executor(catalog, alias, executor):
    session = pgc.Session(catalog=catalog, executor=executor)
    by_alias = session.run(ndvi(alias))
    by_id = session.run(ndvi(SAMPLE))
    assert by_alias.shape == by_id.shape == (2, 32, 32)
    np.testing.assert_array_equal(by_alias.values, by_id.values)


def test_an_alias_validates_types_and_explains(catalog):
    assert validate(ndvi("S2_L2A_SAMPLE"), catalog=catalog).ok
    wrong_band = ndvi("S2_L2A_SAMPLE")
    wrong_band["l"]["arguments"]["bands"] = ["B4", "B08"]
    codes = [d.code for d in validate(wrong_band, catalog=catalog).errors]
    assert codes == ["ProcessParameterInvalid"]  # typed with the collection's bands
    plan = pgc.Session(catalog=catalog).compile(ndvi("S2_L2A_SAMPLE"))
    assert plan.graph.result_node.type.dimension("x").size == 32
    assert "S2_L2A_SAMPLE" in plan.explain()
    (unknown,) = validate(ndvi("S2_L2A_SAMPL"), catalog=catalog).errors
    assert unknown.code == "CollectionNotFound"
    assert unknown.hint.startswith("did you mean 'S2_L2A_SAMPLE'")  # aliases are names too


def test_a_name_two_collections_claim_is_refused_when_configured(catalog):
    other = {**catalog.stac(SAMPLE), "id": "OTHER_SAMPLE"}
    other.pop("pgc:aliases")
    with pytest.raises(ConfigurationError) as caught:
        catalog.add(other, aliases=["S2_L2A_SAMPLE"])
    assert "S2_L2A_SAMPLE" in str(caught.value) and "OTHER_SAMPLE" in str(caught.value)
    assert SAMPLE in str(caught.value)
    assert "OTHER_SAMPLE" not in catalog  # nothing added
    with pytest.raises(ConfigurationError):  # an alias that is another collection's id
        catalog.add(other, aliases=[SAMPLE])
    with pytest.raises(ConfigurationError):  # an id that is another collection's alias
        catalog.add({**other, "id": "S2_L2A_SAMPLE"})


def test_aliases_are_listed_with_the_collection(catalog):
    assert catalog.stac("sentinel-2-l2a-sample")["id"] == SAMPLE
    assert catalog.stac(SAMPLE)["pgc:aliases"] == sorted(ALIASES)
    assert json.loads(json.dumps(catalog.stac(SAMPLE)))  # still a JSON document
