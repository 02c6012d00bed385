"""`fixbot submit | status | watch | approve | reject | cancel | tasks`: the CLI as a face of the task service.

Every command goes through agent.tasks.service (the same API as Slack and REST). Bad ids, illegal
transitions and an unreachable Redis end with one line on stderr and exit 1; bad input (a request, an
option, a setting such as a malformed REDIS_URL) with one line and exit 2 (agent.cli.errors.describe).

The CLI user is the operator: whoever can run `fixbot` with this REDIS_URL can read and write the task
store directly, so the task commands do not ask agent.tasks.policy (approvers, self-approval) as the
chat faces do; decisions are recorded as "cli:<login name>". An --idempotency-key is scoped to that
login name ("cli:<login>:<key>"): another operator's key never returns their task.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from functools import lru_cache
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agent.cli.request_args import add_request_arguments
from agent.request import FixRequest
from agent.settings import get_settings
from agent.tasks.service import TaskService
from agent.tasks.states import TERMINAL, TaskStatus
from agent.tasks.store import reachable
from agent.textsafe import clean_line

STOP_AT = {s.value for s in TERMINAL} | {TaskStatus.AWAITING_APPROVAL.value}
MAX_LIMIT = 200  # rows `fixbot tasks` shows at most (the store's page limit)


def register(sub: Any) -> None:
    """Add the task commands."""
    p = sub.add_parser("submit", help="queue a fix for the workers; prints the task id")
    add_request_arguments(p, required=True)
    p.add_argument("--idempotency-key", help="submitting the same request twice with one key (within 24 h) gives "
                                             "one task; another request with that key is refused")
    p.add_argument("--watch", action="store_true", help="then follow the task as `fixbot watch` does")
    p.set_defaults(func=_guard(cmd_submit))

    p = sub.add_parser("status", help="one task's status (or the service's figures without an id)")
    p.add_argument("task_id", nargs="?")
    p.add_argument("--json", action="store_true", help="print the record (or the figures) as JSON")
    p.set_defaults(func=_guard(cmd_status))

    p = sub.add_parser("watch", help="follow a task's events live until it waits for a decision or ends")
    p.add_argument("task_id")
    p.set_defaults(func=_guard(cmd_watch))

    p = sub.add_parser("approve", help="approve a proposed patch (it is then committed)")
    p.add_argument("task_id")
    p.set_defaults(func=_guard(cmd_approve))

    p = sub.add_parser("reject", help="reject a proposed patch; with --retry the repair goes on with your feedback")
    p.add_argument("task_id")
    p.add_argument("--feedback", help="what is wrong with the patch (optional; with --retry the repair takes it "
                                      "into account)")
    p.add_argument("--retry", action="store_true", help="look for another patch, taking the feedback into account")
    p.set_defaults(func=_guard(cmd_reject))

    p = sub.add_parser("cancel", help="cancel a queued, running or waiting task")
    p.add_argument("task_id")
    p.set_defaults(func=_guard(cmd_cancel))

    p = sub.add_parser("tasks", help="recent tasks with their status and age")
    p.add_argument("--status", choices=[s.value for s in TaskStatus])
    p.add_argument("--limit", type=int, default=20, help=f"rows, 1 to {MAX_LIMIT} (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_guard(cmd_tasks))


def _guard(fn: Any) -> Any:
    """The command with Redis connection failures from outside the store's own guard (rq calls) turned into the
    store's one line (agent.tasks.store.reachable)."""

    def wrapped(args: argparse.Namespace) -> int:
        with reachable(_service().store.conn):
            return int(fn(args))

    return wrapped


@lru_cache(maxsize=1)
def _service() -> TaskService:
    return TaskService.from_settings(get_settings())


def _me() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in this environment
        return "cli"


