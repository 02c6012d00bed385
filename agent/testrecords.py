"""The probe's records (agent/repair/probe.py) read as untrusted input and merged into one test run.

The repository's code runs as the same user as the probe and can write anything into the records
file: every line is size-capped, parsed with a depth guard and checked field by field; paths that
are not plain relative paths are dropped. A malformed line raises RunnerOutputError (the message
says what to do), like the runner's own report (agent/repair/report.py).

A merged run is a plain dict:
    {"runner": "pytest" | "unittest" | None,    None: no Python test runner reported (a shell script...)
     "records": int, "rootdirs": [..], "exit_statuses": [..],
     "outcomes": {id: outcome}, "durations": {id: s}, "frames": {id: [[path, line]]}, "messages": {id: text},
     "hung": [ids], "collection_errors": [{"id", "message", "frames"}],
     "runs": {id: [outcome of each run]},          (spec "repeat": tests run several times in one process)
     "coverage": {path: {line: [test ids]}}}      (mode coverage; "<test command>" for a plain script)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.repair.report import (
    MAX_NAME,
    MAX_REPORT_BYTES,
    MAX_TEXT,
    Outcome,
    RunnerOutputError,
    _first_problem,
    _load,
    _safe_path,
    _tampered,
)

FAILED = ("failed", "error")
_RANK = {"error": 6, "failed": 5, "xpassed": 4, "passed": 3, "xfailed": 2, "skipped": 1}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CollectionError(_Model):
    """A test module (or conftest) that could not be imported or collected."""

    id: str
    message: str = ""
    frames: list[tuple[str, int]] = Field(default_factory=list)


class ProbeRecord(_Model):
    """What one Python process of the test command recorded (see agent/repair/probe.py)."""

    v: int = 1
    runner: Literal["pytest", "unittest", "python"] = "python"
    role: Literal["main", "worker", "nested"] = "main"
    rootdir: str = ""
    exit_status: int | None = None
    outcomes: dict[str, Outcome] = Field(default_factory=dict)
    durations: dict[str, float] = Field(default_factory=dict)
    frames: dict[str, list[tuple[str, int]]] = Field(default_factory=dict)
    messages: dict[str, str] = Field(default_factory=dict)
    hung: list[str] = Field(default_factory=list)
    collection_errors: list[CollectionError] = Field(default_factory=list)
    tests: list[str] = Field(default_factory=list)
    lines: dict[str, dict[str, list[int]]] = Field(default_factory=dict)
    runs: dict[str, list[Outcome]] = Field(default_factory=dict)


def parse_records(raw: bytes) -> list[ProbeRecord]:
    """The checked records of one run, one JSON object per line; RunnerOutputError when one is malformed."""
    if len(raw) > MAX_REPORT_BYTES:
        raise RunnerOutputError(_tampered(f"it is larger than {MAX_REPORT_BYTES // 2**20} MB"))
    records = []
    for line in raw.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        data = _load(line.encode("utf-8"))
        if not isinstance(data, dict):
            raise RunnerOutputError(_tampered("a record is not a JSON object"))
        try:
            records.append(ProbeRecord.model_validate(data))
        except ValidationError as exc:
            raise RunnerOutputError(_tampered(_first_problem(exc))) from None
    return records


def merge(records: list[ProbeRecord]) -> dict[str, Any]:
    """One run's outcomes from all its processes; a test seen twice keeps its worst outcome."""
    runners = {r.runner for r in records if r.role != "nested" and (r.outcomes or r.collection_errors
                                                                     or r.runner != "python")}
    runner = "pytest" if "pytest" in runners else "unittest" if "unittest" in runners else None
    merged: dict[str, Any] = {"runner": runner, "records": len(records), "rootdirs": [], "exit_statuses": [],
                              "outcomes": {}, "durations": {}, "frames": {}, "messages": {}, "hung": [],
                              "collection_errors": [], "coverage": {}, "runs": {}}
    outcomes: dict[str, str] = merged["outcomes"]
    seen_errors: set[str] = set()
    hung: set[str] = set()
    for rec in records:
        if rec.rootdir and rec.rootdir[:MAX_NAME] not in merged["rootdirs"]:
            merged["rootdirs"].append(rec.rootdir[:MAX_NAME])
        if rec.exit_status is not None and rec.role == "main":
            merged["exit_statuses"].append(rec.exit_status)
        for name, outcome in rec.outcomes.items():
            name = name[:MAX_NAME]
            if _RANK[outcome] >= _RANK.get(outcomes.get(name, ""), 0):
                outcomes[name] = outcome
        for name, seconds in rec.durations.items():
            merged["durations"][name[:MAX_NAME]] = max(0.0, float(seconds))
        for name, frames in rec.frames.items():
            merged["frames"][name[:MAX_NAME]] = [[p, n] for p, n in frames if _safe_path(p)]
        for name, text in rec.messages.items():
            merged["messages"][name[:MAX_NAME]] = text[-MAX_TEXT:]
        hung |= {n[:MAX_NAME] for n in rec.hung}
        for name, seen in rec.runs.items():
            merged["runs"].setdefault(name[:MAX_NAME], []).extend(seen)
        for err in rec.collection_errors:
            if err.id not in seen_errors:
                seen_errors.add(err.id)
                merged["collection_errors"].append({"id": err.id[:MAX_NAME], "message": err.message[-MAX_TEXT:],
                                                    "frames": [[p, n] for p, n in err.frames if _safe_path(p)]})
        _add_lines(merged["coverage"], rec)
    merged["hung"] = sorted(hung)
    return merged


def _add_lines(coverage: dict[str, dict[str, list[str]]], rec: ProbeRecord) -> None:
    tests = [t[:MAX_NAME] for t in rec.tests]
    for path, per_line in rec.lines.items():
        if not _safe_path(path):
            continue
        into = coverage.setdefault(path, {})
        for line, indices in per_line.items():
            if not line.isdigit():
                continue
            ids = {tests[i] for i in indices if 0 <= i < len(tests)}
            if ids:
                into[line] = sorted(set(into.get(line, ())) | ids)


def failing_of(run: Mapping[str, Any]) -> list[str]:
    """Test ids that failed or errored in a merged run, sorted."""
    return sorted(n for n, o in run.get("outcomes", {}).items() if o in FAILED)


def spectrum(coverage: dict[str, dict[str, list[str]]], failing: set[str], passing: set[str]) -> dict[str, Any]:
    """{path: {line: [ef, ep]}} for agent.localize.rank: how many failing and passing tests ran each line.

    Tests in neither set (flaky ones, those with an environment problem, skipped) are no evidence.
    """
    lines: dict[str, dict[str, list[int]]] = {}
    for path, per_line in coverage.items():
        counts = {}
        for line, ids in per_line.items():
            ef = sum(1 for t in ids if t in failing)
            ep = sum(1 for t in ids if t in passing)
            if ef or ep:
                counts[line] = [ef, ep]
        if counts:
            lines[path] = counts
    return lines
