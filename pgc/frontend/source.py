"""Strict JSON reading with a source map.

openEO documents arrive as untrusted text. pgc reads them strictly — duplicate keys,
``NaN``/``Infinity`` literals, lone surrogates, numbers that do not fit a float64 and
nesting beyond the limit are all reported, never silently accepted or changed — and can
say where in the text any JSON pointer lies, so diagnostics show the user's own line.

Two readers share the work: the C ``json`` module with strictness hooks reads valid input
fast; only when it objects (or a diagnostic needs a line number) does the iterative
pure-Python scanner below read the text again, reporting every problem with its position.

>>> value, source, problems = load_text('{"a": [1, 2]}', "<doc>")
>>> value, problems
({'a': [1, 2]}, [])
>>> source.locate("/a/1")
(1, 11)
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import Diagnostic, echo, short
from ..limits import Limits
from ..pointer import join

INVALID = "ProcessGraphInvalid"
_MAX_INT_DIGITS = 308  # beyond this an integer cannot become a float64 (1e308)
_INT_BOUND = 10**_MAX_INT_DIGITS  # a Python int this large or larger: too long
LOCATED_UP_TO = 4 * 1024 * 1024  # characters of a document whose diagnostics get lines


class _NotStrict(Exception):
    """The fast reader met something the strict scanner must explain."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _NotStrict
    return obj


def _constant(_: str) -> Any:
    raise _NotStrict


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _NotStrict
    return value


def _int(text: str) -> int:
    if len(text) > _MAX_INT_DIGITS:
        raise _NotStrict
    return int(text)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_RAW_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Source:
    """The text a document came from, and where each JSON pointer lies in it."""

    name: str
    text: str | None = None
    limits: Limits = field(default_factory=Limits)
    _offsets: dict[str, int] | None = field(default=None, repr=False)
    _line_starts: list[int] | None = field(default=None, repr=False)

    def locate(self, pointer: str) -> tuple[int, int] | None:
        """1-based (line, column) of the value or member at ``pointer``, if known.

        Positions come from a pure-Python scan of the whole text (about 1 s per 2 MB): a
        document larger than :data:`LOCATED_UP_TO` gets its diagnostics by pointer only, so
        that a huge hostile document is rejected in the time it takes to parse it."""
        if self.text is None or len(self.text) > LOCATED_UP_TO:
            return None
        if self._offsets is None:
            _, self._offsets, _ = scan(self.text, self.limits)
        # A pointer below a scalar (or past the end) points at its nearest existing parent.
        while pointer not in self._offsets:
            if not pointer:
                return None
            pointer = pointer.rsplit("/", 1)[0]
        return self._position(self._offsets[pointer])

    def place(self, diagnostic: Diagnostic) -> Diagnostic:
        """``diagnostic`` with the line and column of its pointer, when the text has it."""
        if diagnostic.line is not None:
            return diagnostic
        position = self.locate(diagnostic.pointer)
        if position is None:
            return diagnostic
        return replace(diagnostic, line=position[0], column=position[1])

    def _position(self, offset: int) -> tuple[int, int]:
        if self._line_starts is None:
            assert self.text is not None
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def line_text(self, line: int) -> str | None:
        if self.text is None or self._line_starts is None or line > len(self._line_starts):
            return None
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].rstrip("\r")


def load_text(data: str | bytes, name: str = "<input>", limits: Limits | None = None):
    """Parse JSON text strictly: ``(value, source, diagnostics)``; value is None on failure."""
    limits = limits or Limits()
    if isinstance(data, bytes | bytearray):
        if len(data) > limits.max_bytes:
            return None, Source(name, None, limits), [_too_big(len(data), limits)]
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            msg = f"The document is not valid UTF-8 (byte {exc.start})."
            return None, Source(name, None, limits), [Diagnostic(INVALID, msg)]
    source = Source(name, data, limits)
    if len(data) > limits.max_bytes:
        return None, source, [_too_big(len(data), limits)]
    # every value but the last of an array or object is followed by a comma: counting them
    # (in C, before parsing) bounds what parsing would build (commas in strings count too)
    values = data.count(",")
    if values >= limits.max_json_values:
        message = (
            f"The document holds about {values} values; the limit is {limits.max_json_values}."
        )
        return None, source, [Diagnostic(INVALID, message)]
    try:
        value = json.loads(
            data,
            object_pairs_hook=_pairs,
            parse_constant=_constant,
            parse_float=_float,
            parse_int=_int,
        )
        clean = _SURROGATE_ESCAPE.search(data) is None and _RAW_SURROGATE.search(data) is None
        if clean and _within_depth(value, limits.max_json_depth):
            return value, source, []
    except (_NotStrict, ValueError, RecursionError) as exc:
        if len(data) > LOCATED_UP_TO:  # too large for the scanner's detailed account
            return None, source, [_not_read(exc)]
    else:
        if len(data) > LOCATED_UP_TO:
            return None, source, [_not_read(None)]
    value, source._offsets, problems = scan(data, limits)
    return (value if not problems else None), source, problems


