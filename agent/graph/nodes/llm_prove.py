"""Proving an LLM candidate: the user's test command in the task's sandbox, originals restored after."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

from agent.edits.diff import unified_diff
from agent.edits.encoding import decode_source, encode_source
from agent.exceptions import WorkflowError
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import request_of, tail
from agent.graph.nodes.llm_common import feedback
from agent.llm.context import head_tail
from agent.proof import prove
from agent.review import review_new_test

STDOUT_TAIL = 4000
FOCUS_CHARS = 5000
_SECTION = re.compile(r"^=+ (FAILURES|ERRORS) =+$", re.MULTILINE)


def focus_failures(output: str, limit: int = FOCUS_CHARS) -> str:
    """The part of a test run that explains the failure: pytest's FAILURES/ERRORS sections onward, else the tail."""
    match = _SECTION.search(output)
    focused = output[match.start():] if match else output
    return head_tail(focused, limit, head_share=0.6) if match else tail(focused, limit)


def originals(workspace: str, paths: list[str]) -> dict[str, bytes]:
    """The pristine bytes of the paths that exist in the host checkout (inside it only)."""
    root = Path(workspace).resolve()
    found: dict[str, bytes] = {}
    for rel in paths:
        path = (root / rel).resolve()
        if path.is_relative_to(root) and path.is_file():
            found[rel] = path.read_bytes()
    return found


async def prove_files(state: dict[str, Any], deps: Deps, files: dict[str, str]) -> dict[str, Any]:
    """Prove `files` with the user's test command (agent.proof: a full run, then a repeat); originals put back after.

    Returns {"success", "exit_code", "timed_out", "stdout" (tail), "failing" (focused failure output)}.
    """
    task_id, workspace = state["task_id"], state["workspace"]
    box = await asyncio.to_thread(deps.sandboxes.get, task_id, workspace)
    before = await asyncio.to_thread(originals, workspace, sorted(files))
    command = request_of(state).test_command
    data = {path: encode_source(text, before.get(path)) for path, text in files.items()}  # each in its encoding
    await asyncio.to_thread(box.put_files, data)
    try:
        run = await asyncio.to_thread(prove, box, command, state.get("baseline") or {},
                                      timeout=deps.settings.docker_timeout, test_timeout=deps.settings.test_timeout)
    finally:
        if before:
            await asyncio.to_thread(box.put_files, before)
        added = sorted(set(files) - set(before))
        if added:
            await asyncio.to_thread(box.exec, ["rm", "-f", "--", *added], timeout=30)
    output = run["output"]
    success = bool(run["success"])
    failing = "" if success else focus_failures(output)
    if run["reason"] and not success:
        failing = f"{failing}\n[fixbot] not proven: {run['reason']}"
    if run["timed_out"]:
        failing = f"the test command did not finish within {deps.settings.docker_timeout:g} s " \
                  f"(an endless loop?)\n{failing}"
    return {"success": success, "exit_code": run["exit_code"], "timed_out": bool(run["timed_out"]),
            "stdout": tail(output, STDOUT_TAIL), "failing": failing}


async def llm_prove(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Test the reviewed LLM candidate; success sets `plausible`, failure sends the output back to the coder."""
    started = time.monotonic()
    candidate = state.get("llm_candidate")
    if not candidate:
        raise WorkflowError("llm_prove ran without an LLM candidate")
    task_id = state["task_id"]
    deps.emit(task_id, "phase", phase="test", text=f"Running the tests with the model's patch: "
              f"{candidate['description']}")
    proof = await prove_files(state, deps, candidate["files"])
    results = list(state.get("test_results") or [])
    result = {"attempt": len(results) + 1, "success": proof["success"], "stdout": proof["stdout"],
              "candidate": candidate["description"], "engine": "llm"}
    results.append(result)
    deps.emit(task_id, "proof", candidate=candidate["description"], success=proof["success"])
    update: dict[str, Any] = {"test_results": results, "phase_times": add_time(state, "llm_prove", started)}
    if proof["success"]:
        return {**update, "plausible": {"engine": "llm", **candidate, "result": result}}
    problem = "the tests still fail with the patch applied" if not proof["timed_out"] else \
        "the tests did not finish with the patch applied"
    note = feedback(int(candidate.get("attempt", state.get("attempts", 1))), deps.settings.max_attempts, problem,
                    proof["failing"], candidate["diff"], details_label="test-output", previous_label="previous-patch")
    return {**update, "plausible": None, "llm_candidate": None, "llm_feedback": note}


def final_patch_of(state: dict[str, Any]) -> dict[str, Any]:
    """For finalize: status, message, final_patch and risk of a proven LLM candidate (plus the repro test)."""
    found = state.get("plausible") or {}
    if found.get("engine") != "llm":
        raise WorkflowError("final_patch_of needs a proven LLM candidate")
    files = dict(found["files"])
    old = {p: decode_source(b).text for p, b in originals(state["workspace"], sorted(files)).items()}
    repro = state.get("repro_test") or {}
    new = dict(files)
    if repro.get("path"):
        new[repro["path"]] = repro["content"]
    review = state.get("llm_review") or {}
    static = review.get("static") or {}
    reasons = list(static.get("risk_reasons") or []) + [f"reviewer: {r}" for r in review.get("reasons") or []]
    level = static.get("risk", "medium")
    if repro.get("path"):
        added = review_new_test(repro["path"], repro["content"])
        level, reasons = added.risk, reasons + list(added.risk_reasons)
    explanation = found.get("explanation") or found.get("description", "")
    return {
        "status": "fixed",
        "message": f"found a patch that makes the tests pass: {found.get('description', '')}",
        "final_patch": {"filename": sorted(files)[0], "files": sorted(new), "diff": unified_diff(old, new),
                        "explanation": explanation},
        "risk": {"level": level, "reasons": reasons},
    }
