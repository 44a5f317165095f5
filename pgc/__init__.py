"""pgc: a compiler for openEO process graphs.

>>> import pgc
>>> pgc.validate({"n": {"process_id": "pi", "arguments": {}, "result": True}}).ok
True

``pgc.validate(doc)`` checks structure and schemas without a catalog (mode
"catalog-free"); ``pgc.validate(doc, catalog=pgc.data.catalog.default_catalog())`` also
types the graph with the catalog's collections (mode "catalog": bands, dimensions, extents),
as :mod:`pgc.validation` describes.

>>> plan = pgc.compile({"n": {"process_id": "pi", "arguments": {}, "result": True}})
>>> plan.to_openeo()["process_graph"]["n"]["arguments"]
{'x': 3.141592653589793}
"""

import logging

from .errors import Diagnostic, PgcError
from .frontend import ValidationResult
from .limits import Limits
from .options import Options
from .specs import load_specs
from .validation import validate

__all__ = [
    "Diagnostic", "Executor", "Limits", "Options", "PgcError", "Plan", "RunResult", "Session",
    "ValidationResult", "compile", "load_specs", "run", "validate",
]  # fmt: skip
__version__ = "0.1.0"

# A library logs, the application decides where to: internal errors go to the "pgc" logger
# with their tracebacks (pgc --debug prints them), never to the user's terminal by default.
logging.getLogger("pgc").addHandler(logging.NullHandler())


def __getattr__(name: str):
    # The compiler pulls in the IR (networkx, lark); `pgc validate` without a catalog does
    # not need it.
    if name in ("compile", "Plan"):
        from . import compiler

        return getattr(compiler, name)
    if name in ("run", "RunResult"):
        from . import runner

        return getattr(runner, name)
    if name == "Session":
        from .session import Session

        return Session
    if name == "Executor":
        from .executors.registry import Executor

        return Executor
    raise AttributeError(f"module 'pgc' has no attribute {name!r}")