def cmd_submit(args: argparse.Namespace) -> int:
    """Validate and queue; print the task id (stdout) and what to do next (stderr)."""
    req = FixRequest(repo=args.repo, issue=args.issue, test_command=args.test, branch=args.branch,
                     setup_command=args.setup, hints=tuple(args.hint))
    me = _me()
    key = f"{me}:{args.idempotency_key}" if args.idempotency_key else None
    record, created = _service().submit(req, {"kind": "cli", "user": me}, engine=args.engine, idempotency_key=key)
    print(record["id"])
    note = "queued" if created else f"already submitted with this idempotency key ({record['status']})"
    print(f"[fixbot] {record['id']} {note}; follow it with `fixbot watch {record['id']}`", file=sys.stderr)
    if args.watch:
        return watch(record["id"])
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """A task's record in words (or JSON); without an id, the dashboard figures."""
    svc = _service()
    if not args.task_id:
        stats = svc.store.stats()
        if args.json:
            print(json.dumps(stats, indent=2))
            return 0
        counts = ", ".join(f"{k} {v}" for k, v in stats["by_status"].items() if v) or "no tasks"
        print(f"workers alive: {stats['workers_alive']} · queued jobs: {stats['queue_depth']} · last 7 days: {counts}")
        if stats["success_rate"] is not None:
            print(f"patch proposed for {stats['success_rate']:.0%} of finished runs · median time to a patch "
                  f"{stats['median_time_to_fix']} s · tokens {stats['tokens']}")
        return 0
    record = svc.store.get(args.task_id)
    if args.json:
        print(json.dumps(record, indent=2))
        return 0
    print(describe(record))
    return 0


def describe(record: dict[str, Any], *, reason: bool = True) -> str:
    """A few lines for a person: status, why (unless `reason` is False: the result said it already), progress,
    decision, publication (untrusted text cleaned)."""
    c = clean_line
    lines = [f"{c(record['id'], 80)}: {c(record['status'], 40)} · {c(record['request']['repo'], 200)} · created "
             f"{age(record['created_at'])} ago by {c(record['origin'].get('user', '?'), 80)}"]
    if reason and record.get("reason"):
        lines.append(f"  reason: {c(record['reason'], 1000)}")
    progress = record.get("progress") or {}
    if record["status"] in ("queued", "running", "publishing"):
        lines.append(f"  progress: {c(progress.get('text') or progress.get('phase'), 300)} · "
                     f"{int(progress.get('candidates_tried') or 0)} candidates tried")
    result = record.get("result") or {}
    patch = result.get("final_patch") or {}
    if patch:
        lines.append(f"  patch: {c(patch.get('filename'), 200)} · risk {c((record.get('risk') or {}).get('level'), 20)}"
                     f" · {c(patch.get('explanation', ''), 1000)}")
    decision = record.get("decision")
    if decision:
        said = f" ({c(decision['feedback'], 500)})" if decision.get("feedback") else ""
        lines.append(f"  decision: {c(decision['action'], 20)} by {c(decision['by'], 80)} {age(decision['at'])} "
                     f"ago{said}")
    publication = record.get("publication")
    if publication:
        lines.append(f"  committed {c(publication['commit'], 12)[:12]} for branch {c(publication['branch'], 200)}"
                     f" (`fixbot status {c(record['id'], 80)} --json` has the format-patch)")
    if record["status"] == TaskStatus.AWAITING_APPROVAL:
        lines.append(f"  decide: fixbot approve {record['id']} | fixbot reject {record['id']} [--feedback TEXT] "
                     "[--retry]")
    return "\n".join(lines)


def age(at: float | None) -> str:
    """Seconds since `at` as "42s", "5m", "3h", "2d"."""
    if not at:
        return "?"
    seconds = max(0, time.time() - at)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def cmd_watch(args: argparse.Namespace) -> int:
    """Follow one task."""
    return watch(args.task_id)


