"""Walking a directory tree from an untrusted repository: no recursion, no links followed, bounded.

`os.walk` and `shutil.copytree` recurse once per folder level, so a tree nested a thousand folders
deep ends in RecursionError, and they count nothing. `walk` keeps its own stack, never follows a
symlink, and raises `TreeTooLarge` (one line, for a user) when the tree is deeper than `max_depth`,
`UnreadableTree` when an entry cannot be read. `measure` adds up what copying the tree would write
before anything is written: entries, and bytes with hard-linked content counted once.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sandbox.exceptions import TreeTooLarge, UnreadableTree

MAX_DEPTH = 100  # folder levels below the root; real repositories stay far below this


@dataclass(frozen=True)
class Entry:
    """One thing in the tree: its path relative to the root ("a/b.py"), kind and lstat() result."""

    rel: str
    path: str
    kind: str  # "dir" | "file" | "link" | "other"
    st: os.stat_result


def walk(root: Path | str, *, skip: Callable[[str, str], bool] | None = None,
         max_depth: int = MAX_DEPTH) -> Iterator[Entry]:
    """Yield every entry under root, parents before children, names sorted, links not followed.

    `skip(rel, name)` returns True for entries to leave out (a skipped folder is not entered).
    Raises TreeTooLarge when a folder lies deeper than max_depth, UnreadableTree when a folder or an
    entry cannot be read (the root included).
    """
    base = os.fspath(root)
    stack: list[tuple[str, int]] = [("", 0)]
    while stack:
        rel_dir, depth = stack.pop()
        try:
            with os.scandir(os.path.join(base, rel_dir) if rel_dir else base) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise UnreadableTree(f"cannot read the folder {_short(rel_dir or '.')}: {exc.strerror or exc}") from None
        subdirs: list[str] = []
        for item in items:
            rel = f"{rel_dir}/{item.name}" if rel_dir else item.name
            if skip is not None and skip(rel, item.name):
                continue
            try:
                st = item.stat(follow_symlinks=False)
            except OSError as exc:
                raise UnreadableTree(f"cannot read {_short(rel)}: {exc.strerror or exc}") from None
            kind = ("link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode)
                    else "file" if stat.S_ISREG(st.st_mode) else "other")
            yield Entry(rel, item.path, kind, st)
            if kind == "dir":
                if depth + 1 > max_depth:
                    raise TreeTooLarge(f"the tree nests folders more than {max_depth} levels deep "
                                       f"(at {_short(rel)}); fixbot does not copy such trees")
                subdirs.append(rel)
        stack.extend((d, depth + 1) for d in reversed(subdirs))


@dataclass(frozen=True)
class TreeSize:
    """What copying a tree writes: entries and bytes (hard-linked content once; apparent size of sparse files)."""

    entries: int
    bytes: int


def measure(root: Path | str, *, skip: Callable[[str, str], bool] | None = None,
            max_depth: int = MAX_DEPTH) -> TreeSize:
    """Count entries and content bytes under root without reading any file's content."""
    entries = total = 0
    seen: set[tuple[int, int]] = set()
    for entry in walk(root, skip=skip, max_depth=max_depth):
        entries += 1
        if entry.kind == "file":
            key = (entry.st.st_dev, entry.st.st_ino)
            if entry.st.st_nlink > 1:
                if key in seen:
                    continue
                seen.add(key)
            total += entry.st.st_size
    return TreeSize(entries, total)


def check_size(size: TreeSize, *, max_bytes: int | None, max_entries: int | None, what: str) -> None:
    """Raise TreeTooLarge naming the limit when `size` exceeds it."""
    if max_bytes is not None and size.bytes > max_bytes:
        raise TreeTooLarge(f"{what} holds {_mb(size.bytes)} of files, larger than the limit of {_mb(max_bytes)}")
    if max_entries is not None and size.entries > max_entries:
        raise TreeTooLarge(f"{what} holds {size.entries} files and folders, more than the limit of {max_entries}")


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n} bytes"


def _short(rel: str) -> str:
    shown = rel.encode("utf-8", "replace").decode("utf-8")
    return shown if len(shown) <= 80 else "…" + shown[-79:]
