"""Understanding a test command without running it on the host."""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from agent.exceptions import InvalidRequest

_OPERATORS = ("&&", "||", "|", ";", ">", "<", "&", ">>", "2>&1", "|&")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_./:,=@+-]*$")  # no $, `, globs or quotes left to expand
_PYTHONS = ("python", "python3", "python3.11", "python3.12", "python3.13")
# Test runners the sandbox image does not have (they build their own environments, which needs a network).
WRAPPERS = ("tox", "nox", "make", "hatch", "poetry", "pdm", "uv", "pipenv", "invoke", "just")


def split_command(command: str) -> list[str]:
    """Tokens of a one-line command (parsed here, run only inside the sandbox)."""
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise InvalidRequest(f"the test command cannot be parsed: {exc}") from None


@dataclass(frozen=True)
class PytestCall:
    """A test command that is one pytest run, as the in-sandbox validator must reproduce it.

    `cwd` is relative to the repository root ("" for the root); `env` holds the command's
    `VAR=value` prefixes; `module` is True for `python -m pytest`, which (unlike bare `pytest`)
    puts the working directory first on sys.path.
    """

    args: list[str]
    cwd: str = ""
    env: dict[str, str] = field(default_factory=dict)
    module: bool = False

    def runner_spec(self) -> dict[str, Any]:
        """The keys the in-sandbox runner reads to run pytest as this command does (see runner._enter)."""
        return {"cwd": self.cwd, "env": dict(self.env), "module": self.module}


def pytest_call(command: str) -> PytestCall | None:
    """The command as one pytest run, or None when it is anything else.

    Understood: `[cd DIR &&] [VAR=value ...] (pytest | py.test | python[3] -m pytest) ARGS`, where DIR
    stays inside the repository and values need no shell expansion. Anything else (pipes, `;`,
    several commands, unittest, scripts) still runs as given, through the probe; only the fast
    in-process validator needs this form.
    """
    tokens = split_command(command)
    cwd = ""
    if len(tokens) >= 3 and tokens[0] == "cd" and tokens[2] == "&&":
        inside = _inside(tokens[1])
        if inside is None:
            return None
        cwd, tokens = inside, tokens[3:]
    if any(t in _OPERATORS for t in tokens):
        return None
    env: dict[str, str] = {}
    while tokens and (match := _ASSIGNMENT.match(tokens[0])):
        name, value = match.groups()
        if not _PLAIN_VALUE.match(value):
            return None
        env[name] = value
        tokens = tokens[1:]
    if tokens and tokens[0] in ("pytest", "py.test"):
        return PytestCall(tokens[1:], cwd, env, module=False)
    if len(tokens) >= 3 and tokens[0] in _PYTHONS and tokens[1:3] == ["-m", "pytest"]:
        return PytestCall(tokens[3:], cwd, env, module=True)
    return None


def pytest_args(command: str) -> list[str] | None:
    """The arguments after `pytest` when the command is one pytest run (see pytest_call), else None."""
    call = pytest_call(command)
    return call.args if call is not None else None


def wrapper_of(command: str) -> str | None:
    """The test-runner wrapper the command starts with (`tox`, `nox`, `make`...), if any."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        return None
    while tokens and _ASSIGNMENT.match(tokens[0]):
        tokens = tokens[1:]
    first = posixpath.basename(tokens[0]) if tokens else ""
    return first if first in WRAPPERS else None


def _inside(path: str) -> str | None:
    norm = posixpath.normpath(path)
    if norm.startswith("/") or norm == ".." or norm.startswith("../") or norm.startswith("-"):
        return None
    return "" if norm == "." else norm
