"""finalize: the result record, and the sandbox released."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agent.edits.diff import unified_diff
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import pool_of, request_of, sources_of
from agent.graph.nodes.llm_prove import final_patch_of
from agent.review import review_change, review_new_test

_RISK = {"low": 0, "medium": 1, "high": 2}


async def finalize(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Turn the proven candidate (if any) into final_patch, risk and a status."""
    started = time.monotonic()
    task_id = state["task_id"]
    found = state.get("plausible")
    update: dict[str, Any] = {}
    if found and found.get("engine") == "llm":
        update = await asyncio.to_thread(final_patch_of, state)
    elif found:
        pool, sources = pool_of(state, deps), sources_of(state, deps)
        cand = pool[found["id"]]
        after = cand.apply(sources)
        before = {path: sources[path] for path in after}
        lines = cand.lines_changed(sources)
        issue = request_of(state).issue
        verdicts = [review_change(path, before[path], after[path], operator=cand.operator, lines_changed=lines,
                                  issue=issue, changed=[s for s in cand.splices if s.path == path])
                    for path in sorted(after)]
        level = max(verdicts, key=lambda v: _RISK.get(v.risk, 1)).risk
        reasons = list(dict.fromkeys(r for v in verdicts for r in v.risk_reasons))
        repro = state.get("repro_test") or {}
        if repro.get("path"):  # the model's reproduction test is part of the patch
            after[repro["path"]] = repro["content"]
            added = review_new_test(repro["path"], repro["content"])
            level, reasons = added.risk, reasons + list(added.risk_reasons)
        update = {
            "status": "fixed",
            "message": f"found a patch that makes the tests pass: {cand.description}",
            "final_patch": {"filename": cand.path, "files": sorted(after), "diff": unified_diff(before, after),
                            "explanation": explain(cand.description, state)},
            "risk": {"level": level, "reasons": reasons},
        }
    elif state.get("status") in (None, "running"):
        update = {"status": "not_fixed", "message": state.get("message") or "no plausible patch found"}
    if not found and state.get("search_message"):  # engine auto: say what both engines did
        message = update.get("message", state.get("message") or "")
        if state["search_message"] not in message:
            update["message"] = f"{state['search_message']}; then {message}"
    await asyncio.to_thread(deps.sandboxes.release, task_id)
    deps.task_cache(task_id).clear()
    update["phase_times"] = add_time(state, "finalize", started)
    final = {**state, **update}
    deps.emit(task_id, "finished", status=final.get("status"), message=final.get("message", ""))
    return update


def explain(description: str, state: dict[str, Any]) -> str:
    """Words for the patch: what changed and which failing tests it makes pass."""
    failing = state.get("baseline", {}).get("failing", [])
    names = ", ".join(f"`{n.split('::')[-1]}`" for n in failing[:3]) + (" and more" if len(failing) > 3 else "")
    return (f"{description[0].upper()}{description[1:]}. With this change the failing test(s) {names} pass "
            f"and every test that passed before still passes.")
