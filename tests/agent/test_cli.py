"""The `fixbot fix` command as a user runs it: exit codes, messages, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fixbot(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd or ROOT, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["fix", "--repo", "ext::sh -c id", "--issue", "x"], {}, "not a valid address"),
        (["fix", "--repo", "examples/calculate_total", "--issue", "x"], {"ALLOW_LOCAL_REPOS": "false"},
         "local repositories are disabled"),
        (["fix", "--repo", "https://github.com/a/b", "--issue", "x", "--branch=--upload-pack=id"], {},
         "not a valid branch name"),
        (["fix", "--repo", "https://example.org/a/b", "--issue", "x"], {}, "not on the allowlist"),
        (["fix", "--issue", "x"], {}, "--repo and --issue are required"),
        (["fix", "--repo", "https://github.com/a/b", "--issue", "x"], {"DOCKER_MAX_CPU": "many"},
         "bad setting DOCKER_MAX_CPU"),
        (["fix", "--repo", "examples/calculate_total", "--issue", "x", "--engine", "llm"],
         {"ALLOW_LOCAL_REPOS": "true", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}, "engine llm needs a model"),
        (["fix", "--repo", "https://github.com/a/b", "--issue", "x"], {"LLM_TEMPERATURE": "hot"},
         "bad setting LLM_TEMPERATURE"),
    ],
)
def test_bad_input_gets_one_clear_line_and_no_traceback(args, env, message, tmp_path):
    proc = fixbot(*args, env={"WORK_DIR": str(tmp_path), **env})
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.docker
def test_fix_writes_json_and_exits_zero(tmp_path, sandbox_image):
    out = tmp_path / "result.json"
    env = {"ALLOW_LOCAL_REPOS": "true", "SANDBOX_IMAGE": sandbox_image, "WORK_DIR": str(tmp_path / "w"),
           "CHECKPOINT_DB": str(tmp_path / "cp.sqlite"), "DOCKER_MAX_CPU": "1"}
    issue = (ROOT / "examples" / "calculate_total" / "ISSUE.md").read_text()
    proc = fixbot("fix", "--repo", "examples/calculate_total", "--issue", issue, "--json", str(out), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(out.read_text())
    assert record["status"] == "fixed"
    assert "--- a/calc.py" in proc.stdout and "fixed" in proc.stdout  # the diff is shown to the person too
    assert not (tmp_path / "w" / record["task_id"]).exists(), "the checkout is removed when the task ends"


def test_show_says_which_command_gave_the_outcomes_and_when_localization_degraded():
    from rich.console import Console

    from agent.cli.fix_cmd import show

    record = {"task_id": "fx-1", "status": "not_fixed", "message": "no plausible patch found", "analysis": "",
              "candidates_tried": 3, "elapsed": 1.0, "phase_times": {},
              "baseline": {"outcomes_command": "python check.py", "runner": None,
                           "flaky": ["tests/test_net.py::test_flaky"], "slow": []},
              "localization": {"mode": "line coverage of the whole command", "degraded": True,
                               "why": "the test command reports no per-test outcomes\x1b[31m"}}
    console = Console(record=True, width=200)
    show(record, console)
    text = console.export_text()
    assert "outcomes from: python check.py (no per-test outcomes)" in text
    assert "flaky, not evidence: tests/test_net.py::test_flaky" in text
    assert "localization degraded to line coverage of the whole command: the test command reports no" in text
    assert "\x1b" not in text


def test_progress_shows_a_few_failed_proofs_and_counts_the_rest():
    """A long search printed one line per candidate that failed the full check (hundreds); now five, then a count."""
    import io

    from rich.console import Console

    from agent.cli.fix_cmd import SHOWN_FAILED_PROOFS, Progress

    out = io.StringIO()
    progress = Progress(Console(file=out, width=200))
    for n in range(40):
        progress.emit("fx-1", "proof", {"candidate": f"candidate {n}", "success": False})
    progress.emit("fx-1", "proof", {"candidate": "the fix", "success": True})
    lines = out.getvalue().splitlines()
    assert sum("✗" in line for line in lines) == SHOWN_FAILED_PROOFS
    assert any("only counted" in line for line in lines) and any("✓ the fix" in line for line in lines)
    assert "40 failed the full check" in progress.render().plain


@pytest.mark.parametrize(("env", "pool", "expected"), [({}, 3, 3), ({"WORKERS_PER_HOST": "5"}, 3, 5), ({}, 1, 1)])
def test_a_worker_pool_shares_the_host_s_cores_unless_told_otherwise(monkeypatch, env, pool, expected):
    """`fixbot worker --pool N` ran N tasks at once, each sandbox given every core (WORKERS_PER_HOST stayed 1)."""
    import argparse

    import agent.worker
    from agent.cli import worker_cmd
    from agent.settings import get_settings

    monkeypatch.delenv("WORKERS_PER_HOST", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    seen = {}
    monkeypatch.setattr(agent.worker, "run_worker", lambda settings, **kw: seen.update(settings=settings) or 0)
    try:
        args = argparse.Namespace(pool=pool, queue=None, burst=True, log_level="INFO")
        assert worker_cmd.run(args) == 0
        assert seen["settings"].workers_per_host == expected
    finally:
        get_settings.cache_clear()
        import os
        if not env and pool > 1:
            os.environ.pop("WORKERS_PER_HOST", None)
