"""Executors as plug-ins: the :class:`Executor` protocol and the registry of executors by name.

An executor runs a compiled plan. pgc has three: ``reference`` (numpy/xarray, the truth),
``numba`` (per-pixel work as fused kernels) and ``dask`` (chunk by chunk). A third party
adds its own as an entry point in the group ``pgc.executors`` whose object is an executor
(or a class making one)::

    # pyproject.toml of the plug-in
    [project.entry-points."pgc.executors"]
    gpu = "my_package.executor:GpuExecutor"

then ``pgc.run(graph, executor="gpu")`` and ``pgc.Session(executor="gpu")`` use it.

>>> sorted(names())[:3]
['dask', 'numba', 'reference']
>>> get("numba").lowering
True
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..ir.graph import Graph
    from .reference import RunContext

GROUP = "pgc.executors"


@runtime_checkable
class Executor(Protocol):
    """What runs a plan. ``lowering``: the plan is compiled with the lowering passes
    (``fuse-elementwise``: per-pixel work as ``pgc::kernel`` nodes). ``prepare`` sets up the
    run's context (statistics, a scheduler, and ``context.hooks``: what the executor adds
    to the one node loop, each hook ``(call, overridden) -> (value or None, call)`` tried
    before the process's implementation: numba runs kernel nodes as compiled kernels,
    dask runs chunked forms and computes the cubes of the rest); ``run`` evaluates the
    plan's graph with the parameters and returns the result node's value; ``finish``
    turns that value and the cubes saved by ``save_result`` into computed values (a lazy
    executor computes here)."""

    @property
    def name(self) -> str: ...

    @property
    def lowering(self) -> bool: ...

    def prepare(self, context: RunContext, **settings: Any) -> None: ...

    def run(self, graph: Graph, parameters: dict[str, Any] | None, context: RunContext) -> Any: ...

    def finish(self, value: Any, context: RunContext, computed_outputs: bool) -> Any: ...


BUILT_IN = ("reference", "numba", "dask")
AUTO = "auto"  # chosen per plan from its types (pgc.executors.choice)
_PLUGINS: dict[str, Executor] | None = None
_LOCK = threading.Lock()


def plugins() -> dict[str, Executor]:
    """The executors installed as entry points of the group ``pgc.executors`` (loaded once;
    one that fails to load or is not an executor is left out, and the pgc logger says why)."""
    global _PLUGINS
    with _LOCK:
        if _PLUGINS is None:
            _PLUGINS = _load_plugins()
        return dict(_PLUGINS)


def _load_plugins() -> dict[str, Executor]:
    import logging
    from importlib.metadata import entry_points

    found: dict[str, Executor] = {}
    for entry in entry_points(group=GROUP):
        try:
            loaded = entry.load()
            executor = loaded() if isinstance(loaded, type) else loaded
        except Exception as exc:  # noqa: BLE001 - a broken plug-in must not break pgc
            logging.getLogger("pgc").warning("executor plug-in %r not loaded: %s", entry.name, exc)
            continue
        if not isinstance(executor, Executor):
            logging.getLogger("pgc").warning("executor plug-in %r is not an Executor", entry.name)
            continue
        found.setdefault(entry.name, executor)
    return found


def reload_plugins() -> None:
    """Look for entry points again (after installing a plug-in into a running process)."""
    global _PLUGINS
    with _LOCK:
        _PLUGINS = None


def built_in(name: str) -> Executor:
    """A built-in executor, its package imported only now: naming or checking an executor
    (a session being made) imports none of them, nor numpy and xarray with them."""
    if name == "reference":
        from .reference import ReferenceExecutor

        return ReferenceExecutor()
    if name == "numba":
        from .numba import NumbaExecutor

        return NumbaExecutor()
    if name == "dask":
        from .dask import DaskExecutor

        return DaskExecutor()
    raise ValueError(f"{name!r} is not a built-in executor")


def names() -> list[str]:
    """The names of every executor: the built-in ones, then the plug-ins'."""
    return [*BUILT_IN, *(n for n in plugins() if n not in BUILT_IN)]


def check(executor: str | Executor) -> None:
    """ValueError for an executor that is neither known by name nor an executor, without
    importing a built-in one."""
    if isinstance(executor, str) and executor in (*BUILT_IN, AUTO):
        return
    get(executor)


def get(executor: str | Executor) -> Executor:
    """The executor of that name (built-in first), or ``executor`` itself when it is one;
    ValueError naming the known ones otherwise."""
    if not isinstance(executor, str):
        if isinstance(executor, Executor):
            return executor
        raise ValueError(f"{executor!r} is not an executor")
    found = built_in(executor) if executor in BUILT_IN else plugins().get(executor)
    if found is None:
        raise ValueError(f"unknown executor {executor!r}: {', '.join(names())}")
    return found
