"""repair: propose the next batch of candidate patches from the search engine's ranked pool.

Single edits come in rank order. When several tests fail and some single edits fix only some of
them, pairs of those edits that together cover every failing test are tried next; when the single
edits run out, or half the search's time is gone, pairs of the simplest edits at the top suspicious
places too (agent.repair.pairs). Pairs share batches with the single edits still to come.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import hands_over, pool_of, search_clock, search_seconds
from agent.repair.pairs import at_top_places, complementary, no_single_edit_message
from agent.repair.search import CandidatePool

FIRST_BATCH = 40
NEXT_BATCH = 160
PAIRS_AFTER = 0.5  # share of the search's time after which pairs at the top places join the single edits


def budget_left(state: dict[str, Any], deps: Deps) -> str | None:
    """Why the search must stop, or None while time remains."""
    seconds = search_seconds(state, deps)
    if time.time() - search_clock(state) > seconds:
        return f"the search's time budget ({seconds:.0f} s) is spent"
    return None


def _pairs_update(state: dict[str, Any], deps: Deps, pool: CandidatePool) -> dict[str, Any]:
    """New pair candidates (complementary partial fixes; pairs at the top places once it is time) queued."""
    failing = list(state.get("baseline", {}).get("failing", []))
    partial = {int(k): v for k, v in (state.get("partial") or {}).items()}
    pairs = [list(p) for p in state.get("pairs") or []]
    queue = list(state.get("pair_queue") or [])
    known = {(a, b) for a, b in pairs}
    cursor = state.get("cursor", 0)

    def enqueue(found: list[tuple[int, int]]) -> None:
        for a, b in found:
            if (a, b) in known:
                continue
            known.add((a, b))
            pairs.append([a, b])
            cid = pool.add_pair(a, b)
            if cid is not None:
                queue.append(cid)

    if len(failing) >= 2 and partial:
        enqueue(complementary(partial, failing, pool.candidates))
    update: dict[str, Any] = {}
    spent = (time.time() - search_clock(state)) / max(search_seconds(state, deps), 1e-9)
    if not state.get("pairs_at_places") and (cursor >= pool.singles or spent >= PAIRS_AFTER):
        enqueue(at_top_places(pool.candidates, max(cursor, 1), partial=partial))
        update["pairs_at_places"] = True
    update.update(pairs=pairs, pair_queue=queue)
    return update


def _why_nothing(state: dict[str, Any], pool: CandidatePool, stop: str) -> str:
    """The stop reason, with which tests the best single edits fix when no single edit fixes all."""
    failing = list(state.get("baseline", {}).get("failing", []))
    partial = {int(k): v for k, v in (state.get("partial") or {}).items()}
    tried_pairs = len(state.get("pairs") or [])
    parts = []
    if len(failing) >= 2 and partial:
        parts.append(no_single_edit_message(partial, pool.candidates, failing))
    if tried_pairs:
        parts.append(f"{tried_pairs} pairs of edits tried")
    parts.append(stop)
    return "; ".join(parts)


async def repair(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Take the next ranked, untried candidates (queued pairs first); an empty batch means the search is over."""
    started = time.monotonic()
    task_id = state["task_id"]
    if not state.get("search_started_at"):
        state = {**state, "search_started_at": time.time()}
    pool = await asyncio.to_thread(pool_of, state, deps)
    update: dict[str, Any] = {"search_started_at": state["search_started_at"]}
    update.update(_pairs_update(state, deps, pool))
    state = {**state, **update}
    cursor = state.get("cursor", 0)
    queue = list(state.get("pair_queue") or [])
    stop = budget_left(state, deps)
    if stop is None and cursor >= pool.singles and not queue:
        if pool.singles >= deps.settings.repair_max_candidates:
            stop = f"the candidate budget ({deps.settings.repair_max_candidates}) is spent"
        else:
            stop = f"all {pool.singles} candidate patches at the suspicious lines were tried"
    update["phase_times"] = add_time(state, "repair", started)
    if stop is not None:
        why = _why_nothing(state, pool, stop)
        notes = why if "no single edit" in why else ""
        if hands_over(state):
            deps.emit(task_id, "phase", phase="repair", text=f"The search found no patch ({why}); asking the LLM")
            note = f"the search found no plausible patch ({why})"
            return {**update, "batch": [], "search_exhausted": True, "search_message": note, "message": note,
                    "search_notes": notes}
        deps.emit(task_id, "phase", phase="repair", text=f"Stopping: {why}")
        return {**update, "batch": [], "status": "not_fixed", "message": f"no plausible patch found: {why}",
                "search_notes": notes}
    size = FIRST_BATCH if cursor == 0 and not queue else NEXT_BATCH
    from_queue = queue[: size // 2] if cursor < pool.singles else queue[:size]  # pairs share the batch with singles
    singles = list(range(cursor, min(cursor + size - len(from_queue), pool.singles)))
    batch = from_queue + singles
    update["pair_queue"] = queue[len(from_queue):]
    if singles:
        update["cursor"] = singles[-1] + 1
    what = f"candidates {cursor + 1}-{singles[-1] + 1} of {pool.singles}" if singles else ""
    if from_queue:
        what = ", ".join(filter(None, [f"{len(from_queue)} pairs of edits", what]))
    deps.emit(task_id, "phase", phase="repair", text=f"Trying {what}")
    return {**update, "batch": batch, "search_batches": state.get("search_batches", 0) + 1}
