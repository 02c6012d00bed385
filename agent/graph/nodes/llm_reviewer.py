"""llm_reviewer: static checks on every changed file, then the model's verdict; a rejection goes back as feedback."""

from __future__ import annotations

import asyncio
import difflib
import json
import re
import time
from typing import Any

from agent.exceptions import WorkflowError
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import read_sources, request_of
from agent.graph.nodes.llm_common import ask, failure, feedback, messages_for
from agent.llm.context import head_tail
from agent.llm.errors import LLMError
from agent.llm.prompts import fence, render
from agent.review import review_change

_RISK = {"low": 0, "medium": 1, "high": 2}
MAX_DIFF = 12_000


def changed_line_count(old: str, new: str) -> int:
    """Lines added plus removed."""
    return sum(1 for line in difflib.ndiff(old.splitlines(), new.splitlines()) if line[:1] in "+-")


def static_review(candidate: dict[str, Any], pristine: dict[str, str], issue: str = "") -> dict[str, Any]:
    """agent.review.review_change on every file: {"ok", "problems", "risk", "risk_reasons"}."""
    problems: list[str] = []
    risk, reasons = "low", []
    for path, new in sorted(candidate["files"].items()):
        old = pristine.get(path)
        verdict = review_change(path, old, new, operator="llm",
                                lines_changed=changed_line_count(old or "", new), issue=issue)
        if not verdict.ok:
            problems.append(verdict.reason)
            continue
        if _RISK[verdict.risk] > _RISK[risk]:
            risk = verdict.risk
        reasons += [f"{path}: {r}" for r in verdict.risk_reasons]
    return {"ok": not problems, "problems": problems, "risk": "high" if problems else risk,
            "risk_reasons": reasons}


def parse_verdict(text: str) -> dict[str, Any]:
    """{"approve": bool, "reasons": [str], "readable": bool} from the reviewer's JSON answer."""
    for match in re.finditer(r"\{.*\}", text, re.DOTALL):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("approve"), bool):
            reasons = data.get("reasons") or []
            reasons = [str(r)[:300] for r in (reasons if isinstance(reasons, list) else [reasons])][:10]
            return {"approve": data["approve"], "reasons": reasons, "readable": True}
    found = re.search(r'"?approve"?\s*[:=]\s*(true|false)', text, re.IGNORECASE)
    if found:
        return {"approve": found.group(1).lower() == "true", "reasons": [], "readable": True}
    # An unreadable verdict does not block: the tests and the human approval still stand guard.
    return {"approve": True, "reasons": ["the reviewer's answer was not the expected JSON"], "readable": False}


async def llm_reviewer(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Approve the candidate for testing, or clear it and hand the reasons to the coder."""
    started = time.monotonic()
    task_id = state["task_id"]
    candidate = state.get("llm_candidate")
    if not candidate:
        raise WorkflowError("llm_reviewer ran without an LLM candidate")
    attempt = int(candidate.get("attempt", state.get("attempts", 1)))
    limit = deps.settings.max_attempts

    def timed(update: dict[str, Any]) -> dict[str, Any]:
        return {**update, "phase_times": add_time(state, "llm_reviewer", started)}

    def reject(problem: str, reasons: list[str], review: dict[str, Any], **extra: Any) -> dict[str, Any]:
        deps.emit(task_id, "review", engine="llm", approve=False, reasons=reasons)
        note = feedback(attempt, limit, problem, "\n".join(f"- {r}" for r in reasons) or "(no reasons given)",
                        candidate["diff"], details_label="review", previous_label="previous-patch")
        return timed({**extra, "llm_candidate": None, "llm_feedback": note, "llm_review": review})

    pristine = await asyncio.to_thread(read_sources, state["workspace"], sorted(candidate["files"]))
    static = static_review(candidate, pristine, request_of(state).issue)
    if not static["ok"]:
        return reject("the patch failed the automatic checks", static["problems"],
                      {"approve": False, "reasons": static["problems"], "static": static})
    req = request_of(state)
    checks = "; ".join(static["risk_reasons"]) or "all passed"
    user = render("reviewer", issue=fence("issue", head_tail(req.issue, 4000, head_share=0.7)),
                  plan=fence("plan", state.get("llm_plan") or "(no plan)"),
                  static=f"passed (risk {static['risk']}: {checks})",
                  diff=fence("patch", head_tail(candidate["diff"], MAX_DIFF, head_share=0.6)))
    try:
        reply, tokens = await ask(state, deps, "reviewer", messages_for("the reviewer of patches", user))
    except LLMError as exc:
        return timed(failure(exc))
    verdict = parse_verdict(reply.text)
    review = {**verdict, "static": static}
    if not verdict["approve"]:
        return reject("the reviewer rejected the patch", verdict["reasons"], review, tokens=tokens)
    deps.emit(task_id, "review", engine="llm", approve=True, reasons=verdict["reasons"])
    return timed({"llm_review": review, "tokens": tokens})
