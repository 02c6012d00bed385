"""Telling the sandbox's problems from the repository's bugs, with words a user can act on.

Pure functions over a test run's data and the host's pristine checkout. A failure caused by
the environment (a read-only path, a Git LFS pointer where a file should be, a fixture looked
up relative to another working directory, a missing tool or dependency) is never a bug to mutate:
it is named with its cause and what to do.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from agent.textsafe import clean_line

LFS_HEADER = b"version https://git-lfs.github.com/spec/v1"
MAX_WALK = 20_000  # files looked at when searching the checkout
_READ_ONLY = re.compile(r"(?:\[Errno 30\] Read-only file system|\[Errno 13\] Permission denied)(?:: '([^']+)')?")
_NOT_FOUND = re.compile(r"\[Errno 2\] No such file or directory: '([^']+)'")
_NO_MODULE = re.compile(r"No module named '([^']+)'")
_NO_DISTRIBUTION = re.compile(r"(?:No matching distribution found for|Could not find a version that satisfies the "
                              r"requirement) ([^\s(]+)")
_NETWORK = ("Temporary failure in name resolution", "Failed to establish a new connection", "Network is unreachable",
            "Name or service not known")
_SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".tox", ".mypy_cache", ".pytest_cache"}


def last_lines(text: str, count: int = 12, width: int = 1500) -> str:
    """The last non-empty lines of an output, cleaned for display."""
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    shown = "\n".join(clean_line(ln, 300) for ln in lines[-count:])
    return shown[-width:]


def first_lines(text: str, count: int = 8, width: int = 1200) -> str:
    """The first non-empty lines of an error, cleaned for display (where it starts says the most)."""
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    return "\n".join(clean_line(ln, 300) for ln in lines[:count])[:width]


def setup_failed(exit_code: int | None, output: str, *, network: bool, wheelhouse: bool) -> str:
    """Why the setup command failed and what to do, then the end of its output."""
    hint = ""
    missing = _NO_DISTRIBUTION.search(output or "")
    offline = not network or any(marker in (output or "") for marker in _NETWORK)
    if missing and not network:
        where = "the wheelhouse (SANDBOX_WHEELHOUSE) has no wheel for it" if wheelhouse else "the setup has no network"
        hint = (f" pip could not find {clean_line(missing.group(1), 80)}: {where}. Set SANDBOX_SETUP_NETWORK=true, "
                "or put the wheels the setup needs (`pip download -d DIR -r requirements.txt`) in a directory and "
                "set SANDBOX_WHEELHOUSE=DIR.")
    elif missing:
        hint = f" pip could not find {clean_line(missing.group(1), 80)} on its index (SANDBOX_PIP_INDEX_URL or PyPI)."
    elif offline and network:
        hint = " The setup could not reach the network; check the host's network and SANDBOX_PIP_INDEX_URL."
    elif exit_code == 127:
        hint = " A program the setup runs is not in the sandbox image."
    elif exit_code is None or exit_code == 137:
        hint = " It ran out of time (DOCKER_TIMEOUT) or memory (DOCKER_MAX_MEMORY)."
    return f"the setup command failed (exit {exit_code}).{hint}\n{last_lines(output)}"


def not_runnable(exit_code: int | None, output: str, wrapper: str | None, workspace: str | Path) -> str:
    """Exit 126/127: the command (or a program it starts) cannot run in the sandbox."""
    text = f"the test command could not be run in the sandbox (exit {exit_code}): {last_lines(output, 3, 300)}"
    if wrapper is None:
        return text + ". The sandbox has python, pip, pytest (with pytest-cov, -xdist, -asyncio, -timeout), " \
                      "hypothesis, coverage and git; install what else it needs with --setup."
    suggestion = tox_commands(workspace) if wrapper == "tox" else None
    what = f" It runs `{clean_line(suggestion, 200)}`: give that as the test command" if suggestion else \
        " Give the command it runs (e.g. `python -m pytest -q`) as the test command"
    return (f"{text}. The sandbox has no `{wrapper}`: it builds its own environments, which needs a network.{what},"
            " and its dependencies as the setup command (`pip install -e .` or `pip install -r requirements.txt`).")


def tox_commands(workspace: str | Path) -> str | None:
    """The first test command of tox.ini's [testenv] (or setup.cfg's [tox:tox] testenv), if any."""
    for name, section in (("tox.ini", "testenv"), ("setup.cfg", "testenv")):
        path = Path(workspace) / name
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
        except configparser.Error:
            continue
        if parser.has_option(section, "commands"):
            lines = [ln.strip() for ln in parser.get(section, "commands").splitlines() if ln.strip()]
            if lines:
                return re.sub(r"\s*\{posargs[^}]*\}", "", lines[0]).strip() or None
    return None


def usage_error(output: str) -> str | None:
    """pytest's account of a configuration problem (exit 4, or a plugin that does not import), if any."""
    for pattern in (r"(?m)^\S*: error: .+$", r"(?m)^ERROR: (?!usage:).+$",
                    r"(?m)^ImportError while loading conftest .+$", r"(?m)^.*Error importing plugin .+$",
                    r"(?m)^E?\s*ImportPathMismatchError.+$"):
        match = re.search(pattern, output or "")
        if match:
            return clean_line(match.group(0).strip(), 300)
    return None


