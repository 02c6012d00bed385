"""Source text surgery by AST positions: each change is a splice of the span it replaces (agent.edits.splice).

Everything outside the span keeps its exact characters: CRLF endings, tab indentation, comments.
AST columns are UTF-8 byte offsets within a line; spans here are character offsets into the text.
"""

from __future__ import annotations

import ast
import bisect
from dataclasses import dataclass, field

from agent.edits.splice import Splice, lines_of, newline_of
from agent.pyparse import parse_python


@dataclass
class SourceFile:
    """A parsed file with the character offset where each line starts."""

    text: str
    path: str = ""
    tree: ast.Module = field(init=False)
    starts: list[int] = field(init=False)
    lines: list[str] = field(init=False)
    newline: str = field(init=False)
    _by_line: list[tuple[int, int, ast.AST]] = field(init=False, default_factory=list, repr=False)
    _line_keys: list[int] = field(init=False, default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.tree = parse_python(self.text)
        self.lines = lines_of(self.text)
        self.newline = newline_of(self.text)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def nodes_between(self, first: int, last: int) -> list[ast.AST]:
        """Every AST node that starts on lines first..last (an index built once per file)."""
        if not self._by_line:
            self._by_line = sorted(((n.lineno, i, n) for i, n in enumerate(ast.walk(self.tree))
                                    if hasattr(n, "lineno")), key=lambda item: (item[0], item[1]))
            self._line_keys = [item[0] for item in self._by_line]
        lo = bisect.bisect_left(self._line_keys, first)
        hi = bisect.bisect_right(self._line_keys, last)
        return [item[2] for item in self._by_line[lo:hi]]

    def offset(self, lineno: int, col: int) -> int:
        """Character offset of an AST position (1-based line, UTF-8 byte column)."""
        line = self.lines[lineno - 1] if lineno <= len(self.lines) else ""
        if not line.isascii():
            col = len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))
        return self.starts[lineno - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        """Character offsets [start, end) of a node."""
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        """The exact source text of a node."""
        start, end = self.span(node)
        return self.text[start:end]

    def replace(self, node: ast.AST, new_text: str) -> Splice:
        """One node's text replaced."""
        start, end = self.span(node)
        return Splice(self.path, start, end, new_text)

    def replace_span(self, start: int, end: int, new_text: str) -> Splice:
        """A character range replaced."""
        return Splice(self.path, start, end, new_text)

    def indent_of(self, lineno: int) -> str:
        """Leading whitespace of a line (tabs stay tabs)."""
        line = self.lines[lineno - 1].rstrip("\r\n")
        return line[: len(line) - len(line.lstrip())]

    def block(self, text: str) -> str:
        """Whole lines written with "\\n" turned into the file's own line ending, the last one ended."""
        body = text.replace("\r\n", "\n")
        body = body if body.endswith("\n") else body + "\n"
        return body.replace("\n", self.newline) if self.newline != "\n" else body

    def insert_lines(self, before_line: int, text: str) -> Splice:
        """Insert whole lines before `before_line` (1-based; len+1 appends)."""
        idx = before_line - 1
        block = self.block(text)
        if idx > 0 and idx == len(self.lines) and not self.lines[-1].endswith("\n"):
            block = self.newline + block  # the old last line had no ending
        return Splice(self.path, self.starts[idx], self.starts[idx], block)

    def delete_lines(self, first: int, last: int, replacement: str = "") -> Splice:
        """Remove lines first..last (1-based, inclusive), optionally putting whole lines in their place."""
        return Splice(self.path, self.starts[first - 1], self.starts[last],
                      self.block(replacement) if replacement else "")

    def line_text(self, first: int, last: int) -> str:
        """Lines first..last (1-based, inclusive) with their endings."""
        return self.text[self.starts[first - 1]:self.starts[last]]


def unparse(node: ast.AST) -> str:
    """Source for a synthesised node."""
    return ast.unparse(ast.fix_missing_locations(node))
