"""reproduce: run the user's test command in the sandbox and record which tests fail, and which are no evidence."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agent import diagnose
from agent.baseline import COMMAND_ID, HANG_RETRY_FACTOR, baseline_of, classify, rerun_targets
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import request_of, tail
from agent.testcmd import pytest_call, wrapper_of
from agent.testrun import NO_ADDOPTS_ENV, has_outcomes, run_tests

NOT_FOUND_CODES = (126, 127)
USAGE_ERROR = 4  # pytest: the command line or the configuration is wrong


async def reproduce(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Baseline: the user's command with the probe, failing tests rerun to find flaky and slow ones."""
    started = time.monotonic()
    task_id = state["task_id"]
    req = request_of(state)
    settings = deps.settings
    limit, per_test = settings.docker_timeout, settings.test_timeout
    deps.emit(task_id, "phase", phase="reproduce", text="Starting the sandbox and running the tests")
    box = await asyncio.to_thread(deps.sandboxes.get, task_id, state["workspace"])

    def finish(status: str, message: str, baseline: dict[str, Any]) -> dict[str, Any]:
        deps.emit(task_id, "reproduced", status=status, message=message,
                  failing=baseline.get("failing", []), passing=len(baseline.get("passing", [])),
                  flaky=baseline.get("flaky", []))
        return {"status": status, "message": message, "baseline": baseline, "setup_done": True,
                "phase_times": add_time(state, "reproduce", started)}

    if req.setup_command and not state.get("setup_done"):  # once per task, also when reproduce runs again
        setup = await asyncio.to_thread(box.run_setup, req.setup_command, timeout=limit)
        if setup.exit_code != 0 or setup.timed_out:
            output = (setup.stdout or "") + ("\n" + setup.stderr if setup.stderr else "")
            config = box.config
            return finish("error", diagnose.setup_failed(setup.exit_code, output, network=config.setup_network,
                                                         wheelhouse=bool(config.wheelhouse)),
                          {"setup_output": tail(output, 4000)})
    command = req.test_command
    env: dict[str, str] = {}
    notes: list[str] = []
    run = await asyncio.to_thread(run_tests, box, command, timeout=limit, test_timeout=per_test)
    conftest = diagnose.conftest_failure(run["output"]) if _usage_problem(run) else []
    if conftest:  # not a configuration problem: the repository's conftest.py does not import
        return finish("error", diagnose.collection_problem(conftest),
                      {**baseline_of(run, command, env), "collection_errors": conftest})
    if _usage_problem(run):  # e.g. addopts naming a plugin the sandbox lacks: try once without the addopts
        reason = diagnose.usage_error(run["output"]) or f"exit {run['exit_code']}"
        retry = await asyncio.to_thread(run_tests, box, command, timeout=limit, test_timeout=per_test,
                                        env=NO_ADDOPTS_ENV)
        if not (retry["outcomes"] or retry["collection_errors"]):
            still = diagnose.usage_error(retry["output"]) or diagnose.last_lines(retry["output"], 4, 400)
            return finish("error", f"pytest stopped with a configuration problem (exit {run['exit_code']}): {reason}."
                          f" fixbot retried with -o addopts=\"\" (your addopts cleared), which failed too: {still}",
                          baseline_of(run, command, env))
        run, env = retry, dict(NO_ADDOPTS_ENV)
        notes.append(f"pytest's configuration could not be used as it is ({reason}); the outcomes come from a "
                     "retry with -o addopts=\"\" (your addopts cleared). Install what your addopts need in the "
                     "setup command to run them as written")
    baseline = baseline_of(run, command, env)
    baseline["notes"] = notes
    if run["timed_out"]:
        return finish("error", f"the test command did not finish within {limit:.0f} s: a test may hang "
                      "(raise DOCKER_TIMEOUT or fix the hanging test)", baseline)
    if run["exit_code"] in NOT_FOUND_CODES and not has_outcomes(run):
        return finish("error", diagnose.not_runnable(run["exit_code"], run["output"], wrapper_of(command),
                                                     state["workspace"]), baseline)
    if run["oom_killed"]:
        return finish("error", "the test run was killed for using too much memory (DOCKER_MAX_MEMORY)", baseline)
    if has_outcomes(run):
        await _rerun_failures(box, command, env, baseline, limit, per_test, settings.flaky_reruns)
    elif run["exit_code"] != 0:
        again = await asyncio.to_thread(run_tests, box, command, timeout=limit, test_timeout=per_test, env=env)
        if again["exit_code"] == 0 and not again["timed_out"]:
            return finish("no_failure", f"the test command failed (exit {run['exit_code']}) and then passed when "
                          "run again: its failure is flaky, so there is nothing reliable to fix", baseline)
        baseline["failing"] = [COMMAND_ID]
    call = pytest_call(command)
    problems = diagnose.environment_problems(baseline["failing"], baseline["messages"], state["workspace"],
                                             call.cwd if call else "")
    baseline["environment"] = problems
    blamed = {t for p in problems for t in p["tests"]}
    baseline["failing"] = [t for t in baseline["failing"] if t not in blamed]
    baseline["hung"] = [t for t in baseline["hung"] if t in baseline["failing"]]
    baseline["timed_out"] = bool(baseline["hung"]) or bool(run["timed_out"])
    if not baseline["failing"]:
        return finish(*_nothing_to_fix(run, baseline, problems), baseline)
    return finish("running", _reproduced(baseline, per_test, notes), baseline)


