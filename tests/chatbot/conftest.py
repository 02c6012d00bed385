"""Fixtures of the Slack face: the Web API emulator and the real bot served on loopback (see harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from chatbot.workspace.emulator import SlackEmulator
from tests.chatbot.harness import APPROVER, OTHER, REQUESTER, Bot, served_bot


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
    async with served_bot(emulator) as served:
        yield served


