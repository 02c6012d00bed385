"""`fixbot fix`: run the whole workflow in this process with live progress, no Redis needed."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from agent.cli.errors import failure_record, run_guarded
from agent.cli.request_args import add_request_arguments
from agent.request import FixRequest
from agent.settings import get_settings
from agent.tasks.store import new_task_id
from agent.textsafe import clean_display, clean_line


def register(sub: Any) -> None:
    """Add the `fix` subcommand."""
    p = sub.add_parser("fix", help="find and prove a patch for a failing test suite")
    add_request_arguments(p, required=False)
    p.add_argument("--json", metavar="FILE",
                   help="write the result record as JSON to FILE ('-': only JSON on stdout, the rest on stderr)")
    p.add_argument("--resume", metavar="TASK_ID", help="continue a task that was interrupted")
    p.add_argument("--task-id", help=argparse.SUPPRESS)
    p.set_defaults(func=run)


SHOWN_FAILED_PROOFS = 5  # candidates that pass the failing tests but break others: shown one by one up to this


class Progress:
    """An event sink drawing the current step, candidates tried and elapsed time.

    Every string in an event comes from the repository or the model: it is cleaned of control
    characters and drawn as plain Text, never parsed as console markup.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.step = "Starting"
        self.tried = 0
        self.total = 0
        self.failed_proofs = 0
        self.task_id = ""
        self.live: Live | None = None

    def emit(self, task_id: str, kind: str, data: dict[str, Any]) -> None:
        """Update the display from one workflow event."""
        self.task_id = task_id
        if kind == "phase":
            self.step = clean_line(data.get("text", data.get("phase", "")), 200)
        elif kind == "candidates":
            self.tried, self.total = int(data.get("tried", 0)), int(data.get("total", 0))
        elif kind == "reproduced":
            self._line(("reproduce", "bold"), ": ", clean_line(data.get("message", ""), 500))
            for name in list(data.get("failing", []))[:5]:
                self._line("  ", ("✗", "red"), " ", clean_line(name, 300))
        elif kind == "localized":
            for s in list(data.get("suspects", []))[:3]:
                where = f" in {clean_line(s['function'], 120)}" if s.get("function") else ""
                self._line(("localize", "bold"), f": {clean_line(s['path'], 200)}:{int(s['line'])}{where} "
                           f"(score {float(s['score']):.2f})")
        elif kind == "proof":
            if data.get("success"):
                self._line(("prove", "bold"), ": ", ("✓", "green"), " ", clean_line(data.get("candidate", ""), 300))
            else:
                self.failed_proofs += 1
                if self.failed_proofs <= SHOWN_FAILED_PROOFS:  # then only counted in the status line
                    self._line(("prove", "bold"), ": ", ("✗", "red"), " ", clean_line(data.get("candidate", ""), 300))
                if self.failed_proofs == SHOWN_FAILED_PROOFS:
                    self._line(("prove", "bold"), ": more candidates that fail the full check are only counted")
        if self.live is not None:
            self.live.update(self.render())

    def _line(self, *parts: str | tuple[str, str]) -> None:
        self.console.print(Text.assemble(*parts))

    def render(self) -> Text:
        """One status line."""
        elapsed = time.monotonic() - self.started
        counts = f" · {self.tried}/{self.total} candidates" if self.total else ""
        if self.failed_proofs > SHOWN_FAILED_PROOFS:
            counts += f" · {self.failed_proofs} failed the full check"
        return Text(f"⠿ {self.step}{counts} · {elapsed:5.1f} s", style="cyan")


def run(args: argparse.Namespace) -> int:
    """Run (or resume) one fix and print the outcome; exit 0 only when a patch was proven.

    Whatever goes wrong after the arguments are read, the person sees one line and `--json` still
    gets a result record (status "error"). With `--json -` stdout carries only that JSON.
    """
    json_only = args.json == "-"
    if args.json and not json_only:
        problem = _unwritable(Path(args.json))
        if problem:
            print(f"fixbot: cannot write the result to {clean_line(args.json, 200)}: {problem}", file=sys.stderr)
            return 2
    console = Console(stderr=True)
    task_id = args.resume or args.task_id or new_task_id()
    request = {"repo": args.repo, "issue": args.issue, "test_command": args.test, "branch": args.branch,
               "setup_command": args.setup, "hints": list(args.hint)}
    outcome = run_guarded(lambda: _run(args, console, task_id), task_id=task_id, request=request)
    record = outcome.record
    if outcome.error is None:
        show(record, Console(stderr=json_only, highlight=False))
    if args.json and not _write_json(args.json, record):
        return outcome.exit_code or 1
    return outcome.exit_code if outcome.error is not None else (0 if record["status"] == "fixed" else 1)


