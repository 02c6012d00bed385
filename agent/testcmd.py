"""Understanding a test command without running it on the host."""

from __future__ import annotations

import shlex

from agent.exceptions import InvalidRequest


def split_command(command: str) -> list[str]:
    """Tokens of a one-line command (parsed here, run only inside the sandbox)."""
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise InvalidRequest(f"the test command cannot be parsed: {exc}") from None


def pytest_args(command: str) -> list[str] | None:
    """The arguments after `pytest` when the command is a plain pytest call, else None.

    Only plain forms qualify (`pytest ...`, `python -m pytest ...`, `python3 -m pytest ...`):
    anything with shell syntax (`&&`, pipes, env assignments) is run as given, without
    the fast in-process validator.
    """
    tokens = split_command(command)
    if any(t in ("&&", "||", "|", ";", ">", "<", "&") for t in tokens):
        return None
    if tokens and tokens[0] in ("pytest", "py.test"):
        return tokens[1:]
    if len(tokens) >= 3 and tokens[0] in ("python", "python3") and tokens[1:3] == ["-m", "pytest"]:
        return tokens[3:]
    return None
