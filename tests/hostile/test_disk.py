"""The host's disk and paths: sizes are counted before anything is written; a local path is the repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agent.clone import fetch_repository
from agent.exceptions import CloneError
from agent.request import FixRequest
from agent.workflow import run_fix
from sandbox import Sandbox, SandboxConfig, TreeTooLarge


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


def commit_all(repo: Path) -> Path:
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "init", cwd=repo)
    return repo


def test_a_huge_checkout_from_a_small_pack_is_refused_before_checkout(tmp_path, make_repo):
    src = make_repo(tmp_path / "src", {"calc.py": "x = 1\n"})
    with open(src / "zeros.bin", "wb") as fh:  # 64 MB of zeros: git stores it in about 64 KB
        for _ in range(64):
            fh.write(b"\0" * 2**20)
    commit_all(src)
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)
    assert sum(f.stat().st_size for f in bare.rglob("*") if f.is_file()) < 2**20
    dest = tmp_path / "work" / "fx-1" / "repo"
    with pytest.raises(CloneError, match="more than the limit of 8 MB"):
        fetch_repository(FixRequest(repo=str(bare), issue="x"), dest, timeout=60, max_mb=8)
    assert not dest.exists()
    # Within the limit the same repository is fetched whole.
    fetch_repository(FixRequest(repo=str(bare), issue="x"), dest, timeout=60, max_mb=100)
    assert (dest / "zeros.bin").stat().st_size == 64 * 2**20


def test_too_many_files_are_refused_before_checkout(tmp_path, make_repo):
    src = commit_all(make_repo(tmp_path / "src", {f"f{i}.txt": "" for i in range(60)}))
    with pytest.raises(CloneError, match="more than 50 files"):
        fetch_repository(FixRequest(repo=str(src), issue="x", branch="main"), tmp_path / "d", timeout=60,
                         max_mb=10, max_entries=50)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("kind", ["gitdir file", "symlinked .git", "alternates"])
def test_a_local_path_whose_git_data_lives_elsewhere_is_refused(tmp_path, make_repo, kind):
    other = commit_all(make_repo(tmp_path / "other", {"secret.py": "TOKEN = 'other repository'\n"}))
    named = make_repo(tmp_path / "named", {"calc.py": "x = 1\n"})
    if kind == "gitdir file":
        (named / ".git").write_text(f"gitdir: {other / '.git'}\n")
    elif kind == "symlinked .git":
        os.symlink(other / ".git", named / ".git")
    else:
        commit_all(named)
        (named / ".git" / "objects" / "info" / "alternates").write_text(f"{other / '.git' / 'objects'}\n")
    with pytest.raises(CloneError, match="outside the directory you named"):
        fetch_repository(FixRequest(repo=str(named), issue="x", branch="main"), tmp_path / "d", timeout=60,
                         max_mb=10)
    assert not (tmp_path / "d").exists()


def test_a_gitdir_inside_the_named_directory_is_fine(tmp_path, make_repo):
    named = commit_all(make_repo(tmp_path / "named", {"calc.py": "x = 1\n"}))
    os.rename(named / ".git", named / "gitdata")
    (named / ".git").write_text("gitdir: gitdata\n")
    dest = fetch_repository(FixRequest(repo=str(named), issue="x", branch="main"), tmp_path / "d", timeout=60,
                            max_mb=10)
    assert (dest / "calc.py").read_text() == "x = 1\n"


async def test_a_failed_fetch_leaves_no_task_directory(tmp_path, make_repo, workflow_settings):
    repo = commit_all(make_repo(tmp_path / "src", {"calc.py": "x = 1\n"}))
    for request in (FixRequest(repo=str(repo), issue="x", branch="no-such-branch"),
                    FixRequest(repo=str(repo), issue="x", branch="main")):
        settings = workflow_settings.model_copy(update={"clone_max_files": 10 if request.branch == "main" else 1000})
        if request.branch == "main":
            for i in range(20):
                (repo / f"f{i}.py").write_text("")
            git("add", "-A", cwd=repo)
            git("commit", "-qm", "more", cwd=repo)
        with pytest.raises(CloneError):
            await run_fix(request, settings)
        work = Path(settings.work_dir)
        assert not work.exists() or list(work.iterdir()) == []


@pytest.mark.docker
def test_the_sandbox_workspace_limit_applies_before_spooling(tmp_path, sandbox_image, docker_client):
    config = SandboxConfig(image=sandbox_image, workspace_size="32m", timeout=30, cpus=1.0)
    sparse = tmp_path / "sparse"
    sparse.mkdir()
    with open(sparse / "hole.bin", "wb") as fh:  # 4 GB apparent, no blocks on disk
        fh.truncate(4 * 2**30)
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "data.bin").write_bytes(os.urandom(12 * 2**20))
    for i in range(5):  # six names, one content: 12 MB, not 72 MB
        os.link(linked / "data.bin", linked / f"copy{i}.bin")
    box = Sandbox.create("test-hostile-ws", config, client=docker_client)
    try:
        with pytest.raises(TreeTooLarge, match="larger than the limit of 32 MB"):
            box.put_workspace(sparse)
        box.put_workspace(linked)
        run = box.exec(["sh", "-c", "ls | sort | tr '\\n' ' '; echo; stat -c %h data.bin; du -sm . | cut -f1"])
        names, links, used = run.stdout.splitlines()
        assert names.split() == ["copy0.bin", "copy1.bin", "copy2.bin", "copy3.bin", "copy4.bin", "data.bin"]
        assert int(links) == 6 and int(used) < 20
    finally:
        box.destroy()