def _not_read(exc: Exception | None) -> Diagnostic:
    """Why a document too large to scan in detail was not read."""
    if isinstance(exc, json.JSONDecodeError):
        where = f"line {exc.lineno}, column {exc.colno}"
        message = f"The document is not valid JSON: {exc.msg} ({where})."
        return Diagnostic(INVALID, message, line=exc.lineno, column=exc.colno)
    return Diagnostic(
        INVALID,
        "The document is not strict JSON (a duplicate key, NaN or Infinity, a number out of "
        "range, a lone surrogate) or nests too deeply; it is too large to say where.",
    )


def _within_depth(value: Any, limit: int) -> bool:
    """Whether no array or object nests ``limit`` levels deep (iterative, one pass)."""
    stack = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if depth >= limit:
            return False
        children = item.values() if type(item) is dict else item if type(item) is list else ()
        for child in children:
            if type(child) is dict or type(child) is list:
                push((child, depth + 1))
    return True


def _too_big(size: int, limits: Limits) -> Diagnostic:
    return Diagnostic(INVALID, f"The document is {size} bytes; the limit is {limits.max_bytes}.")


def load_python(document: Any, limits: Limits | None = None):
    """Check a document given as Python objects (from an embedding application).

    It must be what JSON can express: dicts with string keys, lists (tuples are read as
    lists), strings, finite numbers, booleans and None, without cycles and within the depth
    limit. Problems are reported at their place; a sound document is then serialised and
    read back, with the same strictness as text input.
    """
    limits = limits or Limits()
    problems = _python_problems(document, limits)
    if problems:
        return None, Source("<python>", None, limits), problems
    text = json.dumps(document, ensure_ascii=False)
    value, source, problems = load_text(text, "<python>", limits)
    source.text = None  # positions in our own serialisation mean nothing to the user
    return value, source, problems


