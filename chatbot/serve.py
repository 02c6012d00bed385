"""`fixbot serve [--socket-mode]`: the bot process (HTTP server, notifier, optional Socket Mode connection).

Startup problems are one line (no traceback): a missing Slack secret or a port in use stop it; Redis
not answering does not (the bot serves, says so in one log line, and /healthz reports it).

Thin: build the pieces (chatbot.slack.app, chatbot.server), start them, wait for SIGINT/SIGTERM,
stop them. Several replicas may run at once (the notifier's consumer group and the store's atomic
transitions make that safe). In Socket Mode, Slack's requests come over a WebSocket opened with
SLACK_APP_TOKEN (no public URL needed; bolt's AsyncSocketModeHandler, aiohttp) and the HTTP server
keeps only /healthz.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from agent.settings import Settings
from agent.tasks.exceptions import StoreUnavailable
from chatbot.exceptions import ServeError, SlackSetupError
from chatbot.server import create_app
from chatbot.slack.access import Access
from chatbot.slack.app import build_bolt_app
from chatbot.slack.context import SlackDeps

SOCKET_PING_INTERVAL = 10.0
log = logging.getLogger("chatbot.serve")


async def serve(settings: Settings, *, socket_mode: bool = False, host: str | None = None, port: int | None = None,
                stopping: asyncio.Event | None = None, started: asyncio.Event | None = None) -> None:
    """Run the bot until `stopping` is set (or a SIGINT/SIGTERM when it is not given)."""
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if socket_mode and not app_token:
        raise SlackSetupError("--socket-mode needs SLACK_APP_TOKEN (an app-level token, xapp-..., "
                              "with the connections:write scope)")
    deps = SlackDeps.from_settings(settings, Access(settings))
    bolt_app = build_bolt_app(settings, deps, socket_mode=socket_mode)
    runner = web.AppRunner(create_app(settings, bolt_app=bolt_app, deps=deps, http_events=not socket_mode),
                           access_log=None)
    own_stop = stopping is None
    stopping = stopping or asyncio.Event()
    if own_stop:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
    handler: AsyncSocketModeHandler | None = None
    await runner.setup()
    try:
        host, port = host or settings.api_host, settings.api_port if port is None else port
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): another process may use that "
                             "port; choose another with --port or API_PORT") from None
        await _say_if_redis_is_down(deps)
        where = ", ".join(str(s.getsockname()[:2]) for s in site._server.sockets)  # type: ignore[union-attr]
        if socket_mode:
            # slack_sdk >= 3.48 reopens a closed aiohttp session itself, in connect() and in its session monitor
            # (python-slack-sdk #1922), so no guard of ours runs beside it (tests/chatbot/test_slack_socket_mode).
            handler = AsyncSocketModeHandler(bolt_app, app_token=app_token, web_client=bolt_app.client,
                                             ping_interval=SOCKET_PING_INTERVAL)
            if not await _until_stopped(handler.connect_async(), stopping):
                return  # stopped while slack_sdk was still trying to connect (it retries for as long as it takes)
            log.info("fixbot serving Slack over Socket Mode; /healthz on %s", where)
        else:
            log.info("fixbot serving Slack at /slack/events and /healthz on %s", where)
        if started is not None:
            started.set()
        await stopping.wait()
    finally:
        if handler is not None:
            with contextlib.suppress(Exception):
                await handler.close_async()
        await runner.cleanup()  # closes the Web API client's session too (chatbot.server)
        log.info("fixbot stopped")



async def _until_stopped(work: Coroutine[Any, Any, Any], stopping: asyncio.Event) -> bool:
    """Run `work` unless `stopping` is set first (then cancel it): True when it finished. Its errors propagate."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:  # also when serve() itself is cancelled: nothing keeps connecting behind it
        stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # its CancelledError stays in the task; ours (if any) propagates
    if task.cancelled():
        return False
    task.result()
    return True


async def _say_if_redis_is_down(deps: SlackDeps) -> None:
    """One line when Redis does not answer at start. The bot serves anyway (unlike `fixbot worker`): Slack's
    requests are answered with a clear line meanwhile, /healthz says 503, and the notifier starts when it answers."""
    def ping() -> None:
        from agent.tasks.store import reachable

        with reachable(deps.conn):
            deps.conn.ping()

    try:
        await deps.call(ping)
    except StoreUnavailable as exc:
        log.warning("%s; serving anyway: requests get a 'try again' answer and /healthz says 503 until it answers",
                    exc)
