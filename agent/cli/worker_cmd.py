"""`fixbot worker [--pool N] [--queue NAME]`: rq workers for the task queue (see agent.worker)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from agent.settings import get_settings


def register(sub: Any) -> None:
    """Add the `worker` subcommand."""
    p = sub.add_parser("worker", help="run tasks from the queue (rq worker; the sandbox reaper runs at start)")
    p.add_argument("--pool", type=int, default=1, metavar="N",
                   help="N worker processes (rq's WorkerPool); WORKERS_PER_HOST defaults to N")
    p.add_argument("--queue", help="queue name (default: QUEUE_NAME)")
    p.add_argument("--burst", action="store_true", help="quit when the queue is empty")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the worker(s); returns when they stop."""
    from agent.worker import run_worker

    if args.pool < 1 or args.pool > 64:
        print("fixbot worker: --pool must be between 1 and 64")
        return 2
    settings = get_settings()
    if args.pool > 1 and "workers_per_host" not in settings.model_fields_set:
        # N workers share the host: each task's sandbox gets cores / N (agent.settings), unless the operator
        # said otherwise. Through the environment, so the pool's worker processes read the same.
        os.environ["WORKERS_PER_HOST"] = str(args.pool)
        get_settings.cache_clear()
        settings = get_settings()
    return run_worker(settings, queue=args.queue, pool=args.pool, burst=args.burst, logging_level=args.log_level)
