"""The pass manager: runs a pipeline of passes, records what each did and how long it took.

A pass is a function ``(graph, context) -> (new_graph, changed)`` that never mutates its
input and leaves remarks on the nodes it changed. Each pass is described once, in
:data:`PASSES` (:class:`PassInfo`: its name, function, stage, whether it keeps types and
its law); pipelines are named by a string: ``"dce,cse,fold"``, ``"default"`` or ``"none"``.

Verification (issue 19): with ``run_pipeline(..., verify=True)``, or inside
:func:`verifying` (the test suite's autouse fixture enters it), the IR is checked after
every pass: its structure, and that the types of what the graph gives (its result, and
what ``save_result`` and other effects write) are the same or refinements
(:mod:`pgc.ir.verify`); a pass that says it changed nothing must return an equal graph.
An optimize pass leaves the types of what it changed stale (the compiler infers them
again after the pipeline), so the check infers the types of a copy (the passes go on with
the graph as they made it: verifying changes nothing they see). A failed check raises
:class:`PassVerificationError` naming the pass.

>>> parse_pipeline("dce, cse")
['dce', 'cse']
>>> PASSES["fuse-elementwise"].stage, PASSES["fold"].keeps_types
('lower', False)
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ..ir.graph import Graph, IRError
from ..ir.nodes import Node
from ..ir.verify import outputs, outputs_change, verify_structure

PassFn = Callable[[Graph, "PassContext"], tuple[Graph, bool]]
Stage = Literal["optimize", "lower"]


@dataclass
class PassContext:
    """What passes may consult: the process definitions (traits) and the environment, and
    ``overridden``: the process ids the embedding application implements itself (a
    session's process table), which no pass may compute at compile time as pgc would."""

    env: object  # pgc.ir.infer.Environment
    overridden: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PassInfo:
    """One pass, described once.

    ``stage``: ``optimize`` passes map openEO IR to openEO IR that computes the same result
    (the default pipeline); ``lower`` passes turn it into pgc's own nodes for an executor
    (``pgc::kernel``: not openEO, so never in the default pipeline, added by
    :func:`with_lowering`). ``keeps_types``: the nodes the pass writes carry their correct
    types, so the compiler need not infer them again. ``law``: why the rewrite is legal, in
    one line (the pass's module docstring proves it). ``target``: ``module:function``,
    imported when the pass first runs (fold needs numpy, fuse the kernel expressions:
    ``pgc validate`` imports neither).
    """

    name: str
    target: str
    stage: Stage
    keeps_types: bool
    law: str

    @property
    def function(self) -> PassFn:
        """The pass function (its module imported now)."""
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    @property
    def doc(self) -> str:
        """The docstring of the pass's module: the law and where it does not hold."""
        module = importlib.import_module(self.target.partition(":")[0])
        return (module.__doc__ or "").strip()


def _described(*passes: PassInfo) -> MappingProxyType:
    return MappingProxyType({p.name: p for p in passes})


# Every pass pgc has, in the order `pgc explain` lists them.
PASSES: MappingProxyType = _described(
    PassInfo(
        "dce", "pgc.passes.dce:dce", stage="optimize", keeps_types=False,
        law="a pure node nothing reads, and that is not the result, does not change the result",
    ),
    PassInfo(
        "cse", "pgc.passes.cse:cse", stage="optimize", keeps_types=False,
        law="a pure, deterministic process gives the same value for the same arguments",
    ),
    PassInfo(
        "fold", "pgc.passes.fold:fold", stage="optimize", keeps_types=False,
        law="a pure scalar process of literal arguments has one value, known at compile time "
        "(but not a process the session overrides: PassContext.overridden)",
    ),
    PassInfo(
        "push-filters", "pgc.passes.push_filters:push_filters", stage="optimize", keeps_types=False,
        law="F(P(a=c)) == P(a=F(c)) where the filter laws (pgc.passes.laws) say so",
    ),
    PassInfo(
        "reduce-before-merge", "pgc.passes.split_merge:reduce_before_merge", stage="optimize",
        keeps_types=False,
        law="reduce(merge_cubes(a, b), d) == merge_cubes(reduce(a, d), reduce(b, d)) for cubes "
        "with disjoint bands and the same other labels (pgc.passes.split_merge)",
    ),
    PassInfo(
        "load-grid", "pgc.passes.load_grid:load_grid", stage="optimize", keeps_types=False,
        law="resample_spatial(load(c)) == load(c) read onto the resampled grid (near within "
        "the CRS; near across CRSs and average from COG overviews are inexact: "
        "pgc.passes.load_grid)",
    ),
    PassInfo(
        "prune-bands", "pgc.passes.prune_bands:prune_bands", stage="optimize", keeps_types=False,
        law="a band no reader looks at (pgc.analysis.bands) can be left unloaded",
    ),
    PassInfo(
        "fuse-elementwise", "pgc.passes.fuse:fuse_elementwise", stage="lower", keeps_types=True,
        law="apply(apply(c, g), f) == apply(c, f . g): per-pixel work composes into one kernel",
    ),
)  # fmt: skip

# Cleanup (cse, dce) after each pass that moves work, so none is left behind.
DEFAULT_PIPELINE = [
    "fold",
    "cse",
    "dce",
    "push-filters",
    "cse",
    "dce",
    "reduce-before-merge",
    "dce",
    "load-grid",
    "prune-bands",
    "cse",
    "dce",
]

# Whether run_pipeline verifies the IR after each pass when not told so: a context
# variable, so a test (or a thread of a server) turns it on for itself only.
_VERIFYING: ContextVar[bool] = ContextVar("pgc_verify_passes", default=False)


@contextmanager
def verifying(on: bool = True) -> Iterator[None]:
    """Verify the IR after every pass inside this block (in this thread or task only).

    >>> with verifying():
    ...     verification_on()
    True
    """
    token = _VERIFYING.set(on)
    try:
        yield
    finally:
        _VERIFYING.reset(token)


def verification_on() -> bool:
    """Whether :func:`verifying` is in effect here."""
    return _VERIFYING.get()


class PassVerificationError(IRError):
    """A pass made malformed IR, or changed the types of what the graph gives: pgc's bug,
    never the user's."""


@dataclass(frozen=True)
class PassRecord:
    name: str
    changed: bool
    seconds: float
    graph: Graph  # the graph after the pass


@dataclass
class PassLog:
    records: list[PassRecord] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.records)

    @property
    def types_stale(self) -> bool:
        """Whether a pass changed the graph without keeping its types (infer them again)."""
        return any(r.changed and not PASSES[r.name].keeps_types for r in self.records)


