"""Running the in-sandbox runner: test outcomes, coverage, and batches of candidate patches."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any, Protocol

from agent.exceptions import WorkflowError
from agent.repair.report import MAX_REPORT_BYTES, RunnerOutputError, parse_candidate_rows, parse_test_report
from sandbox import SandboxError

TOOLS = "/fixbot"


class SandboxLike(Protocol):
    """The part of sandbox.Sandbox the workflow uses (fakes live in tests)."""

    def put_files(self, files: Any, *, base: str = ...) -> None: ...
    def read_file(self, path: str, *, base: str = ..., max_bytes: int | None = None) -> bytes: ...
    def exec(self, cmd: Any, *, timeout: float | None = None, workdir: str | None = None,
             env: Any = None) -> Any: ...


def runner_source() -> str:
    """The runner script shipped with fixbot, copied into each sandbox."""
    return resources.files("agent.repair").joinpath("runner.py").read_text(encoding="utf-8")


def install_runner(sandbox: SandboxLike) -> None:
    """Copy the runner into the sandbox's tools volume."""
    sandbox.put_files({"runner.py": runner_source()}, base=TOOLS)


def run_mode(sandbox: SandboxLike, mode: str, spec: dict[str, Any], *, timeout: float) -> tuple[Any, Any]:
    """Run the runner in `mode`; return (exec result, checked output or None when it wrote nothing).

    The output file is untrusted (the repository's code runs beside the runner): it is read with a
    size cap and checked by agent.repair.report; a replaced, oversized or malformed file raises
    RunnerOutputError with a message for the user.
    """
    sandbox.put_files({"spec.json": json.dumps(spec), "out.json": ""}, base=TOOLS)
    result = sandbox.exec(
        ["python3", f"{TOOLS}/runner.py", mode, f"{TOOLS}/spec.json", f"{TOOLS}/out.json"],
        timeout=timeout,
    )
    try:
        raw = sandbox.read_file("out.json", base=TOOLS, max_bytes=MAX_REPORT_BYTES)
    except SandboxError as exc:
        raise RunnerOutputError(f"the test runner's result file could not be read ({exc}); the repository's "
                                "tests or conftest may have replaced it") from None
    if not raw.strip():
        return result, None
    if mode in ("validate", "fresh"):
        return result, parse_candidate_rows(raw, {int(c["id"]) for c in spec.get("candidates", [])})
    return result, parse_test_report(raw, with_lines=mode == "coverage")


def validate_batch(
    sandbox: SandboxLike,
    candidates: Sequence[dict[str, Any]],
    *,
    pytest_args: Sequence[str],
    tests: Sequence[str] | None,
    per_candidate_timeout: float,
    stop_early: bool,
    deadline: float | None = None,
    stop_after_passes: int = 0,
    invocation: dict[str, Any] | None = None,
) -> dict[int, dict[str, Any]]:
    """Validate candidates ({id, path, source}); returns id → {status, failed, passed, duration}.

    The fast path (one collection, a forked child per candidate) handles changes inside
    functions; the rest are re-run with a fresh import per candidate. With `deadline` (seconds),
    no candidate starts after it; with `stop_after_passes`, none after that many passed. Those
    left get status "skipped" (in order: they can be validated later). `invocation` is the test
    command's shape (agent.testcmd.PytestCall.runner_spec: working directory, env prefixes, `-m`).
    """
    started = time.monotonic()
    results: dict[int, dict[str, Any]] = {}
    pending = list(candidates)
    for mode in ("validate", "fresh"):
        if not pending:
            break
        left = None if deadline is None else max(0.0, deadline - (time.monotonic() - started))
        spec = {"pytest_args": list(pytest_args), "tests": list(tests) if tests else None,
                "candidates": pending, "timeout": per_candidate_timeout, "stop_early": stop_early, "deadline": left,
                "stop_after_passes": stop_after_passes, **(invocation or {})}
        budget = 30.0 + len(pending) * (per_candidate_timeout + (0.5 if mode == "validate" else 3.0))
        result, rows = run_mode(sandbox, mode, spec, timeout=budget)
        if rows is None and result.exit_code == 0 and (deadline is not None or stop_after_passes):
            rows = []  # the deadline passed before the first candidate (collecting a big suite takes a while)
        if rows is None:
            raise WorkflowError(f"the validator produced no result (exit {result.exit_code}): "
                                f"{(result.stderr or result.stdout)[-300:]}")
        by_id = {row["id"]: row for row in rows}
        for cand in pending:
            row = by_id.get(cand["id"])
            if row is None:  # past the deadline, or the runner died part-way (e.g. the whole exec timed out)
                stopped = deadline is not None or stop_after_passes > 0
                status = "skipped" if stopped and result.exit_code == 0 else "error"
                row = {"status": status, "failed": [], "passed": 0, "duration": 0.0}
            results[cand["id"]] = row
        pending = [c for c in pending if results[c["id"]]["status"] == "fallback"]
    return results
