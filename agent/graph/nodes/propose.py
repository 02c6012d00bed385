"""propose: the graph stops for a human with the proven patch (LangGraph `interrupt()`), then follows the decision.

Only reached when the state asks for approval (`approval: True`, set by the task service; `fixbot fix`
runs without it). LangGraph re-runs this node from its start when the thread is resumed, so everything
before `interrupt()` is a pure function of the state: the proposal is rebuilt, never re-sent from here
(the job that sees the pause emits the "proposed" and "approval_needed" events once).

Decision (the `Command(resume=...)` value): {"action": "approve" | "reject" | "retry", "by": str,
"feedback": str | None}. Retry continues the repair: the LLM engine gets the feedback as a message to the
coder (and more attempts); the search engine is told "this candidate is wrong": the rejected patch is
never proposed again and the ranked pool continues after it.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from langgraph.types import interrupt

from agent.exceptions import WorkflowError
from agent.graph.deps import Deps
from agent.llm.prompts import fence

STDOUT_IN_PROPOSAL = 1500


def proposal_of(state: dict[str, Any]) -> dict[str, Any]:
    """What a person needs to decide: analysis, the patch with its explanation, risk and the test runs."""
    patch = state.get("final_patch") or {}
    runs = [{**r, "stdout": str(r.get("stdout") or "")[-STDOUT_IN_PROPOSAL:]}
            for r in (state.get("test_results") or [])[-3:]]
    return {"task_id": state["task_id"], "analysis": state.get("analysis") or "", "final_patch": patch or None,
            "explanation": patch.get("explanation", ""), "risk": state.get("risk"), "test_results": runs,
            "candidates_tried": state.get("candidates_tried", 0), "attempts": state.get("attempts", 0),
            "engine": (state.get("plausible") or {}).get("engine", "search"), "message": state.get("message", "")}


def source_digest(text: str) -> str:
    """Identity of a candidate file's whole new text (for "never propose this again")."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


async def propose(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Pause with the proposal; on resume return the decision's effect on the state."""
    decision = interrupt(proposal_of(state))
    if not isinstance(decision, dict) or decision.get("action") not in ("approve", "reject", "retry"):
        raise WorkflowError(f"propose resumed with a decision it does not understand: {decision!r}")
    action, by = decision["action"], str(decision.get("by") or "someone")
    if action == "approve":
        return {"decision": decision, "status": "approved", "message": f"approved by {by}"}
    if action == "reject":
        return {"decision": decision, "status": "rejected", "message": f"the patch was rejected by {by}"}
    return retry_update(state, decision, deps)


def retry_update(state: dict[str, Any], decision: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Back into the repair with the person's feedback; the proposed patch is out."""
    found = state.get("plausible") or {}
    feedback = str(decision.get("feedback") or "").strip()
    notes = list(state.get("human_feedback") or []) + ([feedback] if feedback else [])
    update: dict[str, Any] = {
        "decision": decision, "status": "running", "plausible": None, "final_patch": None, "risk": None,
        "message": "", "human_feedback": notes, "search_exhausted": False, "started_at": time.time(),
    }
    if found.get("engine") == "llm":
        said = feedback or "(no reason given)"
        update.update(retry_with="llm", llm_candidate=None,
                      extra_attempts=int(state.get("extra_attempts") or 0) + deps.settings.max_attempts,
                      llm_feedback="A reviewer rejected your last patch, which passed the tests. Their feedback:\n"
                                   + fence("reviewer-feedback", said) + "\nThe rejected patch (NOT applied):\n"
                                   + fence("rejected-patch", str((state.get("final_patch") or {}).get("diff", "")))
                                   + "\nWrite a different patch that addresses the feedback.")
        return update
    rejected = list(state.get("rejected_sources") or [])
    pool_id = found.get("id")
    if pool_id is None:
        raise WorkflowError("retry of a search proposal without its candidate id")
    from agent.graph.nodes.common import pool_of, sources_of

    pool = pool_of(state, deps)
    cand = pool[int(pool_id)]
    new = cand.apply(sources_of(state, deps))  # every file it changes (a pair of edits may change two)
    rejected.append({"path": cand.path, "sha256": source_digest("".join(new[p] for p in sorted(new)))})
    # a single edit: go on after it; a pair of edits (appended after the single edits): where the search was
    cursor = int(pool_id) + 1 if int(pool_id) < pool.singles else int(state.get("cursor") or 0)
    update.update(retry_with="search", rejected_sources=rejected, cursor=cursor, batch=[],
                  search_started_at=time.time())
    return update
