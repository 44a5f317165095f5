"""User-defined processes a graph calls by id: how they are read and how they are checked.

The caller gives them as a mapping of id to process object or as a list of process objects
(:func:`read_user_processes`). Each one a graph calls is checked once, with its own
parameters in scope, however many nodes call it; its errors are reported at the user's
first call, where the user can act on them, and calls that loop back (``a`` calls ``b``
calls ``a``) are reported as a cycle (:func:`check_user_processes`).

>>> from pgc.specs import load_specs
>>> graph = {"p": {"process_id": "pi", "arguments": {}, "result": True}}
>>> udps = read_user_processes([{"id": "my_pi", "process_graph": graph}], load_specs())
>>> list(udps), udps["my_pi"].declared
(['my_pi'], False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, echo
from ..specs import Specs
from .reader import DeclaredParameter, ProcessDocument, read_process
from .recursion import call_cycles, cycle_message
from .schema import Matcher
from .walk import ANY, INVALID, Scope, Task

if TYPE_CHECKING:
    from .checker import Checker


@dataclass
class UserProcess:
    """A user-defined process the caller provides, callable by id from graphs."""

    id: str
    document: Any
    process: ProcessDocument | None
    parameters: dict[str, DeclaredParameter]
    returns: Matcher
    problems: list[Diagnostic]
    declared: bool = True  # False: no "parameters" given, so they are unknown (openEO API)


def read_user_processes(raw: dict[str, Any] | list | None, specs: Specs) -> dict[str, UserProcess]:
    """The user-defined processes by id, read but not yet checked (what reading them
    found waits in each one's ``problems`` until a graph calls it)."""
    if not raw:
        return {}
    items = list(raw.items()) if isinstance(raw, dict) else [(None, p) for p in raw]
    out: dict[str, UserProcess] = {}
    for key, doc in items:
        problems: list[Diagnostic] = []
        process = read_process(doc, problems, specs.subtypes) if isinstance(doc, dict) else None
        pid = key or (process.id if process else None)
        if not pid:
            continue
        params = {p.name: p for p in (process.parameters or [])} if process else {}
        returns = process.returns if process and process.returns else ANY
        declared = process is not None and process.parameters is not None
        out[pid] = UserProcess(pid, doc, process, params, returns, problems, declared)
    return out


def check_user_processes(checker: Checker) -> None:
    """Validate each called user-defined process once; report calls that loop."""
    calls: dict[str, list[str]] = {}
    pending = list(checker.called_user)
    while pending:
        pid = pending.pop()
        if pid in calls:
            continue
        udp = checker.user[pid]
        sub = checker.fresh()
        sub.problems = list(udp.problems)
        if udp.process is not None:
            top = Scope(
                {p.name: p.matcher for p in udp.process.parameters or ()},
                open=udp.process.parameters is None,
                label=f"user-defined process {echo(pid)}",
            )
            sub.run(
                Task(
                    udp.process.graph,
                    udp.process.graph_pointer,
                    top,
                    0,
                    returns=udp.process.returns,
                )
            )
        else:
            sub.report(INVALID, "The user-defined process has no process graph.", "")
        calls[pid] = list(sub.called_user)
        pending += sub.called_user
        caller = checker.called_user[pid]
        for callee in sub.called_user:  # report problems at the user's own call
            checker.called_user.setdefault(callee, caller)
        for d in sub.problems:
            if not d.is_error:
                continue
            checker.problems.append(
                Diagnostic(
                    d.code,
                    f"In user-defined process {echo(pid)} at {d.pointer or '/'}: {d.message}",
                    caller,
                    node_id=d.node_id,
                    process_id=d.process_id,
                    argument=d.argument,
                    hint=d.hint,
                )
            )
    for cycle in call_cycles(calls):  # reported at the user's call that starts it
        checker.report(INVALID, cycle_message(cycle), checker.called_user.get(cycle[0]) or "")
