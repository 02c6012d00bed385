"""The "real-world kinds" corpus: small repositories shaped like real ones, one per kind of setup.

Each kind is a folder of tests/fixtures/kinds/:
    ISSUE.md     the issue text
    KIND.json    {"test": command, "setup": command or null, "settings": {Settings overrides},
                  "wheels": [{"name", "version", "files": {path: text}}]   (built into a wheelhouse),
                  "expect": {"status", "message": [substrings], "baseline": {key: value}, "diff_files": [paths]}}
    repo/        the repository (copied, never edited in place)
`materialize` copies a kind to a temporary place (building its wheelhouse); `judge` says whether a
result is the right one: "fixed", "clear error" (the expected error, naming its cause) or "wrong".
Used by tests/agent/test_kinds.py and `bench/repair.py --kinds`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import zipfile
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


def load_kinds(root: Path = KINDS) -> list[Kind]:
    """Every kind under root, sorted by name."""
    kinds = []
    for folder in sorted(p for p in root.iterdir() if (p / "KIND.json").is_file()):
        spec = json.loads((folder / "KIND.json").read_text(encoding="utf-8"))
        kinds.append(Kind(folder.name, folder, (folder / "ISSUE.md").read_text(encoding="utf-8").strip(),
                          spec["test"], spec.get("setup"), spec.get("settings", {}), spec.get("wheels", []),
                          spec["expect"]))
    return kinds


def materialize(kind: Kind, dest: Path) -> tuple[Path, dict[str, Any]]:
    """Copy the kind's repository under dest; returns (repository path, Settings overrides incl. a wheelhouse)."""
    repo = dest / kind.name
    shutil.copytree(kind.folder / "repo", repo, symlinks=True)
    overrides = dict(kind.settings)
    if kind.wheels:
        house = dest / f"{kind.name}-wheelhouse"
        house.mkdir()
        for wheel in kind.wheels:
            build_wheel(wheel["name"], wheel["version"], wheel["files"], house)
        overrides["sandbox_wheelhouse"] = house
    return repo, overrides


def build_wheel(name: str, version: str, files: dict[str, str], dest: Path) -> Path:
    """A pure-Python wheel (PEP 427) of `files`, written by hand: no build tool, no network."""
    dist = f"{name.replace('-', '_')}-{version}"
    path = dest / f"{dist}-py3-none-any.whl"
    entries = {**files,
               f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
               f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: fixbot-bench\nRoot-Is-Purelib: true\n"
                                          "Tag: py3-none-any\n"}
    record = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, text in entries.items():
            data = text.encode("utf-8")
            zf.writestr(arc, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{arc},sha256={digest},{len(data)}")
        record.append(f"{dist}.dist-info/RECORD,,")
        zf.writestr(f"{dist}.dist-info/RECORD", "\n".join(record) + "\n")
    return path


def changed_lines(diff: str) -> list[str]:
    """The +/- lines of a unified diff (headers excluded), endings kept."""
    return [line for line in diff.splitlines(keepends=True)
            if line[:1] in "+-" and not line.startswith(("+++ ", "--- "))]


def diff_form_problems(form: dict[str, Any], diff: str) -> list[str]:
    """Ways the final diff breaks the file's form (expect.diff: "changed_lines", "line_endings": "crlf",
    "indentation": "tabs"), and a byte-order mark leaking into the text; [] when it keeps it."""
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
        files = (record.get("final_patch") or {}).get("files") or []
        allowed = expect.get("diff_files")
        if allowed is not None and sorted(files) != sorted(allowed):
            return "wrong", f"the patch touches {files}, expected {allowed}"
        problems = diff_form_problems(expect.get("diff", {}), (record.get("final_patch") or {}).get("diff", ""))
        if problems:
            return "wrong", "; ".join(problems)
        return "fixed", (record.get("final_patch") or {}).get("explanation", "")[:120]
    return "clear error", message[:160]


async def run_kind(kind: Kind, settings: Any, work: Path) -> dict[str, Any]:
    """Run fixbot on one kind; a row: kind, expected, verdict, why, seconds, reproduce seconds."""
    import time

    from agent.request import FixRequest
    from agent.workflow import run_fix

    repo, overrides = materialize(kind, work)
    started = time.monotonic()
    record = await run_fix(FixRequest(repo=str(repo), issue=kind.issue, test_command=kind.test,
                                      setup_command=kind.setup), settings.model_copy(update=overrides))
    verdict, why = judge(kind, record)
    return {"kind": kind.name, "expected": "fixed" if kind.expect["status"] == "fixed" else "clear error",
            "verdict": verdict, "why": why, "status": record["status"],
            "seconds": round(time.monotonic() - started, 2),
            "reproduce_s": round((record.get("phase_times") or {}).get("reproduce", 0.0), 2)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per verdict; the target is no "wrong" (every kind fixed or a clear error naming its cause)."""
    return {"kinds": len(rows), **{v: sum(1 for r in rows if r["verdict"] == v)
                                   for v in ("fixed", "clear error", "wrong")},
            "wrong_kinds": [r["kind"] for r in rows if r["verdict"] == "wrong"]}
