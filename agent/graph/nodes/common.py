"""Helpers shared by nodes: reading sources from the host checkout, the per-task candidate pool."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agent.edits.encoding import decode_source, encode_source
from agent.edits.errors import EncodingProblem
from agent.graph.deps import Deps
from agent.localize import Suspect
from agent.repair.search import CandidatePool
from agent.request import FixRequest
from agent.testcmd import pytest_args, pytest_call
from sandbox.walk import walk

MAX_SOURCE_BYTES = 512 * 1024
_SKIP = {".git", "__pycache__", ".venv", "venv", "node_modules", ".tox", "build", "dist"}


def request_of(state: dict[str, Any]) -> FixRequest:
    """The task's validated request."""
    return FixRequest.from_dict(state["request"])


def pytest_args_of(state: dict[str, Any]) -> list[str] | None:
    """Arguments for the in-sandbox runner, or None when the test command is not plain pytest."""
    return pytest_args(request_of(state).test_command)


def invocation_of(state: dict[str, Any]) -> dict[str, Any]:
    """The test command's shape for the in-sandbox validator (working directory, env prefixes, `-m`), with the
    environment the baseline's outcomes were taken under (e.g. addopts cleared, see agent.testrun)."""
    call = pytest_call(request_of(state).test_command)
    spec: dict[str, Any] = call.runner_spec() if call is not None else {"cwd": "", "env": {}, "module": False}
    spec["env"] = {**((state.get("baseline") or {}).get("command_env") or {}), **spec["env"]}
    return spec


def read_sources(workspace: str, paths: list[str] | None = None, *, notes: list[str] | None = None) -> dict[str, str]:
    """Python sources of the pristine checkout (the given paths, or all of them), size-capped.

    Each file is decoded as Python would (UTF-8 BOM or PEP 263 declaration, else UTF-8), with its
    line endings untouched; a file that does not decode is skipped, and why is added to `notes`.
    """
    root = Path(workspace)
    if paths is None:
        paths = [entry.rel for entry in walk(root, skip=_skip_dir) if entry.kind == "file"
                 and entry.rel.endswith(".py") and _printable_name(entry.rel)]
    sources: dict[str, str] = {}
    real_root = root.resolve()
    for rel in paths:
        path = root / rel
        if not inside(real_root, path):  # a symlinked folder must not let the host's files in
            continue
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_SOURCE_BYTES:
            try:
                sources[rel] = decode_source(path.read_bytes()).text
            except EncodingProblem as exc:
                if notes is not None:
                    notes.append(f"skipped {rel}: {exc}")
    return sources


def encoded(workspace: str, rel: str, text: str) -> bytes:
    """New text for a file of the checkout, in that file's own encoding (UTF-8 for a new file)."""
    path = Path(workspace) / rel
    original = path.read_bytes() if inside(Path(workspace).resolve(), path) and path.is_file() else None
    return encode_source(text, original)


def _skip_dir(_rel: str, name: str) -> bool:
    return name in _SKIP or name.startswith(".")


def _printable_name(rel: str) -> bool:
    """False for names that are not valid UTF-8 (undecodable bytes arrive as lone surrogates): never a module."""
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def inside(real_root: Path, path: Path) -> bool:
    """Whether `path`, with every symlink resolved, stays inside the (resolved) repository root."""
    try:
        return path.resolve().is_relative_to(real_root)
    except (OSError, RuntimeError):  # a symlink loop
        return False


def pool_of(state: dict[str, Any], deps: Deps) -> CandidatePool:
    """The task's candidate pool, rebuilt deterministically from state after a resume."""
    cache = deps.task_cache(state["task_id"])
    if "pool" not in cache:
        suspects = [Suspect(**{**s, "reasons": tuple(s.get("reasons", ()))}) for s in state.get("suspects", [])]
        sources = read_sources(state["workspace"], sorted({s.path for s in suspects}))
        cache["sources"] = sources
        cache["pool"] = CandidatePool(sources, suspects, state.get("terms", []),
                                      deps.settings.repair_max_candidates)
    pool: CandidatePool = cache["pool"]
    for a, b in state.get("pairs") or []:  # after a resume, or pairs another node added to the state
        pool.add_pair(a, b)
    return pool


def sources_of(state: dict[str, Any], deps: Deps) -> dict[str, str]:
    """The sources the pool was built from."""
    pool_of(state, deps)
    return deps.task_cache(state["task_id"])["sources"]


def tail(text: str, limit: int = 6000) -> str:
    """The end of a long output, marked when cut."""
    return text if len(text) <= limit else f"[... {len(text) - limit} chars cut ...]\n" + text[-limit:]


def hands_over(state: dict[str, Any]) -> bool:
    """Engine auto with a model: the search is only the first, short try before the LLM."""
    return state.get("engine") == "auto" and bool(state.get("llm_available"))


def search_clock(state: dict[str, Any]) -> float:
    """When the search's time budget started: the task's start, or (engine auto, which hands over to an LLM)
    the search's own start, so slow baseline runs do not eat the short search before the hand-over."""
    if hands_over(state):
        return float(state.get("search_started_at") or time.time())
    return float(state.get("started_at") or time.time())


def search_seconds(state: dict[str, Any], deps: Deps) -> float:
    """The search's time budget: REPAIR_TIME_BUDGET, or AUTO_SEARCH_BUDGET when an LLM takes over after it."""
    seconds = deps.settings.repair_time_budget
    return min(seconds, deps.settings.auto_search_budget) if hands_over(state) else seconds
