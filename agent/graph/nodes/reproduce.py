"""reproduce: run the test command in the sandbox and record which tests fail."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import pytest_args_of, request_of, tail
from agent.repair.runner import HANG_MARK
from agent.repair.validate import run_mode

NOT_FOUND_CODES = (126, 127)


async def reproduce(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Baseline run: the user's exact command, then per-test outcomes when it is pytest."""
    started = time.monotonic()
    task_id = state["task_id"]
    req = request_of(state)
    limit = deps.settings.docker_timeout
    deps.emit(task_id, "phase", phase="reproduce", text="Starting the sandbox and running the tests")
    box = await asyncio.to_thread(deps.sandboxes.get, task_id, state["workspace"])

    def finish(status: str, message: str, baseline: dict[str, Any]) -> dict[str, Any]:
        deps.emit(task_id, "reproduced", status=status, message=message,
                  failing=baseline.get("failing", []), passing=len(baseline.get("passing", [])))
        return {"status": status, "message": message, "baseline": baseline, "setup_done": True,
                "phase_times": add_time(state, "reproduce", started)}

    if req.setup_command and not state.get("setup_done"):  # once per task, also when reproduce runs again
        setup = await asyncio.to_thread(box.run_setup, req.setup_command, timeout=limit)
        if setup.exit_code != 0:
            return finish("error", f"the setup command failed (exit {setup.exit_code}): "
                          f"{tail(setup.stderr or setup.stdout, 300)}", {})
    args = pytest_args_of(state)
    out: dict[str, Any] | None = None
    res = None
    hung: list[str] = []
    if args is not None:  # per-test outcomes first: a hanging test is stopped after TEST_TIMEOUT, not DOCKER_TIMEOUT
        res, out = await asyncio.to_thread(run_mode, box, "outcomes",
                                           {"pytest_args": args, "test_timeout": deps.settings.test_timeout},
                                           timeout=limit)
        if out is not None:
            hung = sorted(n for n, m in out.get("messages", {}).items() if m.startswith(HANG_MARK))
    if hung:  # the user's command would hang too: its verdict is the runner's
        baseline: dict[str, Any] = {"exit_code": None, "duration": round(res.duration, 3) if res else 0.0,
                                    "timed_out": True, "hung": hung, "failing": [], "passing": [], "durations": {},
                                    "stdout": f"{len(hung)} test(s) did not finish within "
                                              f"{deps.settings.test_timeout:g} s: {', '.join(hung[:5])}"}
        run_exit: int | None = 1
    else:
        run = await asyncio.to_thread(box.exec, req.test_command, timeout=limit)
        output = tail((run.stdout or "") + (("\n" + run.stderr) if run.stderr else ""))
        baseline = {"exit_code": run.exit_code, "stdout": output, "duration": round(run.duration, 3),
                    "timed_out": run.timed_out, "failing": [], "passing": [], "durations": {}}
        run_exit = run.exit_code
        if run.timed_out:
            return finish("error", f"the test command did not finish within {limit:.0f} s: a test may hang "
                          "(raise DOCKER_TIMEOUT or fix the hanging test)", baseline)
        if run.exit_code in NOT_FOUND_CODES:
            return finish("error", f"the test command could not be run in the sandbox (exit {run.exit_code}): "
                          f"{tail(run.stderr or run.stdout, 200).strip()}", baseline)
        if run.oom_killed:
            return finish("error", "the test run was killed for using too much memory (DOCKER_MAX_MEMORY)",
                          baseline)
    if args is not None:
        if out is None:
            detail = tail(res.stderr or res.stdout, 300) if res is not None else ""
            return finish("error", f"could not collect test outcomes: {detail}", baseline)
        outcomes = out["outcomes"]
        baseline["failing"] = sorted(n for n, o in outcomes.items() if o in ("failed", "error"))
        baseline["passing"] = sorted(n for n, o in outcomes.items() if o == "passed")
        baseline["durations"] = {n: round(d, 4) for n, d in out["durations"].items()}
        baseline["messages"] = {n: m[-800:] for n, m in out.get("messages", {}).items()}
        if not outcomes and run_exit == 5:
            return finish("error", "the test command collected no tests", baseline)
    elif run_exit != 0:
        baseline["failing"] = ["<test command>"]
    if run_exit == 0 and not baseline["failing"]:
        return finish("no_failure", "the tests already pass, so there is no failure to fix; add a test that "
                      "shows the bug (the LLM engine can write one)", baseline)
    if not baseline["failing"]:
        return finish("error", f"the test command failed (exit {run_exit}) but no test failed", baseline)
    if any(n.endswith(".py") or "<collection>" in n for n in baseline["failing"]):
        baseline["collection_error"] = True
    hangs = (f", {len(hung)} of them hanging (stopped after {deps.settings.test_timeout:g} s; if they are only "
             "slow, raise TEST_TIMEOUT)") if hung else ""
    return finish("running", f"{len(baseline['failing'])} failing test(s) reproduced{hangs}", baseline)
