"""localize: rank suspicious lines from per-test coverage, tracebacks and the issue text."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from agent import localize as sbfl
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import pytest_args_of, read_sources, request_of
from agent.relevance import SELECT_ABOVE, relevant_tests
from agent.repair.validate import run_mode


async def localize(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Spectrum-based ranking (Ochiai) combined with traceback frames and named identifiers."""
    started = time.monotonic()
    task_id = state["task_id"]
    req = request_of(state)
    baseline = state.get("baseline", {})
    deps.emit(task_id, "phase", phase="localize", text="Measuring which lines the failing tests run")
    messages = baseline.get("messages", {})
    terms = sbfl.issue_terms(req.issue, *messages.values(), *req.hints)
    args = pytest_args_of(state)
    suspects: list[sbfl.Suspect] = []
    coverage_path = ""
    notes: list[str] = []  # files that could not be decoded
    selected: list[str] | None = None
    if args is not None:
        failing, passing = baseline.get("failing", []), baseline.get("passing", [])
        if len(failing) + len(passing) > SELECT_ABOVE:  # coverage only for the tests that matter
            everything = await asyncio.to_thread(read_sources, state["workspace"], None, notes=notes)
            selected = relevant_tests(failing, passing, everything)
        box = await asyncio.to_thread(deps.sandboxes.get, task_id, state["workspace"])
        _res, cov = await asyncio.to_thread(run_mode, box, "coverage",
                                           {"pytest_args": args, "test_timeout": deps.settings.test_timeout,
                                            "known_hangs": state.get("baseline", {}).get("hung", []),
                                            "tests": selected},
                                           timeout=deps.settings.docker_timeout)
        if cov is not None:
            path = Path(state["workspace"]).parent / "coverage.json"
            path.write_text(json.dumps(cov), encoding="utf-8")
            coverage_path = str(path)
            sources = read_sources(state["workspace"], sorted(cov.get("lines", {})), notes=notes)
            suspects = sbfl.rank(cov, sources, terms=terms, mentions=sbfl.issue_mentions(req.issue))
    if not suspects:
        suspects = sbfl.fallback_rank(read_sources(state["workspace"], notes=notes), terms)
    if req.hints:
        hinted = [s for s in suspects if any(s.path.startswith(h) for h in req.hints)]
        suspects = hinted + [s for s in suspects if s not in hinted]
    update: dict[str, Any] = {"suspects": [s.to_dict() for s in suspects], "terms": sorted(terms),
                              "coverage_path": coverage_path, "cursor": 0,
                              "phase_times": add_time(state, "localize", started)}
    failing = baseline.get("failing", [])
    if not suspects:
        update.update(status="not_fixed", analysis=_analysis(failing, []),
                      message="could not locate the fault: no source line ran in the failing tests")
    else:
        update["analysis"] = _analysis(failing, suspects)
    if selected is not None:
        update["coverage_tests"] = len(selected)
        update["analysis"] += (f" Coverage was measured for {len(selected)} of {len(failing) + len(passing)} tests: "
                               "the failing ones and those that use the same functions.")
    if notes:
        update["analysis"] += " " + "; ".join(dict.fromkeys(notes)) + "."
    deps.emit(task_id, "localized", suspects=[s.to_dict() for s in suspects[:5]])
    return update


def _analysis(failing: list[str], suspects: list[sbfl.Suspect]) -> str:
    shown = ", ".join(failing[:3]) + (f" and {len(failing) - 3} more" if len(failing) > 3 else "")
    text = f"{len(failing)} test(s) fail: {shown}."
    if suspects:
        top = suspects[:3]
        where = "; ".join(f"{s.path} line {s.line}" + (f" in `{s.function}`" if s.function else "")
                          + f" (score {s.score:.2f})" for s in top)
        text += f" Most suspicious: {where}."
    return text
