"""localize: rank suspicious lines from per-test coverage, tracebacks and the issue text."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from agent import localize as sbfl
from agent import relevance
from agent.baseline import COMMAND_ID
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import read_sources, request_of
from agent.testrecords import spectrum
from agent.testrun import run_tests

PER_TEST = "per-test coverage"
COMMAND_LINES = "line coverage of the whole command"
ISSUE_ONLY = "the issue text and the failure output only"


async def localize(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Spectrum-based ranking (Ochiai) combined with traceback frames and named identifiers."""
    started = time.monotonic()
    task_id = state["task_id"]
    req = request_of(state)
    baseline = state.get("baseline", {})
    deps.emit(task_id, "phase", phase="localize", text="Measuring which lines the failing tests run")
    messages = baseline.get("messages", {})
    terms = sbfl.issue_terms(req.issue, *messages.values(), *req.hints)
    failing = baseline.get("failing", [])
    suspects: list[sbfl.Suspect] = []
    coverage_path = ""
    decoding: list[str] = []  # files that could not be decoded
    passing = baseline.get("passing", [])
    selected: list[str] | None = None
    if len(failing) + len(passing) > relevance.SELECT_ABOVE:  # a big suite: coverage for the tests that matter
        everything = await asyncio.to_thread(read_sources, state["workspace"], None, notes=decoding)
        selected = relevance.relevant_tests(failing, passing, everything)
    box = await asyncio.to_thread(deps.sandboxes.get, task_id, state["workspace"])
    run = await asyncio.to_thread(run_tests, box, req.test_command, mode="coverage",
                                  timeout=deps.settings.docker_timeout, test_timeout=deps.settings.test_timeout,
                                  tests=selected, known_hangs=baseline.get("hung", []),
                                  env=baseline.get("command_env") or {})
    data = evidence(run, baseline)
    if data["lines"]:
        path = Path(state["workspace"]).parent / "coverage.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        coverage_path = str(path)
        sources = read_sources(state["workspace"], sorted(data["lines"]), notes=decoding)
        suspects = sbfl.rank(data, sources, terms=terms, mentions=sbfl.issue_mentions(req.issue))
    mode = (COMMAND_LINES if failing == [COMMAND_ID] else PER_TEST) if suspects else ISSUE_ONLY
    if not suspects:
        suspects = sbfl.fallback_rank(read_sources(state["workspace"], notes=decoding), terms)
    if req.hints:
        hinted = [s for s in suspects if any(s.path.startswith(h) for h in req.hints)]
        suspects = hinted + [s for s in suspects if s not in hinted]
    localization = {"mode": mode, "degraded": mode != PER_TEST, "why": why_degraded(mode, run, baseline)}
    update: dict[str, Any] = {"suspects": [s.to_dict() for s in suspects], "terms": sorted(terms),
                              "coverage_path": coverage_path, "cursor": 0, "localization": localization,
                              "phase_times": add_time(state, "localize", started)}
    notes = list(baseline.get("notes") or []) + list(dict.fromkeys(decoding))
    if selected is not None:
        update["coverage_tests"] = len(selected)
        notes.append(f"coverage was measured for {len(selected)} of {len(failing) + len(passing)} tests: the failing "
                     "ones and those that use the same functions")
    if not suspects:
        update.update(status="not_fixed", analysis=_analysis(failing, [], localization, notes),
                      message="could not locate the fault: no source line ran in the failing tests, and the issue "
                              "names no function of the repository")
    else:
        update["analysis"] = _analysis(failing, suspects, localization, notes)
    deps.emit(task_id, "localized", suspects=[s.to_dict() for s in suspects[:5]], localization=localization)
    return update


def evidence(run: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The coverage run as agent.localize.rank reads it: the baseline's failing tests against this run's
    passing ones; flaky, slow-to-hang and environment-blamed tests are no evidence either way."""
    failing = set(baseline.get("failing", []))
    no_evidence = set(baseline.get("flaky", [])) | {t for p in baseline.get("environment", []) for t in p["tests"]}
    passing = {t for t, o in run.get("outcomes", {}).items() if o == "passed"} - failing - no_evidence
    outcomes = {**{t: "passed" for t in passing}, **{t: "failed" for t in failing}}
    frames = {t: f for t, f in run.get("frames", {}).items() if t in failing}
    coverage = run.get("coverage", {})
    return {"outcomes": outcomes, "frames": frames, "lines": spectrum(coverage, failing, passing),
            **line_tests(coverage, failing, passing)}


def line_tests(coverage: dict[str, dict[str, list[str]]], failing: set[str], passing: set[str]) -> dict[str, Any]:
    """{"test_ids": [ids], "line_tests": {path: {line: [index]}}} for the lines a failing test ran: which tests
    ran them (agent.localize groups the failing tests by it; the test node picks the tests of a changed function)."""
    index: dict[str, int] = {}
    lines: dict[str, dict[str, list[int]]] = {}
    for path, per_line in coverage.items():
        for line, ids in per_line.items():
            if any(t in failing for t in ids):
                lines.setdefault(path, {})[line] = [index.setdefault(t, len(index)) for t in ids
                                                    if t in failing or t in passing]
    return {"test_ids": list(index), "line_tests": lines}


def why_degraded(mode: str, run: dict[str, Any], baseline: dict[str, Any]) -> str:
    """Why localization could not rank lines by per-test coverage, in words for the user ("" when it could)."""
    if mode == PER_TEST:
        return ""
    if mode == COMMAND_LINES:
        return ("the test command reports no per-test outcomes (it is neither pytest nor unittest), so every line "
                "it ran is equally suspicious; the issue's words and the failure output rank them")
    if baseline.get("runner") is None:
        return ("the test command ran no Python that fixbot's probe could see (no pytest, unittest or python "
                "process), so suspects come only from the functions the issue and the failure output name")
    if run.get("outcomes") and not run.get("coverage"):
        return ("the tests ran no line of the repository's own files: if the setup installs the project as a copy "
                "(pip install .), use pip install -e . so the tests run the checkout; suspects come only from the "
                "functions the issue and the failure output name")
    return "the coverage run recorded no line the failing tests ran; suspects come from the issue text only"


def _analysis(failing: list[str], suspects: list[sbfl.Suspect], localization: dict[str, Any],
              notes: list[str]) -> str:
    shown = ", ".join(failing[:3]) + (f" and {len(failing) - 3} more" if len(failing) > 3 else "")
    text = f"{len(failing)} test(s) fail: {shown}."
    if suspects:
        top = suspects[:3]
        where = "; ".join(f"{s.path} line {s.line}" + (f" in `{s.function}`" if s.function else "")
                          + f" (score {s.score:.2f})" for s in top)
        text += f" Most suspicious: {where}."
    if localization.get("degraded"):
        text += f" Localization degraded to {localization['mode']}: {localization['why']}."
    for note in notes:
        text += f" Note: {note}."
    return text
