"""The baseline: which tests fail under the user's command, and which failures are not evidence.

Pure functions over merged test runs (agent.testrun.run_tests). A failing test is rerun a few
times (bounded): one whose outcome flips is flaky; one the per-test alarm stopped that finishes
with a longer limit is only slow (the sandbox's CPU share, not a bug). Neither must pass after
a patch, and neither counts as evidence in localization.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.repair.probe import COMMAND_ID
from agent.testrecords import FAILED, failing_of
from agent.testrun import has_outcomes

HANG_RETRY_FACTOR = 3.0  # a suspected hang is rerun with this many times TEST_TIMEOUT before it is believed
MESSAGE_TAIL = 800


def baseline_of(run: Mapping[str, Any], command: str, env: Mapping[str, str]) -> dict[str, Any]:
    """The baseline record of the first run (plain JSON): what failed, passed, hung and would not collect."""
    outcomes = run.get("outcomes", {})
    prefix = " ".join(f"{k}={v!r}" if " " in v or '"' in v else f"{k}={v}" for k, v in env.items())
    return {
        "exit_code": run.get("exit_code"), "duration": run.get("duration", 0.0), "timed_out": run.get("timed_out"),
        "stdout": run.get("output", ""), "runner": run.get("runner"),
        "outcomes_command": f"{prefix} {command}".strip(), "command_env": dict(env),
        "rootdirs": list(run.get("rootdirs", [])),
        "failing": failing_of(run), "passing": sorted(n for n, o in outcomes.items() if o == "passed"),
        "durations": {n: round(d, 4) for n, d in run.get("durations", {}).items()},
        "messages": {n: m[-MESSAGE_TAIL:] for n, m in run.get("messages", {}).items()},
        "hung": list(run.get("hung", [])), "collection_errors": list(run.get("collection_errors", [])),
        "flaky": [], "slow": [], "environment": [],
    }


def rerun_targets(baseline: Mapping[str, Any]) -> list[str]:
    """Tests to run again: every failing one (hung ones included), when the runner can select tests."""
    if baseline.get("runner") is None:
        return []
    return list(baseline.get("failing", []))


def classify(baseline: Mapping[str, Any], reruns: list[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Sort the first run's failures by what the reruns showed.

    Returns {"failing": still failing every time, "flaky": failed and passed, "slow": stopped as hung
    at first, then passed with a longer limit}. A test a rerun did not report keeps its first verdict.
    A rerun that repeated its tests ("runs") counts every repetition.
    """
    hung = set(baseline.get("hung", []))
    failing, flaky, slow = [], [], []
    for test in baseline.get("failing", []):
        seen = [o for r in reruns for o in (r.get("runs", {}).get(test) or [r.get("outcomes", {}).get(test)])]
        passed = any(o == "passed" for o in seen)
        if not passed:
            failing.append(test)
        elif test in hung and all(o == "passed" for o in seen if o is not None) and \
                not any(test in r.get("hung", []) for r in reruns):
            slow.append(test)
        else:
            flaky.append(test)
    return {"failing": failing, "flaky": flaky, "slow": slow}


def must_pass(baseline: Mapping[str, Any]) -> list[str]:
    """The tests a patch must make pass: the baseline's failing ones (flaky and environment ones excluded)."""
    return [t for t in baseline.get("failing", []) if t != COMMAND_ID]


def verdict(run: Mapping[str, Any], baseline: Mapping[str, Any], *, only: list[str] | None = None) -> tuple[bool, str]:
    """Whether a run with a patch applied proves it, and why not.

    With per-test outcomes: no test fails but flaky ones, and every test the patch must fix passed
    (a pipe that hides the exit status cannot hide a failure). Without: the command's exit status.
    `only`: the run was restricted to these tests (a repeat run).
    """
    if run.get("timed_out"):
        return False, "the test command did not finish in time"
    if not has_outcomes(run):
        code = run.get("exit_code")
        return (code == 0), ("" if code == 0 else f"the test command exited with {code}")
    ignored = set(baseline.get("flaky", [])) | _environment_tests(baseline)
    errors = run.get("collection_errors", [])
    if errors:
        return False, f"{len(errors)} test module(s) could not be collected: {errors[0]['id']}"
    failed = [t for t in failing_of(run) if t not in ignored]
    if failed:
        shown = ", ".join(failed[:3]) + (f" and {len(failed) - 3} more" if len(failed) > 3 else "")
        return False, f"{len(failed)} test(s) fail: {shown}"
    required = only if only is not None else must_pass(baseline)
    outcomes = run.get("outcomes", {})
    missing = [t for t in required if outcomes.get(t) != "passed"]
    if missing:
        return False, f"{len(missing)} test(s) that must pass did not run: {', '.join(missing[:3])}"
    code = run.get("exit_code")
    ignored_failed = any(outcomes.get(t) in FAILED for t in ignored)
    if code != 0 and not ignored_failed:
        return False, f"every test passed but the test command exited with {code}"
    return True, ""


def _environment_tests(baseline: Mapping[str, Any]) -> set[str]:
    return {t for problem in baseline.get("environment", []) for t in problem.get("tests", [])}
