"""review: static checks before anything runs (applies, parses, no test file, risk)."""

from __future__ import annotations

import time
from typing import Any

from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import pool_of, request_of, sources_of
from agent.graph.nodes.propose import source_digest
from agent.review import review_change


async def review(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Keep the candidates that pass every static check; count why the others were rejected."""
    started = time.monotonic()
    pool = pool_of(state, deps)
    sources = sources_of(state, deps)
    rejected = dict(state.get("rejected") or {})
    issue = request_of(state).issue
    refused = {(r["path"], r["sha256"]) for r in state.get("rejected_sources") or []}
    reviewed: list[int] = []
    for cid in state.get("batch", []):
        cand = pool[cid]
        new = cand.apply(sources)
        if refused and (cand.path, source_digest("".join(new[p] for p in sorted(new)))) in refused:
            rejected["rejected by a reviewer"] = rejected.get("rejected by a reviewer", 0) + 1
            continue
        verdicts = [review_change(path, sources.get(path), text, operator=cand.operator, issue=issue,
                                  changed=[s for s in cand.splices if s.path == path]) for path, text in new.items()]
        failed = next((v for v in verdicts if not v.ok), None)
        if failed is None:
            reviewed.append(cid)
        else:
            key = failed.reason.split(":")[0][:80]
            rejected[key] = rejected.get(key, 0) + 1
    return {"reviewed": reviewed, "rejected": rejected, "phase_times": add_time(state, "review", started)}
