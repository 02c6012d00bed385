"""test: validate the reviewed candidates in the sandbox, then prove the best with the real command."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from agent.edits.splice import lines_of
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import (
    encoded,
    invocation_of,
    pool_of,
    pytest_args_of,
    request_of,
    search_clock,
    search_seconds,
    sources_of,
    tail,
)
from agent.graph.nodes.llm_prove import originals
from agent.proof import prove
from agent.repair.region import unit_for
from agent.repair.validate import validate_batch

MAX_SURVIVORS = 12
PARTIAL_MIN, PARTIAL_MAX = 2, 8  # failing tests for which every candidate runs them all
ENOUGH_PASSES = 1  # first pass in rank order (simplest first) goes straight to the full suite and the proof


def candidate_timeout(baseline: dict[str, Any]) -> float:
    """Per-candidate limit from the baseline, so mutants that loop forever cost little.

    Based on the median test's duration, not the failing tests' own: a bug that makes a test
    hang until its own alarm fires would otherwise make every mutant wait just as long.
    """
    hung = set(baseline.get("hung", ()))  # stopped at TEST_TIMEOUT: their time says nothing about a fixed run
    durations = sorted(d for n, d in baseline.get("durations", {}).items() if n not in hung)
    failing = max(len(baseline.get("failing", [])), 1)
    if not durations and hung:  # every test hung: nothing to scale from, and most mutants will hang too
        return round(min(3.0, 0.5 + 0.05 * failing), 2)  # -x: a looping mutant hangs in the first test
    typical = durations[len(durations) // 2] if durations else 0.1
    # The floor is 60x a forked candidate's usual cost (~10 ms); looping mutants (a few % of them) pay it in full.
    return round(min(30.0, max(0.6, 20 * typical * failing + 0.5)), 2)


def suite_timeout(baseline: dict[str, Any], per: float) -> float:
    """Limit of one candidate's full-suite run: thrice the per-candidate limit, and never less than twice the
    suite's own test time, so a suite with a few slow tests (threads, sleeps) is not cut off as a hang."""
    total = sum(baseline.get("durations", {}).values())
    return round(max(per * 3, 2 * total + 2.0), 2)


def no_evidence(baseline: dict[str, Any]) -> set[str]:
    """Tests whose failure says nothing about a candidate: flaky ones and those the environment breaks."""
    return set(baseline.get("flaky", [])) | {t for p in baseline.get("environment", []) for t in p.get("tests", [])}


def passes(row: dict[str, Any], ignored: set[str]) -> bool:
    """A validation row that passed, or failed only in tests that are no evidence."""
    return row["status"] == "pass" or (row["status"] == "fail" and bool(row["failed"])
                                       and set(row["failed"]) <= ignored)


def search_time_left(state: dict[str, Any], deps: Deps) -> float:
    """Seconds left of the search's time budget (at least 1), so one batch cannot overrun it by much."""
    return max(1.0, search_seconds(state, deps) - (time.time() - search_clock(state)))


