"""run_udf: Python UDFs, only when the embedding application enables them."""

from __future__ import annotations

from typing import Any

from .ref_more import _capability_error
from .reference import Call, implements


@implements("run_udf")
def _run_udf(call: Call) -> Any:
    if not call.context.python_udf:
        return _capability_error(call)
    return _capability_error(call)  # replaced by the separate-process runner (in progress)
