"""The reference executor: every process as its numpy/xarray implementation, the truth
every optimization and every other executor is tested against.

:mod:`.loop` is the node loop all executors share; :mod:`.table` the implementations by
process id, which the other modules of this package fill (:mod:`.scalar`, :mod:`.cube`,
:mod:`.arrays`, :mod:`.temporal` ...). A back-end overriding a process writes a function of
a :class:`Call` (``call.get(name)``, ``call.callback(name)``, ``call.fail(code, message)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .loop import Call, Closure, ProcessError, RunContext, node_error, run_graph
from .table import IMPLEMENTATIONS, Implementation, implements, load_implementations

if TYPE_CHECKING:
    from ...ir.graph import Graph
    from ..base import ProcessTable

__all__ = [
    "IMPLEMENTATIONS", "Call", "Closure", "Implementation", "ProcessError",
    "ReferenceExecutor", "RunContext", "default_processes", "implements",
    "load_implementations", "node_error", "run_graph",
]  # fmt: skip


def default_processes() -> ProcessTable:
    """The reference executor's implementations as a :class:`~pgc.executors.base.
    ProcessTable` (what a session starts from and overrides)."""
    from ..base import ProcessTable

    load_implementations()
    return ProcessTable(IMPLEMENTATIONS)


@dataclass(frozen=True)
class ReferenceExecutor:
    """The reference executor: every process as its numpy/xarray implementation."""

    name: str = "reference"
    lowering: bool = False

    def prepare(self, context: RunContext, **settings: Any) -> None:
        return None

    def run(self, graph: Graph, parameters: dict[str, Any] | None, context: RunContext) -> Any:
        return run_graph(graph, parameters, context)

    def finish(self, value: Any, context: RunContext, computed_outputs: bool) -> Any:
        return value
