"""`fixbot serve`: registered by agent.cli without importing slack_bolt until the command runs."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any


def register(sub: Any) -> None:
    """Add the `serve` subcommand."""
    parser = sub.add_parser("serve", help="run the Slack bot (HTTP /slack/events, or --socket-mode)",
                            description="Run the Slack bot: Bolt app, notifier and /healthz. Slack settings come "
                                        "from SLACK_* (see README, 'Slack app').")
    parser.add_argument("--socket-mode", action="store_true",
                        help="receive Slack's requests over Socket Mode (SLACK_APP_TOKEN; no public URL needed)")
    parser.add_argument("--host", help="address to listen on (default API_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (default API_PORT; 0 picks a free one)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the bot; returns when it is stopped (SIGINT/SIGTERM)."""
    from agent.settings import get_settings
    from chatbot.logs import setup_logging
    from chatbot.serve import serve

    settings = get_settings()
    setup_logging(settings, getattr(logging, args.log_level))
    asyncio.run(serve(settings, socket_mode=args.socket_mode, host=args.host, port=args.port))
    return 0
