"""The other side of run_udf (:mod:`pgc.executors.reference.udf`): the message format both
processes use (JSON plus ``.npy`` arrays, never pickle) and the worker that runs a UDF in
its own process (``python -c`` ``ref_udf._BOOTSTRAP``). Only the UDF process calls
:func:`worker_main`; pgc's process only encodes and decodes."""

from __future__ import annotations

import inspect
import io
import json
import math
import struct
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

MAX_MESSAGE = 1000  # characters of a UDF's error message in the diagnostic
ARRAY = "array"  # the dimension of a plain array handed to the UDF
_MAGIC = b"PGCUDF1\n"
_DATA_KINDS = "biuf"  # numbers and booleans
_LABEL_KINDS = "biufUM"  # ... and strings and datetimes
REQUEST_FILE, REPLY_FILE = "request.bin", "reply.bin"  # in the folder both processes share


def labels_as_array(labels: list) -> np.ndarray:
    """Dimension labels as a numpy array of a kind a message may carry (numbers,
    booleans, strings, datetimes); anything else (objects, mixed kinds) as strings."""
    array = np.asarray(labels)
    return array if array.dtype.kind in _LABEL_KINDS else array.astype(str)


# ---------------------------------------------------------------------------------------
# The UDF process


def encode_message(meta: dict, array: xr.DataArray | None) -> bytes:
    """One message between pgc and the UDF worker: ``meta`` (JSON) and ``array`` (its
    dimensions, values and labels as ``.npy`` blobs without pickles); read by
    :func:`decode_message`."""
    blobs: list[bytes] = []
    if array is not None:
        coords = [d for d in array.dims if d in array.coords]
        meta = meta | {"array": {"dims": list(array.dims), "coords": coords}}
        blobs = [_npy(array.values, _DATA_KINDS)] + [
            _npy(labels_as_array(list(array[d].values)), _LABEL_KINDS) for d in coords
        ]
    header = json.dumps({"meta": meta, "sizes": [len(b) for b in blobs]}).encode()
    return _MAGIC + struct.pack("<Q", len(header)) + header + b"".join(blobs)


def _npy(values: np.ndarray, kinds: str) -> bytes:
    if values.dtype.kind not in kinds:
        values = values.astype("float64")  # e.g. object arrays of numbers; else ValueError
    out = io.BytesIO()
    np.save(out, values, allow_pickle=False)
    return out.getvalue()


def decode_message(message: bytes) -> tuple[dict, xr.DataArray | None]:
    """The meta data and the array of a message; raises ValueError (and kin) if malformed.
    Safe on untrusted bytes: JSON and ``.npy`` without pickles only."""
    if not message.startswith(_MAGIC):
        raise ValueError("not a pgc UDF message")
    start = len(_MAGIC) + 8
    (length,) = struct.unpack("<Q", message[len(_MAGIC) : start])
    header = json.loads(message[start : start + length])
    meta, sizes = header["meta"], header["sizes"]
    if not isinstance(meta, dict) or not all(isinstance(s, int) and s >= 0 for s in sizes):
        raise ValueError("malformed header")
    arrays, offset = [], start + length
    for size in sizes:
        arrays.append(np.load(io.BytesIO(message[offset : offset + size]), allow_pickle=False))
        offset += size
    if offset != len(message):
        raise ValueError("the message has trailing or missing bytes")
    if "array" not in meta:
        return meta, None
    return meta, _data_array(meta["array"], arrays)


def _data_array(spec: dict, arrays: list[np.ndarray]) -> xr.DataArray:
    dims, coords = spec["dims"], spec["coords"]
    data = arrays[0]
    if data.dtype.kind not in _DATA_KINDS:
        raise ValueError(f"values of dtype {data.dtype} (numbers expected)")
    if not all(isinstance(d, str) for d in dims) or len(set(dims)) != len(dims):
        raise ValueError("dimension names must be distinct strings")
    if len(dims) != data.ndim or len(coords) != len(arrays) - 1 or not set(coords) <= set(dims):
        raise ValueError("dimensions and arrays do not match")
    labels = {}
    for name, values in zip(coords, arrays[1:], strict=True):
        if values.ndim != 1 or len(values) != data.shape[dims.index(name)]:
            raise ValueError(f"the labels of {name!r} do not match its size")
        if values.dtype.kind not in _LABEL_KINDS:
            raise ValueError(f"labels of dtype {values.dtype}")
        labels[name] = values
    return xr.DataArray(data, dims=dims, coords=labels)


# ---------------------------------------------------------------------------------------
# The worker: runs in the UDF process (``python -c _BOOTSTRAP folder``), never in pgc's


class _ContractError(Exception):
    """The UDF does not follow the convention (no function, a wrong result ...)."""


_MEMORY_MB: list[float | None] = [None]  # the UDF process's memory limit, for messages


