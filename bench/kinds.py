"""The "real-world kinds" corpus: small repositories kept as data, each a kind of input real projects have.

Each kind is a directory `tests/fixtures/kinds/<name>/` that is itself the repository handed to
fixbot, with two extra files:

- `ISSUE.md`: the bug report, as a user would type it;
- `KIND.json`: how to run it and what must happen:
    {"test_command": "python3 -m pytest -q",   # optional, this is the default
     "setup_command": null,                      # optional
     "expect": "fixed" | "error",                # the right outcome
     "message": "regex",                         # expect error: the message must name the cause (re.search)
     "diff_changed_lines": 2,                    # optional: +/- lines of the final diff
     "line_endings": "crlf",                     # optional: every changed line keeps CRLF
     "indentation": "tabs"}                      # optional: every added line is indented with tabs only

A run is judged "fixed" (the expected fix, meeting every check), "clear error" (an expected error
whose message names the cause) or "wrong" (anything else: no fix where one was expected, a patch
that breaks the file's form, "nothing fails" on a failing suite, a crash).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KINDS = ROOT / "tests" / "fixtures" / "kinds"
DEFAULT_COMMAND = "python3 -m pytest -q"


@dataclass(frozen=True)
class Kind:
    """One kind of repository and what fixbot must do with it."""

    name: str
    path: Path
    issue: str
    test_command: str = DEFAULT_COMMAND
    setup_command: str | None = None
    expect: str = "fixed"
    message: str | None = None
    checks: dict[str, Any] = field(default_factory=dict)


def load_kinds(root: Path = KINDS, only: list[str] | None = None) -> list[Kind]:
    """Every kind under root (directories holding KIND.json), sorted by name."""
    kinds = []
    for spec_path in sorted(root.glob("*/KIND.json")):
        directory = spec_path.parent
        if only and directory.name not in only:
            continue
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        issue_path = directory / "ISSUE.md"
        issue = issue_path.read_text(encoding="utf-8").strip() if issue_path.exists() else spec.get("issue", "")
        checks = {k: v for k, v in spec.items()
                  if k not in ("test_command", "setup_command", "expect", "message", "issue")}
        kinds.append(Kind(directory.name, directory, issue, spec.get("test_command") or DEFAULT_COMMAND,
                          spec.get("setup_command"), spec.get("expect", "fixed"), spec.get("message"), checks))
    return kinds


def changed_lines(diff: str) -> list[str]:
    """The +/- lines of a unified diff (headers excluded), endings kept."""
    return [line for line in diff.splitlines(keepends=True)
            if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))]


def judge(kind: Kind, record: dict[str, Any]) -> tuple[str, str]:
    """("fixed" | "clear error" | "wrong", why) for one run's result record."""
    status, message = record.get("status"), str(record.get("message") or "")
    if kind.expect == "error":
        if status == "fixed":
            return "wrong", f"expected an error naming the cause, got a patch: {message[:120]}"
        if status not in ("error", "not_fixed"):
            return "wrong", f"expected an error, got status {status}: {message[:120]}"
        if kind.message and not re.search(kind.message, message, re.IGNORECASE):
            return "wrong", f"the message does not name the cause ({kind.message!r}): {message[:160]}"
        return "clear error", message[:160]
    if status != "fixed":
        return "wrong", f"not fixed (status {status}): {message[:160]}"
    diff = (record.get("final_patch") or {}).get("diff", "")
    lines = changed_lines(diff)
    problems = []
    wanted = kind.checks.get("diff_changed_lines")
    if wanted is not None and len(lines) != wanted:
        problems.append(f"{len(lines)} changed lines in the diff, expected {wanted}")
    if kind.checks.get("line_endings") == "crlf" and not all(line.endswith("\r\n") for line in lines):
        problems.append("a changed line lost its CRLF ending")
    if kind.checks.get("indentation") == "tabs":
        added = [line[1:] for line in lines if line.startswith("+")]
        if any(" " in line[: len(line) - len(line.lstrip())] for line in added):
            problems.append("an added line is indented with spaces in a tab-indented file")
    if "\ufeff" in diff:
        problems.append("the byte-order mark leaked into the diff")
    if problems:
        return "wrong", "; ".join(problems)
    return "fixed", message[:160]
