"""The "real-world kinds" corpus: small repositories shaped like real ones, one per kind of input.

Each kind is a folder of tests/fixtures/kinds/ (the layout the real-env branch uses too):
    ISSUE.md     the issue text
    KIND.json    {"test": command, "setup": command or null, "settings": {Settings overrides},
                  "wheels": [...] (wheelhouse kinds; built by the real-env branch's bench/kinds.py),
                  "expect": {"status", "message": [substrings], "baseline": {key: value}, "diff_files": [paths],
                             "diff": {"changed_lines": n, "line_endings": "crlf", "indentation": "tabs"}}}
    repo/        the repository (copied, never edited in place)
`judge` says whether a result is the right one: "fixed", "clear error" (the expected error, naming its
cause) or "wrong". `expect.diff` checks that a patch keeps the file's form: the number of +/- lines
of the final diff, CRLF endings on every changed line, tabs on every added line, and no byte-order
mark leaking into the text. Used by tests/agent/test_kinds.py and `bench/repair.py --kinds`.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "kinds"


@dataclass(frozen=True)
class Kind:
    """One kind of repository and the outcome fixbot must reach on it."""

    name: str
    folder: Path
    issue: str
    test: str
    setup: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    wheels: list[dict[str, Any]] = field(default_factory=list)
    expect: dict[str, Any] = field(default_factory=dict)


def load_kinds(root: Path = KINDS, only: list[str] | None = None) -> list[Kind]:
    """Every kind under root, sorted by name (or only the named ones)."""
    kinds = []
    for folder in sorted(p for p in root.iterdir() if (p / "KIND.json").is_file()):
        if only and folder.name not in only:
            continue
        spec = json.loads((folder / "KIND.json").read_text(encoding="utf-8"))
        kinds.append(Kind(folder.name, folder, (folder / "ISSUE.md").read_text(encoding="utf-8").strip(),
                          spec["test"], spec.get("setup"), spec.get("settings", {}), spec.get("wheels", []),
                          spec["expect"]))
    return kinds


def materialize(kind: Kind, dest: Path) -> tuple[Path, dict[str, Any]]:
    """Copy the kind's repository under dest, byte for byte; returns (repository path, Settings overrides)."""
    if kind.wheels:
        raise NotImplementedError(f"{kind.name} needs a wheelhouse (built by the real-env branch's bench/kinds.py)")
    repo = dest / kind.name
    shutil.copytree(kind.folder / "repo", repo, symlinks=True)
    return repo, dict(kind.settings)


def changed_lines(diff: str) -> list[str]:
    """The +/- lines of a unified diff (headers excluded), endings kept."""
    return [line for line in diff.splitlines(keepends=True)
            if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))]


def diff_form_problems(form: dict[str, Any], diff: str) -> list[str]:
    """Ways the final diff breaks the file's form (expect.diff), [] when it keeps it."""
    lines = changed_lines(diff)
    problems = []
    wanted = form.get("changed_lines")
    if wanted is not None and len(lines) != wanted:
        problems.append(f"{len(lines)} changed lines in the diff, expected {wanted}")
    if form.get("line_endings") == "crlf" and not all(line.endswith("\r\n") for line in lines):
        problems.append("a changed line lost its CRLF ending")
    if form.get("indentation") == "tabs":
        added = [line[1:] for line in lines if line.startswith("+")]
        if any(" " in line[: len(line) - len(line.lstrip())] for line in added):
            problems.append("an added line is indented with spaces in a tab-indented file")
    if "\ufeff" in diff:
        problems.append("the byte-order mark leaked into the diff")
    return problems


def judge(kind: Kind, record: dict[str, Any]) -> tuple[str, str]:
    """("fixed" | "clear error" | "wrong", why) for a result record of this kind."""
    expect = kind.expect
    status, message = record.get("status"), record.get("message") or ""
    if status != expect["status"]:
        return "wrong", f"status {status!r}, expected {expect['status']!r}: {message[:300]}"
    text = message + "\n" + (record.get("analysis") or "")
    missing = [m for m in expect.get("message", []) if m not in text]
    if missing:
        return "wrong", f"the message does not say {missing!r}: {message[:300]}"
    baseline = record.get("baseline") or {}
    for key, want in expect.get("baseline", {}).items():
        if baseline.get(key) != want:
            return "wrong", f"baseline {key} is {baseline.get(key)!r}, expected {want!r}"
    if status == "fixed":
        patch = record.get("final_patch") or {}
        files = patch.get("files") or []
        allowed = expect.get("diff_files")
        if allowed is not None and sorted(files) != sorted(allowed):
            return "wrong", f"the patch touches {files}, expected {allowed}"
        problems = diff_form_problems(expect.get("diff", {}), patch.get("diff", ""))
        if problems:
            return "wrong", "; ".join(problems)
        return "fixed", patch.get("explanation", "")[:120]
    return "clear error", message[:160]
