"""Read edits out of a model's answer: SEARCH/REPLACE blocks (with the file path on the line before) or unified diffs.

Models are messy: paths come wrapped in backticks or bold, blocks sit inside ``` fences, markers
have 5 to 9 characters, diffs carry wrong line numbers. What cannot be read unambiguously is an
`EditParseError` whose message tells the model how to write it instead.
"""

from __future__ import annotations

import re

from agent.edits.errors import EditParseError
from agent.edits.model import Edit

SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
DIVIDER = re.compile(r"^\s*={5,9}\s*$")
REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
DIFF_OLD = re.compile(r"^--- (\S+)")
DIFF_NEW = re.compile(r"^\+\+\+ (\S+)")
HUNK = re.compile(r"^@@ .*@@")
HUNK_COUNTS = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
PROSE = re.compile(r"^(?:- [A-Za-z`*\[]|[^-+ @\\])")  # a bullet point or a sentence after a diff
PATHLIKE = re.compile(r"^[\w.\-/\\]+$")
LABEL = re.compile(r"^(?:file(?:name)?|path)\s*[:=]\s*", re.IGNORECASE)


def parse_edits(text: str) -> list[Edit]:
    """Every edit in `text`, in order; [] when there is none. Raises EditParseError on a malformed one."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    edits: list[Edit] = []
    i = 0
    last_path: str | None = None
    while i < len(lines):
        line = lines[i]
        if SEARCH.match(line):
            path = path_before(lines, i) or (last_path if follows_block(lines, i) else None)
            if path is None:
                raise EditParseError("a SEARCH/REPLACE block has no file path: put the path on its own line "
                                     "right before `<<<<<<< SEARCH`")
            edit, i = read_block(lines, i, path)
            edits.append(edit)
            last_path = path
            continue
        if DIFF_OLD.match(line) and i + 1 < len(lines) and DIFF_NEW.match(lines[i + 1]):
            diff_edits, i = read_diff(lines, i)
            edits.extend(diff_edits)
            continue
        i += 1
    return edits


def clean_path(raw: str) -> str | None:
    """The path named on a line such as `calc.py`, **pkg/calc.py**, `# File: calc.py:`; None if it is prose."""
    text = raw.strip()
    fence = FENCE.match(text)
    if fence:  # ```python:calc.py or ```python calc.py
        info = text[fence.end():].strip()
        text = re.split(r"[:\s]", info, maxsplit=1)[1] if re.search(r"[:\s]", info) else ""
    text = text.strip().lstrip("#").strip()
    text = LABEL.sub("", text)
    text = text.strip("*`'\"").rstrip(":").strip("*`'\" ")
    if not text or not PATHLIKE.match(text) or set(text) <= {".", "/", "-"}:
        return None
    if not ("." in text or "/" in text or text.startswith("-")):  # `-rf` is kept so that it is refused as a path
        return None
    return text.replace("\\", "/")


def path_before(lines: list[str], index: int) -> str | None:
    """The path on the nearest non-blank line above a SEARCH marker, looking past one opening fence."""
    j = index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0 and FENCE.match(lines[j]):
        named = clean_path(lines[j])
        if named:
            return named
        j -= 1
        while j >= 0 and not lines[j].strip():
            j -= 1
    if j < 0 or SEARCH.match(lines[j]) or REPLACE.match(lines[j]):
        return None
    return clean_path(lines[j])


def follows_block(lines: list[str], index: int) -> bool:
    """Whether only blank or fence lines separate this SEARCH marker from the previous block's REPLACE marker.

    Then the block continues the same file; after any prose the path must be named again.
    """
    j = index - 1
    while j >= 0 and (not lines[j].strip() or FENCE.match(lines[j])):
        j -= 1
    return j >= 0 and bool(REPLACE.match(lines[j]))


def read_block(lines: list[str], start: int, path: str) -> tuple[Edit, int]:
    """The block that opens at `start`; returns it and the index after its REPLACE marker."""
    i = start + 1
    search: list[str] = []
    while i < len(lines) and not DIVIDER.match(lines[i]):
        if SEARCH.match(lines[i]) or REPLACE.match(lines[i]):
            raise EditParseError(f"the SEARCH block for {path} (answer line {start + 1}) has no `=======` line "
                                 "between the SEARCH and REPLACE parts")
        search.append(lines[i])
        i += 1
    if i >= len(lines):
        raise EditParseError(f"the SEARCH block for {path} (answer line {start + 1}) never reaches `=======`")
    i += 1
    replace: list[str] = []
    while i < len(lines) and not REPLACE.match(lines[i]):
        if SEARCH.match(lines[i]) or DIVIDER.match(lines[i]):
            raise EditParseError(f"the block for {path} (answer line {start + 1}) does not end with "
                                 "`>>>>>>> REPLACE`")
        replace.append(lines[i])
        i += 1
    if i >= len(lines):
        raise EditParseError(f"the block for {path} (answer line {start + 1}) does not end with `>>>>>>> REPLACE`")
    return Edit(path, joined(search), joined(replace), "block"), i + 1


def prose_follows(lines: list[str], i: int) -> bool:
    """Whether the next non-blank line after `i` reads as text rather than a diff line."""
    j = i
    while j < len(lines) and not lines[j]:
        j += 1
    return j >= len(lines) or bool(PROSE.match(lines[j]))


def joined(lines: list[str]) -> str:
    """Lines back into text with a final newline; no lines is the empty string."""
    return "".join(line + "\n" for line in lines)


def diff_paths(old_raw: str, new_raw: str) -> tuple[str | None, str | None]:
    """The two paths of a file diff; /dev/null → None. The `a/` and `b/` prefixes are dropped only when the
    diff has git's prefixes on both sides, so a plain diff of `b/x.py` keeps its folder."""
    git_style = old_raw.startswith("a/") or old_raw == "/dev/null"
    git_style = git_style and (new_raw.startswith("b/") or new_raw == "/dev/null")
    git_style = git_style and not (old_raw == new_raw == "/dev/null")

    def clean(raw: str) -> str | None:
        if raw == "/dev/null":
            return None
        return raw[2:] if git_style else raw

    return clean(old_raw), clean(new_raw)


