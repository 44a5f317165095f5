"""What ``pgc run`` measures and shows while it runs: a progress bar on a terminal, this
run's own peak memory, and durations with the digits that mean something.

>>> milliseconds(0.4123), milliseconds(0.0031), milliseconds(0.000042)
('412 ms', '3.1 ms', '42 µs')
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def milliseconds(seconds: float) -> str:
    """A duration with the digits that mean something: ``412 ms``, ``3.1 ms``, ``42 µs``
    (a kernel over 10 000 pixels runs in microseconds, which ``0.0 ms`` hid)."""
    ms = seconds * 1000
    if ms >= 10 or ms == 0:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms" if ms >= 1 else f"{ms * 1000:.0f} µs"


class ProgressBar:
    """A one-line progress bar on stderr, drawn only once a run has taken ``delay`` seconds
    (a quick run prints nothing, issue 18). ``pgc run`` makes one only when stderr is a
    terminal and not with ``--json``. Called as the executor's ``progress(done, total,
    process_id)`` before each node of the top graph, so it moves when a node starts."""

    WIDTH = 30

    def __init__(self, stream: Any = None, delay: float = 1.0, clock: Any = None):
        import time

        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.clock = clock or time.monotonic
        self.start = self.clock()
        self.drawn = False  # a line is on the terminal that close() must end

    def __call__(self, done: int, total: int, process_id: str) -> None:
        if not self.drawn and self.clock() - self.start < self.delay:
            return
        filled = self.WIDTH * done // max(total, 1)
        label = f" {process_id}" if process_id else " done"
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {done}/{total}{label:<30}")
        self.drawn = True
        if done == total:
            self.close()
        else:
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line (a run that failed half way too), so what follows starts on
        a line of its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def shows_progress(args: argparse.Namespace) -> bool:
    """Whether ``pgc run`` draws progress: on a terminal only, never with ``--json`` (a
    program reads that output)."""
    return not getattr(args, "json", False) and sys.stderr.isatty()


def progress_bar(args: argparse.Namespace) -> ProgressBar | None:
    """The progress bar of ``pgc run`` (:func:`shows_progress`), or None."""
    return ProgressBar(sys.stderr) if shows_progress(args) else None


class PeakMemory:
    """This run's own peak memory for ``--stats`` (issue 18: ``ru_maxrss`` is the peak of
    the process's whole life, and after ``exec`` it keeps the peak of the process that
    started pgc: a run from a big Python process reported that process's memory).

    On Linux, the kernel's high-water mark of this process's resident memory is reset when
    the run starts (``5`` to ``/proc/self/clear_refs``, Linux 4.0+) and read when it ends
    (``VmHWM``): the peak resident memory of the whole process during the run, Python,
    numpy, GDAL and numba alike, which :meth:`report` gives with the growth over the
    resident memory at the start. Elsewhere, :mod:`tracemalloc` from the start: the peak of
    what Python and numpy allocated during the run, not GDAL's or numba's own buffers.
    Neither counts dask.distributed workers, which are other processes."""

    def __init__(self) -> None:
        self.start_rss = self._status("VmRSS")
        self.started_tracing = False
        if self.start_rss is not None:
            try:
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
                return
            except OSError:
                self.start_rss = None
        import tracemalloc

        self.started_tracing = not tracemalloc.is_tracing()
        if self.started_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()

    @staticmethod
    def _status(key: str) -> int | None:
        """A size in bytes from /proc/self/status; None where there is none."""
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) * 1024  # kB
        except (OSError, ValueError, IndexError):
            pass
        return None

    def report(self) -> str:
        from ..ir.types import format_bytes

        if self.start_rss is not None:
            peak = self._status("VmHWM") or 0
            grown = max(0, peak - self.start_rss)
            return (
                f"{format_bytes(peak)} resident at most during the run "
                f"({format_bytes(grown)} more than the {format_bytes(self.start_rss)} "
                "at its start)"
            )
        import tracemalloc

        _, peak = tracemalloc.get_traced_memory()
        if self.started_tracing:
            tracemalloc.stop()
        return f"{format_bytes(peak)} allocated by Python and numpy at most (tracemalloc)"
