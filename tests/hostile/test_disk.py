"""The host's disk and paths: sizes are counted before anything is written; a local path is the repository."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent import clone
from agent.clone import fetch_repository
from agent.exceptions import CloneError
from agent.request import FixRequest
from agent.workflow import run_fix
from sandbox import Sandbox, SandboxConfig, TreeTooLarge, archive


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                   capture_output=True)


@contextmanager
def no_checkout() -> Iterator[None]:
    """Fails the test if git checks anything out: limits must be applied from git's listing, before that."""
    real = clone._run_git

    def guarded(args: list[str], **kwargs: Any) -> str:
        assert "checkout" not in args, "the checkout ran before the limits were applied"
        return real(args, **kwargs)

    clone._run_git = guarded
    try:
        yield
    finally:
        clone._run_git = real


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
    with no_checkout(), pytest.raises(CloneError, match="more than the limit of 8 MB"):
        fetch_repository(FixRequest(repo=str(bare), issue="x"), dest, timeout=60, max_mb=8)
    assert not dest.exists()
    # Within the limit the same repository is fetched whole.
    fetch_repository(FixRequest(repo=str(bare), issue="x"), dest, timeout=60, max_mb=100)
    assert (dest / "zeros.bin").stat().st_size == 64 * 2**20


def test_too_many_files_are_refused_before_checkout(tmp_path, make_repo):
    src = commit_all(make_repo(tmp_path / "src", {f"f{i}.txt": "" for i in range(60)}))
    with no_checkout(), pytest.raises(CloneError, match="more than 50 files"):
        fetch_repository(FixRequest(repo=str(src), issue="x", branch="main"), tmp_path / "d", timeout=60,
                         max_mb=10, max_entries=50)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("kind", ["gitdir file", "symlinked .git", "alternates", "linked objects",
                                  "linked pack of a bare repository", "link to a gitdir file", "commondir alternates",
                                  "bare-looking top with a .git pointer"])
def test_a_local_path_whose_git_data_lives_elsewhere_is_refused(tmp_path, make_repo, kind):
    other = commit_all(make_repo(tmp_path / "other", {"secret.py": "TOKEN = 'other repository'\n"}))
    named = make_repo(tmp_path / "named", {"calc.py": "x = 1\n"})
    branch: str | None = "main"
    if kind == "gitdir file":
        (named / ".git").write_text(f"gitdir: {other / '.git'}\n")
    elif kind == "symlinked .git":
        os.symlink(other / ".git", named / ".git")
    elif kind == "alternates":
        commit_all(named)
        (named / ".git" / "objects" / "info" / "alternates").write_text(f"{other / '.git' / 'objects'}\n")
    elif kind == "linked objects":
        commit_all(named)
        for part in ("objects", "refs"):
            subprocess.run(["rm", "-rf", str(named / ".git" / part)], check=True)
            os.symlink(other / ".git" / part, named / ".git" / part)
    elif kind == "linked pack of a bare repository":
        subprocess.run(["git", "clone", "-q", "--bare", str(commit_all(named)), str(tmp_path / "bare.git")],
                       check=True)
        named = tmp_path / "bare.git"
        subprocess.run(["rm", "-rf", str(named / "objects")], check=True)
        os.symlink(other / ".git" / "objects", named / "objects")
        branch = None
    elif kind == "link to a gitdir file":
        (named / "pointer").write_text(f"gitdir: {other / '.git'}\n")
        os.symlink("pointer", named / ".git")
    elif kind == "commondir alternates":
        commit_all(named)
        subprocess.run(["git", "clone", "-q", "--bare", str(named), str(named / "common.git")], check=True)
        (named / ".git" / "commondir").write_text("../common.git\n")
        (named / "common.git" / "objects" / "info" / "alternates").write_text(f"{other / '.git' / 'objects'}\n")
    else:  # a HEAD file and an objects folder at the top, while git itself follows .git elsewhere
        (named / "HEAD").write_text("ref: refs/heads/main\n")
        (named / "objects").mkdir()
        (named / ".git").write_text(f"gitdir: {other / '.git'}\n")
    with pytest.raises(CloneError, match="outside the directory you named|is a symbolic link"):
        fetch_repository(FixRequest(repo=str(named), issue="x", branch=branch), tmp_path / "d", timeout=60,
                         max_mb=10)
    assert not (tmp_path / "d").exists()


def test_without_a_branch_a_working_tree_is_copied_whatever_its_git_data(tmp_path, make_repo):
    """Copy mode never reads git data, so a worktree's `.git` pointer elsewhere is no reason to refuse."""
    other = commit_all(make_repo(tmp_path / "other", {"secret.py": "TOKEN = 'other repository'\n"}))
    named = make_repo(tmp_path / "named", {"calc.py": "x = 1\n"})
    (named / ".git").write_text(f"gitdir: {other / '.git'}\n")
    dest = fetch_repository(FixRequest(repo=str(named), issue="x"), tmp_path / "d", timeout=60, max_mb=10)
    assert sorted(os.listdir(dest)) == ["calc.py"]


def test_gitattributes_conversions_cannot_grow_the_checkout(tmp_path, make_repo):
    src = make_repo(tmp_path / "src", {"big.txt": "a\n" * (3 * 2**20)})  # 6 MB stored
    commit_all(src)
    # Added afterwards, so the blob stays as committed; a converting checkout would write 48 MB.
    (src / ".gitattributes").write_text("*.txt text eol=crlf working-tree-encoding=UTF-32LE\n")
    git("add", ".gitattributes", cwd=src)
    git("commit", "-qm", "attributes", cwd=src)
    dest = fetch_repository(FixRequest(repo=str(src), issue="x", branch="main"), tmp_path / "d", timeout=60,
                            max_mb=8)
    assert (dest / "big.txt").stat().st_size == 6 * 2**20  # the blob's bytes, as committed


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
    many = tmp_path / "many"
    many.mkdir()
    for i in range(60):
        (many / f"f{i}").write_bytes(b"")
    box = Sandbox.create("test-hostile-ws", config, client=docker_client)
    small = Sandbox.create("test-hostile-ws2", replace(config, workspace_max_entries=50), client=docker_client)
    real_write = archive._write_tree
    archive._write_tree = lambda *a, **k: pytest.fail("the tree was spooled before the limit was checked")
    try:
        with pytest.raises(TreeTooLarge, match="larger than the limit of 32 MB"):
            box.put_workspace(sparse)
        with pytest.raises(TreeTooLarge, match="more than the limit of 50"):
            small.put_workspace(many)
        archive._write_tree = real_write
        box.put_workspace(linked)
        run = box.exec(["sh", "-c", "ls | sort | tr '\\n' ' '; echo; stat -c %h data.bin; du -sm . | cut -f1"])
        names, links, used = run.stdout.splitlines()
        assert names.split() == ["copy0.bin", "copy1.bin", "copy2.bin", "copy3.bin", "copy4.bin", "data.bin"]
        assert int(links) == 6 and int(used) < 20
    finally:
        archive._write_tree = real_write
        box.destroy()
        small.destroy()
