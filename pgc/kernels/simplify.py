"""Constant folding and dead-code elimination of a kernel's per-pixel statements.

Code generation emits every node's value and validity uniformly: an input without a mask
has validity ``True``, an ``or`` of two such inputs combines those ``True`` s, and every
boolean keeps a float number next to its native bool, used or not. LLVM folds most of it,
but not all: the leftovers cost the cloud-masked composite about a tenth of its time. This
pass removes them before numba sees the code, on the statements' Python syntax tree:

- a generated temporary (``v3``, ``k3``, ``tv3``, ...) assigned once to ``True`` or
  ``False``, or to another temporary assigned once, is replaced by that constant or name
  where it is read;
- ``&``, ``|``, ``not``, ``a if c else b`` and ``if`` statements with constant operands
  are folded (the generated code applies ``&``/``|`` to bools only, so ``x & True`` is
  ``x``);
- assignments to temporaries nobody reads are dropped;

until nothing changes. Statements other than assignments to temporaries (the fold's
updates of its accumulators) are kept as they are.
"""

from __future__ import annotations

import ast
import re

from ..threadsafe import AST

# the names code generation gives its temporaries: v3, k3, and tv3/dv3/hv3/cv3
_TEMPORARY = re.compile(r"^(?:[a-z]v|v|k)\d+$")


def simplify(lines: list[str], live: set[str]) -> tuple[list[str], dict[str, bool | str]]:
    """The statements ``lines`` simplified, keeping the names in ``live`` (read after them);
    and the live names that turned out constant or copies, with their value or the name
    they copy."""
    with AST:  # one thread at a time (pgc.threadsafe)
        tree = ast.parse("\n".join(lines))
    constants: dict[str, bool] = {}
    while True:
        found = _constants(tree)
        tree = ast.fix_missing_locations(_Fold(found).visit(tree))
        removed = _drop_dead(tree, live)
        if not removed and found.keys() <= constants.keys():
            break
        constants.update(found)
    known = {}
    for name in live & constants.keys():
        value = constants[name]
        while isinstance(value, str) and value in constants:  # a copy of a copy
            value = constants[value]
        known[name] = value
    return ast.unparse(tree).splitlines(), known


def _constants(tree: ast.AST) -> dict[str, bool | str]:
    """Temporaries assigned exactly once, to a bool constant or to another such temporary
    (a copy: its name)."""
    counts: dict[str, int] = {}
    values: dict[str, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    counts[target.id] = counts.get(target.id, 0) + 1
                    value = getattr(node, "value", None)
                    if isinstance(node, ast.Assign) and _is_bool(value):
                        values[target.id] = value.value
                    elif isinstance(node, ast.Assign) and isinstance(value, ast.Name):
                        values[target.id] = value.id
    once = {name for name, count in counts.items() if count == 1 and _TEMPORARY.match(name)}
    return {
        name: value
        for name, value in values.items()
        if name in once and (isinstance(value, bool) or counts.get(value, 0) == 0 or value in once)
    }


def _is_bool(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, bool)


class _Fold(ast.NodeTransformer):
    def __init__(self, constants: dict[str, bool]):
        self.constants = constants

    def visit_Name(self, node: ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id in self.constants:
            value = self.constants[node.id]
            if isinstance(value, str):
                return ast.copy_location(ast.Name(value, ast.Load()), node)
            return ast.copy_location(ast.Constant(value), node)
        return node

    def visit_BinOp(self, node: ast.BinOp):
        self.generic_visit(node)
        if not isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            return node
        absorbing = isinstance(node.op, ast.BitOr)  # x | True is True, x & False is False
        for this, other in ((node.left, node.right), (node.right, node.left)):
            if _is_bool(this):
                return this if this.value == absorbing else other
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and _is_bool(node.operand):
            return ast.copy_location(ast.Constant(not node.operand.value), node)
        return node

    def visit_IfExp(self, node: ast.IfExp):
        self.generic_visit(node)
        if _is_bool(node.test):
            return node.body if node.test.value else node.orelse
        return node

    def visit_If(self, node: ast.If):
        self.generic_visit(node)
        if _is_bool(node.test):
            return (node.body if node.test.value else node.orelse) or ast.Pass()
        return node


def _drop_dead(tree: ast.Module, live: set[str]) -> bool:
    """Remove assignments to temporaries that nothing reads; whether any was removed."""
    read = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    removed = False

    def prune(body: list[ast.stmt]) -> list[ast.stmt]:
        nonlocal removed
        kept = []
        for statement in body:
            if isinstance(statement, ast.If):
                statement.body = prune(statement.body) or [ast.Pass()]
                statement.orelse = prune(statement.orelse)
            if (
                isinstance(statement, ast.Assign)
                and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and _TEMPORARY.match(statement.targets[0].id)
                and statement.targets[0].id not in read | live
            ):
                removed = True
                continue
            kept.append(statement)
        return kept

    tree.body = prune(tree.body)
    return removed
