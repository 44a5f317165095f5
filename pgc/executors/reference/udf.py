"""run_udf: Python UDFs, only when the embedding application enables them.

pgc never runs user code on its own: ``run_udf`` fails with ``FeatureUnsupported`` unless
the embedding application sets ``RunContext.python_udf`` (``pgc.runner.execute(...,
python_udf=True)``). Then a UDF whose ``runtime`` is ``Python`` (any case) runs in a **new
Python process** (``sys.executable``), never in the pgc process, with a time limit
(:data:`TIMEOUT_SECONDS`, or ``RunContext.udf_timeout`` when it is set; it includes
starting the process, about a second; over it: ``UdfTimeout``) and a memory limit
(:data:`MEMORY_MB` of address space, ``RLIMIT_AS``, or ``RunContext.udf_memory_mb`` /
``execute(..., udf_memory_mb=...)``, counted beyond what the worker maps when the UDF's code
starts: Python, numpy, pandas, xarray and the input, about 0.5 GB; past it: ``UdfError``
"the UDF ran out of memory").

Isolation (:mod:`pgc.executors.udf_sandbox`; :func:`isolation` reports what is active, and
pgc logs one warning naming what is missing). On Linux with ``unshare(1)`` and namespaces
permitted (root, or unprivileged user namespaces):

==============  ===================================================  ==================
protection      mechanism (namespaces level)                         without namespaces
==============  ===================================================  ==================
time            the process tree is killed after the time limit      the same
memory          ``RLIMIT_AS``, set before user code runs             the same
processes       new PID namespace, the worker its PID 1: when it     a subreaper parent
                ends, the kernel kills all in it (``setsid`` too)    kills what is left
network         new network namespace: a loopback that is down       NOT ENFORCED
parent_environ  a fresh ``/proc`` without pgc's processes            pgc not dumpable
                                                                     (not against root)
writes          private mount namespace: all mounts read-only,       NOT ENFORCED
                nosuid, nodev but the scratch folder; tiny /dev
privileges      no capabilities, no_new_privs; root runs it as       NOT ENFORCED
                ``nobody``
process_count   ``RLIMIT_NPROC`` (``udf_sandbox.NPROC``), as nobody  NOT ENFORCED
==============  ===================================================  ==================

Without namespaces (``unshare`` missing or refused, e.g. a container's seccomp profile, or
``Options(udf_namespaces=False)``, ``PGC_UDF_NO_NAMESPACES=1`` on the command line) the UDF
has the time and memory limits and its processes are killed at the end (unless it kills its
supervisor first), but it can use the network and write wherever pgc's user can: run pgc in
a container without network and with a read-only file system then. Never enforced here:
reading files the UDF's uid may read (world-readable files; everything of pgc's user when
pgc is not root and has no namespaces), CPU use within the time limit, the size of what it
writes to its scratch folder (disk), world-writable Unix sockets on the file system, and
kernel attacks (no seccomp filter): a container or VM with its own limits is the operator's
answer to those.

The UDF follows the openEO Python UDF convention (``openeo.udf``), without needing the
``openeo`` package:

- ``apply_datacube(cube: xarray.DataArray, context: dict) -> xarray.DataArray`` (also
  under its older name ``apply_hypercube``; a ``cube`` annotated as ``XarrayDataCube`` is
  wrapped in the ``openeo`` class if that package is installed);
- ``apply_timeseries(series: pandas.Series, context: dict) -> pandas.Series``: called for
  every pixel's series along the array's dimension (inside ``apply_dimension`` /
  ``reduce_dimension``) or along the cube's temporal dimension, and must keep its length.

The convention has no plain function for arrays: numbers and arrays reach
``apply_datacube`` as a 0-d / 1-d ``DataArray`` (dimension ``"array"``, the labels as
coordinates) and a 0-d / 1-d result comes back as a number / array. The functions are found
by name (openEO also checks the annotations); the module sees ``np``/``numpy``,
``xr``/``xarray``, ``pd``/``pandas`` and ``math``, as openEO's UDF runner provides them.

Data: a cube reaches the UDF as an ``xarray.DataArray`` of float64 with **NaN for
no-data**; inside ``apply_dimension`` / ``reduce_dimension`` the UDF sees the whole cube
(all pixels) and must keep (apply) or drop (reduce) that dimension. The result's **NaN
values become no-data** (the convention: NaN is how xarray data says no-data), so a NaN the
UDF computes is no-data in pgc. Dimensions the UDF returns without coordinates but with
their input size get their input labels; the cube's metadata (``attrs``: the CRS ...) is
pgc's, not the UDF's.

A UDF's exception is ``UdfError`` with the UDF's message and line (no traceback of pgc or of
the worker); an unknown runtime is ``InvalidRuntime``, a version other than the running
Python's (``"3"``, ``"3.11"``, ...) ``InvalidVersion``. Code given as a URL is read through
the embedding application's resolver (as ``load_stac`` does); pgc has no user workspace, so
a file path is ``FileNotFound``.

The UDF process has a scratch directory as working and home directory and a minimal
environment (none of the parent's variables but :data:`PASSED_ENVIRONMENT`). Data travels
both ways as JSON plus ``.npy`` arrays read with ``allow_pickle=False``: nothing the UDF
process writes can run code in the pgc process.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ...errors import echo, short
from ...jsonvalue import is_json
from .. import udf_sandbox
from ..udf_worker import (
    ARRAY,
    MAX_MESSAGE,
    REPLY_FILE,
    REQUEST_FILE,
    decode_message,
    encode_message,
    labels_as_array,
)
from ..values import Cube, CubeArray, LabeledArray
from .loop import Call
from .table import implements

LOG = logging.getLogger("pgc.udf")
TIMEOUT_SECONDS = 60.0  # per run_udf call; RunContext.udf_timeout overrides it
MEMORY_MB = 4096  # address space a UDF may map; RunContext.udf_memory_mb overrides it
MAX_RESULT_BYTES = 2**31  # what pgc reads back from the UDF process
PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "LD_LIBRARY_PATH", "SYSTEMROOT")

_LOG = "udf.log"
_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the pgc package
_BOOTSTRAP = (
    "import sys; from pgc.executors.udf_worker import worker_main; "
    "worker_main(sys.argv[1], sys.argv[2])"
)


# What the refusal says: how to switch UDFs on, in the command line and in the library
# (issue 18: "switched off" alone left users searching for the switch)
UDF_OFF = (
    "'run_udf' runs user code, which is switched off. Python UDFs run when the command line "
    "is given --python-udf (pgc run --python-udf), or the library python_udf=True "
    "(pgc.run(..., python_udf=True)); each then runs in a separate process with a time and "
    "a memory limit."
)


@implements("run_udf")
def _run_udf(call: Call) -> Any:
    """Run a Python UDF in a separate process (see the module docstring)."""
    if not call.context.python_udf:
        call.fail("FeatureUnsupported", UDF_OFF)
    _check_runtime(call)
    code = _udf_code(call)
    meta, array = _request(call)
    meta |= {"code": code, "context": _context(call)}
    reply_meta, reply = _run_worker(call, encode_message(meta, array))
    if "error" in reply_meta:
        error = reply_meta["error"]
        if isinstance(error, dict) and error.get("sandbox"):  # the machine's fault, not the UDF's
            LOG.error("UDF isolation could not be set up: %s", error.get("message"))
            call.fail("UdfError", "The UDF was not run: its isolation could not be set up.", "udf")
        call.fail("UdfError", _error_text(error), "udf")
    return _result(call, meta, array, reply)


# ---------------------------------------------------------------------------------------
# Arguments


def _check_runtime(call: Call) -> None:
    runtime = call.get("runtime")
    if not isinstance(runtime, str) or runtime.lower() != "python":
        call.fail(
            "InvalidRuntime",
            f"The UDF runtime {echo(runtime)} is not supported; pgc runs 'Python' UDFs.",
            "runtime",
        )
    version = call.get("version")
    mine = platform.python_version()
    if version is not None and (
        not isinstance(version, str)
        or version.split(".") != mine.split(".")[: version.count(".") + 1]
    ):
        call.fail(
            "InvalidVersion",
            f"The Python version {echo(version)} is not available; pgc runs Python {mine}.",
            "version",
        )


def _udf_code(call: Call) -> str:
    """Inline code (it has a line break), or code from a URL through the resolver."""
    udf = call.get("udf")
    if not isinstance(udf, str):
        call.fail("ProcessParameterInvalid", "'udf' must be a string.", "udf")
    if "\n" in udf or "\r" in udf:
        return udf
    if udf.startswith(("http://", "https://")):
        return _code_from_url(call, udf)
    call.fail(
        "FileNotFound",
        f"The UDF file {echo(udf)} does not exist: pgc has no user workspace; "
        "give the UDF code inline.",
        "udf",
    )


def _code_from_url(call: Call, url: str) -> str:
    path = call.resolve(url, "udf")
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = type(exc).__name__  # not the message: it may name local paths
        call.fail("FileNotFound", f"The UDF at {echo(url)} cannot be read ({reason}).", "udf")


def _context(call: Call) -> Any:
    context = call.get("context")
    context = {} if context is None else context
    if not is_json(context):
        call.fail(
            "ProcessParameterInvalid",
            "A Python UDF's context must be JSON data (no data cubes or arrays of pixels).",
            "context",
        )
    return context


def _request(call: Call) -> tuple[dict, xr.DataArray]:
    """What the UDF gets: a kind (how to read the result back) and a DataArray."""
    data = call.get("data")
    if isinstance(data, CubeArray):
        return {"kind": "cube", "dimension": data.dimension}, _plain(data.cube.filled())
    if isinstance(data, Cube):
        return {"kind": "cube", "dimension": None}, _plain(data.filled())
    if _is_number(data) or data is None:
        return {"kind": "value", "dimension": None}, xr.DataArray(_float(data))
    if isinstance(data, list | LabeledArray):
        values = list(data.values if isinstance(data, LabeledArray) else data)
        if all(_is_number(v) or v is None for v in values):
            labels = list(data.labels) if isinstance(data, LabeledArray) else range(len(values))
            array = xr.DataArray(
                np.array([_float(v) for v in values], dtype="float64"),
                dims=(ARRAY,),
                coords={ARRAY: labels_as_array(list(labels))},
            )
            kind = "labeled-array" if isinstance(data, LabeledArray) else "array"
            return {"kind": kind, "dimension": ARRAY}, array
    call.fail(
        "ProcessParameterInvalid",
        "A Python UDF takes a data cube, a number or an array of numbers as 'data'.",
        "data",
    )


def _plain(array: xr.DataArray) -> xr.DataArray:
    """Only the dimension coordinates travel; metadata stays with pgc."""
    extra = [c for c in array.coords if c not in array.dims]
    return array.drop_vars(extra)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _run_worker(call: Call, request: bytes) -> tuple[dict, xr.DataArray | None]:
    """Run the worker on ``request`` in a scratch folder, confined as :func:`isolation`
    says; its decoded reply."""
    timeout = call.context.udf_timeout or TIMEOUT_SECONDS
    memory = call.context.udf_memory_mb
    memory = MEMORY_MB if memory is None else memory
    plan = udf_sandbox.plan()
    settings = plan["settings"] | {"memory_mb": memory or None, "nproc": udf_sandbox.NPROC}
    with tempfile.TemporaryDirectory(prefix="pgc-udf-", ignore_cleanup_errors=True) as folder:
        (Path(folder) / REQUEST_FILE).write_bytes(request)
        if settings.get("uid") is not None:  # the UDF runs as nobody: its scratch folder
            os.chown(folder, settings["uid"], settings["uid"])
        command = [sys.executable, "-s", "-c", _BOOTSTRAP, folder, json.dumps(settings)]
        with open(Path(folder) / _LOG, "wb") as log, udf_sandbox.parent_guard(plan["level"]):
            process = subprocess.Popen(
                plan["prefix"] + command,
                cwd=folder,
                env=_environment(folder),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=os.name == "posix",  # a process group to kill at the end
            )
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                call.fail("UdfTimeout", f"The UDF did not finish within {timeout:g} s.", "udf")
            finally:
                _kill(process)
        return _read_reply(call, Path(folder), process.returncode, memory)


def isolation() -> dict[str, Any]:
    """What confines a UDF process on this machine (probed once, then cached):
    ``{"level": "namespaces" | "subreaper" | "group", "protections": {name: bool},
    "missing": [names]}``; the names are those of the table in the module docstring."""
    plan = udf_sandbox.plan()
    return {
        "level": plan["level"],
        "protections": dict(plan["protections"]),
        "missing": list(plan["missing"]),
    }


def _environment(folder: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in PASSED_ENVIRONMENT if name in os.environ}
    pythonpath = os.pathsep.join(p for p in (str(_ROOT), os.environ.get("PYTHONPATH")) if p)
    return env | {
        "HOME": folder,
        "TMPDIR": folder,
        "PYTHONPATH": pythonpath,
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _kill(process: subprocess.Popen) -> None:
    """Stop the worker and whatever it started: its descendants, its process group (and,
    with namespaces, everything in its PID namespace, which ends with its PID 1)."""
    if os.name == "posix":
        udf_sandbox.kill_tree(process.pid)
    elif process.poll() is None:
        process.kill()
    process.wait()


def _read_reply(
    call: Call, folder: Path, returncode: int, memory: float | None
) -> tuple[dict, xr.DataArray | None]:
    reply = folder / REPLY_FILE
    if not reply.is_file() or reply.is_symlink():
        # What the process printed may hold paths of this machine: for the operator only.
        LOG.warning("UDF process ended without a result: %s", _log_tail(folder / _LOG))
        hint = ""
        if memory and returncode in (
            -signal.SIGKILL,
            -signal.SIGSEGV,
            -signal.SIGABRT,
            134,
            137,
            139,
        ):  # fmt: skip  (also as 128 + signal, from unshare)
            hint = f"; it may have run out of memory (limit {memory:g} MB)"
        call.fail(
            "UdfError",
            f"The UDF process ended without a result (exit code {returncode}){hint}.",
            "udf",
        )
    if reply.stat().st_size > MAX_RESULT_BYTES:
        call.fail("UdfError", f"The UDF's result exceeds {MAX_RESULT_BYTES} bytes.", "udf")
    try:
        return decode_message(reply.read_bytes())
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the bytes, they are unusable
        call.fail("UdfError", f"The UDF process gave an unreadable result ({exc}).", "udf")


def _log_tail(log: Path) -> str:
    try:
        text = log.read_bytes()[-MAX_MESSAGE:].decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "no output"


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return "The UDF failed."
    text = f"The UDF failed: {error.get('message')}"
    line = error.get("line")
    if isinstance(line, int):
        text += f" (line {line} of the UDF)"
    return text[:MAX_MESSAGE]


# ---------------------------------------------------------------------------------------
# The result


def _result(call: Call, meta: dict, sent: xr.DataArray, got: xr.DataArray | None) -> Any:
    if got is None:
        call.fail("UdfError", "The UDF returned nothing.", "udf")
    got = _with_input_labels(got, sent)
    if meta["kind"] == "cube":
        return _cube_result(call, got, sent, meta["dimension"])
    if got.ndim == 0:
        value = got.values.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    if got.ndim == 1:
        values = [None if _is_nan(v) else v for v in got.values.tolist()]
        if meta["kind"] != "labeled-array":
            return values
        labels = got[got.dims[0]].values.tolist()
        return LabeledArray(values, labels)
    call.fail("UdfError", "A UDF on a number or an array must return a 0-d or 1-d array.", "udf")


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _with_input_labels(got: xr.DataArray, sent: xr.DataArray) -> xr.DataArray:
    """Dimensions returned without coordinates but with their input size keep their labels."""
    keep = {
        d: sent[d].values
        for d in got.dims
        if d not in got.coords and d in sent.coords and got.sizes[d] == sent.sizes[d]
    }
    return got.assign_coords(keep)


def _cube_result(call: Call, got: xr.DataArray, sent: xr.DataArray, dim: str | None) -> Any:
    """A cube, NaN as no-data; inside a callback over ``dim`` an array along it (apply) or
    the reduced cube (reduce)."""
    valid = ~np.isnan(got) if got.dtype.kind == "f" else xr.ones_like(got, dtype=bool)
    cube = Cube(got.where(valid, 0) if got.dtype.kind == "f" else got, valid)
    cube.data.attrs.update(sent.attrs)
    if dim is None:
        return cube
    others = [d for d in sent.dims if d != dim]
    if set(got.dims) == set(sent.dims) and all(got.sizes[d] == sent.sizes[d] for d in others):
        order = sent.dims
        return CubeArray(Cube(cube.data.transpose(*order), cube.valid.transpose(*order)), dim)
    if set(got.dims) == set(others) and all(got.sizes[d] == sent.sizes[d] for d in others):
        return Cube(cube.data.transpose(*others), cube.valid.transpose(*others))
    call.fail(
        "UdfError",
        f"The UDF must keep the dimensions {list(sent.dims)} (or drop {echo(dim)}) with their "
        f"sizes; it returned {short(dict(got.sizes))}.",
        "udf",
    )


# ---------------------------------------------------------------------------------------
# Messages between pgc and the UDF process: magic, header length, JSON header, .npy arrays
