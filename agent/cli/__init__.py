"""The `fixbot` command: subcommands are registered by the modules of this package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from agent.cli.errors import describe
from agent.settings import ENV_FILE_VARIABLE


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand attached."""
    from agent.cli import fix_cmd, sandbox_cmd, task_cmd, worker_cmd

    parser = argparse.ArgumentParser(prog="fixbot", description="Reproduce a bug, find a patch, prove it.")
    parser.add_argument("--env-file", metavar="FILE",
                        help=f"read settings from this env file too (also {ENV_FILE_VARIABLE}); the environment "
                             "wins, and no .env is ever read from the working directory")
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
    if args.env_file:
        os.environ[ENV_FILE_VARIABLE] = args.env_file
    try:
        return int(args.func(args) or 0)
    except BaseException as exc:  # noqa: BLE001 - one line for the person, never a traceback
        if isinstance(exc, SystemExit):
            raise
        message, code = describe(exc)
        print(f"fixbot: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
