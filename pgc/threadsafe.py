"""What pgc does one thread at a time because the library under it is not thread-safe.

``AST``: CPython 3.11 converts syntax trees to Python objects with a recursion counter that
threads share (gh-106905): two threads parsing at once (``ast.parse``, and numpy's
``np.load``, which reads a ``.npy`` header with ``ast.literal_eval``) can fail with
``SystemError: AST constructor recursion depth mismatch``. It happened once in CI, in the
dask executor's chunk reads of the sample collection. Parses are short (a kernel's
statements, a header of a few hundred bytes), so one lock costs nothing measurable.
"""

from __future__ import annotations

import threading

AST = threading.Lock()

__all__ = ["AST"]
