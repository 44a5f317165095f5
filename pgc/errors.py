"""Diagnostics: what pgc tells a user about their process graph.

Every problem pgc finds in user input becomes a :class:`Diagnostic` with an openEO error
code, a message naming the node, process and argument, a JSON pointer into the user's
document and, where pgc can guess the fix, a hint. Problems are collected, never raised one
by one; :class:`PgcError` carries a whole list when an API must raise.

>>> d = Diagnostic("ProcessUnsupported", "Process 'ndvl' is not available.", "/process_graph/n1")
>>> d.to_openeo()["code"]
'ProcessUnsupported'
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]

# HTTP status of the openEO API error codes pgc emits (API errors.json). Codes from process
# definitions (``DimensionNotAvailable`` ...) are 400 unless the definition says otherwise.
HTTP_STATUS = {
    "ProcessGraphMissing": 400,
    "ProcessGraphInvalid": 400,
    "ProcessUnsupported": 400,
    "ProcessParameterUnsupported": 400,
    "ProcessParameterRequired": 400,
    "ProcessParameterInvalid": 400,
    "ProcessGraphComplexity": 400,
    "CollectionNotFound": 404,
    "RequestTimeout": 408,
    "FeatureUnsupported": 501,
    "Internal": 500,
}

MAX_ECHO = 60  # user strings echoed in messages are cut to this many characters


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in user input.

    ``pointer`` is an RFC 6901 JSON pointer into the document the user gave ("" is the
    whole document). ``node_id``/``process_id``/``argument`` name the place in openEO terms.
    """

    code: str
    message: str
    pointer: str = ""
    severity: Severity = "error"
    node_id: str | None = None
    process_id: str | None = None
    argument: str | None = None
    hint: str | None = None
    # Filled in by the front end from the source map when the input was text.
    line: int | None = field(default=None, compare=False)
    column: int | None = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def to_openeo(self) -> dict:
        """The openEO API error object, extended with pgc's location fields."""
        out: dict = {"code": self.code, "message": self.message, "pointer": self.pointer}
        if self.severity != "error":
            out["level"] = self.severity
        for key in ("node_id", "process_id", "argument", "hint", "line", "column"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class PgcError(Exception):
    """Raised by APIs that cannot return diagnostics; carries all of them."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        text = f"{first.code}: {first.message}" if first else "invalid input"
        more = len(self.diagnostics) - 1
        super().__init__(text + (f" (and {more} more)" if more > 0 else ""))

    @property
    def code(self) -> str:
        return self.diagnostics[0].code if self.diagnostics else "Internal"

    def __reduce__(self):  # pickled whole (a dask worker's error comes back to the client)
        return (type(self), (self.diagnostics,))


def short(value: object) -> str:
    """A user value for a message, cut to a readable length; never the whole argument."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > MAX_ECHO:
        text = text[: MAX_ECHO - 1] + "…"
    return text


def echo(value: object) -> str:
    """Like :func:`short`, and strings in quotes: ``'B04'``."""
    return f"'{short(value)}'" if isinstance(value, str) else short(value)


def did_you_mean(word: object, candidates: Iterable[object], n: int = 1) -> str | None:
    """The hint for a misspelt name: the (up to ``n``) ``candidates`` closest to ``word``,
    or None when none is close. One helper for every name a user types (processes,
    parameters, node ids, bands, formats), so all hints read alike. Case is ignored when
    matching (``NIR`` finds ``nir``: a ratio on case-sensitive text would find nothing), the
    candidates are named as they are spelt, and equally close ones in the order given.

    >>> did_you_mean("ndvl", ["ndvi", "ndwi", "add"])
    "did you mean 'ndvi'?"
    >>> did_you_mean("B4", ["B04", "B05", "red"], n=3)
    "did you mean 'B04'?"
    >>> did_you_mean("xyz", ["ndvi"]) is None
    True
    """
    if not isinstance(word, str):
        return None
    folded: dict[str, str] = {}  # lower case -> the first candidate spelt so
    for candidate in candidates:
        if isinstance(candidate, str):
            folded.setdefault(candidate.lower(), candidate)
    matcher = difflib.SequenceMatcher(b=word.lower())
    scored = []
    for index, candidate in enumerate(folded):
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
            score = matcher.ratio()
            if score >= 0.6:  # difflib's cutoff for "close"
                scored.append((-score, index, candidate))
    close = [candidate for _, _, candidate in sorted(scored)[: max(1, n)]]  # ties: given order
    if not close:
        return None
    names = [echo(folded[c]) for c in close]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"did you mean {listed}?"


LOG = logging.getLogger("pgc")


class ConfigurationError(Exception):
    """What the operator configured is broken (a ``PGC_COLLECTIONS`` folder that is not a
    collection, ...): ``Internal`` for the user, since the fault is the back-end's, with a
    message that says what to fix."""


def from_exception(exc: BaseException) -> tuple[str, str]:
    """The openEO code and a short message for an exception that is not pgc's own, at a
    boundary (a process call, a type rule, the API, the CLI): user input never ends in a
    traceback. What the input caused (memory, number range, nesting, an unknown CRS) gets
    the code that says so; anything else is a pgc bug, ``Internal``, logged with its
    traceback for the operator while the user sees one line.

    >>> from_exception(OverflowError("int too large to convert"))[0]
    'ProcessParameterInvalid'
    """
    if isinstance(exc, MemoryError):
        return (
            "ProcessGraphComplexity",
            "The computation needs more memory than pgc may use: make the extent, the "
            "number of dates or bands, or the resolution smaller.",
        )
    if isinstance(exc, RecursionError):
        return ("ProcessGraphComplexity", "The input is nested too deeply to be processed.")
    if isinstance(exc, OverflowError) or (
        isinstance(exc, ValueError) and "out of range" in str(exc)
    ):
        return (
            "ProcessParameterInvalid",
            "A number is out of the range pgc computes with (64-bit floating point numbers "
            "and dates between years 1 and 9999).",
        )
    if isinstance(exc, ConfigurationError):
        LOG.error("configuration: %s", exc)
        return ("Internal", f"The back-end is misconfigured: {exc}")
    if type(exc).__name__ == "CRSError":  # rasterio's and pyproj's
        return ("ProcessParameterInvalid", "Not a coordinate reference system pgc knows.")
    LOG.error("internal error: %s", type(exc).__name__, exc_info=exc)
    return (
        "Internal",
        f"pgc failed unexpectedly ({type(exc).__name__}); this is a bug in pgc, and the "
        "operator's log has the details.",
    )


def internal_error(exc: BaseException, pointer: str = "", **where) -> PgcError:
    """:class:`PgcError` with one diagnostic for ``exc`` (see :func:`from_exception`)."""
    code, message = from_exception(exc)
    return PgcError([Diagnostic(code, message, pointer, **where)])
