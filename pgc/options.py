"""pgc's settings as one value: :class:`Options`, passed in, never read from globals.

A back-end serves many users from one process; one request's settings must not leak into
another's. So every setting pgc has is a field of a frozen :class:`Options`, held by a
:class:`pgc.Session` (or given to a call), and made *active* for the duration of that
session's calls with :func:`using` (a context variable: each thread, and each task the
dask executor runs for the call, sees the options of the call it works for).

Environment variables are read in exactly one place, :meth:`Options.from_env`, which the
``pgc`` command calls; a library user passes options instead (the variables then have no
effect on it).

>>> Options().compute_dtype, Options.from_env({"PGC_COMPUTE_DTYPE": "float32"}).compute_dtype
('float64', 'float32')
>>> with using(Options(compute_dtype="float32")):
...     active().compute_dtype
'float32'
>>> active().compute_dtype
'float64'
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .limits import Limits

COMPUTE_DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class Options:
    """Every setting of pgc (the README's "Options" table lists them with their variables).

    - ``compute_dtype``: the float type band math computes in, ``float64`` or ``float32``
      (:mod:`pgc.dtypes`); types, the reference and the kernels follow it.
    - ``limits``: input limits and the budget (:class:`pgc.Limits`).
    - ``plan_cache_size``: compiled plans a session keeps (0: none).
    - ``cache_dir``: where generated kernels and the sample data are kept (None:
      ``~/.cache/pgc``).
    - ``buffer_pool``: reuse large result buffers of the fused kernels.
    - ``collections``: folders of file-backed collections, and catalog files (``.toml``) of
      STAC-backed ones (:mod:`pgc.data.stac.config`), that the default catalog adds.
    - ``specs``: a folder of process definitions instead of pgc's bundled ones.
    - ``udf_namespaces``: confine ``run_udf`` processes in Linux namespaces where the
      machine allows (False: a subreaper and process group only).
    - ``allowed_hosts``: the hosts pgc may reach for data (:mod:`pgc.hosts`;
      ``example.com``, ``*.example.com``, ``http://127.0.0.1:8080``); empty: none.
    """

    compute_dtype: str = "float64"
    limits: Limits = field(default_factory=Limits)
    plan_cache_size: int = 64
    cache_dir: Path | None = None
    buffer_pool: bool = True
    collections: tuple[Path, ...] = ()
    specs: Path | None = None
    udf_namespaces: bool = True
    allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.compute_dtype not in COMPUTE_DTYPES:  # a typo must not change results
            raise ValueError(
                f"the compute dtype must be float64 or float32, not {self.compute_dtype!r}"
            )
        if self.plan_cache_size < 0:
            raise ValueError("plan_cache_size must be 0 or more")
        object.__setattr__(self, "collections", tuple(Path(p) for p in self.collections))
        object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))
        from .hosts import HostPolicy

        HostPolicy(self.allowed_hosts)  # a malformed entry is a ValueError now
        for name in ("cache_dir", "specs"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value))

    def replace(self, **changes: Any) -> Options:
        """These options with ``changes`` (checked as at construction)."""
        return replace(self, **changes)

    def cache_root(self) -> Path:
        """The folder of pgc's caches: ``cache_dir``, else ``~/.cache/pgc``."""
        return self.cache_dir if self.cache_dir is not None else Path.home() / ".cache" / "pgc"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Options:
        """Options from environment variables (the command line's way; see the README):
        ``PGC_COMPUTE_DTYPE``, ``PGC_PLAN_CACHE`` (0: off), ``PGC_CACHE_DIR``,
        ``PGC_BUFFER_POOL`` (0: off), ``PGC_COLLECTIONS`` (folders separated by
        ``os.pathsep``), ``PGC_SPECS``, ``PGC_UDF_NO_NAMESPACES`` (1: no namespaces),
        ``PGC_ALLOWED_HOSTS`` (entries separated by commas).
        Variables not set keep the defaults; a wrong value is a ValueError naming it."""
        env = os.environ if environ is None else environ
        changes: dict[str, Any] = {}
        if env.get("PGC_COMPUTE_DTYPE"):
            changes["compute_dtype"] = env["PGC_COMPUTE_DTYPE"]
            if changes["compute_dtype"] not in COMPUTE_DTYPES:
                raise ValueError(
                    "PGC_COMPUTE_DTYPE must be float64 or float32, "
                    f"not {changes['compute_dtype']!r}"
                )
        if env.get("PGC_PLAN_CACHE") == "0":
            changes["plan_cache_size"] = 0
        if env.get("PGC_CACHE_DIR"):
            changes["cache_dir"] = Path(env["PGC_CACHE_DIR"])
        if env.get("PGC_BUFFER_POOL") == "0":
            changes["buffer_pool"] = False
        if env.get("PGC_COLLECTIONS"):
            changes["collections"] = tuple(
                Path(p) for p in env["PGC_COLLECTIONS"].split(os.pathsep) if p
            )
        if env.get("PGC_SPECS"):
            changes["specs"] = Path(env["PGC_SPECS"])
        if env.get("PGC_UDF_NO_NAMESPACES") == "1":
            changes["udf_namespaces"] = False
        if env.get("PGC_ALLOWED_HOSTS"):
            changes["allowed_hosts"] = tuple(
                h.strip() for h in env["PGC_ALLOWED_HOSTS"].split(",") if h.strip()
            )
        return cls(**changes)


OPTION_NAMES = tuple(f.name for f in fields(Options))
DEFAULT = Options()
_ACTIVE: ContextVar[Options | None] = ContextVar("pgc_options", default=None)


def active() -> Options:
    """The options of the call being run (:func:`using`), else the defaults."""
    return _ACTIVE.get() or DEFAULT


@contextlib.contextmanager
def using(options: Options) -> Iterator[Options]:
    """Make ``options`` active in this context (thread) until the block ends."""
    token = _ACTIVE.set(options)
    try:
        yield options
    finally:
        _ACTIVE.reset(token)


def set_active(options: Options) -> None:
    """Make ``options`` active in this context from now on (tests, scripts and the CLI's
    process; a back-end uses sessions or :func:`using`)."""
    _ACTIVE.set(options)


def small_pages_for_numpy() -> None:
    """Ask numpy (before it is imported) not to put its large arrays on transparent huge
    pages, unless ``NUMPY_MADVISE_HUGEPAGE`` says otherwise.

    pgc holds whole cubes, and writes each large array once, into memory new to the
    process. On the virtual machines measured (issue 23), the first touch of fresh huge
    pages cost up to 2.5 s per GB, of 4 KiB pages 0.3 to 0.4 s per GB, steadily:
    kernel_smooth at 2048 px (800 MB from apply_kernel) took 6.0 s as a process with huge
    pages, 3.7 s without. Where huge pages come cheap, they save about 0.2 s per GB. The
    command line (which calls this first) is a process of its own, so it decides; a
    program that embeds pgc keeps numpy as it set it (README, "Memory pages")."""
    if "numpy" not in sys.modules:
        os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
