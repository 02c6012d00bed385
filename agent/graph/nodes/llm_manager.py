"""llm_manager: the model's root-cause analysis and plan, from the issue, the failures and the suspects."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import read_sources, request_of
from agent.graph.nodes.llm_common import ask, failure, field, messages_for, test_output_of
from agent.llm.context import CONTEXT_CHARS, manager_context
from agent.llm.errors import LLMError
from agent.llm.prompts import render


async def llm_manager(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Ask for ROOT CAUSE / PLAN / FILES; the plan steers the coder on every attempt."""
    started = time.monotonic()
    task_id = state["task_id"]
    req = request_of(state)
    deps.emit(task_id, "phase", phase="llm_manager", text="Asking the model for the root cause and a plan")
    sources = await asyncio.to_thread(read_sources, state["workspace"])
    values = manager_context(req.issue, sources, state.get("suspects") or [], test_output_of(state),
                             budget=CONTEXT_CHARS)
    try:
        reply, tokens = await ask(state, deps, "manager",
                                  messages_for("the analyst who finds root causes", render("manager", **values)))
    except LLMError as exc:
        return {**failure(exc), "phase_times": add_time(state, "llm_manager", started)}
    plan = reply.text.strip()
    update: dict[str, Any] = {"llm_plan": plan, "tokens": tokens,
                              "phase_times": add_time(state, "llm_manager", started)}
    root = field(plan, "ROOT CAUSE")
    if root:
        update["analysis"] = " ".join(filter(None, [state.get("analysis"), f"Root cause (model): {root}"]))
    deps.emit(task_id, "analysis", text=root or plan[:300])
    return update
