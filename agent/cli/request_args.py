"""The request's flags, shared by `fixbot fix` and `fixbot submit` (same flags, same defaults)."""

from __future__ import annotations

import argparse

from agent.request import DEFAULT_TEST_COMMAND, ENGINES


def add_request_arguments(p: argparse.ArgumentParser, *, required: bool) -> None:
    """--repo, --issue (required when `required`; `fix --resume` needs neither), --test, --branch, --setup,
    --hint (repeatable) and --engine."""
    p.add_argument("--repo", required=required,
                   help="repository URL, or a local path when ALLOW_LOCAL_REPOS allows it")
    p.add_argument("--issue", required=required, help="what is wrong, in words")
    p.add_argument("--test", default=DEFAULT_TEST_COMMAND,
                   help=f"test command, run only inside the sandbox (default: {DEFAULT_TEST_COMMAND})")
    p.add_argument("--branch", help="branch to fix (default: the repository's default branch)")
    p.add_argument("--setup", help="optional setup command run in the sandbox before the tests")
    p.add_argument("--hint", action="append", default=[], help="a file or directory to look at first")
    p.add_argument("--engine", choices=ENGINES, default=None, help="repair engine (default: search without an LLM)")
