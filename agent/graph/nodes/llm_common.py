"""Helpers shared by the LLM nodes: budgeted calls, error → status, feedback turns, test output."""

from __future__ import annotations

import re
from typing import Any

from agent.graph.deps import Deps
from agent.llm.budget import TokenBudget, estimate_tokens
from agent.llm.client import Reply
from agent.llm.context import head_tail
from agent.llm.errors import BudgetExhausted, LLMError
from agent.llm.prompts import chat, fence, render
from agent.localize import is_test_path

NO_LLM = "the LLM engine needs a model: set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server"
FEEDBACK_DETAILS = 5000  # characters of failing output or error text sent back to the model
_FILES_LINE = re.compile(r"^\W*FILES\W*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_FIELD = r"^\W*{name}\W*:\s*(.+)$"


def budget_of(state: dict[str, Any], deps: Deps) -> TokenBudget:
    """The task's token budget, rebuilt from state["tokens"] (prices when the settings have them)."""
    settings = deps.settings
    return TokenBudget(settings.llm_token_budget,
                       prompt_price_per_1k=settings.llm_prompt_price_per_1k,
                       completion_price_per_1k=settings.llm_completion_price_per_1k,
                       spent=state.get("tokens"))


async def ask(state: dict[str, Any], deps: Deps, node: str, messages: list[dict[str, str]]
              ) -> tuple[Reply, dict[str, Any]]:
    """One budgeted model call: check the budget, call, account; returns the reply and the new tokens record."""
    if deps.llm is None:
        raise LLMError(NO_LLM)
    budget = budget_of(state, deps)
    budget.check(estimate_tokens("".join(m["content"] for m in messages)))
    reply = await deps.llm.complete(messages, node=node)
    budget.record(node, reply.prompt_tokens, reply.completion_tokens)
    return reply, budget.usage()


def failure(exc: LLMError) -> dict[str, Any]:
    """The state update that ends the task after an LLM error (budget spent, endpoint down, ...)."""
    if isinstance(exc, BudgetExhausted):
        return {"status": "budget_exhausted", "message": str(exc)}
    return {"status": "error", "message": f"the LLM failed: {exc}"}


def system(role: str) -> str:
    """The system prompt for one role."""
    return render("system", role=role)


def messages_for(role: str, user: str) -> list[dict[str, str]]:
    """System plus user message."""
    return chat(system(role), user)


def feedback(attempt: int, max_attempts: int, problem: str, details: str, previous: str,
             *, details_label: str = "details", previous_label: str = "previous-attempt") -> str:
    """The feedback turn that tells the model why its last attempt failed."""
    return render("feedback", attempt=str(attempt), max_attempts=str(max_attempts), problem=problem,
                  details=fence(details_label, head_tail(details, FEEDBACK_DETAILS)),
                  previous=fence(previous_label, head_tail(previous, FEEDBACK_DETAILS, head_share=0.5)))


def test_output_of(state: dict[str, Any]) -> str:
    """The failing tests' messages, then the output of the baseline run."""
    baseline = state.get("baseline") or {}
    messages = baseline.get("messages") or {}
    parts = [f"FAILED {name}: {messages[name]}" for name in baseline.get("failing", []) if name in messages]
    if baseline.get("stdout"):
        parts.append(str(baseline["stdout"]))
    if state.get("search_notes"):  # what the search engine measured, e.g. which tests each best single edit fixes
        parts.append(f"Search engine: {state['search_notes']}")
    return "\n".join(parts) or "(no test output)"


def field(text: str, name: str) -> str:
    """The value after `NAME:` on its own line ('' when absent)."""
    match = re.search(_FIELD.format(name=re.escape(name)), text, re.IGNORECASE | re.MULTILINE)
    return match.group(1).strip().strip("*").strip() if match else ""


def section(text: str, name: str) -> str:
    """`NAME:` and the lines after it, up to a blank line or the start of an edit block."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if re.match(_FIELD.format(name=re.escape(name)), line, re.IGNORECASE):
            out = [field(line, name)]
            for more in lines[index + 1:]:
                if (not more.strip() or more.lstrip().startswith(("<<<<<<<", "```", "--- ", "@@"))
                        or re.fullmatch(r"\S+\.py", more.strip())):
                    break
                out.append(more.strip())
            return " ".join(filter(None, out))
    return ""


def planned_paths(plan: str) -> list[str]:
    """Paths named on the plan's FILES: line, in order (unchecked)."""
    paths: list[str] = []
    for match in _FILES_LINE.finditer(plan or ""):
        for item in re.split(r"[,\s]+", match.group(1)):
            item = item.strip("`'\"*[]()")
            if item.endswith(".py") and item not in paths:
                paths.append(item)
    return paths


def safe_path(path: str) -> bool:
    """A relative path inside the repository, never absolute, never climbing out, never hidden."""
    parts = path.replace("\\", "/").split("/")
    return bool(path) and not path.startswith(("/", "~", "-")) and "\x00" not in path and all(
        p not in ("", ".", "..") and not p.startswith(".") for p in parts)


def source_paths(paths: list[str]) -> list[str]:
    """Only safe, non-test Python paths, order kept."""
    return [p for p in paths if safe_path(p) and p.endswith(".py") and not is_test_path(p)]


def last_problem(state: dict[str, Any]) -> str:
    """The first line of the last feedback's problem, for the final message."""
    text = state.get("llm_feedback") or ""
    match = re.search(r"did not work: (.+)", text)
    return match.group(1).strip().rstrip(".") if match else ""
