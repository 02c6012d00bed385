"""Proving a patch with the user's own test command: a full run, then a repeat of what it must fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.baseline import HANG_RETRY_FACTOR, must_pass, verdict
from agent.testrun import SandboxLike, has_outcomes, run_tests


def prove(sandbox: SandboxLike, command: str, baseline: Mapping[str, Any], *, timeout: float,
          test_timeout: float) -> dict[str, Any]:
    """Run the command (as the baseline ran it) with the patch already in the sandbox.

    A pass is confirmed by a repeat run (of the tests the patch must fix when the runner can select
    tests, else of the whole command), so a flaky test passing by chance proves nothing. Returns
    {"success", "exit_code", "timed_out", "output" (of the first run), "reason" (why not, or ""),
    "outcomes" (of the first run)}.
    """
    env = dict(baseline.get("command_env") or {})
    limit = test_timeout * HANG_RETRY_FACTOR  # a slow test is not a failed proof; a looping one still stops
    run = run_tests(sandbox, command, timeout=timeout, test_timeout=limit, env=env)
    ok, reason = verdict(run, baseline)
    if ok:
        tests = must_pass(baseline) if has_outcomes(run) else None
        repeat = run_tests(sandbox, command, timeout=timeout, test_timeout=limit, env=env, tests=tests or None)
        again, why = verdict(repeat, baseline, only=tests or None)
        ok, reason = again, ("" if again else f"it passed once, but not on a repeat run: {why}")
    return {"success": ok, "exit_code": run.get("exit_code"), "timed_out": bool(run.get("timed_out")),
            "output": run.get("output", ""), "reason": reason, "outcomes": dict(run.get("outcomes", {}))}
