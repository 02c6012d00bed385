"""What is in scope around a line: the enclosing function, its names, the module's names and attributes."""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class Scope:
    """Names a mutation may use at one location."""

    function: FunctionNode | None
    qualname: str | None
    local_names: list[str] = field(default_factory=list)  # params and assigned names, in order of appearance
    module_names: list[str] = field(default_factory=list)  # functions, classes, globals
    called: list[str] = field(default_factory=list)  # names of functions called anywhere in the module
    attributes: list[str] = field(default_factory=list)  # attribute names used in the module

    @property
    def variables(self) -> list[str]:
        """Local names first, then module globals that are not callables."""
        return self.local_names + [n for n in self.module_names if n not in self.local_names]


class ModuleIndex:
    """Facts about a module gathered once and shared by every location in it."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.functions: list[tuple[str, FunctionNode]] = []
        self._collect(tree, "")
        self.module_names: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                _add(self.module_names, node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    for name in _stored(target):
                        _add(self.module_names, name)
        self.called: list[str] = []
        self.attributes: list[str] = []
        for sub in ast.walk(tree):
            if isinstance(sub, ast.Call):
                if isinstance(sub.func, ast.Name):
                    _add(self.called, sub.func.id)
                elif isinstance(sub.func, ast.Attribute):
                    _add(self.called, sub.func.attr)
            if isinstance(sub, ast.Attribute):
                _add(self.attributes, sub.attr)

    def _collect(self, node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                self.functions.append((name, child))
                self._collect(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                self._collect(child, prefix + child.name + ".")
            else:
                self._collect(child, prefix)

    def scope_at(self, line: int) -> Scope:
        """The innermost function containing line, with its names."""
        best: tuple[str, FunctionNode] | None = None
        for name, fn in self.functions:
            if fn.lineno <= line <= (fn.end_lineno or fn.lineno) and (best is None or fn.lineno >= best[1].lineno):
                best = (name, fn)
        scope = Scope(None, None, module_names=self.module_names, called=self.called, attributes=self.attributes)
        if best is None:
            return scope
        scope.function, scope.qualname = best[1], best[0]
        names: list[str] = []
        args = best[1].args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            _add(names, arg.arg)
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                _add(names, extra.arg)
        for node in ast.walk(best[1]):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                _add(names, node.id)
            elif isinstance(node, ast.arg) and node.arg not in names:
                _add(names, node.arg)
        scope.local_names = [n for n in names if n != "self"] + (["self"] if "self" in names else [])
        return scope


def _add(items: list[str], name: str) -> None:
    if name not in items:
        items.append(name)


def _stored(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]


BUILTIN_NAMES = frozenset(dir(builtins))
