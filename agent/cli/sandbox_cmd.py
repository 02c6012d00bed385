"""`fixbot sandbox ...`: build the image, run one command in a fresh sandbox, reap leftovers."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from agent.settings import get_settings
from agent.textsafe import clean_display
from sandbox import TreeTooLarge
from sandbox.image import build_image
from sandbox.oneshot import run_once
from sandbox.reaper import reap


def register(sub: Any) -> None:
    """Add the `sandbox` subcommand group."""
    p = sub.add_parser("sandbox", help="the Docker sandbox: build-image, run, reap")
    group = p.add_subparsers(dest="sandbox_command", required=True)

    b = group.add_parser("build-image", help="build the sandbox image (offline from Debian packages if needed)")
    b.add_argument("--name", help="image name (default: SANDBOX_IMAGE)")
    mode = b.add_mutually_exclusive_group()
    mode.add_argument("--offline", action="store_true", help="mmdebstrap + docker import, no registry")
    mode.add_argument("--online", action="store_true", help="Dockerfile on python:3.11-slim")
    b.set_defaults(func=cmd_build)

    r = group.add_parser("run", help="run one command in a fresh sandbox with the configured limits")
    r.add_argument("--workspace", type=Path, help="directory copied into /workspace")
    r.add_argument("--timeout", type=float, help="seconds (default: DOCKER_TIMEOUT)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.add_argument("--raw", action="store_true",
                   help="pass the command's output through untouched (terminal control sequences included)")
    r.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND...")
    r.set_defaults(func=cmd_run)

    k = group.add_parser("reap", help="remove containers and volumes left by killed runs")
    k.set_defaults(func=cmd_reap)


def cmd_build(args: argparse.Namespace) -> int:
    """Build the image and print its id."""
    name = args.name or get_settings().sandbox_image
    offline = True if args.offline else False if args.online else None
    image_id = build_image(name, offline=offline)
    print(f"built {name} ({image_id[:19]})")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the command; the exit status mirrors it (124 timeout, 137 OOM)."""
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("fixbot sandbox run: give a command after --", file=sys.stderr)
        return 2
    if args.workspace is not None and not args.workspace.is_dir():
        print(f"fixbot sandbox run: no directory {args.workspace}", file=sys.stderr)
        return 2
    config = get_settings().sandbox_config()
    try:
        result = run_once(command, config, workspace=args.workspace, timeout=args.timeout,
                          task_id=f"run-{uuid.uuid4().hex[:8]}")
    except TreeTooLarge as exc:
        raise TreeTooLarge(f"{exc} (the sandbox's workspace volume, SANDBOX_WORKSPACE_SIZE)") from None
    if args.json:
        print(json.dumps(result.to_dict()))  # JSON escapes every control character
    else:
        show = (lambda text: text) if args.raw else clean_display
        sys.stdout.write(show(result.stdout))
        sys.stderr.write(show(result.stderr))
        state = "timed out" if result.timed_out else "OOM-killed" if result.oom_killed else "finished"
        print(f"[fixbot] {state}: exit {result.exit_code} in {result.duration:.2f} s"
              + (f", {result.truncated} bytes of output cut" if result.truncated else ""), file=sys.stderr)
    if result.timed_out:
        return 124
    if result.oom_killed:
        return 137
    return result.exit_code if result.exit_code is not None else 1


def cmd_reap(args: argparse.Namespace) -> int:
    """Remove expired containers and volumes; print what went."""
    removed = reap()
    print(f"removed {len(removed)} container(s)/volume(s)" + (": " + ", ".join(removed) if removed else ""))
    return 0
