"""The graph's checkpointer: a SQLite file on one host (CHECKPOINT_DB), PostgreSQL for many (CHECKPOINT_URL).

A task paused for approval on one worker resumes on any other that shares the checkpointer, so
workers on several hosts need CHECKPOINT_URL=postgresql://... (langgraph-checkpoint-postgres'
AsyncPostgresSaver; its tables are created on first use by `setup()`, which is idempotent).

`fenced(saver, check)` makes every checkpoint write ask first whether the job still owns its task, so
a job that was paused past its lease and replaced never writes into the thread its successor continues.
`delete_threads` is the retention of checkpoints: the workers delete a task's thread once it ended.
"""

from __future__ import annotations

import asyncio
import functools
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent.exceptions import CheckpointUnavailable, ConfigError
from agent.settings import Settings

_READY: set[str] = set()  # Postgres URLs whose tables this process already set up
SQLITE_BUSY_WAIT = 30.0  # seconds a SQLite checkpoint file may stay locked by another process before we give up
WRITES = ("aput", "aput_writes", "put", "put_writes")  # every way LangGraph stores a checkpoint or a write


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[Any]:
    """An async LangGraph checkpointer for the configured store, closed on exit.

    Raises ConfigError for a CHECKPOINT_URL that is no PostgreSQL URL, and CheckpointUnavailable (one line,
    no password) when the PostgreSQL server cannot be reached or drops the connection while in use, or
    when the SQLite file stays locked by another process (SQLITE_BUSY_WAIT s while setting it up): an
    outage the task waits out (agent.jobs), not a reason to fail it.
    """
    url = settings.checkpoint_url.get_secret_value() if settings.checkpoint_url else ""
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("CHECKPOINT_URL must be a postgresql:// URL (or unset for the SQLite file)")
        import psycopg
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        try:
            async with AsyncPostgresSaver.from_conn_string(url) as saver:
                if url not in _READY:
                    await saver.setup()
                    _READY.add(url)
                yield saver
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise CheckpointUnavailable(f"cannot reach the checkpoint database (CHECKPOINT_URL): {first}") from None
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    db = Path(settings.checkpoint_db).expanduser()
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
            await _sqlite_setup(saver)
            yield saver
    except sqlite3.OperationalError as exc:
        if not _busy(exc):
            raise
        raise CheckpointUnavailable(f"the checkpoint file {db} stayed locked by another process for too long "
                                    f"({exc})") from None


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


async def _sqlite_setup(saver: Any) -> None:
    """The saver's `setup()` (tables, WAL mode) now, retried while another process holds the file's lock.

    Switching a new file to WAL needs the file to itself, and SQLite's busy timeout does not cover that:
    two workers starting their first tasks at once would otherwise fail one ("database is locked").
    """
    deadline = time.monotonic() + SQLITE_BUSY_WAIT
    while True:
        try:
            await saver.setup()
            return
        except sqlite3.OperationalError as exc:
            if not _busy(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1 + random.random() * 0.2)


async def check_checkpointer(settings: Settings) -> None:
    """Open (and close) the configured checkpointer once: a worker says at start what is wrong with it."""
    async with open_checkpointer(settings):
        pass


def fenced(saver: Any, check: Callable[[], None]) -> Any:
    """`saver` with `check()` called before each checkpoint and write it stores; returns the same saver.

    `check` raises (agent.tasks.exceptions.Superseded) when the job no longer owns its task; LangGraph then
    stops the run with nothing written: neither the node's result nor its `__error__`. The saver's class
    and every other method stay as they are (the instance's write methods are wrapped).
    """
    for name in WRITES:
        inner = getattr(saver, name)
        if name.startswith("a"):
            async def guarded(*args: Any, _inner: Any = inner, **kwargs: Any) -> Any:
                check()
                return await _inner(*args, **kwargs)
        else:
            def guarded(*args: Any, _inner: Any = inner, **kwargs: Any) -> Any:  # type: ignore[misc]
                check()
                return _inner(*args, **kwargs)
        setattr(saver, name, functools.wraps(inner)(guarded))
    return saver


async def delete_threads(settings: Settings, thread_ids: Iterable[str]) -> list[str]:
    """Delete the checkpoints and writes of these threads (both savers' `adelete_thread`); returns the ids."""
    done = []
    async with open_checkpointer(settings) as saver:
        for thread_id in thread_ids:
            await saver.adelete_thread(thread_id)
            done.append(thread_id)
    return done
