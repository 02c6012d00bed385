"""Getting the target repository onto the worker host: shallow, bounded, no prompts, no hooks run.

Everything about the repository is untrusted: its size is measured before it is written out (a
small pack can hold a gigabyte of zeros), a local path's git data must live inside that path (a
`.git` file or alternates can point at another repository), and any failure leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.exceptions import CloneError
from agent.request import FixRequest
from agent.textsafe import clean_line
from sandbox import SandboxError
from sandbox.walk import MAX_DEPTH, check_size, measure, walk

_SKIP_DIRS = {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv", "node_modules", ".tox"}
MAX_ENTRIES = 100_000  # files and folders in one checkout
NO_CONVERSION = "* -text -eol -working-tree-encoding -filter -ident\n"
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # a full SHA-1 or SHA-256 object name, never an option


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
        GIT_CONFIG_GLOBAL="/dev/null",  # no filters, url rewrites or hooks from the host user's ~/.gitconfig
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


def fetch_repository(req: FixRequest, dest: Path, *, timeout: float, max_mb: int, max_entries: int = MAX_ENTRIES,
                     exclude: Iterable[Path] = (), commit: str | None = None) -> Path:
    """Put the request's repository at `dest` (which must not exist) and return it.

    `commit` (a full object name, as `head_commit` returned it when the task first fetched the
    repository) checks out that commit instead of the branch's tip, fetching it when the branch moved
    on since: a task rerun, retried or published later works on the tree it was proven on. A working
    tree copy has no commit (`head_commit` is None) and is copied again as it is now.

    A URL is cloned shallowly; a local directory (already allowed by validation) is cloned
    when it is a bare repository or a branch is asked for, else its working tree is copied,
    uncommitted changes included, because that is what a local user wants fixed. `exclude`
    names host paths never copied (fixbot's own work directory and checkpoints when they lie
    inside the repository). Sizes and entries are counted before anything is written; on any
    failure `dest` is removed and CloneError says why.
    """
    if dest.exists():
        raise CloneError(f"workspace {dest} already exists")
    try:
        local = Path(req.repo)
        if local.is_absolute() and local.is_dir():
            layout = local_git(local, timeout=timeout)
            if layout is not None and (layout.bare or req.branch):
                check_git_layout(local, layout)
                # file:// (not a plain path) so that --depth applies and no hard links are shared.
                _clone(local.resolve().as_uri(), req.branch, dest, timeout=timeout, allow_file=True,
                       max_bytes=max_mb * 2**20, max_entries=max_entries, commit=commit)
            else:
                _copy_tree(local, dest, max_bytes=max_mb * 2**20, max_entries=max_entries, exclude=[dest, *exclude])
        else:
            _clone(req.repo, req.branch, dest, timeout=timeout, allow_file=False, max_bytes=max_mb * 2**20,
                   max_entries=max_entries, commit=commit)
    except SandboxError as exc:  # the tree walker's limits
        _remove(dest)
        raise CloneError(str(exc)) from None
    except BaseException:
        _remove(dest)
        raise
    return dest


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class GitLayout:
    """Where git itself finds a local repository's data (both paths resolved)."""

    bare: bool
    git_dir: Path
    common_dir: Path


def local_git(path: Path, *, timeout: float = 30) -> GitLayout | None:
    """Ask git (not a guess) where the repository at `path` keeps its data; None when `path` is no repository.

    Git does not look above `path` (GIT_CEILING_DIRECTORIES) for an enclosing repository. Nothing is
    checked here: `check_git_layout` does that before the data is used.
    """
    root = path.resolve()
    env = {**git_env(), "GIT_CEILING_DIRECTORIES": str(root.parent)}
    try:
        proc = subprocess.run(["git", "-c", f"safe.directory={root}", "-C", str(root), "rev-parse",
                               "--is-bare-repository", "--absolute-git-dir", "--git-common-dir"],
                              capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
                              errors="replace")
    except subprocess.TimeoutExpired:
        raise CloneError(f"git took longer than {timeout:.0f} s to read {path}") from None
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) != 3:
        return None  # not a repository: its files are copied as they are
    common = Path(lines[2])
    return GitLayout(lines[0].strip() == "true", Path(lines[1]).resolve(),
                     (common if common.is_absolute() else root / common).resolve())


