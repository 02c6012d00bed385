"""Fetching repositories with real git: bare repos as remotes, branches, limits, no option injection."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.clone import fetch_repository, git_env
from agent.exceptions import CloneError
from agent.request import FixRequest


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository with `main` and a `fix/total` branch."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    (work / "calc.py").write_text("def f():\n    return 1\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "one", cwd=work)
    git("checkout", "-qb", "fix/total", cwd=work)
    (work / "calc.py").write_text("def f():\n    return 2\n")
    git("commit", "-qam", "two", cwd=work)
    bare = tmp_path / "origin.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return bare


def test_local_git_repo_with_branch_is_cloned(origin, tmp_path):
    dest = fetch_repository(FixRequest(repo=str(origin), issue="x", branch="fix/total"), tmp_path / "a",
                            timeout=30, max_mb=10)
    assert (dest / "calc.py").read_text().endswith("return 2\n")
    log = subprocess.run(["git", "log", "--oneline"], cwd=dest, capture_output=True, text=True).stdout
    assert len(log.splitlines()) == 1, "the clone is shallow"


def test_missing_branch_is_a_clear_error(origin, tmp_path):
    with pytest.raises(CloneError, match="could not clone"):
        fetch_repository(FixRequest(repo=str(origin), issue="x", branch="nope"), tmp_path / "b", timeout=30, max_mb=10)
    assert not (tmp_path / "b").exists(), "nothing half-cloned is left behind"


def test_plain_directory_is_copied_without_caches_or_outside_links(tmp_path):
    src = tmp_path / "src"
    (src / "pkg" / "__pycache__").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text("x = 1\n")
    (src / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    (src / "leak").symlink_to("/etc/passwd")
    dest = fetch_repository(FixRequest(repo=str(src), issue="x"), tmp_path / "c", timeout=30, max_mb=10)
    assert (dest / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert not (dest / "pkg" / "__pycache__").exists()
    assert (dest / "leak").is_symlink(), "links are copied as links, never followed"


def test_size_limit(tmp_path):
    src = tmp_path / "big"
    src.mkdir()
    (src / "blob.bin").write_bytes(b"\0" * (2 * 1024 * 1024))
    with pytest.raises(CloneError, match="larger than the limit"):
        fetch_repository(FixRequest(repo=str(src), issue="x"), tmp_path / "d", timeout=30, max_mb=1)


def test_url_transport_not_allowed_is_refused_by_git(tmp_path):
    # Validation refuses these earlier; this checks the second line of defence in git's own config.
    with pytest.raises(CloneError):
        fetch_repository(FixRequest(repo="ext::sh -c touch% /tmp/fixbot-pwned", issue="x"), tmp_path / "e",
                         timeout=30, max_mb=1)
    assert not Path("/tmp/fixbot-pwned").exists()


def test_git_env_never_prompts_and_drops_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    env = git_env()
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert "OPENAI_API_KEY" not in env


def test_a_failed_clone_says_why_in_git_s_words(tmp_path):
    import socket

    from agent.clone import git_reason

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CloneError) as failed:
        fetch_repository(FixRequest(repo=f"git://127.0.0.1:{port}/shop.git", issue="x"), tmp_path / "d",
                         timeout=30, max_mb=10)
    assert "could not clone the repository: fatal: unable to connect" in str(failed.value)
    assert "Connection refused" in str(failed.value)
    ssh = ("ssh: Could not resolve hostname github.com: Name or service not known\n"
           "fatal: Could not read from remote repository.\n\n"
           "Please make sure you have the correct access rights\nand the repository exists.\n")
    assert git_reason(ssh) == ("ssh: Could not resolve hostname github.com: Name or service not known; "
                               "fatal: Could not read from remote repository.")
    assert git_reason("hint: try this\nerror: pathspec 'x' did not match") == "error: pathspec 'x' did not match"
    assert git_reason("") == "unknown error"
    assert len(git_reason("fatal: " + "x" * 1000)) == 300
