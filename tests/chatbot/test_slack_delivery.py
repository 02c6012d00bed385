"""Milestones reach the thread whatever Slack does meanwhile: refused uploads, 429s that outlast the client's
retries, failing edits, two replicas racing. Real Redis, the bot served on loopback, the emulator misbehaving
on purpose; the worker's side is played by the store's transitions and events (as in test_slack_decisions)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.chatbot.harness import (
    CHANNEL,
    REQUESTER,
    has_buttons,
    play_worker_to_proposal,
    proposal,
    proposal_messages,
    served_bot,
    start_task,
)

pytestmark = pytest.mark.redis
LONG_DIFF = "--- a/calc.py\n+++ b/calc.py\n@@ -1,80 +1,80 @@\n" + "".join(
    f"-x{i} = {i}\n+x{i} = {i + 1}\n" for i in range(80))


def thread_texts(bot, thread):
    return [json.dumps(m["blocks"]) for m in bot.emu.messages(CHANNEL, thread_ts=thread) if m["ts"] != thread]


def count(bot, thread, marker):
    return len([t for t in thread_texts(bot, thread) if marker in t])


async def test_a_refused_upload_still_posts_the_proposal_with_its_buttons(bot):
    """Review finding 3: the upload of a long diff failed and the proposal (the only way to approve) was lost."""
    task_id, thread = await start_task(bot)
    bot.emu.fail("files.getUploadURLExternal", error="internal_error", times=10)
    await asyncio.to_thread(play_worker_to_proposal, bot.deps, task_id, proposal(diff=LONG_DIFF))
    message = (await bot.emu.wait_for(lambda: proposal_messages(bot.emu, thread), what="the proposal"))[0]
    assert has_buttons(message)
    text = json.dumps(message["blocks"])
    assert "Slack refused the file" in text and "internal_error" in text and "-x0 = 0" in text
    assert not [f for f in bot.emu.files.values() if f["shared"]]


async def test_a_reply_refused_by_a_long_429_storm_is_posted_later_once_and_in_order(emulator, redis_conn):
    """Review finding 3: 429s that outlasted SLACK_RATE_LIMIT_RETRIES lost "Bug reproduced" (acknowledged anyway)."""
    async with served_bot(emulator, slack_rate_limit_retries=0) as bot:
        task_id, thread = await start_task(bot)
        await bot.emu.wait_for(lambda: bot.emu.calls_to("chat.update"), what="the first status edit")
        bot.emu.fail("chat.postMessage", error="ratelimited", times=2, retry_after=1)
        await asyncio.to_thread(play_worker_to_proposal, bot.deps, task_id)
        await bot.emu.wait_for(lambda: proposal_messages(bot.emu, thread), timeout=20, what="the proposal")
        texts = thread_texts(bot, thread)
        reproduced = [i for i, t in enumerate(texts) if "Reproduced:" in t]
        proposed = [i for i, t in enumerate(texts) if ":bulb: *Patch proposed*" in t]
        assert len(reproduced) == 1 and len(proposed) == 1 and reproduced[0] < proposed[0], texts
        assert len([c for c in bot.emu.calls_to("chat.postMessage") if c.status == 429]) == 2


async def test_status_edits_refused_by_a_storm_end_showing_the_last_state(emulator, redis_conn):
    """Review finding 3: chat.update refused past the retries left the status at "patch proposed" after a cancel."""
    async with served_bot(emulator, slack_rate_limit_retries=0) as bot:
        task_id, thread = await start_task(bot)
        await asyncio.to_thread(play_worker_to_proposal, bot.deps, task_id)
        await bot.emu.wait_for(lambda: "awaiting approval" in json.dumps(bot.emu.message(CHANNEL, thread)["blocks"]),
                               what="the status at the proposal")
        bot.emu.fail("chat.update", error="ratelimited", times=3, retry_after=1)
        bot.deps.service.cancel(task_id, by=REQUESTER)
        await bot.emu.wait_for(lambda: ":octagonal_sign: cancelled" in json.dumps(
            bot.emu.message(CHANNEL, thread)["blocks"]), timeout=20, what="the status message to say cancelled")


async def test_cancelled_is_said_even_when_closing_the_proposal_fails(bot):
    """Review finding 3: closing the proposal's buttons ran first and its failure dropped "Task cancelled"."""
    task_id, thread = await start_task(bot)
    await asyncio.to_thread(play_worker_to_proposal, bot.deps, task_id)
    await bot.emu.wait_for(lambda: proposal_messages(bot.emu, thread), what="the proposal")
    bot.emu.fail("chat.update", error="cant_update_message", times=50)
    bot.deps.service.cancel(task_id, by=REQUESTER)
    await bot.emu.wait_for(lambda: count(bot, thread, "Cancelled by") == 1, what="the cancel reply")


