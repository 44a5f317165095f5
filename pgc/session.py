"""``pgc.Session``: what a back-end embeds -- its catalog, processes and settings, no globals.

A back-end serves many users from one process. A session holds everything that is
configuration or cache: the collection catalog, the process definitions, the user-defined
processes, the process implementations (with the back-end's overrides), the executor, the
:class:`~pgc.options.Options` (compute dtype, limits, cache folder, ...), the URL resolver
and the folders it may read, its own plan cache and its own pool of kernel output buffers.
Compiled kernels are shared by every session of the process: they are keyed by their code
(expression, dtype, layout), so a session never runs a kernel made for another's settings,
and compiling one again per session would only cost time. Its calls make its options
active for their duration only (:func:`pgc.options.using`; in dask workers too), so two
sessions in one process, or eight threads on one session, never see each other's settings.
``pgc.validate``, ``pgc.compile`` and ``pgc.run`` are the calls of a default session with
the default options.

>>> import pgc
>>> session = pgc.Session(options=pgc.Options(compute_dtype="float32"))
>>> third = {"d": {"process_id": "divide", "result": True,
...                "arguments": {"x": {"from_parameter": "x"}, "y": 3}}}
>>> graph = {
...     "l": {"process_id": "load_collection", "arguments": {"id": "SENTINEL2_L2A_SAMPLE",
...           "spatial_extent": None, "temporal_extent": None, "bands": ["B04"]}},
...     "a": {"process_id": "apply", "result": True, "arguments": {
...           "data": {"from_node": "l"}, "process": {"process_graph": third}}}}
>>> [p.compile(graph).graph.result_node.type.dtype for p in (session, pgc)]
['float32', 'float64']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .options import Options, using

if TYPE_CHECKING:  # imported when used: a session that only validates needs none of them
    from .compiler import Plan
    from .data.catalog import Catalog
    from .executors.base import ProcessTable
    from .executors.registry import Executor
    from .runner import RunResult
    from .specs import Specs
    from .validation import ValidationResult


class Session:
    """One back-end's (or one tenant's) pgc: catalog, processes, executor and options.

    - ``catalog``: a :class:`pgc.data.catalog.Catalog`, or the path of a catalog file
      (TOML) of STAC-backed collections (:mod:`pgc.data.stac.config`) added to the default
      (default: pgc's sample collections and the folders of ``options.collections``).
    - ``specs``: process definitions (:class:`pgc.specs.Specs` or a folder; default:
      ``options.specs`` or pgc's bundled ones).
    - ``user_processes``: user-defined processes callable by id (a mapping id -> process
      object, or a list of process objects).
    - ``processes``: the implementations to run (:class:`pgc.executors.base.ProcessTable`;
      ``pgc.executors.reference.default_processes().override(load_collection=fn)``).
    - ``executor``: ``"auto"`` (default: chosen per plan from its types,
      :mod:`pgc.executors.choice`), ``"reference"``, ``"numba"``, ``"dask"``, a plug-in's
      name (:mod:`pgc.executors.registry`) or an :class:`~pgc.executors.registry.Executor`.
    - ``options``: :class:`pgc.Options`.
    - ``resolver``, ``allow_read``: how URLs become local paths and where reads may go
      (:func:`pgc.runner.execute`).
    """

    def __init__(
        self,
        *,
        catalog: Catalog | str | os.PathLike | None = None,
        specs: Specs | str | None = None,
        user_processes: Mapping[str, Any] | Sequence[Any] | None = None,
        processes: ProcessTable | None = None,
        executor: str | Executor = "auto",
        options: Options | None = None,
        resolver: Callable[[str], str | os.PathLike | None] | None = None,
        allow_read: str | os.PathLike | Sequence[str | os.PathLike] = (),
    ) -> None:
        from .executors.registry import check
        from .kernels.buffers import BufferPool
        from .runner import PlanCache

        check(executor)  # ValueError for an unknown executor, now rather than at the first run
        self.options = options if options is not None else Options()
        if isinstance(catalog, str | os.PathLike):  # a catalog file, read and checked now
            from .data.catalog import build_catalog

            catalog = build_catalog((*self.options.collections, Path(catalog)))
        self._catalog = catalog
        self.specs = specs
        self.user_processes = user_processes
        self.processes = processes
        self.executor = executor
        self.resolver = resolver
        self.allow_read = (
            (Path(allow_read),) if isinstance(allow_read, str | os.PathLike) else tuple(allow_read)
        )
        self.plans = PlanCache()
        self.buffers = BufferPool()  # used while options.buffer_pool is on

    @property
    def catalog(self) -> Catalog:
        """The session's catalog (built from its options on first use, when none was given)."""
        if self._catalog is None:
            from .data.catalog import default_catalog

            self._catalog = default_catalog(self.options.collections)
        return self._catalog

    def validate(
        self, document: Any, *, catalog: bool = True, **kwargs: Any
    ) -> ValidationResult:
        """:func:`pgc.validate` with this session's definitions, user processes, limits and
        (unless ``catalog=False``) catalog."""
        from .validation import validate

        kwargs.setdefault("user_processes", self.user_processes)
        kwargs.setdefault("limits", self.options.limits)
        with using(self.options):
            return validate(
                document,
                catalog=self.catalog if catalog else None,
                specs=self.specs,
                **kwargs,
            )

    def compile(self, document: Any, **kwargs: Any) -> Plan:
        """:func:`pgc.compile` with this session's catalog, definitions, user processes and
        options."""
        from .compiler import compile as compile_graph

        kwargs.setdefault("user_processes", self.user_processes)
        kwargs.setdefault("limits", self.options.limits)
        with using(self.options):
            return compile_graph(document, catalog=self.catalog, specs=self.specs, **kwargs)

    def execute(
        self, document: Any, *, parameters: dict[str, Any] | None = None, **kwargs: Any
    ) -> RunResult:
        """:func:`pgc.runner.execute` with this session's settings (keywords given here win)."""
        from .runner import execute

        return execute(document, parameters=parameters, **self._settings(kwargs))

    def run(
        self, document: Any, *, parameters: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:  # a number, a string, a list, a dict, an xarray.DataArray: the result's value
        """:func:`pgc.run` with this session's settings: the result as numbers, lists or an
        ``xarray.DataArray``."""
        from .runner import run

        return run(document, parameters=parameters, **self._settings(kwargs))

    def _settings(self, given: dict[str, Any]) -> dict[str, Any]:
        settings = {
            "catalog": self.catalog,
            "specs": self.specs,
            "user_processes": self.user_processes,
            "processes": self.processes,
            "executor": self.executor,
            "resolver": self.resolver,
            "allow_read": self.allow_read,
            "plan_cache": self.plans,
            "buffers": self.buffers,
            "options": self.options,
        }
        return {**settings, **given}
