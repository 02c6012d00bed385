"""Running one fix task through the graph in this process, durably (checkpointed after every node).

`run_fix` starts a task; `resume_fix` continues one whose process died (the CLI's --resume);
`rerun_fix` is the worker's version of that (the checkout may be gone); `decide_fix` resumes a task
paused for approval with a person's decision (LangGraph `Command(resume=...)`), in any process that
shares the checkpointer (agent.checkpoints: SQLite by default, PostgreSQL with CHECKPOINT_URL).
The result record carries `awaiting_approval` and the `proposal` when the graph stopped at `propose`,
and `base_commit`: the commit the repository was fetched at (None for a copied working tree); a
checkout fetched again later (a rerun, a retry, the publish step) is made at that commit.

A worker's job passes `owns` (its fence, agent.jobs): asked before every checkpoint write and before
the task's checkout is removed, so a job that lost its task to another never writes into the thread
nor removes the checkout its successor uses.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph.types import Command

from agent.checkpoints import fenced, open_checkpointer
from agent.clone import fetch_repository, head_commit
from agent.events import EventSink, NullSink
from agent.exceptions import ConfigError, InvalidRequest, WorkflowError
from agent.graph.build import build_graph
from agent.graph.deps import Deps
from agent.request import ENGINES, FixRequest, validate_request
from agent.sandboxes import SandboxPool
from agent.settings import Settings, state_dir
from agent.tasks.exceptions import Superseded
from agent.tasks.store import is_task_id, new_task_id
from agent.textsafe import clean_line

Owns = Callable[[], bool]  # whether this process still owns the task (a worker job's fence)
RESULT_KEYS = ("status", "message", "analysis", "final_patch", "test_results", "risk", "candidates_tried",
               "attempts", "phase_times", "tokens", "engine", "localization", "decision", "publication",
               "base_commit")
# What the result says of the baseline run: failing tests by test id (pytest node id or unittest id), the
# command (with any environment fixbot added) whose outcomes they are, and what was set aside and why.
BASELINE_KEYS = ("exit_code", "failing", "passing", "duration", "timed_out", "runner", "outcomes_command",
                 "flaky", "slow", "hung", "environment", "collection_errors", "setup_output", "notes")


def check_task_id(task_id: str) -> str:
    """The id when it is safe in paths, container names and Redis keys (agent.tasks.store.is_task_id);
    InvalidRequest otherwise."""
    if not is_task_id(task_id):
        raise InvalidRequest(f"{clean_line(str(task_id), 80)!r} is not a task id (ids look like fx-1a2b3c4d5e6f)")
    return task_id


def result_record(task_id: str, state: dict[str, Any], proposal: dict[str, Any] | None = None) -> dict[str, Any]:
    """The task's result in the shape the CLI, the REST API and Slack share.

    `proposal` is the value the graph paused with at `propose` (then `awaiting_approval` is True).
    """
    record: dict[str, Any] = {"task_id": task_id, "awaiting_approval": proposal is not None, "proposal": proposal}
    for key in RESULT_KEYS:
        record[key] = state.get(key)
    record["test_results"] = record["test_results"] or []
    record["candidates_tried"] = record["candidates_tried"] or 0
    record["tokens"] = record["tokens"] or {"prompt": 0, "completion": 0, "total": 0}
    baseline = state.get("baseline") or {}
    record["baseline"] = {k: baseline.get(k) for k in BASELINE_KEYS}
    record["request"] = state.get("request")
    record["elapsed"] = round(time.time() - state.get("started_at", time.time()), 3)
    return record


def own_paths(settings: Settings) -> list[Path]:
    """fixbot's own files (work directory, checkpoint database, crash log), never copied when a repository
    holds them."""
    db = Path(settings.checkpoint_db).expanduser()
    return [Path(settings.work_dir).expanduser(), db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"),
            state_dir() / "crash.log"]


def _make_dir(path: Path, setting: str) -> None:
    """Create one of fixbot's own folders, or say in one line which setting to change."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {path} ({exc.strerror or exc}): set {setting} (or XDG_STATE_HOME) "
                          "to a folder fixbot may write") from None


def task_dir(settings: Settings, task_id: str) -> Path:
    """Host directory of one task (its checkout and coverage data)."""
    return Path(settings.work_dir).expanduser().resolve() / task_id