def watch(task_id: str) -> int:
    """Replay the task's events, then follow them live; exit 0 when a patch waits or is published."""
    from agent.cli.fix_cmd import Progress, show

    svc = _service()
    record = svc.store.get(task_id)
    console = Console(stderr=True)
    progress = Progress(console)
    after = "0-0"
    with Live(progress.render(), console=console, refresh_per_second=8, transient=True) as live:
        progress.live = live
        while True:
            for event in svc.events.follow(task_id, after, block_ms=1000):
                after = event["id"]
                progress.emit(task_id, event["kind"], event["data"])
                line = service_line(event)
                if line:
                    console.print(line)
            live.update(progress.render())
            record = svc.store.get(task_id)
            if record["status"] in STOP_AT and not svc.events.follow(task_id, after, block_ms=1):
                break
    result = record.get("result")
    if result:
        show({**result, "task_id": task_id}, Console())
    print(describe(record, reason=not result or (result.get("message") or "") != (record.get("reason") or "")))
    return 0 if record["status"] in ("awaiting_approval", "approved", "publishing", "published") else 1


def service_line(event: dict[str, Any]) -> Text | None:
    """How `watch` shows the task-level events (the workflow's own are drawn by fix's Progress); never markup."""
    kind, data = event["kind"], event["data"]
    c = clean_line
    if kind == "queued":
        return Text.assemble(("queued", "bold"), f" (engine {c(data.get('engine'), 20)}, "
                                                 f"position {c(data.get('position', '?'), 10)} in the queue)")
    if kind == "started":
        return Text.assemble(("started", "bold"), " on a worker" + (" (rerun from its checkpoint)"
                                                                     if data.get("rerun") else ""))
    if kind == "requeued":
        return Text.assemble(("requeued", "yellow"), ": ", c(data.get("reason"), 500))
    if kind == "approval_needed":
        risk = c((data.get("risk") or {}).get("level", "?"), 20)
        return Text.assemble(("patch proposed", "bold green"), f" (risk {risk}): waiting for a decision")
    if kind == "decision":
        said = f": {c(data['feedback'], 500)}" if data.get("feedback") else ""
        return Text.assemble(("decision", "bold"), f": {c(data.get('action'), 20)} by {c(data.get('by'), 80)}{said}")
    if kind == "resumed":
        return Text.assemble(("resumed", "bold"), " with the decision")
    if kind == "published":
        return Text.assemble(("published", "bold green"), f": commit {c(data.get('commit', ''), 12)[:12]} for "
                                                          f"{c(data.get('branch'), 200)}")
    # failed, timed_out, not_fixed, no_failure: the summary `watch` prints at the end says it (once)
    if kind == "cancelled":
        return Text.assemble(("cancelled", "bold red"), f" by {c(data.get('by'), 80)}")
    return None


def cmd_approve(args: argparse.Namespace) -> int:
    """Approve; the workers commit the patch."""
    record = _service().approve(args.task_id, by=_me())
    print(f"{record['id']}: approved; a worker commits the patch now (`fixbot watch {record['id']}`)")
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    """Reject, or reject and look for another patch."""
    record = _service().reject(args.task_id, by=_me(), feedback=args.feedback, retry=args.retry)
    what = "queued again to look for another patch" if args.retry else "rejected"
    print(f"{record['id']}: {what}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a task (the worker stops it and removes its sandbox)."""
    record = _service().cancel(args.task_id, by=_me())
    print(f"{record['id']}: cancelled")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    """Recent tasks, newest first."""
    if not 1 <= args.limit <= MAX_LIMIT:
        print(f"fixbot tasks: --limit must be between 1 and {MAX_LIMIT}", file=sys.stderr)
        return 2
    page, _ = _service().store.recent(status=args.status, limit=args.limit)
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    if not page:
        print("no tasks")
        return 0
    table = Table(box=None, pad_edge=False)
    for column in ("task", "status", "age", "repository", "progress"):
        table.add_column(column)
    for r in page:
        progress = r.get("reason") or (r.get("progress") or {}).get("text") or ""
        table.add_row(Text(clean_line(r["id"], 80)), Text(clean_line(r["status"], 40)), age(r["created_at"]),
                      Text(clean_line(r["request"]["repo"], 200)[-50:]), Text(clean_line(progress, 60)))
    Console(soft_wrap=True).print(table)
    return 0