async def test_two_replicas_post_one_tasks_events_in_order(bot):
    """Review finding 15: replica A posts "reproduced" slowly while replica B, woken by the next entry, posted the
    proposal first. Events of one task are now posted in their order, whichever replica reads them."""
    async with served_bot(bot.emu, consumer="replica-b"):
        task_id, thread = await start_task(bot)
        await bot.emu.wait_for(lambda: bot.emu.calls_to("chat.update"), what="the first status edit")
        bot.emu.slow("chat.postMessage", 1.5)  # the reproduced reply, on whichever replica reads it
        store, events = bot.deps.store, bot.deps.events
        store.transition(task_id, "running", expect={"queued"})
        events.emit(task_id, "reproduced", {"failing": ["tests/test_calc.py::test_refunds"], "message": "1 failed"})
        await asyncio.sleep(0.4)  # read by one replica, which is now posting it; the other waits on the stream
        data = proposal()
        store.transition(task_id, "awaiting_approval", expect={"running"},
                         fields={"result": data, "risk": data["risk"]})
        events.emit(task_id, "proposed", data)
        await bot.emu.wait_for(lambda: proposal_messages(bot.emu, thread), what="the proposal")
        texts = thread_texts(bot, thread)
        order = [("Reproduced:" in t, ":bulb: *Patch proposed*" in t) for t in texts]
        assert order.index((True, False)) < order.index((False, True)), texts
        await asyncio.sleep(0.5)
        assert count(bot, thread, "Reproduced:") == 1 and len(proposal_messages(bot.emu, thread)) == 1


async def test_the_notifier_recreates_its_group_after_redis_lost_its_data(bot):
    """Review finding 5: after a Redis restart without its data, every step failed with NOGROUP, forever."""
    await start_task(bot)
    await bot.emu.wait_for(lambda: bot.emu.calls_to("chat.update"), what="the first status edit")
    bot.deps.conn.flushdb()  # what a restart without persistence leaves: no stream, no group, no tasks
    await asyncio.sleep(0.3)
    task_id, thread = await start_task(bot)
    await bot.emu.wait_for(lambda: bot.emu.message(CHANNEL, thread)["edits"] >= 1, what="the new task's status edit")
    await asyncio.to_thread(play_worker_to_proposal, bot.deps, task_id)
    await bot.emu.wait_for(lambda: proposal_messages(bot.emu, thread), what="its proposal")
    async with bot.http.get(f"{bot.url}/healthz") as resp:
        assert resp.status == 200 and (await resp.json())["notifier"] == "ok"


async def test_healthz_says_when_the_notifier_keeps_failing(bot):
    """Review finding 5: /healthz said ok while the notifier failed at every step."""
    from chatbot.server import NOTIFIER_KEY

    bot.app[NOTIFIER_KEY].unhealthy_after = 0.5
    stream = bot.deps.keys.all_events()
    bot.deps.conn.delete(stream)
    bot.deps.conn.set(stream, "not a stream")  # every read now fails (WRONGTYPE)

    async def health():
        async with bot.http.get(f"{bot.url}/healthz") as resp:
            return resp.status, await resp.json()

    for _ in range(100):
        status, data = await health()
        if "WRONGTYPE" in data.get("notifier", ""):
            break
        await asyncio.sleep(0.05)
    assert status == 503 and data["status"] == "notifier_failing" and data["redis"] == "ok", data
    assert data["notifier"].startswith("failing for") and "WRONGTYPE" not in data["notifier"]  # the why is in the log
    bot.deps.conn.delete(stream)  # repaired: the group is created again and the replica is healthy
    await bot.emu.wait_for(lambda: bot.app[NOTIFIER_KEY].health()["ok"], what="the notifier to recover")
    assert (await health())[0] == 200
