"""xarray without dask.array until something else imports it (issue 23, "No waste at the edges").

Where dask is installed, xarray imports ``dask.array`` the first time it asks whether an
array is a dask array (``array_type("dask")`` in ``as_compatible_data``, on the first
``DataArray``): 0.5 s of a 1.8 s ``pgc run examples/evi.json`` went to dask.array and the
scipy.sparse it imports, in runs that never use dask. No object can be a
``dask.array.Array`` before ``dask.array`` is imported, so the answer "no dask array type"
is exact until then, and the dask array type once it is: :func:`defer_dask_array` gives
xarray a record of dask that answers so. xarray has no option for this; the record goes
into its cache of duck-array modules (``xarray.namedarray.pycompat``), and where that cache
is not there (another xarray) nothing changes but the time. ``tests/test_startup.py`` pins
that a run with the reference executor leaves ``dask.array`` unimported.

What the record does not cover: xarray's ``is_dask_collection`` still imports ``dask.base``
(about 0.07 s, no scipy) when dask is installed.

>>> defer_dask_array()
>>> import numpy as np, xarray as xr
>>> float(xr.DataArray(np.ones(2)).sum())
2.0
"""

from __future__ import annotations

import sys
from typing import Any


def defer_dask_array() -> None:
    """Make xarray's question "is this a dask array?" import nothing while ``dask.array``
    is not imported (the answer is then no). Idempotent; a no-op once xarray has asked."""
    try:
        from xarray.namedarray import pycompat
    except ImportError:  # pragma: no cover - xarray is a dependency
        return
    cache = getattr(pycompat, "_cached_duck_array_modules", None)
    base = getattr(pycompat, "DuckArrayModule", None)
    if not isinstance(cache, dict) or base is None or "dask" in cache:
        return
    cache["dask"] = _dask_record(base)


def _dask_record(base: type) -> Any:
    """xarray's record of the dask module (a ``DuckArrayModule``) whose ``type`` is read
    from ``sys.modules`` on each use and whose other fields import dask when asked."""

    class DaskOnceImported(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:  # no import here: that is the point
            self._real: Any = None

        @property
        def type(self) -> tuple[type, ...]:
            array = sys.modules.get("dask.array")
            kind = getattr(array, "Array", None)  # None while dask.array is half imported
            return (kind,) if isinstance(kind, type) else ()

        @property
        def module(self) -> Any:
            return self.real().module

        @property
        def version(self) -> Any:
            return self.real().version

        @property
        def available(self) -> bool:
            return self.real().available

        def real(self) -> Any:
            """xarray's own record of dask, made (dask imported) on first need."""
            if self._real is None:
                self._real = base("dask")
            return self._real

    return DaskOnceImported()
