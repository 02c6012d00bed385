"""Getting the target repository onto the worker host: shallow, bounded, no prompts, no hooks run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from agent.exceptions import CloneError
from agent.request import FixRequest

_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", "node_modules", ".tox"}


def git_env() -> dict[str, str]:
    """Environment for host-side git: never prompts, never runs a user's askpass or pager."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="/bin/false",
        SSH_ASKPASS="/bin/false",
        GIT_SSH_COMMAND="ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
        GIT_PROTOCOL_FROM_USER="0",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def _git_safety(allow_file: bool) -> list[str]:
    # Allowlist transports; submodules and hooks never run (--no-recurse-submodules, core.hooksPath).
    opts = ["-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always",
            "-c", "protocol.ssh.allow=always", "-c", "protocol.git.allow=always", "-c", "core.hooksPath=/dev/null",
            "-c", "core.symlinks=true", "-c", "transfer.fsckObjects=true"]
    if allow_file:
        opts += ["-c", "protocol.file.allow=always"]
    return opts


def fetch_repository(req: FixRequest, dest: Path, *, timeout: float, max_mb: int) -> Path:
    """Put the request's repository at `dest` (which must not exist) and return it.

    A URL is cloned shallowly; a local directory (already allowed by validation) is cloned
    when it is a bare repository or a branch is asked for, else its working tree is copied,
    uncommitted changes included, because that is what a local user wants fixed.
    """
    if dest.exists():
        raise CloneError(f"workspace {dest} already exists")
    local = Path(req.repo)
    if local.is_absolute() and local.is_dir():
        bare = (local / "HEAD").is_file() and (local / "objects").is_dir()
        if bare or (req.branch and (local / ".git").exists()):
            # file:// (not a plain path) so that --depth applies and no hard links are shared.
            _clone(local.resolve().as_uri(), req.branch, dest, timeout=timeout, allow_file=True)
        else:
            _copy_tree(local, dest, max_bytes=max_mb * 1024 * 1024)
    else:
        _clone(req.repo, req.branch, dest, timeout=timeout, allow_file=False)
    size = tree_size(dest)
    if size > max_mb * 1024 * 1024:
        shutil.rmtree(dest, ignore_errors=True)
        raise CloneError(f"the repository is larger than the limit ({size // 2**20} MB > {max_mb} MB)")
    return dest


def _clone(url: str, branch: str | None, dest: Path, *, timeout: float, allow_file: bool) -> None:
    cmd = ["git", *_git_safety(allow_file), "clone", "--depth", "1", "--no-tags", "--single-branch",
           "--no-recurse-submodules", "--quiet"]
    if branch:
        cmd += ["--branch", branch]
    cmd += ["--", url, str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=git_env(),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        shutil.rmtree(dest, ignore_errors=True)
        raise CloneError(f"cloning took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        shutil.rmtree(dest, ignore_errors=True)
        reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1][:300]
        raise CloneError(f"could not clone the repository: {reason}")


def _copy_tree(src: Path, dest: Path, *, max_bytes: int) -> None:
    """Copy a directory without following symlinks and without caches or VCS data."""
    total = 0

    def ignore(directory: str, names: list[str]) -> set[str]:
        nonlocal total
        skipped = {n for n in names if n in _SKIP_DIRS or n.endswith(".pyc")}
        for name in names:
            if name in skipped:
                continue
            path = os.path.join(directory, name)
            if os.path.isfile(path) and not os.path.islink(path):
                total += os.path.getsize(path)
        if total > max_bytes:
            raise CloneError(f"the directory is larger than the limit ({max_bytes // 2**20} MB)")
        return skipped

    try:
        shutil.copytree(src, dest, symlinks=True, ignore=ignore)
    except shutil.Error as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise CloneError(f"could not copy the directory: {str(exc)[:200]}") from None


def tree_size(root: Path) -> int:
    """Bytes in regular files under root, links not followed."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                total += os.path.getsize(path)
    return total
