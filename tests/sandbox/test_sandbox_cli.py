"""`fixbot sandbox ...` through the real entry point, leaving nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sandbox.config import APP_NAME, LABEL_APP
from sandbox.container import listed

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "SANDBOX_"))}
    env.update({"DOCKER_MAX_CPU": "1.0", "DOCKER_MAX_MEMORY": "192m", "DOCKER_TIMEOUT": "30", **extra})
    return env


def fixbot(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, env=kwargs.pop("env", None) or cli_env(), **kwargs)


def run_names(client: Any) -> set[str]:
    """Names of containers and volumes `sandbox run` creates (its task ids start with run-)."""
    selector = {"label": f"{LABEL_APP}={APP_NAME}"}
    names = {name for name, _c in listed(client, selector)}
    names |= {v.name for v in client.volumes.list(filters=selector)}
    return {n for n in names if n.startswith("fixbot-run-")}


def test_run_json_parses_and_leaves_nothing_behind(sandbox_image: str, docker_client: Any) -> None:
    before = run_names(docker_client)
    proc = fixbot("sandbox", "run", "--json", "--", "python3", "-c", "print(1)")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["exit_code"] == 0 and result["stdout"] == "1\n" and result["timed_out"] is False
    assert set(result) >= {"stderr", "duration", "oom_killed", "truncated", "container_replaced"}
    assert run_names(docker_client) <= before


def test_run_exit_status_mirrors_the_command_and_the_workspace_is_copied(sandbox_image: str, tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("from the host\n")
    proc = fixbot("sandbox", "run", "--workspace", str(tmp_path), "--", "sh", "-c", "cat hello.txt; exit 3")
    assert proc.returncode == 3
    assert proc.stdout == "from the host\n" and "exit 3" in proc.stderr


def test_run_timeout_exits_124(sandbox_image: str) -> None:
    proc = fixbot("sandbox", "run", "--timeout", "1", "--json", "--", "sleep", "30")
    assert proc.returncode == 124 and json.loads(proc.stdout)["timed_out"] is True


def test_ctrl_c_leaves_nothing_behind(sandbox_image: str, docker_client: Any) -> None:
    before = run_names(docker_client)
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "sandbox", "run", "--", "sleep", "60"], cwd=ROOT,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        new = run_names(docker_client) - before
        if len([n for n in new if not n.endswith(("-ws", "-tools", "-home"))]) >= 2:  # holder and work container
            break
        time.sleep(0.2)
    time.sleep(0.5)  # the exec is running now
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert run_names(docker_client) <= before


def test_docker_down_is_one_line_and_exit_2() -> None:
    proc = fixbot("sandbox", "reap", env=cli_env(DOCKER_HOST="tcp://127.0.0.1:9"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Docker engine" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_setting_is_one_line() -> None:
    proc = fixbot("sandbox", "run", "--", "true", env=cli_env(DOCKER_MAX_MEMORY="lots"))
    assert proc.returncode == 2 and "DOCKER_MAX_MEMORY" in proc.stderr and "Traceback" not in proc.stderr