def check_git_layout(path: Path, layout: GitLayout) -> None:
    """Refuse a repository whose git data is not the named path's own, so fixbot never fetches another one.

    CloneError for a git dir or common dir (`.git` file, `.git` link, `commondir`) outside `path`, any
    symbolic link inside them (e.g. `.git/objects` linked elsewhere), and alternates outside `path`.
    """
    root = path.resolve()
    for what, where in (("its git data", layout.git_dir), ("its shared git data", layout.common_dir)):
        _must_be_inside(root, where, f"{path}: {what} is at {where}")
    for folder in dict.fromkeys((layout.git_dir, layout.common_dir)):
        _no_links(folder)
        alternates = folder / "objects" / "info" / "alternates"
        if alternates.is_file():
            for line in alternates.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.strip() and not line.startswith("#"):
                    target = (folder / "objects" / line.strip()).resolve()
                    _must_be_inside(root, target, f"{path}: its objects/info/alternates point at {target}")


def _no_links(git_dir: Path) -> None:
    """Refuse a git folder holding a symbolic link anywhere (git never makes them; an attacker does)."""
    try:
        for entry in walk(git_dir, max_depth=40):
            if entry.kind == "link":
                raise CloneError(f"{git_dir / entry.rel} is a symbolic link; fixbot fetches only a repository whose "
                                 "git data is plain files inside the directory you named")
    except SandboxError as exc:
        raise CloneError(f"cannot read the git data at {git_dir}: {exc}") from None


def _must_be_inside(root: Path, target: Path, what: str) -> None:
    if target != root and not target.is_relative_to(root):
        raise CloneError(f"{what}, outside the directory you named; fixbot fixes only the repository that "
                         "lives in the given path: give that repository's own path instead")


