"""One process's row across pgc's tables (issue 19): what ``pgc processes ID`` prints.

Facts about a process live in tables keyed by process id, each next to the code that uses
it: the definition (:mod:`pgc.specs`), pgc's traits (``specs/traits.json``,
:class:`pgc.specs.Traits`), the type rules (:data:`pgc.ir.typerules.TYPE_RULES`), the
filter laws (:data:`pgc.passes.laws.FILTER_LAWS`), the passes' own tables (fold, band
usage, fusion), the reference implementations, the kernel forms
(:mod:`pgc.kernels.expr`, :mod:`pgc.kernels.reducers`) and the dask executor's chunked
forms (:data:`pgc.executors.dask.chunked.FORMS`). :func:`process_row` gathers one process's
entries from all of them, so a missing entry (a process the reference does not run, a
kernel form without a trait saying it is elementwise) shows at a glance.

This module reads every layer's tables, so it sits on top, beside the command line; it
imports the executors (numpy, xarray), never numba or dask.

>>> row = process_row("add")
>>> row.type_rule, row.reference is not None, row.kernel
(True, True, 'binary template ({0} + {1})')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .specs import ProcessSpec, Specs, Traits, bundled_traits, load_specs


@dataclass(frozen=True)
class ProcessRow:
    """Where one process appears in pgc's tables (None or empty: it does not)."""

    id: str
    spec: ProcessSpec | None
    traits: Traits
    type_rule: bool
    filter_laws: tuple[str, ...]  # what push-filters knows of it
    passes: tuple[str, ...]  # other passes' tables that name it
    reference: str | None  # the implementation's module and function
    kernel: str | None  # its form in a fused kernel
    dask: str | None  # its chunked form

    def flags(self) -> dict[str, bool]:
        """The four columns of ``pgc processes``."""
        return {
            "type-rule": self.type_rule,
            "reference": self.reference is not None,
            "kernel": self.kernel is not None,
            "dask": self.dask is not None,
        }

    def to_json(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "id": self.id,
            "summary": spec.summary if spec else None,
            "parameters": [_parameter(p) for p in spec.parameters] if spec else [],
            "traits": dict(self.traits),
            "type_rule": self.type_rule,
            "filter_laws": list(self.filter_laws),
            "passes": list(self.passes),
            "reference": self.reference,
            "kernel": self.kernel,
            "dask": self.dask,
        }

    def lines(self) -> list[str]:
        """The row as ``pgc processes ID`` prints it."""
        spec = self.spec
        out = [f"{self.id}: {spec.summary if spec else '(no definition)'}"]
        if spec is not None:
            flags = [f for f in ("experimental", "deprecated", "proposal") if getattr(spec, f)]
            if flags:
                out.append(f"  {', '.join(flags)}")
            out.append("  parameters:")
            out += [f"    {_parameter_text(p)}" for p in spec.parameters] or ["    (none)"]
        traits = ", ".join(f"{k}={_text(v)}" for k, v in self.traits.items()) or "(none)"
        out.append(f"  traits: {traits}")
        out.append(f"  type rule: {'yes' if self.type_rule else 'no (the returns schema)'}")
        out.append("  filter laws: " + ("; ".join(self.filter_laws) or "none (no filter moves)"))
        out.append("  passes: " + ("; ".join(self.passes) or "none"))
        out.append(f"  reference: {self.reference or 'not implemented'}")
        out.append(f"  kernel: {self.kernel or 'none'}")
        out.append(f"  dask: {self.dask or 'none (computed, then the reference runs it)'}")
        return out


def process_ids(specs: Specs | None = None) -> list[str]:
    """Every process id of ``specs`` and of pgc's traits, sorted."""
    specs = specs if specs is not None else load_specs()
    return sorted(set(specs.ids()) | set(bundled_traits()))


def process_row(process_id: str, specs: Specs | None = None) -> ProcessRow:
    """The row of ``process_id`` across pgc's tables (``specs``: the active definitions)."""
    from .ir.typerules import TYPE_RULES

    specs = specs if specs is not None else load_specs()
    spec = specs.get(process_id)
    traits = spec.traits if spec is not None else bundled_traits().get(process_id, Traits())
    return ProcessRow(
        id=process_id,
        spec=spec,
        traits=traits,
        type_rule=process_id in TYPE_RULES,
        filter_laws=_filter_laws(process_id),
        passes=_passes(process_id),
        reference=_reference(process_id),
        kernel=kernel_form(process_id),
        dask=_dask(process_id),
    )


