"""pgc: a compiler for openEO process graphs.

>>> import pgc
>>> pgc.validate({"n": {"process_id": "pi", "arguments": {}, "result": True}}).ok
True
"""

from .errors import Diagnostic, PgcError
from .frontend import ValidationResult, validate
from .limits import Limits
from .specs import load_specs

__all__ = ["Diagnostic", "Limits", "PgcError", "ValidationResult", "load_specs", "validate"]
__version__ = "0.1.0"