def _python_problems(document: Any, limits: Limits) -> list[Diagnostic]:
    """What in a Python document is not JSON: iterative, each problem at its pointer."""
    problems: list[Diagnostic] = []
    # every JSON value takes at least two bytes of text, and counts against max_json_values
    budget = min(limits.max_bytes // 2, limits.max_json_values)
    on_path: set[int] = set()  # containers between the root and the current item
    stack: list[tuple[Any, str, int, bool]] = [(document, "", 0, False)]
    while stack:
        item, pointer, depth, leaving = stack.pop()
        if leaving:
            on_path.discard(id(item))
            continue
        budget -= 1
        if budget < 0:
            problems.append(
                Diagnostic(
                    INVALID,
                    f"The document is larger than the limit of {limits.max_bytes} bytes "
                    f"or {limits.max_json_values} values as JSON.",
                )
            )
            break
        if isinstance(item, str | bool | int | type(None)):
            if isinstance(item, int) and abs(item) >= _INT_BOUND:  # as the text reader does
                problems.append(
                    Diagnostic(
                        INVALID,
                        f"An integer with more than {_MAX_INT_DIGITS} digits is too long to "
                        "convert to a number.",
                        pointer,
                    )
                )
            if isinstance(item, str) and _RAW_SURROGATE.search(item) and _LONE.search(item):
                problems.append(
                    Diagnostic(INVALID, "A string contains a lone UTF-16 surrogate.", pointer)
                )
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                problems.append(
                    Diagnostic(
                        INVALID, f"{item} is not a JSON number; use null for no-data.", pointer
                    )
                )
            continue
        if not isinstance(item, dict | list | tuple):
            problems.append(
                Diagnostic(
                    INVALID,
                    f"A value of Python type {type(item).__name__} has no JSON form.",
                    pointer,
                )
            )
            continue
        if id(item) in on_path:
            problems.append(
                Diagnostic(
                    INVALID,
                    "The document contains itself (a reference cycle between Python objects).",
                    pointer,
                )
            )
            continue
        if depth >= limits.max_json_depth:
            problems.append(
                Diagnostic(
                    INVALID,
                    "The document nests arrays and objects deeper "
                    f"than the limit of {limits.max_json_depth} levels.",
                    pointer,
                )
            )
            break  # the text reader stops at the first place too deep, too
        on_path.add(id(item))
        stack.append((item, pointer, depth, True))
        # Children are pushed in reverse so that they are visited in document order.
        if isinstance(item, dict):
            for key, value in reversed(item.items()):
                if not isinstance(key, str):
                    problems.append(
                        Diagnostic(
                            INVALID,
                            f"The object key {short(key)} is not a "
                            "string; JSON object keys are strings.",
                            join(pointer, short(key)),
                        )
                    )
                    continue
                stack.append((value, join(pointer, key), depth + 1, False))
        else:
            stack.extend(
                (item[i], f"{pointer}/{i}", depth + 1, False) for i in range(len(item) - 1, -1, -1)
            )
    return problems


# --------------------------------------------------------------------------------------
# The strict scanner: iterative, linear, reports every problem with its position.

_TOKEN = re.compile(
    r"""[ \t\n\r]*+(?:
      (?P<s>"(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")
     |(?P<n>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
     |(?P<p>[{}\[\]:,])
     |(?P<l>true|false|null)
     |(?P<c>NaN|-?Infinity)
     |(?P<bad>.)
    )""",
    re.X | re.S,
)
_LITERALS = {"true": True, "false": False, "null": None}
_LONE = re.compile(r"[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")

# States of an open container.
_OBJ_FIRST, _OBJ_KEY, _OBJ_COLON, _OBJ_VALUE, _OBJ_NEXT = range(5)
_ARR_FIRST, _ARR_VALUE, _ARR_NEXT = range(5, 8)


def scan(text: str, limits: Limits):
    """Read ``text`` without recursion: ``(value, pointer -> offset, diagnostics)``.

    Strictness problems are collected and reading goes on; a syntax error ends it.
    Diagnostics carry the line and column of the offending token.
    """
    value, offsets, problems = _scan(text, limits)
    if not problems:
        return value, offsets, []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    diagnostics = []
    for message, pointer, offset in problems:
        line = bisect.bisect_right(line_starts, offset)
        diagnostics.append(
            Diagnostic(
                INVALID, message, pointer, line=line, column=offset - line_starts[line - 1] + 1
            )
        )
    return value, offsets, diagnostics


def _scan(text: str, limits: Limits):
    offsets: dict[str, int] = {}
    problems: list[Diagnostic] = []

    def problem(message: str, pointer: str, at: int | None = None) -> None:
        problems.append((message, pointer, pos if at is None else at))

    stack: list[list] = []  # [container, state, pointer, pending key]
    root: Any = None
    have_root = False
    pos = 0
    end = len(text)
    while True:
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:  # only whitespace left
            if stack or not have_root:
                problem(
                    "Invalid JSON: the text ends before the document is complete.",
                    stack[-1][2] if stack else "",
                    len(text.rstrip()),
                )
            break
        pos = m.end()
        kind = m.lastgroup
        start = m.start(kind)
        token = m.group(kind)
        frame = stack[-1] if stack else None
        state = frame[1] if frame else None

        # Punctuation that closes or separates.
        if kind == "p" and token in ",:}]":
            if frame is None:
                return _syntax(problems, offsets, token, start, "")
            if token == "," and state in (_OBJ_NEXT, _ARR_NEXT):
                frame[1] = _OBJ_KEY if state == _OBJ_NEXT else _ARR_VALUE
                continue
            if token == ":" and state == _OBJ_COLON:
                frame[1] = _OBJ_VALUE
                continue
            if (token == "}" and state in (_OBJ_FIRST, _OBJ_NEXT)) or (
                token == "]" and state in (_ARR_FIRST, _ARR_NEXT)
            ):
                stack.pop()
                continue
            return _syntax(problems, offsets, token, start, frame[2])

        # Object keys.
        if state in (_OBJ_FIRST, _OBJ_KEY):
            if kind != "s":
                return _syntax(problems, offsets, token, start, frame[2])
            key = _decode_string(token)
            pointer = join(frame[2], key)
            offsets[pointer] = start
            if key in frame[0]:
                problem(
                    f"Duplicate key {echo(key)} in an object: JSON objects need unique keys.",
                    pointer,
                    start,
                )
            _check_string(key, pointer, limits, problem, start)
            frame[3] = key
            frame[1] = _OBJ_COLON
            continue
        if state == _OBJ_COLON:
            return _syntax(problems, offsets, token, start, frame[2])

        # A value: where does it go?
        if frame is None:
            if have_root:
                return _syntax(problems, offsets, token, start, "")
            pointer = ""
        elif state == _OBJ_VALUE:
            pointer = join(frame[2], frame[3])
        else:  # _ARR_FIRST, _ARR_VALUE
            pointer = join(frame[2], len(frame[0]))
            offsets[pointer] = start
        if kind == "p":  # [ or {
            if len(stack) >= limits.max_json_depth:
                problem(
                    f"The document nests arrays and objects deeper than the limit of "
                    f"{limits.max_json_depth} levels.",
                    pointer,
                    start,
                )
                return None, offsets, problems
            value: Any = {} if token == "{" else []
            new_frame = [value, _OBJ_FIRST if token == "{" else _ARR_FIRST, pointer, None]
        elif kind == "s":
            value = _decode_string(token)
            _check_string(value, pointer, limits, problem, start)
        elif kind == "n":
            value = _number(token, pointer, problem, start)
        elif kind == "l":
            value = _LITERALS[token]
        elif kind == "c":
            problem(
                f"{token} is not a JSON number; openEO documents must be strict JSON "
                "(use null for no-data).",
                pointer,
                start,
            )
            value = None
        else:
            return _syntax(problems, offsets, token, start, pointer)

        if frame is None:
            root, have_root = value, True
            offsets.setdefault("", start)
        elif state == _OBJ_VALUE:
            frame[0][frame[3]] = value
            frame[1] = _OBJ_NEXT
        else:
            frame[0].append(value)
            frame[1] = _ARR_NEXT
        if kind == "p":
            stack.append(new_frame)
        if pos >= end and not stack:
            break
    return root, offsets, problems


def _syntax(problems, offsets, token, start, pointer):
    if token == '"':
        message = (
            "Invalid JSON string: it is not closed, or holds a raw control character "
            "or an invalid escape."
        )
    else:
        message = f"Invalid JSON: unexpected {echo(token)}."
    problems.append((message, pointer, start))
    return None, offsets, problems


def _decode_string(token: str) -> str:
    if "\\" not in token:
        return token[1:-1]
    return json.loads(token)


def _check_string(value: str, pointer: str, limits: Limits, problem, at: int) -> None:
    if len(value) > limits.max_string_length:
        problem(
            f"A string of {len(value)} characters exceeds the limit of {limits.max_string_length}.",
            pointer,
            at,
        )
    if _LONE.search(value):
        problem(
            "A string contains a lone UTF-16 surrogate (\\ud800-\\udfff without its "
            "pair); it cannot be represented as Unicode text.",
            pointer,
            at,
        )


def _number(token: str, pointer: str, problem, at: int) -> int | float | None:
    if "." in token or "e" in token or "E" in token:
        value = float(token)
        if math.isinf(value):
            problem(f"The number {echo(token)} is too large for a 64-bit float.", pointer, at)
            return None
        return value
    if len(token.lstrip("-")) > _MAX_INT_DIGITS:
        problem(
            f"An integer with {len(token.lstrip('-'))} digits is too long to convert to a number.",
            pointer,
            at,
        )
        return None
    return int(token)
