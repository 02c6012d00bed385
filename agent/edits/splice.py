"""Splices: a change is the span of text it replaces, never a re-rendered file.

A splice keeps every character outside its span, so a file's line endings (CRLF), indentation
(tabs), encoding declaration and trailing whitespace survive an edit, and a one-token fix is a
one-line diff. Offsets are character offsets into the decoded text (see agent.edits.encoding).
Lines are split on "\\n" only, as git and the Python tokenizer do (str.splitlines would also
split on form feeds and other separators that do not end a line of code).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_LINE = re.compile(r"[^\n]*\n|[^\n]+$")


@dataclass(frozen=True, order=True)
class Splice:
    """Replace `[start, end)` of the file at `path` by `text`."""

    path: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (the in-sandbox runner's input)."""
        return {"path": self.path, "start": self.start, "end": self.end, "text": self.text}


def lines_of(text: str) -> list[str]:
    """The lines of a text with their endings ("\\r\\n" stays on its line); no empty line after a final newline."""
    return _LINE.findall(text)


def newline_of(text: str) -> str:
    """The file's line ending: that of its first line ("\\n" for a one-line file without one)."""
    end = text.find("\n")
    return "\r\n" if end > 0 and text[end - 1] == "\r" else "\n"


def apply_splices(text: str, splices: Iterable[Splice]) -> str:
    """The text with the splices applied; they must not overlap (ValueError otherwise)."""
    out: list[str] = []
    position = 0
    for splice in sorted(splices, key=lambda s: (s.start, s.end)):
        if splice.start < position or splice.end < splice.start or splice.end > len(text):
            raise ValueError(f"overlapping or out-of-range splice at {splice.start}-{splice.end} of {splice.path}")
        out.append(text[position:splice.start])
        out.append(splice.text)
        position = splice.end
    out.append(text[position:])
    return "".join(out)


def apply_to_files(sources: Mapping[str, str], splices: Sequence[Splice]) -> dict[str, str]:
    """New text of every file the splices touch (KeyError for a file not in `sources`)."""
    by_path: dict[str, list[Splice]] = {}
    for splice in splices:
        by_path.setdefault(splice.path, []).append(splice)
    return {path: apply_splices(sources[path], group) for path, group in by_path.items()}


def minimal(original: str, splice: Splice) -> Splice:
    """The same change with the text it keeps trimmed from both ends, so equal results compare equal."""
    old = original[splice.start:splice.end]
    new = splice.text
    prefix = 0
    limit = min(len(old), len(new))
    while prefix < limit and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    limit -= prefix
    while suffix < limit and old[len(old) - 1 - suffix] == new[len(new) - 1 - suffix]:
        suffix += 1
    return Splice(splice.path, splice.start + prefix, splice.end - suffix, new[prefix:len(new) - suffix])


def overlaps(a: Splice, b: Splice) -> bool:
    """Whether two splices touch the same text (an insertion at the other's edge counts as touching)."""
    return a.path == b.path and a.start <= b.end and b.start <= a.end


def line_range(original: str, splice: Splice) -> tuple[int, int]:
    """First and last line (1-based) of the original text the splice touches."""
    first = original.count("\n", 0, splice.start) + 1
    last = first + original.count("\n", splice.start, max(splice.start, splice.end - 1))
    return first, last


def changed_line_count(original: str, splice: Splice) -> int:
    """Lines removed plus lines added by one splice, counted as a line diff would."""
    start = original.rfind("\n", 0, splice.start) + 1
    stop = original.find("\n", splice.end)
    stop = len(original) if stop < 0 else stop + 1
    before = original[start:stop]
    after = original[start:splice.start] + splice.text + original[splice.end:stop]
    old_lines, new_lines = lines_of(before), lines_of(after)
    while old_lines and new_lines and old_lines[0] == new_lines[0]:
        old_lines, new_lines = old_lines[1:], new_lines[1:]
    while old_lines and new_lines and old_lines[-1] == new_lines[-1]:
        old_lines, new_lines = old_lines[:-1], new_lines[:-1]
    return len(old_lines) + len(new_lines)
