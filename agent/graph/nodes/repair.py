"""repair: propose the next batch of candidate patches from the search engine's ranked pool."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import hands_over, pool_of, search_clock, search_seconds

FIRST_BATCH = 40
NEXT_BATCH = 160


def budget_left(state: dict[str, Any], deps: Deps) -> str | None:
    """Why the search must stop, or None while budget remains."""
    settings = deps.settings
    seconds = search_seconds(state, deps)
    if time.time() - search_clock(state) > seconds:
        return f"the search's time budget ({seconds:.0f} s) is spent"
    if state.get("candidates_tried", 0) >= settings.repair_max_candidates:
        return f"the candidate budget ({settings.repair_max_candidates}) is spent"
    return None


async def repair(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Take the next ranked, untried candidates; an empty batch means the search is over."""
    started = time.monotonic()
    task_id = state["task_id"]
    if not state.get("search_started_at"):
        state = {**state, "search_started_at": time.time()}
    pool = await asyncio.to_thread(pool_of, state, deps)
    cursor = state.get("cursor", 0)
    stop = budget_left(state, deps)
    if stop is None and cursor >= len(pool):
        stop = f"all {len(pool)} candidate patches at the suspicious lines were tried"
    update: dict[str, Any] = {"phase_times": add_time(state, "repair", started),
                              "search_started_at": state["search_started_at"]}
    if stop is not None:
        if hands_over(state):
            deps.emit(task_id, "phase", phase="repair", text=f"The search found no patch ({stop}); asking the LLM")
            note = f"the search found no plausible patch ({stop})"
            return {**update, "batch": [], "search_exhausted": True, "search_message": note, "message": note}
        deps.emit(task_id, "phase", phase="repair", text=f"Stopping: {stop}")
        return {**update, "batch": [], "status": "not_fixed",
                "message": f"no plausible patch found: {stop}"}
    size = FIRST_BATCH if cursor == 0 else NEXT_BATCH
    batch = list(range(cursor, min(cursor + size, len(pool))))
    deps.emit(task_id, "phase", phase="repair",
              text=f"Trying candidates {cursor + 1}-{batch[-1] + 1} of {len(pool)}")
    return {**update, "batch": batch, "cursor": batch[-1] + 1, "search_batches": state.get("search_batches", 0) + 1}
