"""One `docker exec` streamed with demux into capped buffers, under a host-side deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from docker.errors import APIError, DockerException

from sandbox.output import CappedOutput

# What the runtime prints (as the run's output, exit 126) when it cannot even start the process,
# e.g. because a fork bomb holds every pid of the container.
_START_FAILURES = (b"OCI runtime exec failed", b"unable to start container process", b"cannot exec in a stopped",
                   b"timeout: fork system call failed")


@dataclass
class RawRun:
    """The engine-level outcome of one exec, before the sandbox interprets it."""

    exit_code: int | None
    out: CappedOutput
    err: CappedOutput
    duration: float
    guard_fired: bool = False
    start_failed: bool = False
    error: str = ""


def stream_exec(api: Any, container_id: str, argv: list[str], *, user: str, workdir: str,
                env: Mapping[str, str] | None, cap: int, guard_after: float,
                on_guard: Callable[[], None]) -> RawRun:
    """Run argv in the container; if the stream outlives `guard_after` seconds, call on_guard (which
    kills the container, ending the stream). Memory stays bounded however much output arrives."""
    out, err = CappedOutput(cap // 2), CappedOutput(cap - cap // 2)
    fired = threading.Event()

    def guard() -> None:
        fired.set()
        on_guard()

    timer = threading.Timer(guard_after, guard)
    timer.daemon = True
    started = time.monotonic()
    try:
        exec_id = api.exec_create(container_id, argv, workdir=workdir, environment=dict(env or {}), user=user)["Id"]
        timer.start()
        for chunk_out, chunk_err in api.exec_start(exec_id, stream=True, demux=True):
            if chunk_out:
                out.write(chunk_out)
            if chunk_err:
                err.write(chunk_err)
        info = api.exec_inspect(exec_id)
    except (APIError, DockerException, OSError) as exc:
        # The container is gone (guard, OOM of PID 1) or the engine refused to start the process.
        return RawRun(None, out, err, time.monotonic() - started, fired.is_set(), start_failed=not fired.is_set(),
                      error=str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
    finally:
        timer.cancel()
    duration = time.monotonic() - started
    code = info.get("ExitCode")
    head = bytes(out.head[:300]) + bytes(err.head[:300])
    start_failed = code in (125, 126, 127, -1, None) and any(marker in head for marker in _START_FAILURES)
    return RawRun(code, out, err, duration, fired.is_set(), start_failed)
