"""Fixtures of the Slack face: the Web API emulator and the real bot served on loopback (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from chatbot.workspace.emulator import SlackEmulator
from tests.chatbot.harness import APPROVER, OTHER, REQUESTER, Bot, bot_settings, serve_bot


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator()
    await emu.start()
    for user in (REQUESTER, APPROVER, OTHER):
        emu.add_user(user, user.lower())
    yield emu
    await emu.stop()


@pytest.fixture
async def bot(emulator: SlackEmulator, redis_conn: Any) -> AsyncIterator[Bot]:
    settings = bot_settings(emulator)
    server, deps = await serve_bot(emulator, settings)
    async with aiohttp.ClientSession() as http:
        yield Bot(str(server.make_url("")).rstrip("/"), settings, deps, emulator, http, server.app)
    await server.close()


