"""Socket Mode: `serve(socket_mode=True)` connects to the emulator's WebSocket, acks envelopes, handles them;
slack_sdk reopens a connection whose aiohttp session was closed (python-slack-sdk #1922, fixed in 3.48)."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.web.async_client import AsyncWebClient

from chatbot.serve import serve
from chatbot.workspace import payloads
from tests.chatbot.harness import CHANNEL, REQUESTER, bot_settings

pytestmark = pytest.mark.redis


@contextlib.asynccontextmanager
async def running(settings, **kw):
    stopping, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, port=0, host="127.0.0.1", stopping=stopping, started=started, **kw))
    await asyncio.wait_for(started.wait(), timeout=20)
    try:
        yield
    finally:
        stopping.set()
        await asyncio.wait_for(task, timeout=20)


async def test_envelopes_are_acked_and_handled(emulator, redis_conn):
    settings = bot_settings(emulator)
    async with running(settings, socket_mode=True):
        await emulator.socket.wait_connected()
        command = payloads.slash_command("help", user=REQUESTER, response_url=emulator.response_url("sm-help"))
        ack = await emulator.socket.send("slash_commands", command)
        assert set(ack) >= {"envelope_id"}
        await emulator.wait_for(lambda: [r for r in emulator.responses if r["key"] == "sm-help"], what="help")

        said = emulator.user_message(CHANNEL, REQUESTER, "<@UFIXBOT> list")
        mention = payloads.event_callback({**said, "type": "app_mention"}, event_id="EvSM1")
        first = await emulator.socket.send("events_api", mention)
        again = await emulator.socket.send("events_api", mention, retry_attempt=1)  # Slack's redelivery
        assert first["envelope_id"] != again["envelope_id"]
        await emulator.wait_for(lambda: emulator.messages(CHANNEL, thread_ts=said["ts"])[1:], what="a reply")
        await asyncio.sleep(0.5)
        assert len(emulator.calls_to("chat.postMessage")) == 1  # the redelivered event was not answered twice
    assert not emulator.socket.connections  # closed on stop


async def test_socket_mode_needs_the_app_token(emulator, redis_conn):
    from chatbot.exceptions import SlackSetupError

    settings = bot_settings(emulator, slack_app_token=None)
    with pytest.raises(SlackSetupError, match="SLACK_APP_TOKEN"):
        await serve(settings, socket_mode=True, port=0, stopping=asyncio.Event())


async def test_socket_mode_reconnects_after_its_session_was_closed(emulator):
    """python-slack-sdk #1922 (endless reconnects against a closed aiohttp session) is fixed in slack_sdk >= 3.48:
    its session monitor reconnects and connect() opens a new session. fixbot relies on that (no guard of its own),
    so this shows it with the client serve() uses, as serve() configures it (auto-reconnect on)."""
    web = AsyncWebClient(token=emulator.bot_token, base_url=emulator.url)
    client = SocketModeClient(app_token=emulator.app_token, web_client=web, ping_interval=0.2)
    acked: list[str] = []

    async def listener(sm_client, req):  # noqa: ANN001 - slack_sdk's listener signature
        from slack_sdk.socket_mode.response import SocketModeResponse

        acked.append(req.envelope_id)
        await sm_client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client.socket_mode_request_listeners.append(listener)
    await client.connect()
    try:
        await emulator.socket.wait_connected()
        await client.aiohttp_client_session.close()  # what #1922 describes: the shared session is gone
        await emulator.socket.drop_all()
        await emulator.socket.wait_connected(opened=2, timeout=10)
        ack = await emulator.socket.send("events_api", payloads.event_callback({"type": "app_mention"}))
        assert ack["envelope_id"] in acked
    finally:
        await client.close()
        await web.session.close() if web.session else None


def test_envelope_shape_matches_slack():
    body = json.loads(json.dumps(payloads.event_callback({"type": "app_mention"}, event_id="Ev1")))
    assert body["type"] == "event_callback" and body["event_id"] == "Ev1"


async def test_a_stop_while_slack_cannot_be_reached_ends_serve(emulator, redis_conn):
    """slack_sdk retries apps.connections.open for as long as it takes; SIGTERM (here: `stopping`) must not wait."""
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings = bot_settings(emulator, slack_api_url=f"http://127.0.0.1:{closed}/api/")
    stopping, started = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(settings, socket_mode=True, port=0, host="127.0.0.1", stopping=stopping,
                                     started=started))
    await asyncio.sleep(2)
    assert not task.done() and not started.is_set()  # still trying to connect
    stopping.set()
    await asyncio.wait_for(task, timeout=10)  # before the fix: still retrying a minute later
    assert task.exception() is None
