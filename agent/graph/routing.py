"""Pure routers between nodes; each raises on a state that breaks the graph's invariants.

Search engine: reproduce → localize → repair → review → test → (repair | finalize).
LLM engine:    localize → llm_manager → llm_coder → llm_reviewer → llm_prove → (llm_coder | finalize).
With approval: finalize → propose (interrupt) → publish | end | back to repair or llm_coder with feedback.
Engine auto runs the search first and hands over to the LLM when the search gives up; when the
tests already pass, the LLM first writes a reproduction test (llm_reprotest) and reproduce runs again.
"""

from __future__ import annotations

from typing import Any, Literal

from agent.exceptions import WorkflowError


def _running(state: dict[str, Any]) -> bool:
    status = state.get("status")
    if status is None:
        raise WorkflowError("state has no status")
    return status == "running"


def _uses_llm(state: dict[str, Any]) -> bool:
    return state.get("engine") in ("llm", "auto") and bool(state.get("llm_available"))


def after_reproduce(state: dict[str, Any]) -> Literal["localize", "llm_reprotest", "finalize"]:
    """Localize when a failure was reproduced; with a model, green tests get a reproduction test first."""
    if _running(state):
        return "localize"
    if state.get("status") == "no_failure" and _uses_llm(state):
        return "llm_reprotest"
    return "finalize"


def after_localize(state: dict[str, Any]) -> Literal["repair", "llm_manager", "finalize"]:
    """Repair only when something suspicious was found; engine llm skips the search."""
    if not _running(state):
        return "finalize"
    if state.get("engine") == "llm":
        if not state.get("llm_available"):
            raise WorkflowError("engine llm without a configured model")
        return "llm_manager"
    return "repair"


def after_repair(state: dict[str, Any]) -> Literal["review", "llm_manager", "finalize"]:
    """An empty batch ends the search; in engine auto the LLM takes over."""
    if state.get("batch"):
        return "review"
    if _running(state):
        if state.get("search_exhausted") and _uses_llm(state):
            return "llm_manager"
        raise WorkflowError("repair produced no batch but the task is still running")
    return "finalize"


def after_review(state: dict[str, Any]) -> Literal["test", "repair"]:
    """Nothing survived review: ask for the next batch."""
    return "test" if state.get("reviewed") else "repair"


def after_test(state: dict[str, Any]) -> Literal["repair", "finalize"]:
    """Loop until a candidate is proven or the budget is spent (checked in repair)."""
    return "finalize" if state.get("plausible") or not _running(state) else "repair"


def after_llm_manager(state: dict[str, Any]) -> Literal["llm_coder", "finalize"]:
    """A plan (or a failed call that ended the task)."""
    return "llm_coder" if _running(state) else "finalize"


def after_llm_coder(state: dict[str, Any]) -> Literal["llm_reviewer", "llm_coder", "finalize"]:
    """A candidate goes to review; an unusable answer is feedback for the next attempt."""
    if state.get("llm_candidate"):
        return "llm_reviewer"
    return "llm_coder" if _running(state) else "finalize"


def after_llm_reviewer(state: dict[str, Any]) -> Literal["llm_prove", "llm_coder", "finalize"]:
    """Approved candidates are tested; rejected ones go back to the coder with the reasons."""
    if state.get("llm_candidate") and _running(state):
        return "llm_prove"
    return "llm_coder" if _running(state) else "finalize"


def after_llm_prove(state: dict[str, Any]) -> Literal["llm_coder", "finalize"]:
    """Proven: done. Failed: the focused output goes back to the coder (who counts the attempts)."""
    if state.get("plausible"):
        return "finalize"
    return "llm_coder" if _running(state) else "finalize"


def after_finalize(state: dict[str, Any]) -> Literal["propose", "__end__"]:
    """A proven patch waits for a person when the task asks for approval; `fixbot fix` ends here."""
    return "propose" if state.get("approval") and state.get("status") == "fixed" else "__end__"


def after_propose(state: dict[str, Any]) -> Literal["publish", "repair", "llm_coder", "__end__"]:
    """Approve publishes, reject ends, retry goes back to the engine that found the rejected patch."""
    status = state.get("status")
    if status == "approved":
        return "publish"
    if status == "rejected":
        return "__end__"
    if status == "running":
        return "llm_coder" if state.get("retry_with") == "llm" else "repair"
    raise WorkflowError(f"propose left the task in status {status!r}")


def after_llm_reprotest(state: dict[str, Any]) -> Literal["reproduce", "llm_reprotest", "finalize"]:
    """A test that shows the bug: reproduce again with it. Otherwise retry until the attempts are spent."""
    if not _running(state):
        return "finalize"
    return "reproduce" if state.get("repro_test") else "llm_reprotest"
