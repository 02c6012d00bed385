"""llm_reprotest: when the suite is green, the model writes a NEW test file that fails now and should pass after.

The accepted test is written into the host checkout (so every sandbox, also after a resume, has it)
and into the live sandbox; it becomes part of the final patch as the only allowed test-file addition.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import time
from pathlib import Path
from typing import Any

from agent.exceptions import WorkflowError
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import inside, read_sources, request_of, tail
from agent.graph.nodes.llm_common import ask, failure, feedback, field, messages_for
from agent.graph.nodes.llm_prove import focus_failures
from agent.llm.context import CONTEXT_CHARS, head_tail, manager_context
from agent.llm.errors import LLMError
from agent.llm.prompts import fence, render
from agent.localize import fallback_rank, is_test_path, issue_terms
from agent.pyparse import parse_python
from agent.testrun import shell

TEST_NAME = "test_fixbot_repro"
_CODE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)
_BROKEN = re.compile(r"ERROR collecting|errors? during collection|ImportError|ModuleNotFoundError|SyntaxError|"
                     r"IndentationError|fixture '[^']+' not found")


def new_test_path(workspace: str) -> str:
    """A path for the reproduction test that does not exist yet, in the repository's test folder if any."""
    root = Path(workspace)
    folder = next((d for d in ("tests", "test") if (root / d).is_dir() and not (root / d).is_symlink()), "")
    for n in range(1, 100):
        name = f"{TEST_NAME}.py" if n == 1 else f"{TEST_NAME}_{n}.py"
        rel = f"{folder}/{name}" if folder else name
        if not os.path.lexists(root / rel):  # a dangling link counts as taken: it is never written through
            return rel
    raise WorkflowError(f"no free name for the reproduction test ({TEST_NAME}.py to {TEST_NAME}_99.py all exist)")


def extract_test(text: str) -> str:
    """The longest ```python block of the answer ('' when there is none)."""
    blocks = [b for b in _CODE.findall(text) if b.strip()]
    return max(blocks, key=len).strip() + "\n" if blocks else ""


def check_test(code: str) -> str | None:
    """Why the test file is unusable before running it, or None."""
    if not code:
        return "the answer has no ```python block with the test file"
    try:
        tree = parse_python(code)
    except SyntaxError as exc:
        return f"the test file does not parse: {exc.msg} (line {exc.lineno})"
    if not any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test")
               for n in ast.walk(tree)):
        return "the file defines no test function (names must start with test_)"
    return None


def judge_run(path: str, exit_code: int | None, timed_out: bool, output: str) -> str | None:
    """Why a run does not show the bug (None when the new test fails for a real assertion)."""
    if timed_out:
        return "the test run did not finish in time"
    if exit_code == 0:
        return "the test passes on the current code, so it does not show the bug"
    if _BROKEN.search(output):
        return "the test errors out (import, syntax or fixture problem) instead of failing on the bug"
    if Path(path).name not in output:
        return "the run failed, but not in the new test"
    return None


def _example_test(sources: dict[str, str]) -> str:
    tests = sorted(p for p in sources if is_test_path(p) and Path(p).name.startswith("test"))
    if not tests:
        return "(the repository has no tests yet)"
    return f"# {tests[0]}\n" + head_tail(sources[tests[0]], 3000, head_share=1.0)


async def llm_reprotest(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """One attempt at a reproduction test; success sets repro_test and status running (rerun reproduce next)."""
    started = time.monotonic()
    task_id, workspace = state["task_id"], state["workspace"]
    attempts = state.get("repro_attempts", 0)
    limit = deps.settings.max_attempts

    def timed(update: dict[str, Any]) -> dict[str, Any]:
        return {**update, "phase_times": add_time(state, "llm_reprotest", started)}

    if attempts >= limit:
        return timed({"status": "no_failure", "message": f"the tests already pass and the LLM could not write a "
                      f"test that shows the bug in {attempts} attempt(s); add a failing test and try again"})
    req = request_of(state)
    deps.emit(task_id, "phase", phase="llm_reprotest",
              text=f"The tests pass: asking the model for a test that shows the bug (attempt {attempts + 1})")
    sources = await asyncio.to_thread(read_sources, workspace)
    path = new_test_path(workspace)
    suspects = [s.to_dict() for s in fallback_rank(sources, issue_terms(req.issue))]
    values = manager_context(req.issue, sources, suspects, "", budget=CONTEXT_CHARS)
    user = render("reprotest", issue=values["issue"], snippets=values["snippets"], repo_map=values["repo_map"],
                  test_example=fence("example-test", _example_test(sources)), test_path=path,
                  test_command=req.test_command, feedback=state.get("repro_feedback") or "")
    try:
        reply, tokens = await ask(state, deps, "reprotest", messages_for("the tester who reproduces bugs", user))
    except LLMError as exc:
        return timed(failure(exc))
    update: dict[str, Any] = {"repro_attempts": attempts + 1, "tokens": tokens, "status": "running"}
    code = extract_test(reply.text)
    problem, output = check_test(code), ""
    if problem is None:
        problem, output = await _run_once(state, deps, path, code)
    if problem is not None:
        deps.emit(task_id, "phase", phase="llm_reprotest", text=f"Rejected the reproduction test: {problem}")
        note = feedback(attempts + 1, limit, problem, output or problem, code or reply.text,
                        details_label="test-output", previous_label="previous-test")
        return timed({**update, "repro_test": None, "repro_feedback": note})
    await asyncio.to_thread(_write_new, workspace, path, code)
    description = field(reply.text, "DESCRIPTION") or "a test that reproduces the reported bug"
    deps.emit(task_id, "repro_test", path=path, description=description)
    return timed({**update, "repro_feedback": "", "message": f"wrote {path}, which fails on the current code",
                  "repro_test": {"path": path, "content": code, "description": description[:200],
                                 "output": tail(output, 4000)}})


async def _run_once(state: dict[str, Any], deps: Deps, path: str, code: str) -> tuple[str | None, str]:
    """Run the user's command with the new test in the sandbox; keep it there only when it shows the bug."""
    box = await asyncio.to_thread(deps.sandboxes.get, state["task_id"], state["workspace"])
    await asyncio.to_thread(box.put_files, {path: code})
    env = (state.get("baseline") or {}).get("command_env") or {}
    run = await asyncio.to_thread(box.exec, shell(request_of(state).test_command), timeout=deps.settings.docker_timeout,
                                  env=env)
    output = (run.stdout or "") + ("\n" + run.stderr if run.stderr else "")
    problem = judge_run(path, run.exit_code, bool(run.timed_out), output)
    if problem is not None:
        await asyncio.to_thread(box.exec, ["rm", "-f", "--", path], timeout=30)
    return problem, focus_failures(output)


def _write_new(workspace: str, path: str, code: str) -> None:
    """Create the test in the host checkout; refuse to overwrite anything or to follow a link out of it."""
    root = Path(workspace).resolve()
    target = root / path
    if not inside(root, target.parent) or target.parent.is_symlink():
        raise WorkflowError(f"refusing to write {path}: its folder leads outside the repository")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise WorkflowError(f"could not create the reproduction test {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(code)
