"""Unified diffs between two sets of files (pure).

Lines are split on "\\n" only and keep their endings, so a CRLF file's changed line shows as
`-old\\r\\n` / `+new\\r\\n`, exactly as git would show it, and nothing else of the file differs.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from agent.edits.splice import lines_of


def changed_files(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Paths whose content differs, was added or removed, sorted."""
    return sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))


def unified_diff(old: Mapping[str, str], new: Mapping[str, str]) -> str:
    """A git-style diff (a/ and b/ prefixes) of every changed file, in path order."""
    chunks: list[str] = []
    for path in changed_files(old, new):
        before, after = old.get(path), new.get(path)
        a = f"a/{path}" if before is not None else "/dev/null"
        b = f"b/{path}" if after is not None else "/dev/null"
        lines = difflib.unified_diff(lines_of(before or ""), lines_of(after or ""), a, b, n=3)
        for line in lines:
            chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(chunks)
