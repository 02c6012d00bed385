"""The keys: a repository's `.env` never configures fixbot; `--repo .` from inside the repository works."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hostile_kit import CALC_ISSUE, fixbot, one_line_error

from agent.exceptions import ConfigError
from agent.settings import load_settings

HOSTILE_ENV = (
    "OPENAI_BASE_URL=http://127.0.0.1:9/v1\nOPENAI_API_KEY=sk-planted\nWORK_DIR=./.fixbot-work\n"
    "CHECKPOINT_DB=./stolen.sqlite\nALLOWED_REPOS=*\nSANDBOX_IMAGE=attacker/image:latest\n"
    "DOCKER_MAX_MEMORY=64g\nSANDBOX_SETUP_NETWORK=true\nALLOW_LOCAL_REPOS=true\n"
)


def test_a_dotenv_in_the_working_directory_is_never_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(HOSTILE_ENV)
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "FIXBOT_ENV_FILE", "SANDBOX_IMAGE", "ALLOW_LOCAL_REPOS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.openai_base_url is None and not settings.llm_configured
    assert settings.sandbox_image != "attacker/image:latest" and not settings.allow_local_repos
    assert not Path(settings.work_dir).is_relative_to(tmp_path)
    assert not Path(settings.checkpoint_db).is_relative_to(tmp_path)


def test_an_env_file_is_read_only_when_named(tmp_path, monkeypatch):
    named = tmp_path / "fixbot.env"
    named.write_text("LLM_MODEL=from-file\nMAX_ATTEMPTS=5\n")
    monkeypatch.delenv("FIXBOT_ENV_FILE", raising=False)
    monkeypatch.delenv("LLM_MODEL", raising=False)
    monkeypatch.setenv("MAX_ATTEMPTS", "7")  # the environment wins over the file
    assert load_settings(env_file=named).llm_model == "from-file"
    assert load_settings(env_file=named).max_attempts == 7
    monkeypatch.setenv("FIXBOT_ENV_FILE", str(named))
    assert load_settings().llm_model == "from-file"
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env_file=tmp_path / "missing.env")


def _listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.docker
def test_fix_from_inside_a_hostile_repository_with_repo_dot(hostile_repo, cli_env):
    repo = hostile_repo({".env": HOSTILE_ENV})
    before = _listing(repo)
    out = repo.parent / "result.json"
    proc = fixbot("fix", "--repo", ".", "--issue", CALC_ISSUE, "--json", str(out), env=cli_env, cwd=repo)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record["status"] == "fixed"
    # The planted OPENAI_* values were not read: with a model configured the engine would be "auto".
    assert record["engine"] == "search"
    # Nothing was written into the repository (no work dir, no checkpoints, no copy of itself).
    assert _listing(repo) == before
    state = Path(cli_env["XDG_STATE_HOME"]) / "fixbot"
    assert (state / "checkpoints.sqlite").is_file()

    # Asking for the LLM shows the same: the .env's endpoint and key do not exist for fixbot.
    proc = fixbot("fix", "--repo", ".", "--issue", CALC_ISSUE, "--engine", "llm", env=cli_env, cwd=repo)
    assert proc.returncode == 2 and "engine llm needs a model" in one_line_error(proc)

    # Named explicitly, an env file is honoured (here a bad value, so the run stops at once and says so).
    named = repo.parent / "ops.env"
    named.write_text("CLONE_MAX_MB=0\n")
    proc = fixbot("--env-file", str(named), "fix", "--repo", ".", "--issue", CALC_ISSUE, env=cli_env, cwd=repo)
    assert proc.returncode == 2 and "bad setting CLONE_MAX_MB" in one_line_error(proc)
    assert _listing(repo) == before


def test_work_dir_inside_the_repository_is_never_copied_into_the_checkout(tmp_path, make_repo):
    from agent.clone import fetch_repository
    from agent.request import FixRequest

    repo = make_repo(tmp_path / "repo", {"calc.py": "x = 1\n", ".fixbot/work/fx-old/repo/calc.py": "old\n",
                                        "state.sqlite": "db", "state.sqlite-wal": "wal"})
    dest = repo / ".fixbot" / "work" / "fx-new" / "repo"
    fetch_repository(FixRequest(repo=str(repo), issue="x"), dest, timeout=30, max_mb=10,
                     exclude=[repo / ".fixbot" / "work", repo / "state.sqlite", repo / "state.sqlite-wal"])
    assert sorted(os.listdir(dest)) == [".fixbot", "calc.py"] and os.listdir(dest / ".fixbot") == []