def parse_pipeline(text: str) -> list[str]:
    """Pass names from ``"a,b"``; ``"none"`` is empty, ``"default"`` the default pipeline."""
    text = text.strip()
    if text in ("", "none"):
        return []
    if text == "default":
        return list(DEFAULT_PIPELINE)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PASSES and n != "default"]
    if unknown:
        raise ValueError(
            f"unknown pass(es): {', '.join(unknown)}; available: {', '.join(sorted(PASSES))}"
        )
    out: list[str] = []
    for n in names:
        out += DEFAULT_PIPELINE if n == "default" else [n]
    return out


def with_lowering(pipeline: str | list[str]) -> list[str]:
    """``pipeline``, then each lowering pass it does not hold yet (the numba and dask
    executors' pipeline: per-pixel work becomes kernel nodes).

    >>> with_lowering("fold")
    ['fold', 'fuse-elementwise']
    """
    names = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
    lowering = [p.name for p in PASSES.values() if p.stage == "lower" and p.name not in names]
    return [*names, *lowering]


def run_pipeline(
    graph: Graph, names: list[str], context: PassContext, verify: bool = False
) -> tuple[Graph, PassLog]:
    """Run the passes in order; with ``verify`` (or inside :func:`verifying`) check the IR
    after each."""
    unknown = [n for n in names if n not in PASSES]
    if unknown:
        raise ValueError(f"unknown pass(es): {', '.join(unknown)}")
    checker = _Checker(graph, context) if names and (verify or verification_on()) else None
    log = PassLog()
    for name in names:
        info = PASSES[name]
        start = time.perf_counter()
        new, changed = info.function(graph, context)
        seconds = time.perf_counter() - start
        if checker is not None:
            checker.check(info, graph, new, changed)
        log.records.append(PassRecord(name, changed, seconds, new))
        graph = new
    return graph, log


class _Checker:
    """The checks after each pass, and the typed graph of the last one to compare with."""

    def __init__(self, graph: Graph, context: PassContext) -> None:
        from ..ir.infer import Environment

        env = context.env
        # a pass tested alone may get no environment: then structure only
        self.env = env if isinstance(env, Environment) else None
        self.typed, errors = self._infer(graph)
        # a type error in the input is the user's (the compiler reported it); one that a
        # pass brings in is the pass's bug
        self.errors_are_bugs = not errors

    def check(self, info: PassInfo, before: Graph, after: Graph, changed: bool) -> None:
        try:
            verify_structure(after)
        except IRError as exc:
            raise PassVerificationError(f"after {info.name}: {exc}") from None
        if not changed:
            if after != before:
                raise PassVerificationError(f"{info.name} said 'unchanged' but changed the graph")
            return
        typed, errors = self._infer(after)
        if errors and self.errors_are_bugs:
            message = errors[0].message
            raise PassVerificationError(
                f"after {info.name} the graph does not type-check: {message}"
            )
        if self.typed is not None and typed is not None:
            change = outputs_change(self._outputs(self.typed), self._outputs(typed))
            if change is not None:
                raise PassVerificationError(f"{info.name} changed what the graph gives: {change}")
        self.typed = typed

    def _outputs(self, graph: Graph) -> dict:
        return outputs(graph, self._writes)

    def _writes(self, node: Node) -> bool:
        """Whether ``node`` is an effect (trait ``pure`` false: save_result ...), whose
        arguments the graph delivers as much as its result."""
        spec = self.env.specs.get(node.process_id) if node.namespace in (None, "backend") else None
        return spec is not None and not spec.traits.pure

    def _infer(self, graph: Graph) -> tuple[Graph | None, list]:
        """``graph`` typed as inference types it now (a copy: the passes go on with the
        graph as they made it), and the errors inference found."""
        if self.env is None:
            return None, []
        from ..ir.infer import Environment, infer_graph

        env = self.env
        fresh = Environment(env.specs, env.catalog, dict(env.user_processes), limits=env.limits)
        typed = infer_graph(graph, fresh)
        return typed, [d for d in fresh.diagnostics if d.is_error]
