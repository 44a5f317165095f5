"""Recursion among user-defined processes: found in their call graph, named by its cycle.

openEO processes cannot be recursive: a process graph has no conditional way to stop a
recursion that every executor could decide before running (``if`` chooses a value, both
branches are graphs that exist), and pgc runs a call of a user-defined process by putting
its process graph in place of the call (:mod:`pgc.frontend.inline`), which for a
recursive process would never end. Validation therefore refuses every cycle, direct
(``a`` calls ``a``) or through other processes (``a`` calls ``b`` calls ``a``), and names
it so the user sees which calls to break.

>>> call_cycles({"a": ["b"], "b": ["a"], "c": ["c"]})
[['a', 'b'], ['c']]
>>> cycle_message(["a", "b"]).split(";")[0]
"User-defined process 'a' calls itself in a cycle: 'a' -> 'b' -> 'a'"
"""

from __future__ import annotations

from ..errors import echo

# How many processes of a cycle a message names before it shortens (messages stay short).
SHOWN = 12


def call_cycles(calls: dict[str, list[str]]) -> list[list[str]]:
    """The cycles of a call graph (process id -> the ids it calls), each once, as the path
    from its first process in ``calls`` order. Iterative depth-first search: the length of
    a chain of calls is the user's to choose, never Python's recursion depth."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []
    for start in calls:
        if start in state:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            pid, i = stack.pop()
            if i == 0:
                state[pid] = 1
                path.append(pid)
            callees = calls.get(pid, [])
            if i < len(callees):
                stack.append((pid, i + 1))
                callee = callees[i]
                if state.get(callee) == 1:
                    cycles.append(path[path.index(callee) :])
                elif callee not in state:
                    stack.append((callee, 0))
            else:
                state[pid] = 2
                path.pop()
    return cycles


def cycle_message(cycle: list[str]) -> str:
    """The error message for one cycle of calls (``cycle`` from :func:`call_cycles`)."""
    names = [*cycle, cycle[0]]
    if len(names) > SHOWN:
        names = [*names[: SHOWN - 1], "...", names[-1]]
    path = " -> ".join(name if name == "..." else echo(name) for name in names)
    return (
        f"User-defined process {echo(cycle[0])} calls itself in a cycle: {path}; "
        "openEO processes cannot be recursive."
    )
