"""How every command ends when something goes wrong: one clean line for the person, a record for scripts.

Untrusted text reaches error messages (file names, git's and Docker's words, test output), so the
line is cleaned of control characters. An unexpected exception is a bug of ours: the person sees
its type and message and where the traceback was written, never the traceback itself.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.exceptions import ConfigError, FixbotError, InvalidRequest
from agent.tasks.exceptions import IdempotencyConflict
from agent.textsafe import clean_line
from sandbox import DockerUnavailable, ImageMissing, SandboxError

# exit 2: nothing could start (a reused idempotency key too: the same command needs another key)
USAGE_ERRORS = (InvalidRequest, ConfigError, DockerUnavailable, ImageMissing, IdempotencyConflict)


@dataclass
class Outcome:
    """What a guarded run produced: the record, the error shown (None on success), the exit status."""

    record: dict[str, Any]
    error: str | None = None
    exit_code: int = 0


def failure_record(task_id: str, message: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
    """A result record in the shape `fixbot fix --json` writes, for a task that ended in an error."""
    from agent.workflow import result_record

    return result_record(task_id, {"status": "error", "message": message, "request": request})


def describe(exc: BaseException) -> tuple[str, int]:
    """(one-line message, exit status) for an exception that ended a command."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", 130
    if isinstance(exc, USAGE_ERRORS):
        return clean_line(str(exc), 1000), 2
    if isinstance(exc, FixbotError | SandboxError):
        return clean_line(str(exc), 1000), 1
    where = crash_log(exc)
    return clean_line(f"internal error ({type(exc).__name__}: {exc}); the traceback is in {where}", 1000), 1


def crash_log(exc: BaseException) -> str:
    """Append the traceback to fixbot's crash log (in its state directory) and return the log's path."""
    from agent.settings import state_dir

    path = state_dir() / "crash.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8", errors="replace") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            fh.write("".join(traceback.format_exception(exc)))
    except OSError:
        return "(the crash log could not be written)"
    return str(path)


def run_guarded(fn: Callable[[], dict[str, Any]], *, task_id: str,
                request: dict[str, Any] | None = None) -> Outcome:
    """Call fn; on any exception print one line to stderr and return an error record instead."""
    try:
        return Outcome(fn())
    except BaseException as exc:  # noqa: BLE001 - every way out ends in one line and a record
        if isinstance(exc, SystemExit | GeneratorExit):
            raise
        message, code = describe(exc)
        print(f"fixbot: {message}", file=sys.stderr)
        return Outcome(failure_record(task_id, message, request), message, code)


__all__ = ["Outcome", "crash_log", "describe", "failure_record", "run_guarded"]
