"""`fixbot fix`: run the whole workflow in this process with live progress, no Redis needed."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from agent.request import FixRequest
from agent.settings import get_settings
from agent.workflow import ENGINES, resume_fix, run_fix


def register(sub: Any) -> None:
    """Add the `fix` subcommand."""
    p = sub.add_parser("fix", help="find and prove a patch for a failing test suite")
    p.add_argument("--repo", help="repository URL, or a local path when ALLOW_LOCAL_REPOS allows it")
    p.add_argument("--issue", help="what is wrong, in words")
    p.add_argument("--test", default="python3 -m pytest -q", help="test command, run only inside the sandbox")
    p.add_argument("--branch", help="branch to fix (default: the repository's default branch)")
    p.add_argument("--setup", help="optional setup command run in the sandbox before the tests")
    p.add_argument("--hint", action="append", default=[], help="a file or directory to look at first")
    p.add_argument("--engine", choices=ENGINES, default=None, help="repair engine (default: search without an LLM)")
    p.add_argument("--json", metavar="FILE", help="write the result record as JSON to FILE ('-' for stdout)")
    p.add_argument("--resume", metavar="TASK_ID", help="continue a task that was interrupted")
    p.add_argument("--task-id", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


class Progress:
    """An event sink drawing the current step, candidates tried and elapsed time."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.step = "Starting"
        self.tried = 0
        self.total = 0
        self.task_id = ""
        self.live: Live | None = None

    def emit(self, task_id: str, kind: str, data: dict[str, Any]) -> None:
        """Update the display from one workflow event."""
        self.task_id = task_id
        if kind == "phase":
            self.step = str(data.get("text", data.get("phase", "")))
        elif kind == "candidates":
            self.tried, self.total = int(data.get("tried", 0)), int(data.get("total", 0))
        elif kind == "reproduced":
            self.console.print(f"[bold]reproduce[/]: {data.get('message', '')}")
            for name in list(data.get("failing", []))[:5]:
                self.console.print(f"  [red]✗[/] {name}")
        elif kind == "localized":
            for s in list(data.get("suspects", []))[:3]:
                where = f" in {s['function']}" if s.get("function") else ""
                self.console.print(f"[bold]localize[/]: {s['path']}:{s['line']}{where} (score {s['score']:.2f})")
        elif kind == "proof":
            mark = "[green]✓[/]" if data.get("success") else "[red]✗[/]"
            self.console.print(f"[bold]prove[/]: {mark} {data.get('candidate', '')}")
        if self.live is not None:
            self.live.update(self.render())

    def render(self) -> Text:
        """One status line."""
        elapsed = time.monotonic() - self.started
        counts = f" · {self.tried}/{self.total} candidates" if self.total else ""
        return Text(f"⠿ {self.step}{counts} · {elapsed:5.1f} s", style="cyan")


def run(args: argparse.Namespace) -> int:
    """Run (or resume) one fix and print the outcome; exit 0 only when a patch was proven."""
    settings = get_settings()
    console = Console(stderr=True)
    progress = Progress(console)
    engine = args.engine or ("auto" if settings.llm_configured else "search")
    if args.resume is None and (not args.repo or not args.issue):
        console.print("fixbot fix: --repo and --issue are required (or --resume TASK_ID)")
        return 2
    with Live(progress.render(), console=console, refresh_per_second=8, transient=True) as live:
        progress.live = live
        if args.resume:
            coro = resume_fix(args.resume, settings, events=progress)
        else:
            req = FixRequest(repo=args.repo, issue=args.issue, test_command=args.test, branch=args.branch,
                             setup_command=args.setup, hints=tuple(args.hint))
            coro = run_fix(req, settings, engine=engine, task_id=args.task_id, events=progress)
        record = asyncio.run(coro)
    show(record, Console())
    if args.json:
        text = json.dumps(record, indent=2)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0 if record["status"] == "fixed" else 1


def show(record: dict[str, Any], console: Console) -> None:
    """The result for a person: status, analysis, the diff highlighted, the explanation."""
    status = record["status"]
    color = "green" if status == "fixed" else "yellow" if status in ("not_fixed", "no_failure") else "red"
    console.print(f"[bold {color}]{status}[/]: {record.get('message') or ''}")
    if record.get("analysis"):
        console.print(f"[bold]analysis[/]: {record['analysis']}")
    patch = record.get("final_patch")
    if patch:
        console.print(Panel(Syntax(patch["diff"], "diff", theme="ansi_dark", background_color="default"),
                            title=patch["filename"]))
        console.print(f"[bold]why[/]: {patch['explanation']}")
        risk = record.get("risk") or {}
        console.print(f"[bold]risk[/]: {risk.get('level')} ({'; '.join(risk.get('reasons', []))})")
    times = " · ".join(f"{k} {v:.1f}s" for k, v in (record.get("phase_times") or {}).items())
    console.print(f"[dim]task {record['task_id']} · {record['candidates_tried']} candidates tried · "
                  f"{record['elapsed']:.1f} s · {times}[/]")
