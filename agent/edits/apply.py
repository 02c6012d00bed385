"""Apply parsed edits to file contents: exact match, then whitespace-tolerant, then fuzzy; never a guess.

Each edit must land in exactly one place. Ambiguity at any level is an error (the model is asked
for more context). Below the exact level the model's SEARCH lines are aligned with the file's lines
one by one: the lines its REPLACE keeps must equal the file's (whitespace aside) and are written back
as the file has them; only the lines the model changes take its text. So a typo or a stale value in
a context line is refused instead of being copied into the file. Every line keeps its own line
ending; new lines take the ending of the lines they replace. All or nothing: the input mapping is
never changed and an error returns no partial result.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agent.edits.errors import AmbiguousMatch, EditError, NoMatch, UnsafePath
from agent.edits.model import Applied, Edit, Method

FUZZY_THRESHOLD = 0.9
FUZZY_MIN_LINES = 2  # one short line is too easy to match by accident (`x > 100` vs `x > 0` is 90 % similar)
FUZZY_MIN_CHARS = 40
LINE_THRESHOLD = 0.9  # fuzzy: each line the model changes or removes must be this similar to the file's line
NUMBERED = re.compile(r"^\s*\d+\s*[:|]")
LINE = re.compile(r"[^\n]*\n|[^\n]+$")


def apply_edits(files: Mapping[str, str], edits: Sequence[Edit]) -> tuple[dict[str, str], list[Applied]]:
    """New contents of every file after the edits, in order, and how each one was applied."""
    result = dict(files)
    applied: list[Applied] = []
    seen: set[tuple[str, str, str]] = set()
    for edit in edits:
        path = checked_path(edit.path)
        if (path, edit.search, edit.replace) in seen:
            continue  # the model restated a block it already gave; applying it twice would duplicate code
        seen.add((path, edit.search, edit.replace))
        if not edit.search.strip():
            if result.get(path, "").strip():
                raise EditError(f"the SEARCH part for {path} is empty but the file exists: copy the lines to "
                                "change into SEARCH")
            result[path] = edit.replace
            applied.append(Applied(path, "create", 1))
            continue
        if path not in result:
            raise NoMatch(f"{path} is not a file of the repository (or was not shown to you): edit only the files "
                          "you were given")
        result[path], record = apply_one(path, result[path], edit)
        applied.append(record)
    return result, applied


def checked_path(path: str) -> str:
    """The repository-relative path, or UnsafePath for anything that could leave the repository."""
    clean = path.strip()
    while clean.startswith("./"):
        clean = clean[2:]
    parts = clean.split("/")
    if (not clean or clean.startswith(("/", "-", "~")) or "\\" in clean or "\x00" in clean or ":" in parts[0]
            or any(p in ("", ".", "..") for p in parts) or parts[0] == ".git"):
        raise UnsafePath(f"{path!r} is not a relative path inside the repository")
    return clean


def split_lines(text: str) -> list[str]:
    """Lines without their endings; a final newline does not make an extra empty line."""
    text = text.replace("\r\n", "\n")
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")


def split_endings(content: str) -> tuple[list[str], list[str]]:
    """The file's lines and each line's own ending ("\\n", "\\r\\n" or "" for a last line without one)."""
    texts, endings = [], []
    for raw in LINE.findall(content):
        body = raw[:-1] if raw.endswith("\n") else raw
        if body.endswith("\r") and raw.endswith("\n"):
            body = body[:-1]
        texts.append(body)
        endings.append(raw[len(body):])
    return texts, endings


@dataclass(frozen=True)
class Match:
    """Where the search text sits: lines [start, end), how it was found, the indentation to translate."""

    start: int
    end: int
    method: Method
    search_indent: str = ""
    file_indent: str = ""


def apply_one(path: str, content: str, edit: Edit) -> tuple[str, Applied]:
    """`content` with the edit applied; raises NoMatch or AmbiguousMatch."""
    lines, endings = split_endings(content)
    search, replace = split_lines(edit.search), split_lines(edit.replace) if edit.replace else []
    found = locate(path, lines, search, replace)
    used = search if found.method == "exact" else trim_blank_edges(search)
    replace = trim_like(replace, search, used)
    window = lines[found.start:found.end]
    new = merged(window, used, replace, found)
    local = next((e for e in endings[found.start:found.end] if e), None)
    default = local or ("\r\n" if "\r\n" in content else "\n")
    kept = kept_positions(used, replace)
    new_endings = [endings[found.start + kept[k]] if k in kept else default for k in range(len(new))]
    all_lines = lines[:found.start] + new + lines[found.end:]
    all_endings = endings[:found.start] + new_endings + endings[found.end:]
    for k in range(len(all_endings) - 1):
        if not all_endings[k]:  # a line that was last (no newline) is now followed by another
            all_endings[k] = default
    if all_endings and found.end >= len(lines) and endings:
        all_endings[-1] = endings[-1]  # the file keeps (or keeps not having) its final newline
    text = "".join(t + e for t, e in zip(all_lines, all_endings, strict=True))
    return text, Applied(path, found.method, found.start + 1)


def opcodes(search: list[str], replace: list[str]) -> Sequence[tuple[str, int, int, int, int]]:
    """How REPLACE relates to SEARCH, line by line: which lines it keeps and which it changes."""
    return difflib.SequenceMatcher(None, search, replace, autojunk=False).get_opcodes()


def kept_positions(search: list[str], replace: list[str]) -> dict[int, int]:
    """Output line index → window line index, for the lines REPLACE keeps from SEARCH."""
    kept: dict[int, int] = {}
    for tag, i1, i2, j1, _j2 in opcodes(search, replace):
        if tag == "equal":
            kept.update({j1 + k: i1 + k for k in range(i2 - i1)})
    return kept


def merged(window: list[str], search: list[str], replace: list[str], found: Match) -> list[str]:
    """The replacement: the file's own text for kept lines, the model's (re-indented) text for changed ones."""
    if found.method == "exact":
        return replace
    out: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes(search, replace):
        if tag == "equal":
            out.extend(window[i1:i2])
        else:
            out.extend(reindent(replace[j1:j2], found.search_indent, found.file_indent))
    return out


def locate(path: str, lines: list[str], search: list[str], replace: list[str]) -> Match:
    """The one place the search text matches, trying exact, then whitespace-tolerant, then fuzzy."""
    n = len(search)
    exact = [i for i in range(len(lines) - n + 1) if lines[i:i + n] == search]
    if len(exact) == 1:
        return Match(exact[0], exact[0] + n, "exact")
    if exact:
        raise ambiguous(path, exact)
    trimmed = trim_blank_edges(search)
    if not trimmed:
        raise NoMatch(f"the SEARCH part for {path} contains only blank lines: copy real lines from the file")
    n = len(trimmed)
    key, search_indent = normalized(trimmed)
    loose = []
    for i in range(len(lines) - n + 1):
        window_key, window_indent = normalized(lines[i:i + n])
        if window_key == key:
            loose.append((i, window_indent))
    if len(loose) == 1:
        i, window_indent = loose[0]
        return Match(i, i + n, "whitespace", search_indent, window_indent)
    if loose:
        raise ambiguous(path, [i for i, _ in loose])
    kept_replace = trim_like(replace, search, trimmed)
    return fuzzy(path, lines, trimmed, key, search_indent, kept_replace)


def fuzzy(path: str, lines: list[str], search: list[str], key: list[str], search_indent: str,
          replace: list[str]) -> Match:
    """The single window of len(search) lines similar enough to the search whose kept lines all match."""
    n = len(search)
    target = "\n".join(key)
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(target)
    scores: list[tuple[float, int, str]] = []
    for i in range(len(lines) - n + 1):
        window_key, window_indent = normalized(lines[i:i + n])
        matcher.set_seq1("\n".join(window_key))
        if matcher.real_quick_ratio() < FUZZY_THRESHOLD / 2 or matcher.quick_ratio() < FUZZY_THRESHOLD / 2:
            scores.append((0.0, i, window_indent))
            continue
        scores.append((matcher.ratio(), i, window_indent))
    if not scores:
        raise NoMatch(f"the SEARCH part for {path} has {n} lines but the file has only {len(lines)}")
    best, start, window_indent = max(scores)
    big_enough = sum(1 for s in search if s.strip()) >= FUZZY_MIN_LINES and len(target) >= FUZZY_MIN_CHARS
    if best >= FUZZY_THRESHOLD and big_enough:
        rivals = [i for score, i, _ in scores if score >= FUZZY_THRESHOLD and (abs(i - start) >= n or
                                                                          (score == best and i != start))]
        if rivals:
            raise ambiguous(path, sorted({start, *rivals}), approximate=True)
        stale = stale_context(key, normalized(lines[start:start + n])[0], search, replace)
        if stale is not None:
            k, theirs = stale
            raise NoMatch(f"the SEARCH part for {path} nearly matches lines {start + 1}-{start + n}, but line "
                          f"{start + k + 1} reads {lines[start + k].strip()!r} in the file, not "
                          f"{theirs.strip()!r}. Copy the SEARCH lines exactly from the file.")
        return Match(start, start + n, "fuzzy", search_indent, window_indent)
    hint = " Do not put line numbers in SEARCH." if all(NUMBERED.match(s) for s in search if s.strip()) else ""
    shown = "\n".join(f"{start + k + 1:5}| {lines[start + k]}" for k in range(min(n, 12)))
    raise NoMatch(f"the SEARCH part for {path} was not found (the closest lines, {start + 1}-{start + n}, are "
                  f"{best:.0%} similar):\n{shown}\nCopy the SEARCH lines exactly from the file.{hint}")


def stale_context(key: list[str], window_key: list[str], search: list[str],
                  replace: list[str]) -> tuple[int, str] | None:
    """The first line that does not fit the file (index in the window, model's text), or None.

    A line REPLACE keeps must equal the file's (whitespace aside); a line it changes or removes must
    be nearly the file's (a typo, not another statement), or the model would overwrite code it never saw.
    """
    for tag, i1, i2, _j1, _j2 in opcodes(search, replace):
        for k in range(i1, i2):
            if tag == "equal" and key[k] != window_key[k]:
                return k, search[k]
            if tag != "equal" and difflib.SequenceMatcher(None, key[k], window_key[k]).ratio() < LINE_THRESHOLD:
                return k, search[k]
    return None


def ambiguous(path: str, starts: list[int], approximate: bool = False) -> AmbiguousMatch:
    """The error for a search text that fits several places."""
    where = ", ".join(str(i + 1) for i in starts[:8])
    how = "nearly matches" if approximate else "matches"
    return AmbiguousMatch(f"the SEARCH part for {path} {how} {len(starts)} places (starting at lines {where}): "
                          "add neighbouring lines so that it matches exactly one place")


def trim_blank_edges(lines: list[str]) -> list[str]:
    """Without leading and trailing blank lines."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def trim_like(replace: list[str], search: list[str], used: list[str]) -> list[str]:
    """Drop from `replace` the blank edge lines that were dropped from `search` to find it."""
    if used is search or not used or len(used) == len(search):
        return replace
    lead = next(i for i, line in enumerate(search) if line.strip())
    tail = len(search) - lead - len(used)
    while lead and replace and not replace[0].strip():
        replace, lead = replace[1:], lead - 1
    while tail and replace and not replace[-1].strip():
        replace, tail = replace[:-1], tail - 1
    return replace


def indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def normalized(lines: list[str]) -> tuple[list[str], str]:
    """Lines with trailing spaces dropped and the common indentation removed, and that indentation."""
    stripped = [line.rstrip() for line in lines]
    indents = [indent_of(line) for line in stripped if line]
    common = min(indents, key=len) if indents else ""
    if any(not ind.startswith(common) for ind in indents):
        common = ""
    return [line[len(common):] if line else "" for line in stripped], common


def reindent(replace: list[str], search_indent: str, file_indent: str) -> list[str]:
    """Shift the replacement by the indentation difference between the model's SEARCH text and the file."""
    if search_indent == file_indent:
        return [line if line.strip() else "" for line in replace]
    out = []
    for line in replace:
        if not line.strip():
            out.append("")
        elif line.startswith(search_indent):
            out.append(file_indent + line[len(search_indent):])
        else:
            width = max(0, len(indent_of(line)) + len(file_indent) - len(search_indent))
            out.append(" " * width + line.lstrip())
    return out
