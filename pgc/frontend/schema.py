"""Argument checking against openEO parameter schemas.

openEO describes every parameter with a JSON schema extended by *subtypes* (``datacube``,
``process-graph``, ``bounding-box``, ``temporal-interval`` ...). An argument value is JSON
that may hold references (``from_node``/``from_parameter``) and child process graphs at any
depth, so a plain JSON-schema validator cannot check it: pgc compiles each schema once into
a :class:`Matcher` tree that

- checks literal values like JSON schema draft 7 does (``type``, ``enum``, ``const``,
  bounds, ``pattern``, ``format``, ``items``, ``properties``, ``required``,
  ``additionalProperties``, ``anyOf``/``oneOf``/``allOf``/``not``; a list of schemas means
  "any of"), and openEO's ``minimumExclusive``/``maximumExclusive`` spelling;
- treats a reference as the schema of what it refers to and checks that it *can* match;
- hands child process graphs found where the schema has ``subtype: process-graph`` to the
  caller, together with the callback's parameter schemas;
- explains a mismatch in openEO terms, at the deepest place that shows it.

>>> from pgc.frontend.schema import compile_schema
>>> m = compile_schema({"type": "integer", "minimum": 0})
>>> m.match(-1, "/x", None, [])
[('/x', 'must be at least 0, got -1')]
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from ..errors import echo
from ..jsonvalue import canonical

JSON_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
CUBE_SUBTYPES = {"datacube", "raster-cube", "vector-cube"}
_ARTICLE = {"null": "null", "integer": "an integer", "array": "an array", "object": "an object"}

Problem = tuple[str, str]  # (pointer, message)


class RefResolver(Protocol):
    def ref_schema(self, ref: dict) -> Matcher | None:
        """The matcher of what a reference yields; None when unknown (already reported)."""


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and ("from_node" in value or "from_parameter" in value)


def is_callback(value: Any) -> bool:
    return isinstance(value, dict) and "process_graph" in value and not is_reference(value)


def describe_value(value: Any) -> str:
    kind = json_type(value)
    if kind in ("null", "boolean") or (kind in ("integer", "number", "string")):
        return f"{_ARTICLE.get(kind, 'a ' + kind)} ({echo(value)})"
    return _ARTICLE.get(kind, "a " + kind)


# ---------------------------------------------------------------------------------------
# Formats and subtype rules that JSON schema alone does not express.

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$"
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")


def _valid_date(y: str, m: str, d: str) -> bool:
    try:
        _dt.date(int(y), int(m), int(d))
    except ValueError:
        return False
    return True


def check_format(fmt: str, value: str) -> str | None:
    """A message when ``value`` does not have format ``fmt``; unknown formats pass.

    date-time follows RFC 3339; a missing UTC offset is accepted (read as UTC), as openEO
    back-ends and the openEO Python client do.
    """
    if fmt == "date":
        m = _DATE.match(value)
        if not m or not _valid_date(*m.groups()):
            return "must be a date like '2023-06-30'"
    elif fmt == "date-time":
        m = _DATE_TIME.match(value)
        ok = bool(m) and _valid_date(*m.groups()[:3])
        if ok:
            hh, mm, ss = (int(x) for x in m.groups()[3:6])
            ok = hh < 24 and mm < 60 and ss <= 60
        if not ok:
            return "must be an RFC 3339 date-time like '2023-06-30T12:00:00Z'"
    elif fmt == "uri" and not _URI.match(value):
        return "must be a URI like 'https://example.com/item.json'"
    return None


GEOJSON_TYPES = {
    "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
    "GeometryCollection", "Feature", "FeatureCollection",
}  # fmt: skip
_GEOJSON_NEEDS = {
    "GeometryCollection": "geometries",
    "Feature": "geometry",
    "FeatureCollection": "features",
}


def check_subtype(subtype: str, value: Any) -> str | None:
    """Rules of openEO subtypes beyond their JSON schema, for literal values."""
    if subtype == "geojson" and isinstance(value, dict):
        kind = value.get("type")
        if not isinstance(kind, str) or kind not in GEOJSON_TYPES:
            return f"must be GeoJSON: 'type' must be one of {', '.join(sorted(GEOJSON_TYPES))}"
        needs = _GEOJSON_NEEDS.get(kind, "coordinates")
        if needs not in value:
            return f"must be GeoJSON: a {kind} needs '{needs}'"
    elif subtype == "temporal-interval" and isinstance(value, list) and len(value) == 2:
        if value[0] is None and value[1] is None:
            return "must not be open at both ends: at least one of the two instants is needed"
    elif subtype in CUBE_SUBTYPES:
        return "must be a data cube, which a literal value cannot be: pass a process result"
    return None


# ---------------------------------------------------------------------------------------
# Compiled schemas.


@dataclass(eq=False)
class Matcher:
    """A compiled schema node. ``alternatives`` is set for anyOf/oneOf/list schemas."""

    schema: Any
    types: frozenset[str] | None = None  # None: any JSON type
    subtype: str | None = None
    title: str | None = None
    alternatives: list[Matcher] | None = None
    all_of: list[Matcher] = field(default_factory=list)
    negated: Matcher | None = None
    enum: list | None = None
    const: Any = None
    has_const: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern | None = None
    format: str | None = None
    items: Matcher | None = None
    tuple_items: list[Matcher] | None = None
    min_items: int | None = None
    max_items: int | None = None
    unique_items: bool = False
    properties: dict[str, Matcher] | None = None
    required: tuple[str, ...] = ()
    additional: Matcher | bool = True
    callback_parameters: list | None = None  # for subtype process-graph
    callback_returns: Any = None

    # -- what can match -------------------------------------------------------------
    @property
    def accepts_anything(self) -> bool:
        return (
            self.types is None
            and self.alternatives is None
            and not self.all_of
            and self.negated is None
            and self.subtype is None
            and self.enum is None
            and not self.has_const
        )

    @cached_property
    def kinds(self) -> frozenset[tuple[str, str | None]] | None:
        """The (JSON type, subtype) pairs this schema can match; None for any."""
        if self.alternatives is not None:
            out: set = set()
            for alt in self.alternatives:
                k = alt.kinds
                if k is None:
                    return None
                out |= k
            return frozenset(out)
        if self.types is None:
            if self.enum is not None or self.has_const:
                values = self.enum if self.enum is not None else [self.const]
                return frozenset((json_type(v), None) for v in values)
            return None
        return frozenset((t, self.subtype) for t in self.types)

    def can_accept(self, other: Matcher) -> bool:
        """Whether some value described by ``other`` could satisfy this schema."""
        mine, theirs = self.kinds, other.kinds
        if mine is theirs:
            return True
        if mine is None or theirs is None:
            return True
        for t1, s1 in theirs:
            for t2, s2 in mine:
                if not _types_meet(t1, t2):
                    continue
                if t1 != "object" or s1 is None or s2 is None or _subtypes_meet(s1, s2):
                    return True
        return False

    def describe(self) -> str:
        """What the schema expects, in words: 'a number or null', 'a bounding box'."""
        if self.alternatives is not None:
            parts = _unique(alt.describe() for alt in self.alternatives)
            return (
                " or ".join(parts)
                if len(parts) <= 2
                else ", ".join(parts[:-1]) + " or " + parts[-1]
            )
        if self.subtype in CUBE_SUBTYPES:
            return "a data cube"
        if self.subtype == "process-graph":
            return "a child process graph"
        if self.title and self.types and "object" in self.types:
            return f"an object ({self.title})"
        if self.enum is not None:
            return "one of " + ", ".join(echo(v) for v in self.enum)
        if self.has_const:
            return f"the value {echo(self.const)}"
        if self.types is None:
            return "any value"
        names = [_ARTICLE.get(t, "a " + t) for t in JSON_TYPES if t in self.types]
        if "integer" in self.types and "number" in self.types:
            names.remove("an integer")
        text = " or ".join(names)
        if self.subtype:
            text += f" ({self.subtype})"
        elif self.format:
            text += f" ({self.format})"
        return text

    # -- matching -------------------------------------------------------------------
    def match(
        self, value: Any, pointer: str, ctx: RefResolver | None, callbacks: list
    ) -> list[Problem]:
        """Problems of ``value`` against this schema; [] when it matches.

        Child process graphs accepted here are appended to ``callbacks`` as
        ``(value, matcher, pointer)``.
        """
        if isinstance(value, dict):
            if "from_node" in value or "from_parameter" in value:
                return self._match_reference(value, pointer, ctx)
            if "process_graph" in value:
                return self._match_callback(value, pointer, callbacks)
        if self.alternatives is not None:
            return self._match_any(value, pointer, ctx, callbacks)
        if self.types is not None and not _type_ok(value, self.types):
            return [(pointer, f"must be {self.describe()}, got {describe_value(value)}")]
        problems = self._keywords(value, pointer, ctx, callbacks)
        if problems:
            return problems
        for sub in self.all_of:
            problems = sub.match(value, pointer, ctx, callbacks)
            if problems:
                return problems
        if self.negated is not None and not self.negated.match(value, pointer, ctx, []):
            return [(pointer, f"must not be {self.negated.describe()}")]
        if self.subtype is not None:
            message = check_subtype(self.subtype, value)
            if message:
                return [(pointer, message)]
        return []

    def _match_reference(self, ref: dict, pointer: str, ctx: RefResolver | None) -> list[Problem]:
        produced = ctx.ref_schema(ref) if ctx is not None else None
        if produced is None or self.can_accept(produced):
            return []
        source = ref.get("from_node", ref.get("from_parameter"))
        what = "node" if "from_node" in ref else "parameter"
        return [
            (
                pointer,
                f"must be {self.describe()}, but {what} {echo(source)} gives {produced.describe()}",
            )
        ]

    def _match_callback(self, value: dict, pointer: str, callbacks: list) -> list[Problem]:
        if self.subtype == "process-graph":
            callbacks.append((value, self, pointer))
            return []
        if self.alternatives is not None:
            for alt in self.alternatives:
                if not alt._match_callback(value, pointer, []):
                    return alt._match_callback(value, pointer, callbacks)
        return [(pointer, f"must be {self.describe()}; a child process graph is not allowed here")]

    def _match_any(self, value, pointer, ctx, callbacks) -> list[Problem]:
        fitting: list[tuple[Matcher, list[Problem]]] = []
        for alt in self.alternatives or ():
            found: list = []
            problems = alt.match(value, pointer, ctx, found)
            if not problems:
                callbacks.extend(found)
                return []
            if alt.types is not None and _type_ok(value, alt.types):
                fitting.append((alt, problems))
        # Explain with the alternative whose JSON type fits the value, if only one does,
        # or, among objects, the one that knows most of the value's keys.
        if len(fitting) > 1 and isinstance(value, dict):
            scored = sorted(
                (
                    (len(set(value) & set(alt.properties or ())), i)
                    for i, (alt, _) in enumerate(fitting)
                ),
                reverse=True,
            )
            if scored[0][0] > 0 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
                return fitting[scored[0][1]][1]
        if len(fitting) == 1:
            return fitting[0][1]
        if fitting:
            expected = " or ".join(_unique(alt.describe() for alt, _ in fitting))
            return [(pointer, f"must be {expected}, got {describe_value(value)}")]
        return [(pointer, f"must be {self.describe()}, got {describe_value(value)}")]

    def _keywords(self, value, pointer, ctx, callbacks) -> list[Problem]:
        if self.enum is not None and not any(_json_equal(value, e) for e in self.enum):
            return [(pointer, f"must be {self.describe()}, got {echo(value)}")]
        if self.has_const and not _json_equal(value, self.const):
            return [(pointer, f"must be {echo(self.const)}, got {echo(value)}")]
        if isinstance(value, bool):
            return []
        if isinstance(value, int | float):
            return self._number(value, pointer)
        if isinstance(value, str):
            return self._string(value, pointer)
        if isinstance(value, list):
            return self._array(value, pointer, ctx, callbacks)
        if isinstance(value, dict):
            return self._object(value, pointer, ctx, callbacks)
        return []

    def _number(self, value: float, pointer: str) -> list[Problem]:
        if self.minimum is not None and value < self.minimum:
            return [(pointer, f"must be at least {_num(self.minimum)}, got {_num(value)}")]
        if self.maximum is not None and value > self.maximum:
            return [(pointer, f"must be at most {_num(self.maximum)}, got {_num(value)}")]
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            return [
                (pointer, f"must be greater than {_num(self.exclusive_minimum)}, got {_num(value)}")
            ]
        if self.exclusive_maximum is not None and value >= self.exclusive_maximum:
            return [
                (pointer, f"must be less than {_num(self.exclusive_maximum)}, got {_num(value)}")
            ]
        return []

    def _string(self, value: str, pointer: str) -> list[Problem]:
        if self.min_length is not None and len(value) < self.min_length:
            return [(pointer, f"must have at least {self.min_length} characters")]
        if self.max_length is not None and len(value) > self.max_length:
            return [(pointer, f"must have at most {self.max_length} characters")]
        if self.pattern is not None and not self.pattern.search(value):
            what = self.subtype or "string"
            return [
                (pointer, f"{echo(value)} is not a valid {what} (pattern {self.pattern.pattern})")
            ]
        if self.format is not None:
            message = check_format(self.format, value)
            if message:
                return [(pointer, f"{message}, got {echo(value)}")]
        return []

    def _array(self, value: list, pointer: str, ctx, callbacks) -> list[Problem]:
        n = len(value)
        if self.min_items is not None and n < self.min_items:
            return [(pointer, _count_message("at least", self.min_items, n, self.subtype))]
        if self.max_items is not None and n > self.max_items:
            return [(pointer, _count_message("at most", self.max_items, n, self.subtype))]
        if self.unique_items and n > 1 and len({canonical(v) for v in value}) != n:
            return [(pointer, "must not contain the same value twice")]
        problems: list[Problem] = []
        if self.tuple_items is not None:
            for i, (item, sub) in enumerate(zip(value, self.tuple_items, strict=False)):
                problems += sub.match(item, f"{pointer}/{i}", ctx, callbacks)
        elif self.items is not None and not self.items.accepts_anything:
            for i, item in enumerate(value):
                problems += self.items.match(item, f"{pointer}/{i}", ctx, callbacks)
                if len(problems) >= 5:  # enough to show the pattern
                    break
        return problems

    def _object(self, value: dict, pointer: str, ctx, callbacks) -> list[Problem]:
        missing = [k for k in self.required if k not in value]
        if missing:
            names = ", ".join(f"'{k}'" for k in missing)
            title = f" ({self.title})" if self.title else ""
            return [
                (
                    pointer,
                    f"must have the propert{'ies' if len(missing) > 1 else 'y'} {names}{title}",
                )
            ]
        problems: list[Problem] = []
        props = self.properties or {}
        for key, item in value.items():
            sub = props.get(key)
            child = pointer + "/" + key.replace("~", "~0").replace("/", "~1")
            if sub is None:
                if self.additional is False:
                    allowed = ", ".join(sorted(props)) or "none"
                    problems.append((child, f"is not an allowed property (allowed: {allowed})"))
                    continue
                if self.additional is True:
                    continue
                sub = self.additional
            problems += sub.match(item, child, ctx, callbacks)
        return problems


def _unique(items) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _num(x: float) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() and abs(x) < 1e15 else str(x)


def _count_message(bound: str, limit: int, n: int, subtype: str | None) -> str:
    what = f" ({subtype})" if subtype else ""
    return f"must have {bound} {limit} item{'s' if limit != 1 else ''}{what}, got {n}"


def _type_ok(value: Any, types: frozenset[str]) -> bool:
    kind = json_type(value)
    if kind in types:
        return True
    return kind == "integer" and "number" in types


def _types_meet(produced: str, expected: str) -> bool:
    return produced == expected or {produced, expected} == {"integer", "number"}


def _subtypes_meet(a: str, b: str) -> bool:
    return a == b or (a in CUBE_SUBTYPES and b in CUBE_SUBTYPES)


def _json_equal(a: Any, b: Any) -> bool:
    return canonical(a) == canonical(b)


class SchemaError(ValueError):
    """A schema pgc cannot compile (too deep, or not a schema at all)."""


def compile_schema(schema: Any, subtypes: Any = None, max_depth: int = 64) -> Matcher:
    """Compile a parameter schema (a dict, a list meaning any-of, or a boolean)."""
    return _Compiler(subtypes or {}, max_depth).compile(schema, 0)


@dataclass
class _Compiler:
    subtypes: Any
    max_depth: int

    def compile(self, schema: Any, depth: int) -> Matcher:
        if depth > self.max_depth:
            raise SchemaError(f"schema nested deeper than {self.max_depth} levels")
        if schema is True or schema == {}:
            return Matcher(schema)
        if schema is False:
            return Matcher(schema, types=frozenset())
        if isinstance(schema, list):
            return Matcher(schema, alternatives=[self.compile(s, depth + 1) for s in schema])
        if not isinstance(schema, dict):
            raise SchemaError(f"a schema must be an object, a list or a boolean, got {schema!r}")
        m = Matcher(schema)
        s = schema
        if "$ref" in s:
            ref = s["$ref"]
            name = ref.rsplit("/", 1)[-1] if isinstance(ref, str) and ref.startswith("#/") else None
            if name is not None and name in self.subtypes:
                m.all_of.append(self.compile(self.subtypes[name], depth + 1))
        t = s.get("type")
        if isinstance(t, str):
            m.types = frozenset([t])
        elif isinstance(t, list):
            m.types = frozenset(x for x in t if isinstance(x, str))
        m.subtype = s.get("subtype") if isinstance(s.get("subtype"), str) else None
        m.title = s.get("title") if isinstance(s.get("title"), str) else None
        alternatives = []
        for key in ("anyOf", "oneOf"):
            if isinstance(s.get(key), list):
                alternatives += [self.compile(x, depth + 1) for x in s[key]]
        if alternatives:
            if m.types is None and m.subtype is None and not _has_value_keywords(s):
                m.alternatives = alternatives
            else:  # type and anyOf together: both must hold
                m.all_of.append(Matcher(s, alternatives=alternatives))
        if isinstance(s.get("allOf"), list):
            m.all_of += [self.compile(x, depth + 1) for x in s["allOf"]]
        if "not" in s:
            m.negated = self.compile(s["not"], depth + 1)
        if isinstance(s.get("enum"), list):
            m.enum = s["enum"]
        if "const" in s:
            m.const, m.has_const = s["const"], True
        m.minimum = _number_or_none(s.get("minimum"))
        m.maximum = _number_or_none(s.get("maximum"))
        # openEO spells the exclusive bounds minimumExclusive/maximumExclusive.
        m.exclusive_minimum = _number_or_none(s.get("exclusiveMinimum", s.get("minimumExclusive")))
        m.exclusive_maximum = _number_or_none(s.get("exclusiveMaximum", s.get("maximumExclusive")))
        m.min_length = _int_or_none(s.get("minLength"))
        m.max_length = _int_or_none(s.get("maxLength"))
        if isinstance(s.get("pattern"), str):
            try:
                m.pattern = re.compile(s["pattern"])
            except re.error as exc:
                raise SchemaError(f"invalid pattern {s['pattern']!r}: {exc}") from None
        m.format = s.get("format") if isinstance(s.get("format"), str) else None
        items = s.get("items")
        if isinstance(items, list):
            m.tuple_items = [self.compile(x, depth + 1) for x in items]
        elif items is not None:
            m.items = self.compile(items, depth + 1)
        m.min_items = _int_or_none(s.get("minItems"))
        m.max_items = _int_or_none(s.get("maxItems"))
        m.unique_items = s.get("uniqueItems") is True
        if isinstance(s.get("properties"), dict):
            m.properties = {k: self.compile(v, depth + 1) for k, v in s["properties"].items()}
        if isinstance(s.get("required"), list):
            m.required = tuple(k for k in s["required"] if isinstance(k, str))
        additional = s.get("additionalProperties", True)
        m.additional = (
            additional if isinstance(additional, bool) else self.compile(additional, depth + 1)
        )
        if m.subtype == "process-graph":
            m.callback_parameters = (
                s.get("parameters") if isinstance(s.get("parameters"), list) else None
            )
            returns = s.get("returns")
            m.callback_returns = returns.get("schema", {}) if isinstance(returns, dict) else {}
        return m


_VALUE_KEYWORDS = (
    "enum",
    "const",
    "minimum",
    "maximum",
    "pattern",
    "items",
    "properties",
    "required",
    "minItems",
    "maxItems",
    "format",
)


def _has_value_keywords(s: dict) -> bool:
    return any(k in s for k in _VALUE_KEYWORDS)


def _number_or_none(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float) or math.isnan(x):
        return None
    return x


def _int_or_none(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) else None
