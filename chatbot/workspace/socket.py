"""The Socket Mode side of the emulator: a WebSocket that sends envelopes and collects the acks.

Protocol as documented at docs.slack.dev/apis/events-api/using-socket-mode: the app calls
apps.connections.open with its xapp- token, connects to the returned wss URL, receives a
`hello`, then envelopes `{"envelope_id", "type", "payload", "accepts_response_payload",
"retry_attempt", "retry_reason"}`; it answers each with `{"envelope_id", "payload"?}`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from chatbot.workspace.emulator import SlackEmulator


class SocketModeEmulator:
    """WebSocket endpoint of the emulated workspace; `send()` pushes an envelope and returns its ack."""

    def __init__(self, emulator: SlackEmulator) -> None:
        self.emulator = emulator
        self.connections: list[web.WebSocketResponse] = []
        self.opened = 0  # connections accepted so far (reconnects count)
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def url(self) -> str:
        """The WebSocket URL apps.connections.open hands out."""
        return self.emulator.base.replace("http://", "ws://") + "/socket"

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Accept one app connection, greet it, and route acks to the waiting senders."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections.append(ws)
        self.opened += 1
        await ws.send_json({"type": "hello", "num_connections": len(self.connections),
                            "debug_info": {"host": "emulator", "approximate_connection_time": 3600},
                            "connection_info": {"app_id": "A0FIXBOT"}})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                waiter = self._acks.get(str(data.get("envelope_id")))
                if waiter is not None and not waiter.done():
                    waiter.set_result(data)
        finally:
            if ws in self.connections:
                self.connections.remove(ws)
        return ws

    async def wait_connected(self, *, timeout: float = 10.0, opened: int = 1) -> None:
        """Wait until an app holds an open connection and `opened` connections were made in all."""
        await self.emulator.wait_for(lambda: self.opened >= opened and any(not c.closed for c in self.connections),
                                     timeout=timeout, what=f"{opened} Socket Mode connection(s)")

    async def send(self, envelope_type: str, payload: dict[str, Any], *, retry_attempt: int = 0,
                   timeout: float = 5.0) -> dict[str, Any]:
        """Send one envelope (slash_commands, interactive, events_api) and return the app's ack."""
        await self.wait_connected(timeout=timeout)
        ws = next(c for c in reversed(self.connections) if not c.closed)
        envelope_id = str(uuid.uuid4())
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiter
        try:
            await ws.send_json({"envelope_id": envelope_id, "type": envelope_type, "payload": payload,
                                "accepts_response_payload": envelope_type != "events_api",
                                "retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt else ""})
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self._acks.pop(envelope_id, None)

    async def drop_all(self) -> None:
        """Close every connection from the server side (as Slack does on a refresh or an outage)."""
        for ws in list(self.connections):
            await ws.close()

    async def close_all(self) -> None:
        """Close every connection and forget waiting senders (on stop)."""
        await self.drop_all()
        for waiter in self._acks.values():
            waiter.cancel()