def worker_main(folder: str, settings: str | None = None) -> None:
    """Confine this process (``settings``: JSON from :func:`udf_sandbox.plan`, plus the
    memory limit), read the request, run the UDF, write the reply; every failure becomes a
    reply. Nothing of the user's runs before the confinement is complete."""
    from . import udf_sandbox

    base = Path(folder)
    options = json.loads(settings) if settings else {}
    try:
        import pandas  # noqa: F401 - before the confinement: the UDF namespace needs it

        udf_sandbox.confine(folder, options)
        # pgc's own request, read before the memory limit: the limit is the UDF's own
        # memory, on top of the worker's (Python, numpy, pandas, xarray - which imports
        # dask.array when it makes the DataArray - and the input: about 0.5 GB of address
        # space, more than a small limit would leave room for).
        request = decode_message((base / REQUEST_FILE).read_bytes())
        _MEMORY_MB[0] = udf_sandbox.limit_memory(options.get("memory_mb"))
    except Exception as exc:  # noqa: BLE001 - no confinement: the UDF must not run
        error = {"message": f"isolation failed: {type(exc).__name__}: {exc}", "sandbox": True}
        reply = encode_message({"error": error}, None)
    else:
        try:
            reply = encode_message({}, _apply_udf(*request))
        except BaseException as exc:  # noqa: BLE001 - the UDF's failure is the reply
            reply = encode_message({"error": _describe(exc)}, None)
    partial = base / (REPLY_FILE + ".part")
    partial.write_bytes(reply)
    partial.replace(base / REPLY_FILE)  # all or nothing: a killed worker leaves no reply


def _describe(exc: BaseException) -> dict:
    """The UDF's error: its message and the line in the UDF code, nothing of the worker."""
    message = str(exc) if isinstance(exc, _ContractError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError):
        limit = f" (limit {_MEMORY_MB[0]:g} MB)" if _MEMORY_MB[0] else ""
        message = f"the UDF ran out of memory{limit}: {message}"
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == "<udf>"]
    if isinstance(exc, SyntaxError) and exc.filename == "<udf>":
        lines.append(exc.lineno)
    return {"message": message[:MAX_MESSAGE], "line": lines[-1] if lines else None}


def _apply_udf(meta: dict, array: xr.DataArray) -> xr.DataArray:
    import pandas as pd

    namespace: dict[str, Any] = {
        "__name__": "udf",
        "np": np,
        "numpy": np,
        "xr": xr,
        "xarray": xr,
        "pd": pd,
        "pandas": pd,
        "math": math,
    }
    # The user's code runs here, in the UDF process; the pgc process never executes it.
    exec(compile(meta["code"], "<udf>", "exec"), namespace)  # noqa: S102
    context = meta["context"]
    for name in ("apply_datacube", "apply_hypercube"):
        if callable(namespace.get(name)):
            return _as_data_array(_call_datacube(namespace[name], array, context), array)
    if callable(namespace.get("apply_timeseries")):
        return _each_series(namespace["apply_timeseries"], array, meta["dimension"], context)
    found = [n for n in ("apply_vectorcube", "apply_udf_data", "apply_metadata") if n in namespace]
    if found:
        raise _ContractError(f"pgc does not support the UDF signature {found[0]}.")
    raise _ContractError(
        "No UDF found: define apply_datacube(cube, context) or apply_timeseries(series, context)."
    )


def _call_datacube(function: Any, array: xr.DataArray, context: Any) -> Any:
    parameters = _parameters(function)
    first = parameters[0] if parameters else None
    cube: Any = array
    if first is not None and "XarrayDataCube" in str(first.annotation):
        from openeo.udf import XarrayDataCube  # the legacy wrapper, if openeo is installed

        cube = XarrayDataCube(array)
    return _call(function, parameters, "cube", cube, context)


def _parameters(function: Any) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return []


def _call(function: Any, parameters: list, name: str, value: Any, context: Any) -> Any:
    """Call as openEO does (``name=value, context=context``), or positionally when the
    function names its parameters differently."""
    names = {p.name for p in parameters}
    if {name, "context"} <= names:
        return function(**{name: value, "context": context})
    if len(parameters) == 1:
        return function(value)
    return function(value, context)


def _as_data_array(result: Any, like: xr.DataArray) -> xr.DataArray:
    if callable(getattr(result, "get_array", None)):  # openeo's XarrayDataCube
        result = result.get_array()
    if isinstance(result, xr.DataArray):
        return result
    if isinstance(result, np.ndarray) and result.shape == like.shape:
        return like.copy(data=result)
    if result is None or isinstance(result, int | float | np.number):
        return xr.DataArray(np.nan if result is None else result)
    raise _ContractError(
        f"The UDF returned a {type(result).__name__}; an xarray.DataArray was expected."
    )


def _each_series(function: Any, array: xr.DataArray, dim: str | None, context: Any) -> Any:
    """``apply_timeseries`` on every pixel's series along ``dim`` (or the time dimension)."""
    import pandas as pd

    dim = dim or _time_dimension(array)
    moved = array.transpose(..., dim)
    rows = moved.values.reshape(-1, moved.shape[-1])
    index = pd.Index(moved[dim].values) if dim in moved.coords else None
    parameters = _parameters(function)
    out = np.empty(rows.shape, dtype="float64")
    for i, row in enumerate(rows):
        series = _call(function, parameters, "series", pd.Series(row, index=index), context)
        values = np.asarray(series, dtype="float64")
        if values.shape != row.shape:
            raise _ContractError("apply_timeseries must return a series as long as its input.")
        out[i] = values
    return moved.copy(data=out.reshape(moved.shape)).transpose(*array.dims)


def _time_dimension(array: xr.DataArray) -> str:
    for name in array.dims:
        if name in ("t", "time") or (
            name in array.coords and np.issubdtype(array[name].dtype, np.datetime64)
        ):
            return name
    raise _ContractError("apply_timeseries needs a temporal dimension.")
