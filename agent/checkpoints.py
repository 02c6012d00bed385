"""The graph's checkpointer: a SQLite file on one host (CHECKPOINT_DB), PostgreSQL for many (CHECKPOINT_URL).

A task paused for approval on one worker resumes on any other that shares the checkpointer, so
workers on several hosts need CHECKPOINT_URL=postgresql://... (langgraph-checkpoint-postgres'
AsyncPostgresSaver; its tables are created on first use by `setup()`, which is idempotent).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent.exceptions import ConfigError
from agent.settings import Settings

_READY: set[str] = set()  # Postgres URLs whose tables this process already set up


@asynccontextmanager
async def open_checkpointer(settings: Settings) -> AsyncIterator[Any]:
    """An async LangGraph checkpointer for the configured store, closed on exit.

    Raises ConfigError with one line when the PostgreSQL server cannot be reached.
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
            raise ConfigError(f"cannot reach the checkpoint database (CHECKPOINT_URL): {first}") from None
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    db = Path(settings.checkpoint_db).expanduser()
    db.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
        yield saver
