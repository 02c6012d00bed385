"""Reading the in-sandbox runner's result file as untrusted input.

The runner writes its JSON into the sandbox's tools volume, where the repository's own code runs
as the same user: a conftest can overwrite the file, truncate it, replace it with a link or fill
it with something else at exit. So the host reads it with a size cap, parses it with a depth guard,
checks every field's type, drops what it does not know and every path that is not a plain
relative path, and turns anything wrong into one `RunnerOutputError` a user can act on.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.exceptions import WorkflowError
from sandbox import UnsafeArchive
from sandbox.archive import safe_relpath

MAX_REPORT_BYTES = 16 * 1024 * 1024  # parsing and checking costs ~30 bytes of memory per byte read
MAX_TEXT = 8000  # characters kept of one failure message
MAX_NAME = 2000  # characters of one test id or path

Outcome = Literal["passed", "failed", "error", "skipped", "xfailed", "xpassed"]
RowStatus = Literal["pass", "fail", "error", "timeout", "fallback", "skipped"]


class RunnerOutputError(WorkflowError):
    """The runner's result file is missing, too large, unreadable or of the wrong shape."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RunReport(_Model):
    """What modes `outcomes` and `coverage` write (coverage adds `lines`, `test_ids` and `line_tests`)."""

    exit_code: int | None = None
    duration: float = Field(0.0, ge=0)
    outcomes: dict[str, Outcome] = Field(default_factory=dict)
    durations: dict[str, float] = Field(default_factory=dict)
    frames: dict[str, list[tuple[str, int]]] = Field(default_factory=dict)
    messages: dict[str, str] = Field(default_factory=dict)
    lines: dict[str, dict[str, tuple[int, int]]] = Field(default_factory=dict)
    test_ids: list[str] = Field(default_factory=list)  # coverage: the tests `line_tests` points into
    line_tests: dict[str, dict[str, list[int]]] = Field(default_factory=dict)  # coverage: path → line → test indices


class CandidateRow(_Model):
    """One line of modes `validate` and `fresh`: how one candidate did."""

    id: int
    status: RowStatus
    failed: list[str] = Field(default_factory=list)
    passed: int = Field(0, ge=0)
    duration: float = Field(0.0, ge=0)
    error: str = ""


def parse_test_report(raw: bytes, *, with_lines: bool) -> dict[str, Any]:
    """The checked report of modes outcomes/coverage as plain data; RunnerOutputError when malformed."""
    data = _load(raw)
    if not isinstance(data, dict):
        raise RunnerOutputError(_tampered("it is not a JSON object"))
    try:
        report = RunReport.model_validate(data)
    except ValidationError as exc:
        raise RunnerOutputError(_tampered(_first_problem(exc))) from None
    result: dict[str, Any] = {
        "exit_code": report.exit_code,
        "duration": report.duration,
        "outcomes": {_name(k): v for k, v in report.outcomes.items()},
        "durations": {_name(k): max(0.0, v) for k, v in report.durations.items()},
        "frames": {_name(k): [[p, n] for p, n in frames if _safe_path(p)] for k, frames in report.frames.items()},
        "messages": {_name(k): v[-MAX_TEXT:] for k, v in report.messages.items()},
    }
    if with_lines:
        result["lines"] = {path: {ln: [max(0, a), max(0, b)] for ln, (a, b) in per.items() if ln.isdigit()}
                           for path, per in report.lines.items() if _safe_path(path)}
        ids = [_name(t) for t in report.test_ids]
        result["test_ids"] = ids
        result["line_tests"] = {path: {ln: [i for i in tests if 0 <= i < len(ids)] for ln, tests in per.items()
                                       if ln.isdigit()}
                                for path, per in report.line_tests.items() if _safe_path(path)}
    return result


def parse_candidate_rows(raw: bytes, wanted: set[int]) -> list[dict[str, Any]]:
    """The checked rows of modes validate/fresh (one JSON object per line), only for ids that were asked."""
    if len(raw) > MAX_REPORT_BYTES:
        raise RunnerOutputError(_tampered(f"it is larger than {MAX_REPORT_BYTES // 2**20} MB"))
    rows: list[dict[str, Any]] = []
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        data = _load(line.encode("utf-8"))
        try:
            row = CandidateRow.model_validate(data)
        except ValidationError as exc:
            raise RunnerOutputError(_tampered(_first_problem(exc))) from None
        if row.id in wanted:
            rows.append({**row.model_dump(), "failed": [_name(n) for n in row.failed]})
    return rows


def _load(raw: bytes) -> Any:
    if len(raw) > MAX_REPORT_BYTES:
        raise RunnerOutputError(_tampered(f"it is larger than {MAX_REPORT_BYTES // 2**20} MB"))
    try:
        return json.loads(raw.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        raise RunnerOutputError(_tampered("it is not valid JSON")) from None


def _tampered(problem: str) -> str:
    return (f"the test runner's result file could not be used ({problem}); the repository's tests or "
            "conftest may have overwritten it. Run the test command by hand to see what it does at exit")


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())[:2]) or "top level"
    return f"field {where[:80]!r}: {first.get('msg', 'wrong type')}"


def _name(name: str) -> str:
    return name[:MAX_NAME]


def _safe_path(path: str) -> bool:
    """A relative path inside the workspace (sandbox.archive.safe_relpath's rule), not too long."""
    if len(path) > MAX_NAME:
        return False
    try:
        safe_relpath(path)
    except UnsafeArchive:
        return False
    return True
