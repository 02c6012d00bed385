"""The `fixbot` command: subcommands are registered by the modules of this package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent.exceptions import FixbotError


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand attached."""
    from agent.cli import fix_cmd, sandbox_cmd, task_cmd, worker_cmd

    parser = argparse.ArgumentParser(prog="fixbot", description="Reproduce a bug, find a patch, prove it.")
    sub = parser.add_subparsers(dest="command", required=True)
    fix_cmd.register(sub)
    sandbox_cmd.register(sub)
    task_cmd.register(sub)
    worker_cmd.register(sub)
    from chatbot.cli import register as register_serve  # `serve`; slack_bolt is imported only when it runs

    register_serve(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; users see one-line errors, never tracebacks."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FixbotError as exc:
        print(f"fixbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fixbot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
