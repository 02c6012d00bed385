"""What the model sees, within a character budget: issue, test output, suspicious code and a repository map.

Every section is cut deliberately (with a marker saying how much was left out) rather than by the
model's context window, so a huge file or a flood of test output never crowds out the rest.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agent.llm.prompts import fence, fence_overhead
from agent.localize import function_spans, is_test_path
from agent.pyparse import parse_python

CONTEXT_CHARS = 24_000  # about 6,000 tokens per prompt
MAX_SNIPPET_LINES = 60
WINDOW = 6  # lines shown around a suspicious line outside any function


def cut_marker(count: int, what: str = "characters") -> str:
    """The line that replaces text left out."""
    return f"[... {count} {what} cut ...]"


def head_tail(text: str, limit: int, *, head_share: float = 0.3) -> str:
    """text when it fits in limit, else its head and tail around a cut marker (at most limit chars)."""
    if len(text) <= limit:
        return text
    marker = f"\n{cut_marker(len(text))}\n"
    if limit < len(marker):
        return marker.strip()[:max(0, limit)]
    room = limit - len(marker)  # the final marker counts fewer characters, so it is never longer
    head = int(room * head_share)
    tail = room - head
    cut = len(text) - head - tail
    return text[:head] + f"\n{cut_marker(cut)}\n" + (text[-tail:] if tail else "")


def _signature(node: ast.AST) -> str:
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.unparse(b) for b in node.bases)
        return f"class {node.name}({bases})" if bases else f"class {node.name}"
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}"


def file_outline(source: str) -> list[str]:
    """Top-level def/class signatures (and methods, indented) of one file; [] when it does not parse."""
    try:
        tree = parse_python(source)
    except (SyntaxError, ValueError):
        return []
    lines: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            lines.append(f"  {_signature(node)}  # line {node.lineno}")
            if isinstance(node, ast.ClassDef):
                for child in node.body:
                    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                        lines.append(f"    {_signature(child)}  # line {child.lineno}")
    return lines


def repo_map(sources: Mapping[str, str], limit: int, *, focus: Iterable[str] = ()) -> str:
    """Files and their signatures, focus files first, then sources, then tests (names only); within limit."""
    focus_set = set(focus)
    order = sorted(sources, key=lambda p: (p not in focus_set, is_test_path(p), p))
    out: list[str] = []
    used = 0
    for index, path in enumerate(order):
        entry = [f"{path}"] + ([] if is_test_path(path) and path not in focus_set else file_outline(sources[path]))
        block = "\n".join(entry)
        if used + len(block) + 1 > limit:
            # A long outline is shortened; when even its name does not fit, say how many files are left.
            short = "\n".join(entry[:1] + entry[1:8] + (["  ..."] if len(entry) > 8 else []))
            if used + len(short) + 1 <= limit - 40:
                out.append(short)
                used += len(short) + 1
                continue
            out.append(cut_marker(len(order) - index, "more files"))
            break
        out.append(block)
        used += len(block) + 1
    text = "\n".join(out)
    return text if len(text) <= limit else head_tail(text, limit, head_share=1.0)


def _spots(sources: Mapping[str, str], suspects: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Suspects grouped by (path, function), best first, each with the line range to show."""
    groups: dict[tuple[str, str | None], dict[str, Any]] = {}
    for s in sorted(suspects, key=lambda s: -float(s.get("score", 0))):
        path = str(s["path"])
        if path not in sources:
            continue
        key = (path, s.get("function"))
        group = groups.setdefault(key, {"path": path, "function": s.get("function"), "lines": set(),
                                        "score": float(s.get("score", 0))})
        group["lines"].add(int(s["line"]))
    spots = []
    for group in groups.values():
        source_lines = sources[group["path"]].splitlines()
        lo, hi = min(group["lines"]), max(group["lines"])
        first, last = max(1, lo - WINDOW), min(len(source_lines), hi + WINDOW)
        if group["function"]:
            for start, end, name in function_spans(sources[group["path"]]):
                if name == group["function"] and start <= lo and hi <= end:
                    first, last = start, end
                    break
        if last - first + 1 > MAX_SNIPPET_LINES:
            # A long function: keep a window around the suspicious lines.
            centre = (lo + hi) // 2
            first = max(first, centre - MAX_SNIPPET_LINES // 2)
            last = min(last, first + MAX_SNIPPET_LINES - 1)
        spots.append({**group, "first": first, "last": last, "text": source_lines})
    return spots


def snippets(sources: Mapping[str, str], suspects: Sequence[Mapping[str, Any]], limit: int, *,
             numbered: bool = True) -> str:
    """The suspicious functions (or windows), best first; numbered with '>' on suspicious lines, or verbatim."""
    out: list[str] = []
    used = 0
    spots = _spots(sources, suspects)
    for index, spot in enumerate(spots):
        where = f"{spot['path']}, lines {spot['first']}-{spot['last']}"
        if spot["function"]:
            where += f", in `{spot['function']}`"
        body = []
        for number in range(spot["first"], spot["last"] + 1):
            line = spot["text"][number - 1] if number - 1 < len(spot["text"]) else ""
            mark = ">" if number in spot["lines"] else " "
            body.append(f"{mark}{number:>5} | {line}" if numbered else line)
        block = f"### {where}\n" + "\n".join(body)
        if used + len(block) + 1 > limit:
            left = len(spots) - index
            if used + 60 <= limit:
                out.append(cut_marker(left, "more suspicious spots"))
            break
        out.append(block)
        used += len(block) + 1
    return "\n".join(out)


def source_files(sources: Mapping[str, str], paths: Sequence[str], suspects: Sequence[Mapping[str, Any]],
                 limit: int) -> str:
    """For the coder: whole files verbatim when they fit, else verbatim excerpts of the suspicious code."""
    out: list[str] = []
    used = 0
    for path in paths:
        if path not in sources:
            continue
        room = limit - used
        whole = f"### {path} (the whole file)\n{sources[path]}"
        if len(whole) + 1 <= room // 2 or (len(whole) + 1 <= room and path == paths[-1]):
            out.append(whole)
            used += len(whole) + 1
            continue
        mine = [s for s in suspects if s.get("path") == path] or [{"path": path, "line": 1, "score": 0}]
        part = snippets({path: sources[path]}, mine, max(0, room - 80), numbered=False)
        part = part.replace("### ", "### excerpt of ", 1) if part else cut_marker(len(sources[path]))
        out.append(part)
        used += len(part) + 1
    return "\n".join(out)


def _fenced(label: str, text: str, limit: int, head_share: float = 0.3) -> str:
    return fence(label, head_tail(text, max(0, limit - fence_overhead(label)), head_share=head_share))


def manager_context(issue: str, sources: Mapping[str, str], suspects: Sequence[Mapping[str, Any]],
                    test_output: str, *, budget: int = CONTEXT_CHARS) -> dict[str, str]:
    """Template values for the manager: issue, test_output, snippets, repo_map (fenced, within budget).

    Shares: issue up to 15%, test output up to 25%, snippets about 35%; the map gets what is left.
    """
    out: dict[str, str] = {}
    out["issue"] = _fenced("issue", issue, int(budget * 0.15), 0.7)
    out["test_output"] = _fenced("test-output", test_output, int(budget * 0.25))
    left = budget - len(out["issue"]) - len(out["test_output"])
    share = max(0, int(left * 0.35 / 0.60) - fence_overhead("suspicious-code"))
    out["snippets"] = fence("suspicious-code", snippets(sources, suspects, share) or "(no suspicious lines)")
    left -= len(out["snippets"])
    focus = [s["path"] for s in suspects]
    out["repo_map"] = fence("repository-map", repo_map(sources, max(0, left - fence_overhead("repository-map")),
                                                       focus=focus))
    return out


def coder_context(issue: str, sources: Mapping[str, str], paths: Sequence[str],
                  suspects: Sequence[Mapping[str, Any]], test_output: str, *,
                  budget: int = CONTEXT_CHARS) -> dict[str, str]:
    """Template values for the coder: issue, test_output, files (verbatim, fenced, within budget)."""
    out: dict[str, str] = {}
    out["issue"] = _fenced("issue", issue, int(budget * 0.15), 0.7)
    out["test_output"] = _fenced("test-output", test_output, int(budget * 0.2))
    left = budget - len(out["issue"]) - len(out["test_output"])
    blocks = []
    per_file = max(0, left - 200)
    body = source_files(sources, list(paths), suspects, per_file)
    blocks.append(fence("source", body or "(no source could be shown)"))
    out["files"] = "\n".join(blocks)
    return out