def read_diff(lines: list[str], start: int) -> tuple[list[Edit], int]:
    """The hunks of one file's diff starting at its `---` line; one Edit per hunk, line numbers ignored."""
    old, new = diff_paths(DIFF_OLD.match(lines[start]).group(1),  # type: ignore[union-attr]
                          DIFF_NEW.match(lines[start + 1]).group(1))  # type: ignore[union-attr]
    if new is None:
        raise EditParseError(f"the diff deletes {old}; deleting files is not allowed, change the code instead")
    i = start + 2
    edits: list[Edit] = []
    while i < len(lines) and HUNK.match(lines[i]):
        counts = HUNK_COUNTS.match(lines[i])
        expected = (int(counts.group(1) or 1), int(counts.group(2) or 1)) if counts else None
        search, replace, i = read_hunk(lines, i + 1, expected)
        if old is None:
            edits.append(Edit(new, "", joined(replace), "diff"))
        elif not search:
            raise EditParseError(f"a hunk of the diff for {new} has no context or removed lines, so it cannot be "
                                 "placed; include a few unchanged lines around the change")
        else:
            edits.append(Edit(new, joined(search), joined(replace), "diff"))
    if not edits:
        raise EditParseError(f"the diff for {new} has no `@@` hunk")
    return edits, i


def read_hunk(lines: list[str], i: int, expected: tuple[int, int] | None = None
              ) -> tuple[list[str], list[str], int]:
    """Context and removed lines (search), context and added lines (replace), and where the hunk ends.

    The header's line counts are often wrong, so they only decide one thing: a blank line reached
    exactly when both counts are met, followed by prose or a bullet list, ends the hunk.
    """
    search: list[str] = []
    replace: list[str] = []
    bare_tail = 0  # empty lines (no leading space) at the end: separators, not context
    while i < len(lines):
        line = lines[i]
        if HUNK.match(line) or FENCE.match(line) or line.startswith("diff --git"):
            break
        if DIFF_OLD.match(line) and i + 1 < len(lines) and DIFF_NEW.match(lines[i + 1]):
            break
        if line.startswith("\\"):  # "\ No newline at end of file"
            i += 1
            continue
        if not line and expected and (len(search), len(replace)) == expected and prose_follows(lines, i):
            break
        tag, body = (line[:1], line[1:]) if line else (" ", "")
        bare_tail = bare_tail + 1 if not line else 0
        if tag == " ":
            search.append(body)
            replace.append(body)
        elif tag == "-":
            search.append(body)
        elif tag == "+":
            replace.append(body)
        else:
            break
        i += 1
    if bare_tail:
        del search[-bare_tail:], replace[-bare_tail:]
    return search, replace, i
