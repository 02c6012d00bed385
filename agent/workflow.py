"""Running one fix task through the graph in this process, durably (SQLite checkpoints)."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from agent.clone import fetch_repository
from agent.events import EventSink, NullSink
from agent.exceptions import ConfigError, InvalidRequest, WorkflowError
from agent.graph.build import build_graph
from agent.graph.deps import Deps
from agent.request import FixRequest, validate_request
from agent.sandboxes import SandboxPool
from agent.settings import Settings, state_dir
from agent.textsafe import clean_line

ENGINES = ("search", "llm", "auto")
RESULT_KEYS = ("status", "message", "analysis", "final_patch", "test_results", "risk", "candidates_tried",
               "attempts", "phase_times", "tokens", "engine", "localization")
# What the result says of the baseline run: failing tests by test id (pytest node id or unittest id), the
# command (with any environment fixbot added) whose outcomes they are, and what was set aside and why.
BASELINE_KEYS = ("exit_code", "failing", "passing", "duration", "timed_out", "runner", "outcomes_command",
                 "flaky", "slow", "hung", "environment", "collection_errors", "setup_output", "notes")


_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def new_task_id() -> str:
    """A short unique id, safe in paths, labels and branch names."""
    return "fx-" + uuid.uuid4().hex[:12]


def check_task_id(task_id: str) -> str:
    """The id when it is safe in paths, container names and Redis keys; InvalidRequest otherwise."""
    if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
        raise InvalidRequest(f"{clean_line(task_id, 80)!r} is not a task id (ids look like fx-1a2b3c4d5e6f)")
    return task_id


def result_record(task_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """The task's result in the shape the CLI, the REST API and Slack share."""
    record: dict[str, Any] = {"task_id": task_id}
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
) -> dict[str, Any]:
    """Validate, fetch the repository, run the graph to the end; return the result record.

    `llm` is a chat client with `complete(messages, node=...)` (tests pass a scripted one); by
    default the configured OpenAI-compatible endpoint is used when the engine needs it.
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
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)  # a failed fetch leaves no task directory behind
        raise
    available = engine != "search" and (llm is not None or settings.llm_configured)
    state = {"task_id": task_id, "request": request.to_dict(), "workspace": str(checkout), "engine": engine,
             "llm_available": available, "started_at": time.time(), "status": "running", "phase_times": {},
             "candidates_tried": 0, "attempts": 0, "test_results": []}
    try:
        final = await _invoke(settings, task_id, state, sink, pool, llm)
    finally:
        if not settings.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return result_record(task_id, final)


async def resume_fix(task_id: str, settings: Settings, *, events: EventSink | None = None,
                     pool: SandboxPool | None = None, llm: Any = None) -> dict[str, Any]:
    """Continue a task from its last finished node (after a crash or a kill)."""
    check_task_id(task_id)
    if not task_dir(settings, task_id).is_dir():
        raise WorkflowError(f"no task {task_id!r} in {settings.work_dir}")
    from sandbox.reaper import reap

    reap(task_exists=lambda other: other != task_id)  # the dead run's container, if any
    final = await _invoke(settings, task_id, None, events or NullSink(), pool, llm)
    if not settings.keep_workdir:
        shutil.rmtree(task_dir(settings, task_id), ignore_errors=True)
    return result_record(task_id, final)


def default_llm(settings: Settings) -> Any:
    """The configured OpenAI-compatible client, or None when no endpoint is configured."""
    if not settings.llm_configured:
        return None
    from agent.llm.client import OpenAIChat

    return OpenAIChat.from_settings(settings)


async def _invoke(settings: Settings, task_id: str, state: dict[str, Any] | None, sink: EventSink,
                  pool: SandboxPool | None, llm: Any = None) -> dict[str, Any]:
    db = Path(settings.checkpoint_db).expanduser()
    _make_dir(db.parent, "CHECKPOINT_DB")
    own_pool = pool is None
    pool = pool or SandboxPool(settings.sandbox_config())
    deps = Deps(settings=settings, sandboxes=pool, events=sink, llm=llm if llm is not None else default_llm(settings))
    config = {"configurable": {"thread_id": task_id}, "recursion_limit": 200}
    try:
        async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
            graph = build_graph(deps, checkpointer=saver)
            if state is None:
                snapshot = await graph.aget_state(config)
                if not snapshot.values:
                    raise WorkflowError(f"task {task_id!r} has no checkpoint to resume from")
                if not snapshot.next:
                    return dict(snapshot.values)
            return dict(await graph.ainvoke(state, config, durability="sync"))
    finally:
        if own_pool:
            pool.close()
