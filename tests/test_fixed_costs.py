"""The per-run fixed costs of a hot plan, made smaller (issue 23: EVI at 1000x1000 through
``pgc.run`` within 2x the bandwidth bound), must not change what a run gives:

- :func:`pgc.executors.values.like` and :func:`~pgc.executors.values.picked` make the
  arrays xarray's public ``copy(data=...)`` and ``isel(..., drop=True)`` make, without
  sharing anything a user could change in one and see in the other;
- the plan cache's key of a document (:func:`pgc.runner._document_key`) is a faithful
  serialization: equal keys only for documents equal type for type;
- a kernel's all-valid result shares one read-only validity
  (:func:`~pgc.executors.values.all_valid_mask`).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st
from strategies import cubes

from pgc.executors.values import all_valid_mask, like, picked
from pgc.runner import _document_key


@st.composite
def decorated_cubes(draw) -> xr.DataArray:
    """Cubes' values with what xarray carries beside them: a name, attributes, a
    coordinate along a dimension that is not its index, and a scalar coordinate."""
    data = draw(cubes(nodata=False)).data
    dim = draw(st.sampled_from(data.dims))
    data = data.assign_coords(
        {"along": (dim, np.arange(data.sizes[dim]) * 2.5), "spatial_ref": np.int32(0)}
    )
    data.attrs = {"crs": "EPSG:32631", "nodata": draw(st.sampled_from([0, None, np.nan]))}
    data.coords["along"].attrs["units"] = "m"
    return data.rename(draw(st.sampled_from([None, "values"])))


@given(decorated_cubes(), st.data())
def test_like_and_picked_are_xarrays_own(data, draw):
    dim = draw.draw(st.sampled_from(data.dims))
    position = draw.draw(st.integers(0, data.sizes[dim] - 1))
    got, expected = picked(data, dim, position), data.isel({dim: position}, drop=True)
    xr.testing.assert_identical(got, expected)
    assert list(got.xindexes) == list(expected.xindexes)
    assert np.shares_memory(got.values, data.values)  # a view, as isel's

    values = np.arange(got.size, dtype="float64").reshape(got.shape)
    made = like(got, values)
    xr.testing.assert_identical(made, got.copy(data=values))
    assert made.values is values or np.shares_memory(made.values, values)
    renamed = like(got, values, {"other": 1})
    assert renamed.attrs == {"other": 1} and got.attrs == data.attrs
    with pytest.raises(ValueError):  # the fast constructor would take them
        like(got, values.reshape((*got.shape, 1)))

    # nothing a user changes in the result reaches the template, nor the cube it came from
    made.attrs["changed"] = True
    for name in made.coords:
        made.coords[name].attrs["changed"] = True
    assert "changed" not in got.attrs and "changed" not in data.attrs
    assert all("changed" not in data.coords[n].attrs for n in data.coords)
    assert all("changed" not in got.coords[n].attrs for n in got.coords)


def test_like_keeps_a_dask_array_lazy():
    da = pytest.importorskip("dask.array")
    template = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"), coords={"x": [1, 2, 3]})
    values = da.ones((2, 3), chunks=1)
    made = like(template, values)
    assert made.chunks is not None
    xr.testing.assert_identical(made.compute(), template.copy(data=np.ones((2, 3))))


PLAIN = [
    {"a": 1},
    {"a": 1.0},
    {"a": True},
    {"a": [1]},
    {"a": (1,)},
    {"a": "1"},
    {"a": None},
    {"a": -0.0},
    {"a": 0.0},
    {"b": 1},
    {"a": {"b": 1}},
    {"a": {"b": 1}, "c": 2},
    {"c": 2, "a": {"b": 1}},
]


def test_a_documents_key_tells_types_apart():
    keys = [_document_key(doc) for doc in PLAIN]
    assert len(set(keys)) == len(keys)  # 1, 1.0 and True differ; so do -0.0 and 0.0
    assert [_document_key(doc) for doc in PLAIN] == keys  # and it is the same again
    # a text stays a text, and can never be the key of another document
    assert _document_key('{"a": 1}') == ("text", '{"a": 1}')
    assert _document_key(b"x") == ("text", b"x")
    assert all(key[0] == "pickle" for key in keys)


def test_a_documents_key_of_other_types_is_their_json():
    ordered = collections.OrderedDict(a=1)
    assert _document_key(ordered) == ("json", '{"a": 1}')
    assert _document_key({"a": np.float64(1.5)}) == ("json", '{"a": 1.5}')
    with pytest.raises(TypeError):  # not JSON: the plan is compiled every time
        _document_key({"a": object()})


def test_all_valid_is_read_only():
    mask = all_valid_mask()
    assert bool(mask) and mask.ndim == 0 and all_valid_mask() is mask
    with pytest.raises(ValueError):
        mask.values[()] = False
