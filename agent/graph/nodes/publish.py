"""publish: after approval, the patch becomes a commit on a fresh checkout, kept as `git format-patch` text.

The sandbox and the task's checkout were released while the task waited, so the checkout is rebuilt
from the repository at the task's base commit (the tree the sandbox proved the patch on, even when the
branch moved on meanwhile; a copied local working tree has none and is copied again as it is now); the
patch is applied with `git apply` (no hooks, no user value as an option).
Pushing a branch and opening the pull request come with the forge integration (a later issue); the
branch name it will use is recorded now. Re-running this node (a resumed thread) rebuilds from scratch.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.clone import fetch_repository, git_env, git_reason
from agent.exceptions import WorkflowError
from agent.graph.deps import Deps, add_time
from agent.graph.nodes.common import request_of

SUBJECT_WIDTH = 72  # git's convention for a commit subject
GIT_ID = ["-c", "user.name=fixbot", "-c", "user.email=fixbot@localhost", "-c", "core.hooksPath=/dev/null",
          "-c", "commit.gpgsign=false"]


def _git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["git", *GIT_ID, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env=git_env(), input=stdin)
    if proc.returncode != 0:
        raise WorkflowError(f"git {args[0]} failed: {git_reason(proc.stderr)}")
    return proc.stdout


def subject_line(text: str, width: int) -> str:
    """`text` on one line of at most `width` characters: whole words and "..." when it is longer (a first word
    longer than the line is cut inside, since nothing shorter says anything)."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    room = width - len("...")
    head = line[:room]
    if head[-1].isalnum() and line[room].isalnum() and " " in head:  # the cut would fall inside a word
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:-") + "..."


def commit_message(state: dict[str, Any]) -> str:
    """Subject and body of the fix's commit: the explanation, the issue and who approved it."""
    patch = state.get("final_patch") or {}
    req = request_of(state)
    first = (str(patch.get("explanation") or state.get("message") or "fix").strip().splitlines() or ["fix"])[0]
    subject = "fixbot: " + subject_line(first, SUBJECT_WIDTH - len("fixbot: "))
    decision = state.get("decision") or {}
    return (f"{subject}\n\n{patch.get('explanation', '')}\n\nIssue: {req.issue[:1000]}\n\n"
            f"Proven by: {req.test_command}\nApproved-by: {decision.get('by', '?')}\nTask: {state['task_id']}\n")


def build_publication(state: dict[str, Any], settings: Any, root: Path) -> dict[str, Any]:
    """Fetch the repository into `root` at the task's base commit, apply and commit the diff; return the
    publication record {"branch", "commit", "base_commit" (None for a copied working tree), "pr_url", "patch"}."""
    patch = state.get("final_patch") or {}
    diff = str(patch.get("diff") or "")
    if not diff.strip():
        raise WorkflowError("nothing to publish: the task has no patch")
    from agent.workflow import own_paths  # (agent.workflow builds this graph)

    base = state.get("base_commit")
    checkout = fetch_repository(request_of(state), root / "repo", timeout=settings.clone_timeout,
                                max_mb=settings.clone_max_mb, max_entries=settings.clone_max_files,
                                exclude=own_paths(settings), commit=base)
    if not (checkout / ".git").exists():  # a local directory is copied without its history
        _git(checkout, "init", "-q")
        _git(checkout, "add", "-A")
        _git(checkout, "commit", "-q", "--allow-empty", "-m", "base")
    try:
        _git(checkout, "apply", "--index", "--whitespace=nowarn", "-", stdin=diff)
    except WorkflowError as exc:
        raise WorkflowError(f"the repository changed since the patch was proven: it no longer applies ({exc})") \
            from None
    _git(checkout, "commit", "-q", "-F", "-", stdin=commit_message(state))
    commit = _git(checkout, "rev-parse", "HEAD").strip()
    text = _git(checkout, "format-patch", "-1", "--stdout", "HEAD")
    return {"branch": f"fixbot/{state['task_id']}", "commit": commit, "base_commit": base, "pr_url": None,
            "patch": text}


async def publish(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Record the approved patch as a commit (format-patch text) in the state; status published."""
    started = time.monotonic()
    deps.emit(state["task_id"], "phase", phase="publish", text="Committing the approved patch")
    root = Path(tempfile.mkdtemp(prefix=f"publish-{state['task_id']}-", dir=_work_dir(deps)))
    try:
        publication = await asyncio.to_thread(build_publication, state, deps.settings, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"publication": publication, "status": "published", "message": "the approved patch is committed",
            "phase_times": add_time(state, "publish", started)}


def _work_dir(deps: Deps) -> str:
    path = Path(deps.settings.work_dir).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