def _usage_problem(run: dict[str, Any]) -> bool:
    """pytest gave up before running anything because of its command line or configuration."""
    if run["outcomes"] or run["collection_errors"] or run["timed_out"]:
        return False
    return run["exit_code"] == USAGE_ERROR or (not has_outcomes(run) and "Error importing plugin" in run["output"])


async def _rerun_failures(box: Any, command: str, env: dict[str, str], baseline: dict[str, Any], limit: float,
                          per_test: float, times: int) -> None:
    """Run the failing tests again, `times` each in one process (fewer when that would take longer than the
    first run): flaky ones and slow ones (stopped as hung at first) set aside."""
    targets = rerun_targets(baseline)
    if not targets or times < 1:
        return
    durations = baseline.get("durations", {})
    hung = set(baseline.get("hung", []))
    once = sum(per_test * HANG_RETRY_FACTOR if t in hung else float(durations.get(t, 0.0)) for t in targets)
    allowance = max(float(baseline.get("duration") or 0.0), 5.0)
    repeat = max(1, min(times, int(allowance // max(once, 0.01))))
    run = await asyncio.to_thread(run_tests, box, command, timeout=limit, test_timeout=per_test * HANG_RETRY_FACTOR,
                                  tests=targets, env=env, repeat=repeat)
    if not has_outcomes(run) or not run["outcomes"]:
        return
    verdicts = classify(baseline, [run])
    baseline.update(verdicts)
    for test in verdicts["slow"]:  # what it really takes, for the per-candidate time limits later
        baseline["durations"][test] = run.get("durations", {}).get(test, 0.0) / max(len(run["runs"].get(test, [])), 1)
    baseline["reruns"] = repeat


def _nothing_to_fix(run: dict[str, Any], baseline: dict[str, Any], problems: list[dict[str, Any]]) -> tuple[str, str]:
    """(status, message) when no test is left to fix."""
    if problems:
        return "error", "the failing tests fail because of the environment, not the code: " + "; ".join(
            f"{', '.join(p['tests'][:3])} {p['message']}" for p in problems)
    if baseline["collection_errors"]:
        return "error", diagnose.collection_problem(baseline["collection_errors"])
    if baseline["flaky"]:
        return "no_failure", (f"the failing test(s) {', '.join(baseline['flaky'][:5])} are flaky: they passed when "
                              "run again, so there is nothing reliable to fix")
    if has_outcomes(run) and not run["outcomes"] and run["exit_code"] == 5:
        return "error", "the test command collected no tests"
    if run["exit_code"] == 0:
        return "no_failure", ("the tests already pass, so there is no failure to fix; add a test that shows the "
                              "bug (the LLM engine can write one)")
    if baseline["slow"]:
        return "no_failure", (f"no test fails: {', '.join(baseline['slow'][:5])} only ran past TEST_TIMEOUT and "
                              "passed with more time (slow in the sandbox, not hanging)")
    return "error", (f"the test command failed (exit {run['exit_code']}) but every test passed: "
                     f"{diagnose.last_lines(run['output'], 4, 400)}")


def _reproduced(baseline: dict[str, Any], per_test: float, notes: list[str]) -> str:
    """The one-line account of what was reproduced, with what was set aside and why."""
    failing = baseline["failing"]
    text = f"{len(failing)} failing test(s) reproduced"
    if baseline["hung"]:
        text += (f", {len(baseline['hung'])} of them hanging (stopped after {per_test:g} s, and again after "
                 f"{per_test * HANG_RETRY_FACTOR:g} s; if they are only slow, raise TEST_TIMEOUT)")
    if failing == [COMMAND_ID]:
        text = ("the test command fails; it reports no per-test outcomes (it is neither pytest nor unittest), "
                "so the whole command is the one failing test")
    if baseline["flaky"]:
        text += f"; flaky, set aside: {', '.join(baseline['flaky'][:5])}"
    if baseline["slow"]:
        text += f"; slow in the sandbox but passing with more time: {', '.join(baseline['slow'][:5])}"
    if baseline["environment"]:
        text += "; failing because of the environment, set aside: " + "; ".join(
            f"{', '.join(p['tests'][:3])} {p['message']}" for p in baseline["environment"])
    if baseline["collection_errors"]:
        text += "; also " + diagnose.collection_problem(baseline["collection_errors"]).split("\n", 1)[0]
    return "; ".join([text, *notes])
