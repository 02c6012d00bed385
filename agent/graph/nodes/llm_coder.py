"""llm_coder: one attempt of the model at a patch, applied to the pristine sources (never to the sandbox)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from agent.edits import apply_edits, parse_edits
from agent.edits.diff import changed_files, unified_diff
from agent.edits.errors import EditError, EncodingProblem
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import encoded, read_sources, request_of
from agent.graph.nodes.llm_common import (
    ask,
    failure,
    feedback,
    field,
    last_problem,
    messages_for,
    planned_paths,
    safe_path,
    section,
    source_paths,
    test_output_of,
)
from agent.llm.context import CONTEXT_CHARS, coder_context
from agent.llm.errors import LLMError
from agent.llm.prompts import fence, render
from agent.localize import is_test_path
from agent.review import forbidden_file

MAX_FILES = 4


def target_paths(state: dict[str, Any], workspace_sources: dict[str, str] | None = None) -> list[str]:
    """Files the coder is shown: the plan's FILES that exist, else the suspects' files (best first)."""
    planned = source_paths(planned_paths(state.get("llm_plan") or ""))
    if workspace_sources is not None:
        planned = [p for p in planned if p in workspace_sources]
    suspects = [str(s["path"]) for s in state.get("suspects") or []]
    ordered = list(dict.fromkeys(planned + source_paths(suspects)))
    return ordered[:MAX_FILES]


async def llm_coder(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Ask for SEARCH/REPLACE edits; a bad edit becomes feedback for the next attempt (it counts as one)."""
    started = time.monotonic()
    task_id = state["task_id"]
    workspace = state["workspace"]
    attempts = state.get("attempts", 0)
    limit = deps.settings.max_attempts + int(state.get("extra_attempts") or 0)  # a reviewer's retry adds some

    def timed(update: dict[str, Any]) -> dict[str, Any]:
        return {**update, "phase_times": add_time(state, "llm_coder", started)}

    if attempts >= limit:
        why = last_problem(state)
        return timed({"status": "not_fixed", "llm_candidate": None,
                      "message": f"the LLM found no working patch in {attempts} attempt(s)"
                                 + (f"; the last one failed because {why}" if why else "")})
    req = request_of(state)
    planned = source_paths(planned_paths(state.get("llm_plan") or ""))
    existing = await asyncio.to_thread(read_sources, workspace, planned) if planned else {}
    paths = target_paths(state, existing)
    sources = await asyncio.to_thread(read_sources, workspace, paths)
    deps.emit(task_id, "phase", phase="llm_coder", text=f"Asking the model for a patch (attempt {attempts + 1} "
              f"of {limit})")
    values = coder_context(req.issue, sources, paths, state.get("suspects") or [], test_output_of(state),
                           budget=CONTEXT_CHARS)
    plan = fence("plan", state.get("llm_plan") or "(no plan: work from the issue and the failing tests)")
    user = render("coder", plan=plan, feedback=state.get("llm_feedback") or "", **values)
    try:
        reply, tokens = await ask(state, deps, "coder", messages_for("the programmer who writes the fix", user))
    except LLMError as exc:
        return timed(failure(exc))
    update: dict[str, Any] = {"attempts": attempts + 1, "tokens": tokens}
    try:
        candidate = await asyncio.to_thread(build_candidate, reply.text, workspace, sources, req.issue)
    except EditError as exc:
        deps.emit(task_id, "phase", phase="llm_coder", text=f"The model's edits did not apply: {exc}")
        note = feedback(attempts + 1, limit, "the edits could not be applied", str(exc), reply.text,
                        details_label="edit-error", previous_label="previous-reply")
        return timed({**update, "llm_candidate": None, "llm_feedback": note})
    candidate["attempt"] = attempts + 1
    deps.emit(task_id, "candidate", engine="llm", description=candidate["description"],
              files=sorted(candidate["files"]))
    return timed({**update, "llm_candidate": candidate, "llm_feedback": ""})


class UnsafeEdit(EditError):
    """An edit names a path the coder may not touch."""


def build_candidate(text: str, workspace: str, sources: dict[str, str], issue: str = "") -> dict[str, Any]:
    """Parse and apply the model's edits to the pristine files; raise EditError with a message for the model.

    Only Python sources inside the repository, never tests, never files that run code at start-up
    or install time (agent.review.forbidden_file) unless the issue names them.
    """
    edits = parse_edits(text)
    if not edits:
        raise EditError("no SEARCH/REPLACE block or unified diff was found in the answer")
    paths = list(dict.fromkeys(str(edit.path) for edit in edits))
    for path in paths:
        smuggled = forbidden_file(path, issue) if safe_path(path) else None
        if smuggled:
            raise UnsafeEdit(smuggled)
        if not safe_path(path) or not path.endswith(".py"):
            raise UnsafeEdit(f"{path!r} is not a Python source path inside the repository")
        if is_test_path(path):
            raise UnsafeEdit(f"{path} is a test file: fix the code, never the tests")
    for edit in edits:  # a "new file" must really be new: unreadable files (binary, huge, links) look absent
        if not edit.search.strip() and edit.path not in sources and os.path.lexists(Path(workspace) / edit.path):
            raise UnsafeEdit(f"{edit.path} already exists (it was not shown to you): an empty SEARCH only creates "
                             "new files; edit the files you were given instead")
    files = {**sources, **read_sources(workspace, [p for p in paths if p not in sources])}
    new_files, _applied = apply_edits(files, edits)
    changed = changed_files(files, new_files)
    if not changed:
        raise EditError("the edits change nothing: the REPLACE text equals the SEARCH text")
    old = {p: files[p] for p in changed if p in files}
    new = {p: new_files[p] for p in changed if p in new_files}
    if set(new) != set(changed):
        raise UnsafeEdit("the edits delete a file; change the code instead")
    for path, content in new.items():  # each file is written back in its own encoding: say so now if it cannot be
        try:
            encoded(workspace, path, content)
        except EncodingProblem as exc:
            raise EncodingProblem(f"{path}: {exc}; keep to characters its encoding can hold") from None
    description = field(text, "DESCRIPTION") or f"change {', '.join(changed)}"
    return {"files": new, "diff": unified_diff(old, new), "description": description[:200],
            "explanation": section(text, "EXPLANATION")[:1500] or description}
