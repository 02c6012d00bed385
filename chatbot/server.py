"""The bot's HTTP server: `create_app(settings, ...)` → aiohttp Application with /slack/events and /healthz.

A thin edge (bolt-python's aiohttp adapter converts request and response): every Slack request
(slash commands, interactivity, events) goes to the one Bolt app, which verifies the signature.
/healthz says whether Redis answers, how many workers are alive and whether the notifier works (503
when Redis is unreachable or the notifier has been failing for a while). The notifier runs in the same
process, started and stopped with the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from agent.settings import Settings
from agent.tasks.exceptions import StoreUnavailable
from chatbot.slack.context import SlackDeps
from chatbot.slack.notifier import Notifier

log = logging.getLogger(__name__)
BOLT_KEY = web.AppKey("bolt", AsyncApp)
DEPS_KEY = web.AppKey("deps", SlackDeps)
NOTIFIER_KEY = web.AppKey("notifier", Notifier)
DOWN_LOGGED_KEY = web.AppKey("redis_down_logged", list)  # [monotonic time /healthz last logged Redis down]


def create_app(settings: Settings, *, bolt_app: AsyncApp, deps: SlackDeps, http_events: bool = True,
               notifier: bool = True) -> web.Application:
    """The application: POST /slack/events (unless Socket Mode serves Slack), GET /healthz, the notifier."""
    app = web.Application(client_max_size=1024 * 1024)
    app[BOLT_KEY] = bolt_app
    app[DEPS_KEY] = deps
    app[DOWN_LOGGED_KEY] = [-1e9]
    if http_events:
        app.router.add_post("/slack/events", _slack_events)
    app.router.add_get("/healthz", _healthz)
    app.on_startup.append(_open_session)
    app.on_startup.append(_learn_workspace)
    app.on_shutdown.append(_drain)
    app.on_cleanup.append(_close_session)  # after the notifier stops (cleanup_ctx runs first)
    if notifier:
        app[NOTIFIER_KEY] = Notifier(deps, bolt_app.client)
        app.cleanup_ctx.append(_run_notifier)
    return app


async def _slack_events(request: web.Request) -> web.Response:
    if not _signature_headers_readable(request):
        return web.Response(status=401, text="invalid request")
    bolt_app = request.app[BOLT_KEY]
    try:
        bolt_request = await to_bolt_request(request)  # parses the body (JSON, or a form with a JSON payload)
    except (ValueError, AttributeError, TypeError):  # not JSON, or JSON that is not an object: never Slack's
        return web.Response(status=400, text="malformed request body")
    return await to_aiohttp_response(await bolt_app.async_dispatch(bolt_request))


def _signature_headers_readable(request: web.Request) -> bool:
    """Whether the signature headers have Slack's shape (a decimal timestamp, "v0=<hex>"); slack_sdk's
    SignatureVerifier raises on a timestamp int() cannot read, which would be a 500 and a traceback."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    return (0 < len(timestamp) <= 12 and timestamp.isascii() and timestamp.isdigit()
            and signature.startswith("v0=") and len(signature) <= 200)


async def _healthz(request: web.Request) -> web.Response:
    deps = request.app[DEPS_KEY]
    notifier = request.app[NOTIFIER_KEY].health() if NOTIFIER_KEY in request.app else None
    try:
        stats = await deps.call(_health_figures, deps)
    except StoreUnavailable as exc:  # where Redis is (host, port, database) goes to the log, not to any caller
        if time.monotonic() - request.app[DOWN_LOGGED_KEY][0] > 60:  # probes come every few seconds: once a minute
            request.app[DOWN_LOGGED_KEY][0] = time.monotonic()
            log.warning("/healthz: %s", exc)
        return web.json_response({"status": "down", "redis": "unreachable"}, status=503)
    stats["status"] = "ok" if stats["workers_alive"] else "no_workers"
    if notifier is not None:
        failing = f"failing for {notifier['failing_for']:.0f} s (the bot's log says why)"
        stats["notifier"] = "ok" if notifier["ok"] else failing
        if not notifier["ok"]:  # Slack gets no updates from this replica: restart it, or look at its log
            stats["status"] = "notifier_failing"
            return web.json_response(stats, status=503)
    return web.json_response(stats)


def _health_figures(deps: SlackDeps) -> dict[str, Any]:
    from rq import Queue

    from agent.tasks.store import reachable

    with reachable(deps.conn):
        deps.conn.ping()
        depth = Queue(deps.settings.queue_name, connection=deps.conn).count
    return {"redis": "ok", "workers_alive": deps.store.workers_alive(), "queue_depth": depth}


async def _open_session(app: web.Application) -> None:
    """One aiohttp session for every Web API call of the process (the Bolt app's client, the per-request copies
    Bolt makes of it, the notifier, Socket Mode's connection requests): kept-alive connections instead of a
    session, a connection and a TLS handshake per call, which slack_sdk does when the client has none."""
    client = app[BOLT_KEY].client
    if client.session is None or client.session.closed:
        client.session = aiohttp.ClientSession()


async def _close_session(app: web.Application) -> None:
    session = app[BOLT_KEY].client.session
    if session is not None:
        await session.close()


async def _learn_workspace(app: web.Application) -> None:
    """auth.test once: checks the token early and gives the workspace URL for thread links."""
    deps, bolt_app = app[DEPS_KEY], app[BOLT_KEY]
    try:
        reply = await bolt_app.client.auth_test()
        deps.workspace_url = reply.get("url")
    except Exception as exc:  # noqa: BLE001 - links are optional; the bolt app reports auth errors per request
        log.warning("auth.test failed (%s): thread links are off until a restart", type(exc).__name__)


async def _drain(app: web.Application) -> None:
    """Finish the work listeners started after their acks (a /fix being posted, a click being applied)."""
    await app[DEPS_KEY].drain()


async def _run_notifier(app: web.Application) -> AsyncIterator[None]:
    stopping = asyncio.Event()
    task = asyncio.create_task(app[NOTIFIER_KEY].run(stopping), name="fixbot-notifier")
    yield
    stopping.set()
    with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