async def run_fix(
    request: FixRequest,
    settings: Settings,
    *,
    engine: str = "search",
    task_id: str | None = None,
    events: EventSink | None = None,
    pool: SandboxPool | None = None,
    llm: Any = None,
    approval: bool = False,
    owns: Owns | None = None,
) -> dict[str, Any]:
    """Validate, fetch the repository, run the graph to the end (or to `propose` with approval); return the result.

    `llm` is a chat client with `complete(messages, node=...)` (tests pass a scripted one); by
    default the configured OpenAI-compatible endpoint is used when the engine needs it. `owns`: see the
    module's docstring.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}")
    if engine == "llm" and llm is None and not settings.llm_configured:
        raise ConfigError("engine llm needs a model: set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)")
    request = validate_request(request, settings)
    task_id = check_task_id(task_id) if task_id else new_task_id()
    workdir = task_dir(settings, task_id)
    if workdir.exists():  # never ours to reuse or remove: a task of that id has (or had) its checkout here
        raise WorkflowError(f"task {task_id} already has a work directory ({workdir}); resume it with "
                            f"--resume {task_id}, or run without --task-id")
    _make_dir(workdir, "WORK_DIR")
    sink = events or NullSink()
    sink.emit(task_id, "phase", {"phase": "clone", "text": "Fetching the repository"})
    try:
        checkout = fetch_repository(request, workdir / "repo", timeout=settings.clone_timeout,
                                    max_mb=settings.clone_max_mb, max_entries=settings.clone_max_files,
                                    exclude=own_paths(settings))
        base = await asyncio.to_thread(head_commit, checkout)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)  # a failed fetch leaves no task directory behind
        raise
    available = engine != "search" and (llm is not None or settings.llm_configured)
    state = {"task_id": task_id, "request": request.to_dict(), "workspace": str(checkout), "engine": engine,
             "llm_available": available, "started_at": time.time(), "status": "running", "phase_times": {},
             "candidates_tried": 0, "attempts": 0, "test_results": [], "approval": approval, "base_commit": base}
    with _checkout_of(settings, task_id, owns):
        final, proposal = await _invoke(settings, task_id, state, sink, pool, llm, owns)
    return result_record(task_id, final, proposal)


async def resume_fix(task_id: str, settings: Settings, *, events: EventSink | None = None,
                     pool: SandboxPool | None = None, llm: Any = None) -> dict[str, Any]:
    """Continue a task from its last finished node (after a crash or a kill)."""
    check_task_id(task_id)
    if not task_dir(settings, task_id).is_dir():
        raise WorkflowError(await _why_not_resumable(settings, task_id))
    from sandbox.reaper import reap

    reap(task_exists=lambda other: other != task_id)  # the dead run's container, if any
    final, proposal = await _invoke(settings, task_id, None, events or NullSink(), pool, llm)
    if not settings.keep_workdir:
        shutil.rmtree(task_dir(settings, task_id), ignore_errors=True)
    return result_record(task_id, final, proposal)


async def rerun_fix(task_id: str, request: FixRequest, settings: Settings, *, engine: str,
                    events: EventSink | None = None, pool: SandboxPool | None = None, llm: Any = None,
                    approval: bool = True, owns: Owns | None = None) -> dict[str, Any]:
    """Run a task again after its worker died: from its last checkpoint when it has one, else from the start.

    The checkout is fetched again (at the task's base commit) when this host does not have it (another
    worker, or it was removed).
    """
    sink = events or NullSink()
    values, _ = await checkpoint_values(settings, task_id)
    if not values:
        shutil.rmtree(task_dir(settings, task_id), ignore_errors=True)
        return await run_fix(request, settings, engine=engine, task_id=task_id, events=sink, pool=pool, llm=llm,
                             approval=approval, owns=owns)
    with _checkout_of(settings, task_id, owns):
        await asyncio.to_thread(ensure_checkout, values, settings, sink)
        final, proposal = await _invoke(settings, task_id, None, sink, pool, llm, owns)
    return result_record(task_id, final, proposal)


async def decide_fix(task_id: str, decision: dict[str, Any], settings: Settings, *, events: EventSink | None = None,
                     pool: SandboxPool | None = None, llm: Any = None, owns: Owns | None = None) -> dict[str, Any]:
    """Resume a task paused at `propose` with a decision {"action": approve|reject|retry, "by", "feedback"}.

    Works in any process that shares the checkpointer. A retry needs the checkout again (it was
    removed while the task waited), so it is fetched first. When the decision was already taken in
    by a run that died afterwards, the thread continues from its checkpoint instead. Raises
    WorkflowError when the task has no checkpoint of a run that asked for approval.
    """
    values, waiting = await checkpoint_values(settings, task_id)
    if not values or not values.get("approval"):
        raise WorkflowError(f"task {task_id!r} has no checkpoint waiting for a decision")
    sink = events or NullSink()
    with _checkout_of(settings, task_id, owns):
        if decision.get("action") == "retry" or not waiting:
            await asyncio.to_thread(ensure_checkout, values, settings, sink)
        start: Command | None = Command(resume=decision) if waiting else None
        final, proposal = await _invoke(settings, task_id, start, sink, pool, llm, owns)
    return result_record(task_id, final, proposal)


@contextmanager
def _checkout_of(settings: Settings, task_id: str, owns: Owns | None) -> Iterator[None]:
    """Remove the task's checkout afterwards (unless KEEP_WORKDIR), but never once this process lost the task:
    the job that took it over may be working in that very directory."""
    try:
        yield
    finally:
        if not settings.keep_workdir and (owns is None or owns()):
            shutil.rmtree(task_dir(settings, task_id), ignore_errors=True)


def ensure_checkout(values: dict[str, Any], settings: Settings, events: EventSink | None = None) -> Path:
    """The task's checkout at the path its state names, fetched again (at its `base_commit`, the tree its
    patches were proven on) when it is missing on this host."""
    workspace = Path(values["workspace"])
    if workspace.is_dir():
        return workspace
    (events or NullSink()).emit(str(values.get("task_id") or ""), "phase",
                                {"phase": "clone", "text": "Fetching the repository again"})
    root = Path(settings.work_dir).expanduser().resolve()
    if not workspace.resolve().is_relative_to(root):
        raise WorkflowError(f"the task's checkout {workspace} is outside WORK_DIR {root}: workers that share "
                            "tasks must use the same WORK_DIR")
    _make_dir(workspace.parent, "WORK_DIR")
    request = FixRequest.from_dict(values["request"])
    return fetch_repository(request, workspace, timeout=settings.clone_timeout, max_mb=settings.clone_max_mb,
                            max_entries=settings.clone_max_files, exclude=own_paths(settings),
                            commit=values.get("base_commit"))


async def checkpoint_values(settings: Settings, task_id: str) -> tuple[dict[str, Any], bool]:
    """The task's last checkpointed state ({} when it has none) and whether it waits at an interrupt."""
    snapshot = await _snapshot(settings, task_id)
    return dict(snapshot.values or {}), bool(snapshot.interrupts)