def _filter_laws(process_id: str) -> tuple[str, ...]:
    from .passes.laws import FILTER_KINDS, FILTER_LAWS

    out = []
    kind = FILTER_KINDS.get(process_id)
    if kind is not None:
        out.append(f"a filter of kind {kind!r}: push-filters moves it toward the loads")
    law = FILTER_LAWS.get(process_id)
    if law is not None:
        out.append(f"filters move below it: {_first_sentence(law.__doc__)}")
    return tuple(out)


def _passes(process_id: str) -> tuple[str, ...]:
    from .analysis.bands import ALONG_DIMENSION, PER_BAND
    from .passes.fold import FOLDABLE

    out = []
    if process_id in FOLDABLE:
        out.append("fold computes it at compile time (literal arguments)")
    if process_id in PER_BAND:
        out.append("prune-bands: computes each band alone")
    if process_id in ALONG_DIMENSION:
        out.append("prune-bands: each band alone along a dimension other than the bands")
    return tuple(out)


def _reference(process_id: str) -> str | None:
    from .executors.reference import default_processes

    fn = default_processes().get(process_id)
    if fn is None:
        return None
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__name__', type(fn).__name__)}"


def kernel_form(process_id: str) -> str | None:
    """How the fuse pass and the kernels take ``process_id`` in (None: not at all)."""
    from .kernels.expr import ARGUMENTS, BINARY, UNARY
    from .kernels.reducers import REDUCERS
    from .passes.fuse import GROWS_THROUGH

    if process_id in GROWS_THROUGH:
        return "fuse-elementwise grows a kernel through it (pgc.passes.fuse)"
    if process_id in UNARY:
        return f"unary template {UNARY[process_id]}"
    if process_id in BINARY:
        return f"binary template {BINARY[process_id]}"
    if process_id == "array_element":
        return "an input of the kernel (a reducer's pick by label or index)"
    if process_id in REDUCERS:
        return "a reduction kernel folds the dimension (pgc.kernels.reducers)"
    if process_id in ARGUMENTS:
        operands = ", ".join(ARGUMENTS[process_id])
        return f"an expression node over ({operands}) (pgc.kernels.expr)"
    return None


def _dask(process_id: str) -> str | None:
    from .executors.dask import chunked
    from .executors.dask import neighborhood as chunked_neighborhood
    from .executors.dask import reduce as chunked_reduce
    from .executors.dask.columns import COLUMNS

    out = []
    if process_id in chunked.LAZY:
        out.append("the reference's own implementation, as lazy on dask arrays as on numpy")
    if process_id in chunked_reduce.FORMS:
        out.append("a tree reduction over the chunks' y and x")
    if process_id in chunked_neighborhood.FORMS:
        out.append("each chunk with the halo its neighbourhood needs")
    if process_id in COLUMNS:
        named = " or ".join(COLUMNS[process_id])
        unless = f" (unless {named} names y or x)" if named else ""
        out.append(f"the reference on each chunk alone{unless}")
    form = chunked.FORMS.get(process_id)
    if form is not None and not out:
        out.append(f"{form.__module__}.{form.__name__}: {_first_sentence(form.__doc__)}")
    return "; ".join(out) or None


def _parameter(p) -> dict[str, Any]:
    return {"name": p.name, "optional": p.optional, "schema": p.schema}


def _parameter_text(p) -> str:
    kinds = _schema_text(p.schema)
    return f"{p.name}{'?' if p.optional else ''}: {kinds}"


def _schema_text(schema: Any) -> str:
    """A schema in a few words: its types and subtypes (``number|null``, ``datacube``)."""
    options = schema if isinstance(schema, list) else [schema]
    words = []
    for option in options:
        if not isinstance(option, dict):
            continue
        word = option.get("subtype") or option.get("type") or "any"
        words += word if isinstance(word, list) else [word]
    return "|".join(dict.fromkeys(str(w) for w in words)) or "any"


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring, on one line."""
    text = " ".join((doc or "").replace("``", "").split())
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]