async def test(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Failing tests first for every candidate, the full suite for survivors, the real command last."""
    started = time.monotonic()
    task_id = state["task_id"]
    pool = pool_of(state, deps)
    baseline = state["baseline"]
    reviewed = state.get("reviewed", [])
    tried = state.get("candidates_tried", 0) + len(state.get("batch", []))
    update: dict[str, Any] = {"candidates_tried": tried}
    args = pytest_args_of(state)
    if not reviewed or args is None:
        # Without plain pytest there is no fast validator: each candidate is a full command run.
        found = await _by_command(state, deps, reviewed) if reviewed else None
        return {**update, "plausible": found, "phase_times": add_time(state, "test", started),
                "test_results": state.get("test_results", []) + ([found["result"]] if found else [])}
    box = await asyncio.to_thread(deps.sandboxes.get, task_id, state["workspace"])
    per = candidate_timeout(baseline)
    results = list(state.get("test_results", []))
    found = None
    hung = set(baseline.get("hung") or ())
    # A test stopped at TEST_TIMEOUT in the baseline (maybe only slow) would cost every candidate a timeout:
    # the other failing tests screen the candidates, and the full check of the survivors runs it too.
    failing = [t for t in baseline["failing"] if t not in hung] or list(baseline["failing"])
    # With a few failing tests each candidate runs all of them (not just up to the first failure), so an edit
    # that fixes only some of them is known: the raw material of the pairs of edits (agent.repair.pairs).
    every_failure = PARTIAL_MIN <= len(failing) <= PARTIAL_MAX
    partial = dict(state.get("partial") or {})
    pending, untried = list(reviewed), []
    while pending and found is None:
        # In rank order, stopping once a few pass: one early fix no longer waits for the whole batch.
        first = await asyncio.to_thread(validate_batch, box, pool.payload(pending), pytest_args=args,
                                        tests=failing, per_candidate_timeout=per, stop_early=not every_failure,
                                        deadline=search_time_left(state, deps), stop_after_passes=ENOUGH_PASSES,
                                        invocation=invocation_of(state))
        if every_failure:
            for cid in pending:
                row = first[cid]
                fixed = sorted(set(failing) - set(row.get("failed") or [])) if row["status"] == "fail" else []
                if fixed:
                    partial[str(cid)] = fixed
        skipped = [cid for cid in pending if first[cid]["status"] == "skipped"]
        survivors = [cid for cid in pending if first[cid]["status"] == "pass"][:MAX_SURVIVORS]
        deps.emit(task_id, "candidates", tried=tried - len(skipped), survivors=len(survivors), total=len(pool))
        found = await _best_of(box, deps, state, survivors, args, per, results) if survivors else None
        # Without survivors the skipped ones are past the deadline; otherwise they are still to try.
        untried = skipped
        pending = skipped if survivors and found is None and search_time_left(state, deps) > 1.0 else []
    update["candidates_tried"] = tried - len(untried)
    if partial:
        update["partial"] = partial
    return {**update, "plausible": found, "test_results": results,
            "phase_times": add_time(state, "test", started)}


async def _best_of(box: Any, deps: Deps, state: dict[str, Any], survivors: list[int], args: list[str],
                   per: float, results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The full suite for the survivors, then the user's command on the plausible ones, smallest first."""
    pool, sources = pool_of(state, deps), sources_of(state, deps)
    regression_tests = covering_tests(state, deps, survivors)  # None: the whole suite
    full = await asyncio.to_thread(validate_batch, box, pool.payload(survivors), pytest_args=args,
                                   tests=regression_tests, per_candidate_timeout=suite_timeout(state["baseline"], per),
                                   stop_early=False, invocation=invocation_of(state))
    ignored = no_evidence(state["baseline"])
    plausible = [cid for cid in survivors if passes(full[cid], ignored)]
    for cid in sorted(plausible, key=lambda c: (pool[c].lines_changed(sources), pool[c].cost, c)):
        proof = await _prove(box, deps, state, cid)
        results.append(proof["result"])
        if proof["result"]["success"]:
            return proof
    return None


def covering_tests(state: dict[str, Any], deps: Deps, cids: list[int]) -> list[str] | None:
    """The failing tests and every test that ran the functions these candidates change, or None for the whole suite.

    Only when localization measured coverage for a selection of tests (a big suite): then the survivors
    are checked against the tests that can notice a regression in the changed functions, and the user's
    command, which runs everything, still proves the winner.
    """
    path = state.get("coverage_path")
    if not state.get("coverage_tests") or not path:
        return None
    cache = deps.task_cache(state["task_id"])
    if "coverage" not in cache:
        cache["coverage"] = json.loads(Path(path).read_text(encoding="utf-8"))
    coverage = cache["coverage"]
    line_tests, ids = coverage.get("line_tests") or {}, coverage.get("test_ids") or []
    pool, sources = pool_of(state, deps), sources_of(state, deps)
    tests = set(state["baseline"].get("failing", []))
    for cid in cids:
        for splice in pool[cid].splices:
            text = sources[splice.path]
            unit = unit_for(text, splice)
            head = lines_of(text)[unit.first - 1].lstrip() if unit is not None else ""
            if unit is None or not head.startswith(("def ", "async def ", "@")):
                return None  # a change outside functions can break anything: the whole suite
            per_line = line_tests.get(splice.path, {})
            for line in range(unit.first, unit.last + 1):
                tests.update(ids[i] for i in per_line.get(str(line), ()))
    return sorted(tests)


async def _prove(box: Any, deps: Deps, state: dict[str, Any], cid: int) -> dict[str, Any]:
    """The user's test command with the candidate applied (then a repeat run); the file is restored after."""
    pool, sources = pool_of(state, deps), sources_of(state, deps)
    cand = pool[cid]
    req = request_of(state)
    attempt = len(state.get("test_results", [])) + 1
    workspace = state["workspace"]
    new = {path: encoded(workspace, path, text) for path, text in cand.apply(sources).items()}  # each in its encoding
    old = await asyncio.to_thread(originals, workspace, sorted(new))
    await asyncio.to_thread(box.put_files, new)
    try:
        proof = await asyncio.to_thread(prove, box, req.test_command, state["baseline"],
                                        timeout=deps.settings.docker_timeout, test_timeout=deps.settings.test_timeout)
    finally:
        await asyncio.to_thread(box.put_files, old)
    output = tail(proof["output"], 4000)
    if proof["reason"]:
        output += f"\n[fixbot] not proven: {proof['reason']}"
    deps.emit(state["task_id"], "proof", candidate=cand.description, success=proof["success"])
    return {"id": cid, "path": cand.path, "description": cand.description, "operator": cand.operator,
            "line": cand.line, "function": cand.function,
            "result": {"attempt": attempt, "success": proof["success"], "stdout": output,
                       "candidate": cand.description}}


async def _by_command(state: dict[str, Any], deps: Deps, reviewed: list[int]) -> dict[str, Any] | None:
    """Slow path for non-pytest commands: run the command once per candidate, in rank order."""
    for cid in reviewed:
        box = await asyncio.to_thread(deps.sandboxes.get, state["task_id"], state["workspace"])
        proof = await _prove(box, deps, state, cid)
        if proof["result"]["success"]:
            return proof
    return None