def conftest_failure(output: str) -> list[dict[str, Any]]:
    """A conftest.py that did not import (pytest exits 4 before collecting): as collection errors, else []."""
    match = re.search(r"(?ms)^ImportError while loading conftest '([^']+)'\.\n(.*?)(?=^\S+: error|\Z)", output or "")
    if not match:
        return []
    path = match.group(1)
    rel = path[len("/workspace/"):] if path.startswith("/workspace/") else path
    return [{"id": rel, "message": match.group(2).strip()[:1500], "frames": []}]


def collection_problem(errors: list[dict[str, Any]]) -> str:
    """Test modules that could not be collected: which, the first lines of why, and what to do."""
    parts = []
    for err in errors[:3]:
        parts.append(f"{clean_line(err['id'], 200)}:\n{_key_lines(err.get('message', ''))}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"{len(errors)} test module(s) could not be collected{more}:\n" + "\n".join(parts) + \
        "\n" + collection_hint(errors)


def collection_hint(errors: list[dict[str, Any]]) -> str:
    """What to do about collection errors, from what they say."""
    text = "\n".join(e.get("message", "") for e in errors)
    missing = _NO_MODULE.search(text)
    wrong = re.search(r"cannot import name '([^']+)' from 'conftest' \(([^)]+)\)", text)
    if wrong:
        name, where = clean_line(wrong.group(1), 80), clean_line(wrong.group(2), 200)
        return (f"`from conftest import {name}` bound {where}: with several conftest.py files, `conftest` is "
                "whichever pytest loaded last. Move shared helpers to a module of their own (e.g. tests/helpers.py) "
                "and import that.")
    if "import file mismatch" in text or "ImportPathMismatchError" in text:
        return ("Two test files (or conftest.py files) share a module name: add __init__.py files to the test "
                "folders, rename one, or run pytest with --import-mode=importlib.")
    if missing:
        return (f"`{clean_line(missing.group(1), 80)}` does not import: if it is a dependency, install it with the "
                "setup command (e.g. --setup 'pip install -e .' or 'pip install -r requirements.txt'); if it is "
                "the repository's own package, run the tests the way that puts it on sys.path (python -m pytest, "
                "PYTHONPATH=src pytest, or pip install -e . as setup).")
    if "SyntaxError" in text:
        return "A file the tests import does not parse (a SyntaxError)."
    return "Run the test command by hand to see why the modules do not import."


def _key_lines(message: str) -> str:
    """The lines of a collection error that say what went wrong (E-lines and the exception), else its start."""
    lines = [ln for ln in (message or "").splitlines() if ln.strip()]
    key = [ln for ln in lines if ln.lstrip().startswith("E ") or re.match(r"^\w*(Error|Exception)\b", ln.strip())]
    chosen = (lines[:2] + key[-4:]) if key else lines[:8]
    return "\n".join("  " + clean_line(ln, 300) for ln in dict.fromkeys(chosen))


def environment_problems(failing: Iterable[str], messages: Mapping[str, str], workspace: str | Path,
                         cwd: str = "") -> list[dict[str, Any]]:
    """Failing tests whose failure is the sandbox's or the checkout's, not a bug: one entry per cause.

    Each entry: {"kind": "read-only" | "git-lfs" | "working-directory", "tests": [ids], "path", "message"}.
    `cwd` is the command's working directory relative to the checkout.
    """
    root = Path(workspace)
    pointers = lfs_pointers(root)
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(kind: str, path: str, test: str, message: str) -> None:
        entry = found.setdefault((kind, path), {"kind": kind, "path": path, "tests": [], "message": message})
        entry["tests"].append(test)

    for test in failing:
        text = messages.get(test, "")
        ro = _READ_ONLY.search(text)
        if ro and not (ro.group(1) or "").startswith("/workspace"):
            path = ro.group(1) or "?"
            add("read-only", path, test,
                f"writes to {clean_line(path, 200)}, which is read-only in the sandbox (only the repository, /tmp and "
                "$HOME are writable): an environment problem, not a bug. Make the test write under tmp_path, "
                "$TMPDIR or $HOME")
            continue
        lfs = next((p for p in pointers if p in text or os.path.basename(p) in text), None)
        if lfs is not None:
            add("git-lfs", lfs, test,
                f"reads {clean_line(lfs, 200)}, a Git LFS pointer: the checkout has no LFS objects. Fetch them "
                "(git lfs pull) into a repository fixbot can read, or commit the file itself")
            continue
        missing = _NOT_FOUND.search(text)
        if missing and not missing.group(1).startswith("/"):
            elsewhere = _found_elsewhere(root, cwd, missing.group(1))
            if elsewhere is not None:
                rel = missing.group(1)
                add("working-directory", rel, test,
                    f"opens {clean_line(rel, 200)} relative to the working directory ({cwd or 'the repository root'}),"
                    f" but it is at {clean_line(elsewhere, 200)}: run the command from "
                    f"{clean_line(os.path.dirname(elsewhere) or '.', 200)} (e.g. `cd DIR && pytest`), or make the "
                    "test build the path from its own file (Path(__file__).parent)")
    for entry in found.values():
        entry["tests"] = sorted(set(entry["tests"]))
    return list(found.values())


def lfs_pointers(root: Path) -> list[str]:
    """Relative paths of Git LFS pointer files (small text files with the LFS header) in a checkout."""
    found: list[str] = []
    seen = 0
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
        for name in files:
            seen += 1
            if seen > MAX_WALK:
                return found
            path = Path(dirpath) / name
            try:
                if path.is_symlink() or path.stat().st_size > 1024:
                    continue
                with path.open("rb") as fh:
                    if fh.read(len(LFS_HEADER)) == LFS_HEADER:
                        found.append(path.relative_to(root).as_posix())
            except OSError:
                continue
    return found


def _found_elsewhere(root: Path, cwd: str, rel: str) -> str | None:
    """Where a relative path the test could not open does exist in the checkout (never where it looked)."""
    if ".." in Path(rel).parts:
        return None
    seen = 0
    for dirpath, dirs, _files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        seen += 1
        if seen > MAX_WALK:
            return None
        base = Path(dirpath)
        if base == root / cwd:
            continue
        if (base / rel).exists():
            return (base / rel).relative_to(root).as_posix()
    return None
