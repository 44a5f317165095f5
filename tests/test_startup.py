"""What starting pgc imports (issue 23, "No waste at the edges"): the costs
``python -m benchmarks startup`` measured, pinned without timing, each in a fresh process.

A ``pgc run`` that does not use dask imports no ``dask.array`` (nor the scipy.sparse it
imports: 0.5 s of a 1.8 s run, :mod:`pgc.duckarrays`), and ``pgc validate`` neither xarray
nor numba, nor even numpy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EVI = Path(__file__).resolve().parent.parent / "examples" / "evi.json"


def _imported(code: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` are in sys.modules after ``code`` ran in a fresh interpreter."""
    script = f"import sys\n{code}\nprint(sorted(m for m in {modules!r} if m in sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 - our own printed list


@pytest.mark.parametrize("executor", ["reference", "auto"])
def test_a_run_without_dask_imports_no_dask_array(tmp_path, executor):
    """The EVI example on the sample collection, with the reference executor and with the
    one ``auto`` chooses, writes its GeoTIFF without importing dask.array or scipy.sparse
    (nor numba, with the reference)."""
    out = tmp_path / "evi.tif"
    argv = ["run", str(EVI), "-o", str(out), "--executor", executor]
    code = f"from pgc.cli import main\nassert main({argv!r}) == 0"
    unused = ("dask.array", "scipy.sparse", *(("numba",) if executor == "reference" else ()))
    assert _imported(code, unused) == []
    assert out.exists()


def test_validate_imports_neither_xarray_nor_numba():
    """Typing with the catalog included: no numpy (band dtypes promote without it). The IR
    graph is a networkx graph: networkx is imported."""
    code = f"from pgc.cli import main\nassert main(['validate', {str(EVI)!r}]) == 0"
    heavy = ("xarray", "numba", "dask", "rasterio", "pandas", "numpy")
    assert _imported(code, heavy) == []


def test_xarray_sees_dask_arrays_once_dask_is_imported():
    """The deferred record answers as xarray's own once dask.array is imported: a dask
    array is kept lazy (chunked) and computes the same values."""
    code = (
        "from pgc.duckarrays import defer_dask_array\n"
        "defer_dask_array()\n"
        "import numpy as np, xarray as xr\n"
        "assert xr.DataArray(np.arange(4.0)).chunks is None\n"
        "assert 'dask.array' not in sys.modules\n"
        "import dask.array as da\n"
        "lazy = xr.DataArray(da.arange(4.0, chunks=2))\n"
        "assert lazy.chunks == ((2, 2),), lazy.chunks\n"
        "assert (lazy + 1).chunks == ((2, 2),)\n"
        "assert (lazy * 2).compute().values.tolist() == [0.0, 2.0, 4.0, 6.0]\n"
        "from xarray.namedarray.pycompat import mod_version\n"
        "assert str(mod_version('dask')) == __import__('dask').__version__\n"
    )
    assert "dask.array" in _imported(code, ("dask.array",))


@pytest.mark.parametrize(("given", "expected"), [(None, "0 False"), ("1", "1 True")])
def test_the_command_starts_numpy_on_small_pages_unless_told(given, expected):
    """``pgc`` starts numpy with ``NUMPY_MADVISE_HUGEPAGE=0`` (README, "Memory pages"),
    and keeps the value a user set."""
    if sys.platform != "linux":
        pytest.skip("numpy asks for huge pages on Linux only")
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if given is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = given
    script = (
        f"from pgc.cli import main\nassert main(['run', {str(EVI)!r}]) == 0\n"
        "import os, numpy\n"
        "pages = numpy._core.multiarray._get_madvise_hugepage()\n"
        "print(os.environ['NUMPY_MADVISE_HUGEPAGE'], pages)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == expected
