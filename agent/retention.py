"""Retention of checkpoints: the LangGraph thread of a task is deleted once the task ended and nothing needs it.

A task's thread (thread id = task id, in the SQLite file CHECKPOINT_DB or the PostgreSQL database
CHECKPOINT_URL) holds the issue text, the patches and the test output, so it must not outlive the task.
When a task reaches a terminal status the store adds its id to the `ended` index (agent.tasks.store) and
its record expires after TASK_RETENTION_DAYS. The workers' watchdog calls `sweep_threads` on every
pass: the thread of an ended task is deleted (both savers' `adelete_thread`: checkpoints, blobs and
writes) once

- the task ended at least `grace` seconds ago (a cancelled job's work horse has been stopped by then), and
- rq will not run the task's job any more (a rejected task's resume job still ends its graph; its
  thread goes when that job is over),

or at once when the task's record is gone already (expired, or deleted by hand). The id then leaves the
index. Threads of `fixbot fix` runs (no task record, no `ended` entry) are never touched: `--resume`
needs them. With the SQLite saver every host has its own file, so workers that share a Redis must also
share the checkpoints (one host, or CHECKPOINT_URL), as for resuming after approval.

When the checkpoint database cannot be reached, the sweep logs one warning, leaves the index as it is and
tries again RETRY_AFTER seconds later; it never raises into the watchdog (whose other checks go on).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from agent.settings import Settings
from agent.tasks.exceptions import TaskNotFound

THREAD_SWEEP = 50  # threads one pass deletes at most (the rest wait for the next pass)
RETRY_AFTER = 60.0  # seconds before trying again after the checkpoint database failed
log = logging.getLogger("fixbot.retention")
_paused_until = 0.0  # monotonic time before which this process does not try again after a failure


def sweep_threads(svc: Any, settings: Settings, *, grace: float, limit: int = THREAD_SWEEP) -> list[str]:
    """Delete the checkpoint threads of ended tasks that nothing needs any more; returns the task ids done.

    `svc` is the worker's TaskService (its store and Redis connection), `grace` seconds since the task
    ended, `limit` ids per call. Never raises: a failure is logged and the ids stay for a later pass.
    """
    global _paused_until
    if time.monotonic() < _paused_until:
        return []
    try:
        due = [task_id for task_id in svc.store.ended(before=time.time() - grace, limit=limit)
               if not _needed(svc, task_id)]
        if not due:
            return []
        from agent.checkpoints import delete_threads

        done = asyncio.run(delete_threads(settings, due))
        svc.store.forget_ended(done)
    except Exception as exc:  # noqa: BLE001 - housekeeping: never stop the watchdog's other checks
        _paused_until = time.monotonic() + RETRY_AFTER
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        log.warning("could not delete the checkpoints of ended tasks (trying again in %.0f s): %s", RETRY_AFTER,
                    first)
        return []
    if done:
        log.info("deleted the checkpoint threads of %d ended task(s)", len(done))
    return done


def _needed(svc: Any, task_id: str) -> bool:
    """Whether the thread of an ended task may still be read or written: its job is still queued or running."""
    from agent.worker import job_pending

    try:
        record = svc.store.get(task_id)
    except TaskNotFound:  # the record expired (or was deleted): nobody can act on the task any more
        return False
    return job_pending(svc.store.conn, record.get("job_id"))