def _run(args: argparse.Namespace, console: Console, task_id: str) -> dict[str, Any]:
    from agent.workflow import resume_fix, run_fix  # here: the graph and the LLM client take seconds to import

    settings = get_settings()
    progress = Progress(console)
    engine = args.engine or ("auto" if settings.llm_configured else "search")
    if args.resume is None and (not args.repo or not args.issue):
        raise _usage("--repo and --issue are required (or --resume TASK_ID)")
    with Live(progress.render(), console=console, refresh_per_second=8, transient=True) as live:
        progress.live = live
        if args.resume:
            coro = resume_fix(args.resume, settings, events=progress)
        else:
            req = FixRequest(repo=args.repo, issue=args.issue, test_command=args.test, branch=args.branch,
                             setup_command=args.setup, hints=tuple(args.hint))
            coro = run_fix(req, settings, engine=engine, task_id=task_id, events=progress)
        return asyncio.run(coro)


def _usage(message: str) -> Exception:
    from agent.exceptions import InvalidRequest

    return InvalidRequest(message)


def _unwritable(path: Path) -> str | None:
    """Why the result file cannot be written (checked before the run, not after it), or None."""
    if path.is_dir():
        return "it is a folder"
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        return f"no folder {parent}"
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "permission denied"
    return None


def _write_json(target: str, record: dict[str, Any]) -> bool:
    """Write the record; False (after one line on stderr) when it could not be written."""
    text = json.dumps(record, indent=2, ensure_ascii=True) + "\n"  # control characters arrive escaped
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"fixbot: could not write {clean_line(target, 200)}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def show(record: dict[str, Any], console: Console) -> None:
    """The result for a person: status, analysis, the diff highlighted, the explanation (all text cleaned)."""
    status = clean_line(record["status"], 40)
    color = "green" if status == "fixed" else "yellow" if status in ("not_fixed", "no_failure") else "red"
    console.print(Text.assemble((status, f"bold {color}"), ": ", clean_display(record.get("message") or "")))
    if record.get("analysis"):
        console.print(Text.assemble(("analysis", "bold"), ": ", clean_display(record["analysis"])))
    baseline = record.get("baseline") or {}
    if baseline.get("outcomes_command"):
        console.print(Text.assemble(("outcomes from", "bold"), ": ", clean_line(baseline["outcomes_command"], 300),
                                    f" ({clean_line(baseline.get('runner') or 'no per-test outcomes', 40)})"))
    for key, label in (("flaky", "flaky, not evidence"), ("slow", "slow in the sandbox, passing with more time")):
        if baseline.get(key):
            console.print(Text.assemble((label, "bold"), ": ", ", ".join(clean_line(t, 200)
                                                                        for t in baseline[key][:5])))
    localization = record.get("localization") or {}
    if localization.get("degraded"):
        mode = clean_line(localization.get("mode") or "", 80)
        console.print(Text.assemble(("localization degraded", "bold yellow"), f" to {mode}: ",
                                    clean_display(localization.get("why") or "")))
    patch = record.get("final_patch")
    if patch:
        console.print(Panel(Syntax(clean_display(patch["diff"]), "diff", theme="ansi_dark",
                                   background_color="default"), title=Text(clean_line(patch["filename"], 200))))
        console.print(Text.assemble(("why", "bold"), ": ", clean_display(patch["explanation"])))
        risk = record.get("risk") or {}
        reasons = "; ".join(clean_line(r, 300) for r in risk.get("reasons", []))
        console.print(Text.assemble(("risk", "bold"), f": {clean_line(risk.get('level'), 20)} ({reasons})"))
    times = " · ".join(f"{clean_line(k, 40)} {float(v):.1f}s" for k, v in (record.get("phase_times") or {}).items())
    console.print(Text(f"task {record['task_id']} · {record['candidates_tried']} candidates tried · "
                       f"{record['elapsed']:.1f} s · {times}", style="dim"))


__all__ = ["failure_record", "register", "run", "show"]