def _run_git(args: list[str], *, timeout: float, what: str, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=git_env(),
                              stdin=subprocess.DEVNULL, cwd=cwd, errors="replace")
    except subprocess.TimeoutExpired:
        raise CloneError(f"{what} took longer than {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise CloneError(f"could not {what}: {git_reason(proc.stderr)}")
    return proc.stdout


def git_reason(stderr: str, *, limit: int = 300) -> str:
    """What went wrong, from git's stderr, in one line: the paragraph where git gave up, from two lines before
    its first `fatal:` or `error:` line, at most three lines (hints left out), joined with "; ", at most
    `limit` characters. Git's last line alone is often a sentence's tail
    ("and the repository exists.")."""
    paragraphs: list[list[str]] = [[]]
    for line in stderr.splitlines():
        line = line.strip()
        if not line:
            paragraphs.append([])
        elif not line.startswith("hint:"):
            paragraphs[-1].append(line)
    kept = next(([*p[max(0, i - 2):]] for p in paragraphs for i, line in enumerate(p)
                 if line.startswith(("fatal:", "error:"))), None)
    if kept is None:
        kept = next((p for p in reversed(paragraphs) if p), [])
    reason = "; ".join(kept[:3]) or "unknown error"
    return reason if len(reason) <= limit else reason[:limit - 1] + "…"


def head_commit(checkout: Path, *, timeout: float = 30) -> str | None:
    """The commit a fetched checkout stands on, or None for a copied working tree (it has no history)."""
    if not (checkout / ".git").is_dir():
        return None
    head = _run_git(["git", "-C", str(checkout), "rev-parse", "--verify", "HEAD^{commit}"], timeout=timeout,
                    what="read the checkout's commit").strip()
    return head if _COMMIT.fullmatch(head) else None


def _clone(url: str, branch: str | None, dest: Path, *, timeout: float, allow_file: bool, max_bytes: int,
           max_entries: int, commit: str | None = None) -> None:
    """Shallow clone without checkout (moved to `commit` when given), measure the tree from git's index of it,
    then check out."""
    cmd = ["git", *_git_safety(allow_file), "clone", "--depth", "1", "--no-tags", "--single-branch",
           "--no-recurse-submodules", "--no-checkout", "--quiet"]
    if branch:
        cmd += ["--branch", branch]
    cmd += ["--", url, str(dest)]
    _run_git(cmd, timeout=timeout, what="clone the repository")
    if commit is not None:
        if not _COMMIT.fullmatch(commit):
            raise CloneError(f"{clean_line(commit, 80)!r} is not a full commit name")
        if head_commit(dest, timeout=timeout) != commit:  # the branch moved on: fetch the commit itself
            _run_git(["git", *_git_safety(allow_file), "-C", str(dest), "fetch", "--depth", "1", "--no-tags",
                      "--quiet", "origin", commit], timeout=timeout,
                     what=f"fetch commit {commit[:12]}, on which the patch was proven")
            _run_git(["git", "-C", str(dest), "update-ref", "--no-deref", "HEAD", commit], timeout=timeout,
                     what=f"move to commit {commit[:12]}")
    listing = _run_git(["git", "-C", str(dest), "ls-tree", "-r", "-t", "-l", "-z", "--full-tree", "HEAD"],
                       timeout=timeout, what="list the repository's files")
    check_tree_listing(listing, max_bytes=max_bytes, max_entries=max_entries)
    # The checkout writes the blobs byte for byte: the repository's .gitattributes could otherwise grow
    # them on the way out (eol=crlf, working-tree-encoding=UTF-32) past what ls-tree counted.
    # $GIT_DIR/info/attributes wins over every .gitattributes in the tree.
    (dest / ".git" / "info").mkdir(parents=True, exist_ok=True)
    (dest / ".git" / "info" / "attributes").write_text(NO_CONVERSION, encoding="utf-8")
    _run_git(["git", *_git_safety(allow_file), "-C", str(dest), "checkout", "--quiet", "HEAD", "--", "."],
             timeout=timeout, what="check out the repository")
    # A backstop for anything that still changes sizes on checkout.
    check_size(measure(dest, skip=lambda _rel, name: name == ".git"), max_bytes=max_bytes, max_entries=max_entries,
               what="the checked-out repository")


def check_tree_listing(listing: str, *, max_bytes: int, max_entries: int, max_depth: int = MAX_DEPTH) -> None:
    """Raise CloneError when `git ls-tree -r -t -l -z` output describes a checkout over the limits.

    Each NUL-terminated record is "<mode> <type> <object> <size>\\t<path>"; blob sizes add up to what a
    checkout writes (trees and submodule commits show "-").
    """
    total = entries = 0
    for record in listing.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        fields = meta.split()
        entries += 1
        if len(fields) == 4 and fields[3].isdigit():
            total += int(fields[3])
        if path.count("/") > max_depth:
            raise CloneError(f"the repository nests folders more than {max_depth} levels deep; "
                             "fixbot does not check out such trees")
        if total > max_bytes:
            raise CloneError(f"the repository's files add up to more than the limit of {max_bytes // 2**20} MB "
                             "(CLONE_MAX_MB); nothing was checked out")
        if entries > max_entries:
            raise CloneError(f"the repository holds more than {max_entries} files and folders; "
                             "nothing was checked out")


def _copy_tree(src: Path, dest: Path, *, max_bytes: int, max_entries: int, exclude: Iterable[Path]) -> None:
    """Copy a directory without following symlinks and without caches, VCS data or `exclude`d paths.

    The whole tree is measured first, so nothing is written when it is over the limits; hard links
    are kept as links, so their content counts and is written once.
    """
    excluded = {str(p.resolve()) for p in exclude}
    root = str(src.resolve())

    def skip(rel: str, name: str) -> bool:
        return (name in _SKIP_DIRS or name.endswith(".pyc")
                or os.path.join(root, rel) in excluded)

    size = measure(src, skip=skip)
    check_size(size, max_bytes=max_bytes, max_entries=max_entries, what="the directory")
    dest.mkdir(parents=True)
    copied: dict[tuple[int, int], Path] = {}  # hard links stay links: their content is written once
    try:
        for entry in walk(src, skip=skip):
            target = dest / entry.rel
            if entry.kind == "dir":
                target.mkdir()
            elif entry.kind == "link":
                os.symlink(os.readlink(entry.path), target)
            elif entry.kind == "file":
                key = (entry.st.st_dev, entry.st.st_ino)
                if entry.st.st_nlink > 1 and key in copied:
                    os.link(copied[key], target)
                    continue
                shutil.copyfile(entry.path, target, follow_symlinks=False)
                os.chmod(target, entry.st.st_mode & 0o755)
                copied[key] = target
    except OSError as exc:
        where = f" {_relative(src, exc.filename)}" if exc.filename else ""
        raise CloneError(f"could not copy{where or ' the directory'}: {exc.strerror or exc}") from None


def _relative(root: Path, filename: object) -> str:
    """A file named in an OSError, relative to the repository root, cleaned for a one-line message."""
    text = os.fsdecode(filename) if isinstance(filename, str | bytes) else str(filename)
    try:
        text = str(Path(text).relative_to(root))
    except ValueError:
        pass
    return clean_line(text, 120)