async def _snapshot(settings: Settings, task_id: str) -> Any:
    """LangGraph's StateSnapshot of the task's thread (values, next nodes, interrupts)."""
    deps = Deps(settings=settings, sandboxes=None)  # type: ignore[arg-type]  # nothing runs
    async with open_checkpointer(settings) as saver:
        return await build_graph(deps, checkpointer=saver).aget_state(_config(task_id))


async def _why_not_resumable(settings: Settings, task_id: str) -> str:
    """Why `resume_fix` cannot continue a task whose working copy is gone: it ended, it waits, or it never ran here."""
    snapshot = await _snapshot(settings, task_id)
    status = (snapshot.values or {}).get("status") or "unknown"
    if snapshot.interrupts:
        return (f"task {task_id!r} waits for a decision ({status}); approve or reject it with "
                f"`fixbot approve {task_id}` or `fixbot reject {task_id}`")
    if snapshot.values and not snapshot.next:
        return f"task {task_id!r} already ended ({status}); there is nothing to resume"
    return f"no task {task_id!r} in {settings.work_dir}"


def default_llm(settings: Settings) -> Any:
    """The configured OpenAI-compatible client, or None when no endpoint is configured."""
    if not settings.llm_configured:
        return None
    from agent.llm.client import OpenAIChat

    return OpenAIChat.from_settings(settings)


def _config(task_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": task_id}, "recursion_limit": 200}


async def _invoke(settings: Settings, task_id: str, start: dict[str, Any] | Command | None, sink: EventSink,
                  pool: SandboxPool | None, llm: Any = None,
                  owns: Owns | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run the graph from `start` (a new state, a Command, or None to continue); return (state, proposal).

    With `owns`, every checkpoint write first asks it and raises Superseded when the task is no longer ours.
    """

    def check() -> None:
        if owns is not None and not owns():
            raise Superseded(f"task {task_id} is no longer this job's: it stops without writing its checkpoint")

    if not settings.checkpoint_url:
        _make_dir(Path(settings.checkpoint_db).expanduser().parent, "CHECKPOINT_DB")
    own_pool = pool is None
    pool = pool or SandboxPool(settings.sandbox_config())
    deps = Deps(settings=settings, sandboxes=pool, events=sink, llm=llm if llm is not None else default_llm(settings))
    config = _config(task_id)
    try:
        async with open_checkpointer(settings) as saver:
            graph = build_graph(deps, checkpointer=fenced(saver, check) if owns is not None else saver)
            if start is None:
                snapshot = await graph.aget_state(config)
                if not snapshot.values:
                    raise WorkflowError(f"task {task_id!r} has no checkpoint to resume from")
                if not snapshot.next or snapshot.interrupts:  # finished, or waiting for a person
                    return dict(snapshot.values), _proposal(snapshot)
            await graph.ainvoke(start, config, durability="sync")
            snapshot = await graph.aget_state(config)
            return dict(snapshot.values), _proposal(snapshot)
    finally:
        if own_pool:
            await asyncio.to_thread(pool.close)


def _proposal(snapshot: Any) -> dict[str, Any] | None:
    """The value the graph paused with, when it waits at `propose`."""
    for pending in snapshot.interrupts or ():
        if isinstance(pending.value, dict):
            return dict(pending.value)
    return None
