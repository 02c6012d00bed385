"""Source text surgery by AST positions: replace one node's text, insert or delete lines."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from agent.pyparse import parse_python


@dataclass
class SourceFile:
    """A parsed file with byte offsets of each line (AST columns are UTF-8 byte offsets)."""

    text: str
    tree: ast.Module = field(init=False)
    data: bytes = field(init=False)
    starts: list[int] = field(init=False)
    lines: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.tree = parse_python(self.text)
        self.data = self.text.encode("utf-8")
        self.lines = self.text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line.encode("utf-8")))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """Byte offsets [start, end) of a node."""
        start = self.starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
        end = self.starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
        return start, end

    def segment(self, node: ast.AST) -> str:
        """The exact source text of a node."""
        start, end = self.span(node)
        return self.data[start:end].decode("utf-8")

    def replace(self, node: ast.AST, new_text: str) -> str:
        """The file with one node's text replaced."""
        start, end = self.span(node)
        return (self.data[:start] + new_text.encode("utf-8") + self.data[end:]).decode("utf-8")

    def replace_span(self, start: int, end: int, new_text: str) -> str:
        """The file with a byte range replaced."""
        return (self.data[:start] + new_text.encode("utf-8") + self.data[end:]).decode("utf-8")

    def indent_of(self, lineno: int) -> str:
        """Leading whitespace of a line."""
        line = self.lines[lineno - 1]
        return line[: len(line) - len(line.lstrip())]

    def insert_lines(self, before_line: int, text: str) -> str:
        """Insert whole lines before `before_line` (1-based; len+1 appends)."""
        idx = before_line - 1
        block = text if text.endswith("\n") else text + "\n"
        lines = list(self.lines)
        if idx > 0 and idx == len(lines) and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        return "".join(lines[:idx]) + block + "".join(lines[idx:])

    def delete_lines(self, first: int, last: int, replacement: str = "") -> str:
        """Remove lines first..last (1-based, inclusive), optionally putting text in their place."""
        lines = list(self.lines)
        return "".join(lines[: first - 1]) + replacement + "".join(lines[last:])


def unparse(node: ast.AST) -> str:
    """Source for a synthesised node."""
    return ast.unparse(ast.fix_missing_locations(node))
