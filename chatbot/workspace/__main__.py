"""Run the Slack emulator on its own: `python -m chatbot.workspace [--port N] [--user U1 ...]`.

Prints one JSON line {"url": SLACK_API_URL, "base": ..., "bot_token": ..., "app_token": ...} once it
listens, then serves until SIGINT/SIGTERM. The call log is at GET <base>/_emulator/calls?since=N.
Used by bench/slack.py so the load generator does not share a process with the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from chatbot.workspace.emulator import SlackEmulator


async def main(args: argparse.Namespace) -> None:
    emu = SlackEmulator()
    await emu.start(port=args.port)
    for user in args.user:
        emu.add_user(user, user.lower())
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    print(json.dumps({"url": emu.url, "base": emu.base, "bot_token": emu.bot_token, "app_token": emu.app_token}),
          flush=True)
    await stopping.wait()
    await emu.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Slack Web API and Socket Mode emulator on loopback")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--user", action="append", default=[], help="a member of the workspace (repeatable)")
    asyncio.run(main(parser.parse_args()))
