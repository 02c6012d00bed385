"""`fixbot worker [--pool N] [--queue NAME]`: rq workers for the task queue (see agent.worker)."""

from __future__ import annotations

import argparse
from typing import Any

from agent.settings import get_settings


def register(sub: Any) -> None:
    """Add the `worker` subcommand."""
    p = sub.add_parser("worker", help="run tasks from the queue (rq worker; the sandbox reaper runs at start)")
    p.add_argument("--pool", type=int, default=1, metavar="N", help="N worker processes (rq's WorkerPool)")
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
    return run_worker(get_settings(), queue=args.queue, pool=args.pool, burst=args.burst,
                      logging_level=args.log_level)
