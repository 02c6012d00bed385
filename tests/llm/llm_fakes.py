"""Test doubles for the LLM nodes: a scripted chat model, a local "sandbox" and a tiny graph driver.

The box runs the real test command with subprocess in a private copy of the checkout, so node tests
exercise real pytest runs without Docker. The driver routes like the lead's graph is meant to.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.graph.deps import Deps
from agent.graph.nodes.llm_coder import llm_coder
from agent.graph.nodes.llm_manager import llm_manager
from agent.graph.nodes.llm_prove import llm_prove
from agent.graph.nodes.llm_reprotest import llm_reprotest
from agent.graph.nodes.llm_reviewer import llm_reviewer
from agent.llm.client import Reply
from agent.settings import load_settings
from sandbox.sandbox import ExecResult

TEST_COMMAND = f"{sys.executable} -m pytest -q -p no:cacheprovider"


class ScriptedChat:
    """Answers from a list: a str (usage 100/20), a Reply, or an exception to raise."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []

    async def complete(self, messages: list[dict[str, str]], *, node: str) -> Reply:
        self.calls.append({"node": node, "messages": messages})
        if not self.script:
            raise AssertionError(f"unexpected model call from {node}")
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step if isinstance(step, Reply) else Reply(step, 100, 20)

    def prompt(self, index: int) -> str:
        """The user message of one call."""
        return self.calls[index]["messages"][-1]["content"]

    @property
    def nodes(self) -> list[str]:
        """Which node made each call."""
        return [c["node"] for c in self.calls]


class LocalBox:
    """put_files / exec / read_file over a private directory; commands run with subprocess.

    Files for the tools volume (base="/fixbot") go to a second directory. fixbot's probe is not installed
    here, so test runs report no per-test outcomes and proofs fall back to the command's exit status.
    """

    def __init__(self, workspace: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="fixbot-box-"))
        self.tools = Path(tempfile.mkdtemp(prefix="fixbot-tools-"))
        shutil.copytree(workspace, self.root, dirs_exist_ok=True)
        self.runs: list[str] = []

    def _base(self, base: str) -> Path:
        return self.tools if base == "/fixbot" else self.root

    def put_files(self, files: dict[str, str | bytes], *, base: str = "/workspace") -> None:
        for rel, data in files.items():
            path = self._base(base) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data.encode() if isinstance(data, str) else data)

    def read_file(self, path: str, *, base: str = "/workspace", max_bytes: int | None = None) -> bytes:
        return (self._base(base) / path).read_bytes()

    def exec(self, cmd: Any, *, timeout: float | None = None, workdir: str | None = None,
             env: dict[str, str] | None = None) -> ExecResult:
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        self.runs.append(cmd if isinstance(cmd, str) else argv[-1] if argv[:2] == ["bash", "-c"] else " ".join(cmd))
        started = time.monotonic()
        try:
            proc = subprocess.run(argv, cwd=self.root, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, **(env or {})})
        except subprocess.TimeoutExpired:
            return ExecResult(None, "", "", time.monotonic() - started, timed_out=True)
        return ExecResult(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)

    def destroy(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.tools, ignore_errors=True)


class LocalPool:
    """One LocalBox per task, like agent.sandboxes.SandboxPool."""

    def __init__(self) -> None:
        self.boxes: dict[str, LocalBox] = {}

    def get(self, task_id: str, workspace: str) -> LocalBox:
        if task_id not in self.boxes:
            self.boxes[task_id] = LocalBox(workspace)
        return self.boxes[task_id]

    def release(self, task_id: str) -> None:
        box = self.boxes.pop(task_id, None)
        if box:
            box.destroy()


def make_deps(llm: Any, **settings: Any) -> Deps:
    """Deps with a LocalPool and the given model."""
    values = {"_env_file": None, "max_attempts": 3, "docker_timeout": 60, **settings}
    return Deps(settings=load_settings(**values), sandboxes=LocalPool(), llm=llm)


def make_state(workspace: Path, files: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A checkout with `files` and the state the LLM nodes start from."""
    for rel, text in files.items():
        path = workspace / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    request = {"repo": str(workspace), "issue": "calculate_total ignores negative numbers",
               "test_command": TEST_COMMAND, "branch": None, "language": "python", "setup_command": None,
               "hints": []}
    return {"task_id": "fx-test", "request": request, "workspace": str(workspace), "engine": "llm",
            "started_at": time.time(), "status": "running", "attempts": 0, "test_results": [],
            "phase_times": {}, **extra}


NODES = {"llm_manager": llm_manager, "llm_coder": llm_coder, "llm_reviewer": llm_reviewer,
         "llm_prove": llm_prove, "llm_reprotest": llm_reprotest}


def route(node: str, state: dict[str, Any]) -> str:
    """The routing the lead's graph should implement (see the report)."""
    running = state.get("status") == "running"
    if node == "llm_manager":
        return "llm_coder" if running else "end"
    if node == "llm_coder":
        return "llm_reviewer" if state.get("llm_candidate") else ("llm_coder" if running else "end")
    if node == "llm_reviewer":
        return "llm_prove" if state.get("llm_candidate") else ("llm_coder" if running else "end")
    if node == "llm_prove":
        return "end" if state.get("plausible") else ("llm_coder" if running else "end")
    if node == "llm_reprotest":
        return "reproduce" if state.get("repro_test") else ("llm_reprotest" if running else "end")
    raise AssertionError(node)


async def drive(state: dict[str, Any], deps: Deps, start: str = "llm_manager") -> tuple[dict[str, Any], list[str]]:
    """Run nodes until the route ends; every update must be JSON (checkpointable) and only changed keys."""
    node, trace = start, []
    while node in NODES and len(trace) < 40:
        update = await NODES[node](dict(state), deps)
        json.dumps(update)
        state = {**state, **update}
        trace.append(node)
        node = route(node, state)
    return state, trace + ([node] if node not in NODES else [])
