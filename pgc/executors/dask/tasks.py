"""Chunk tasks run with the options of the run that made them.

A dask worker is another thread or another process: it holds its own active options (the
defaults, or what another session's task left), not those of the session whose chunk it
runs. Each task the dask executor makes is wrapped in :class:`InOptions`, which carries
the run's :class:`~pgc.options.Options` (a frozen value: pickled with the task) and makes
them active while the task runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...options import Options, active, using


@dataclass(frozen=True)
class InOptions:
    """``fn``, run with ``options`` active."""

    fn: Callable[..., Any]
    options: Options

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with using(self.options):
            return self.fn(*args, **kwargs)

    @property
    def __name__(self) -> str:  # dask and xarray name tasks after their function
        return getattr(self.fn, "__name__", type(self.fn).__name__)


def in_options(fn: Callable[..., Any]) -> InOptions:
    """``fn`` as a task that runs with the options active now (the run's)."""
    return InOptions(fn, active())
