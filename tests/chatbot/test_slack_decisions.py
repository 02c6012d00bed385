"""Proposal, decisions and thread life over HTTP on loopback, with real Redis; the worker's side is played by
`play_worker_to_proposal` (the store transitions and events agent.jobs makes). The same flow with a real
worker process and Docker is in test_slack_flow.py."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from chatbot.slack import blocks as b
from chatbot.slack.surfaces import FEEDBACK_MODAL
from tests.chatbot.harness import (
    APPROVER,
    CHANNEL,
    OTHER,
    REQUESTER,
    has_buttons,
    play_worker_to_proposal,
    proposal,
    proposal_messages,
    served_bot,
    start_task,
)

pytestmark = pytest.mark.redis


async def proposed_task(bot, **kw):
    task_id, thread = await start_task(bot)
    await asyncio.to_thread(play_worker_to_proposal, bot.deps, task_id, kw.get("data"))
    msgs = await bot.emu.wait_for(lambda: proposal_messages(bot.emu, thread), what="the proposal")
    return task_id, thread, msgs[0]


def decision_events(bot, task_id):
    return [e for e in bot.deps.events.replay(task_id) if e["kind"] == "decision"]


async def test_progress_reproduction_and_proposal_reach_the_thread(bot):
    task_id, thread, message = await proposed_task(bot)
    assert has_buttons(message)
    replies = bot.emu.messages(CHANNEL, thread_ts=thread)
    text = json.dumps([m["blocks"] for m in replies])
    assert "Reproduced:" in text and "tests/test_calc.py::test_refunds" in text
    assert "removes a condition" in text
    code = [e["elements"][0]["text"] for blk in message["blocks"] if blk["type"] == "rich_text"
            for e in blk["elements"]]
    assert code and "-        if amount > 0:" in code[0]  # the diff is literal rich text, not escaped mrkdwn
    parent = bot.emu.message(CHANNEL, thread)
    await bot.emu.wait_for(lambda: "awaiting approval" in json.dumps(bot.emu.message(CHANNEL, thread)["blocks"]),
                           what="the status message to show the proposal")
    assert parent["edits"] >= 1


async def test_approve_replaces_the_buttons_and_a_second_click_changes_nothing(bot):
    task_id, thread, message = await proposed_task(bot)
    await bot.click(b.APPROVE, task_id, user=APPROVER, message_ts=message["ts"], key="approve-1")
    await bot.emu.wait_for(lambda: not has_buttons(bot.emu.message(CHANNEL, message["ts"])), what="buttons gone")
    assert f"Approved by <@{APPROVER}>" in json.dumps(bot.emu.message(CHANNEL, message["ts"])["blocks"])
    assert bot.deps.store.get(task_id)["status"] == "approved"
    await bot.emu.wait_for(lambda: "Publishing the patch" in json.dumps(bot.emu.messages(CHANNEL, thread_ts=thread)),
                           what="the decision reply")
    await bot.click(b.APPROVE, task_id, user=APPROVER, message_ts=message["ts"], key="approve-2")
    answer = await bot.wait_response("approve-2")
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "already approved by" in answer["text"] and f"<@{APPROVER}>" in answer["text"]
    assert len(decision_events(bot, task_id)) == 1


async def test_racing_double_click_decides_once(bot):
    task_id, _thread, message = await proposed_task(bot)
    await asyncio.gather(*(bot.click(b.APPROVE, task_id, user=APPROVER, message_ts=message["ts"], key=f"race-{i}")
                           for i in range(4)))
    await bot.emu.wait_for(lambda: len([r for r in bot.emu.responses if r["key"].startswith("race-")]) == 3,
                           what="three refusals")
    assert len(decision_events(bot, task_id)) == 1


async def test_unauthorized_approver_and_self_approval_are_refused(bot):
    task_id, _thread, message = await proposed_task(bot)
    await bot.click(b.APPROVE, task_id, user=OTHER, message_ts=message["ts"], key="other")
    assert "only approvers may approve" in (await bot.wait_response("other"))["text"]
    await bot.click(b.APPROVE, task_id, user=REQUESTER, message_ts=message["ts"], key="self")
    assert "only approvers" in (await bot.wait_response("self"))["text"]
    await bot.click(b.REJECT, task_id, user=OTHER, message_ts=message["ts"], key="other-reject")
    assert "only the requester or an approver" in (await bot.wait_response("other-reject"))["text"]
    assert bot.deps.store.get(task_id)["status"] == "awaiting_approval" and not decision_events(bot, task_id)


async def test_high_risk_needs_someone_else_even_with_self_approval(bot):
    bot.deps.access.self_approval = True
    bot.deps.access.static_approvers = {REQUESTER, APPROVER}
    task_id, _thread, message = await proposed_task(bot, data=proposal(level="high"))
    await bot.click(b.APPROVE, task_id, user=REQUESTER, message_ts=message["ts"], key="self-high")
    assert "high risk" in (await bot.wait_response("self-high"))["text"]
    await bot.click(b.APPROVE, task_id, user=APPROVER, message_ts=message["ts"], key="approver-high")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "approved", what="approval")


async def test_approvers_from_a_user_group(bot):
    bot.emu.usergroups["S0FIXERS"] = [OTHER]
    bot.deps.access.group = "S0FIXERS"
    task_id, _thread, message = await proposed_task(bot)
    await bot.click(b.APPROVE, task_id, user=OTHER, message_ts=message["ts"], key="group")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "approved", what="approval by group")
    assert bot.emu.calls_to("usergroups.users.list")[0].args["usergroup"] == "S0FIXERS"


async def test_reject_with_feedback_and_retry_then_a_stale_click(bot):
    task_id, thread, first = await proposed_task(bot)
    await bot.click(b.REJECT_FEEDBACK, task_id, user=REQUESTER, message_ts=first["ts"], key="fb")
    views = await bot.emu.wait_for(lambda: list(bot.emu.views.values()), what="the feedback modal")
    assert views[0]["callback_id"] == FEEDBACK_MODAL
    values = {"feedback": {"feedback": {"type": "plain_text_input", "value": "keep skipping zero amounts"}},
              "retry": {"retry": {"type": "checkboxes", "selected_options": [{"value": "retry"}]}}}
    status, _ = await bot.submit_view(FEEDBACK_MODAL, values, user=REQUESTER,
                                      private_metadata=views[0]["private_metadata"])
    assert status == 200
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "queued", what="back in the queue")
    task = bot.deps.store.get(task_id)
    assert task["decision"]["action"] == "retry" and task["decision"]["feedback"] == "keep skipping zero amounts"
    await bot.emu.wait_for(lambda: "Sent back by" in json.dumps(bot.emu.message(CHANNEL, first["ts"])["blocks"]),
                           what="the first proposal closed")
    # the worker proposes again: a second proposal message; the old message's buttons are stale
    await asyncio.to_thread(play_worker_to_proposal, bot.deps, task_id)
    await bot.emu.wait_for(lambda: len(proposal_messages(bot.emu, thread)) == 2, what="the second proposal")
    await bot.emu.wait_for(lambda: (bot.deps.conn.hget(bot.deps.keys.messages(task_id), "proposal") or b"").decode()
                           == proposal_messages(bot.emu, thread)[1]["ts"], what="the new proposal recorded")
    await bot.click(b.APPROVE, task_id, user=APPROVER, message_ts=first["ts"], key="stale")
    assert "replaced by a newer one" in (await bot.wait_response("stale"))["text"]
    assert bot.deps.store.get(task_id)["status"] == "awaiting_approval"


def offers_in(bot, thread):
    """The "Retry with this" offers in a thread (ephemeral, to the reply's author): [(message, its button)]."""
    return [({**m, "ts": f"1.{i:06d}"}, e) for i, m in enumerate(bot.emu.ephemeral) if m["thread_ts"] == thread
            for blk in m["blocks"] if blk.get("block_id") == "feedback_offer" for e in blk["elements"]]


async def reply_and_offer(bot, thread, text, *, user=REQUESTER, event_id=None):
    """A person replies in the thread; returns the message and button of the offer the bot makes of it."""
    before = len(offers_in(bot, thread))
    await bot.event(bot.emu.user_message(CHANNEL, user, text, thread_ts=thread), event_id=event_id)
    offers = await bot.emu.wait_for(lambda: offers_in(bot, thread)[before:], what="the feedback offer")
    return offers[0]


async def test_a_thread_reply_is_offered_as_feedback(bot):
    task_id, thread, _ = await proposed_task(bot)
    said = bot.emu.user_message(CHANNEL, REQUESTER, "please also handle None amounts", thread_ts=thread)
    await bot.event(said, event_id="EvReply1")
    await bot.event(said, event_id="EvReply1", retry_num=1)  # Slack's redelivery: offered once
    offers = await bot.emu.wait_for(lambda: offers_in(bot, thread), what="the feedback offer")
    await asyncio.sleep(0.3)
    assert len(offers_in(bot, thread)) == 1
    message, button = offers[0]
    await bot.click(button["action_id"], button["value"], user=REQUESTER, message_ts=message["ts"], key="offer")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "queued", what="retry with feedback")
    assert bot.deps.store.get(task_id)["decision"]["feedback"] == "please also handle None amounts"
    closed = await bot.wait_response("offer")  # the offer is replaced by what happened: no button left to click
    assert closed["replace_original"] is True and "Sent back with this feedback" in closed["text"]


async def test_the_offer_is_for_its_author_only_and_keeps_what_they_wrote(bot):
    """Review finding 13: the offer was a public message @-mentioning the author after every reply ("LGTM" too),
    and the model got Slack's markup (&lt; &amp; <@U...>) instead of the text."""
    task_id, thread, _ = await proposed_task(bot)
    before = len(bot.emu.messages(CHANNEL, thread_ts=thread))
    message, button = await reply_and_offer(bot, thread, "use &lt;= not &lt; &amp; ask <@U0APPROVE|ann> "
                                                         "<https://docs.python.org/3/|the docs>")
    assert message["user"] == REQUESTER and len(bot.emu.messages(CHANNEL, thread_ts=thread)) == before + 1  # the reply
    await bot.click(button["action_id"], button["value"], user=REQUESTER, message_ts=message["ts"], key="offer")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "queued", what="retry with feedback")
    assert bot.deps.store.get(task_id)["decision"]["feedback"] == "use <= not < & ask @ann https://docs.python.org/3/"


async def test_a_stale_retry_with_this_button_changes_nothing(bot):
    """Review finding 2: an offer made for proposal 1, clicked again once proposal 2 waits, sent proposal 2 back."""
    task_id, thread, _ = await proposed_task(bot)
    message, button = await reply_and_offer(bot, thread, "please also handle None amounts")
    await bot.click(button["action_id"], button["value"], user=REQUESTER, message_ts=message["ts"], key="first")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "queued", what="retry with feedback")
    await asyncio.to_thread(play_worker_to_proposal, bot.deps, task_id)
    await bot.emu.wait_for(lambda: len(proposal_messages(bot.emu, thread)) == 2, what="the second proposal")
    await bot.emu.wait_for(lambda: (bot.deps.conn.hget(bot.deps.keys.messages(task_id), "proposal") or b"").decode()
                           == proposal_messages(bot.emu, thread)[1]["ts"], what="the new proposal recorded")
    await bot.click(button["action_id"], button["value"], user=REQUESTER, message_ts=message["ts"], key="stale")
    assert "replaced by a newer one" in (await bot.wait_response("stale"))["text"]
    assert bot.deps.store.get(task_id)["status"] == "awaiting_approval"
    assert [e["data"]["action"] for e in decision_events(bot, task_id)] == ["retry"]
    # a reply to the second proposal is a fresh offer, and it works
    message, button = await reply_and_offer(bot, thread, "round half up")
    await bot.click(button["action_id"], button["value"], user=REQUESTER, message_ts=message["ts"], key="fresh")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "queued", what="the second retry")
    assert bot.deps.store.get(task_id)["decision"]["feedback"] == "round half up"


async def test_a_long_reply_full_of_quotes_is_offered_whole(bot):
    """Review finding 7: 1,500 characters counted before JSON escaping pushed the button value past Slack's 2,000
    (quotes, backslashes, newlines) and no offer was made."""
    task_id, thread, _ = await proposed_task(bot)
    text = ('the fixture: {"path": "C:\\\\tmp\\\\x", "n": "\\"q\\""}\n' * 70).strip()  # JSON with Windows paths
    assert 1500 < len(text) < 4000
    message, button = await reply_and_offer(bot, thread, text)
    assert len(button["value"]) < 100
    await bot.click(button["action_id"], button["value"], user=REQUESTER, message_ts=message["ts"], key="long")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "queued", what="retry with feedback")
    assert bot.deps.store.get(task_id)["decision"]["feedback"] == text


async def test_x_reaction_cancels_for_requester_not_for_bystander(bot):
    task_id, thread = await start_task(bot)
    reaction = {"type": "reaction_added", "user": OTHER, "reaction": "x",
                "item": {"type": "message", "channel": CHANNEL, "ts": thread}, "event_ts": str(time.time())}
    await bot.event(reaction, event_id="EvX1")
    await bot.emu.wait_for(lambda: bot.emu.ephemeral, what="a refusal")
    assert "only the requester or an approver" in bot.emu.ephemeral[0]["text"]
    assert bot.deps.store.get(task_id)["status"] == "queued"
    await bot.event({**reaction, "user": REQUESTER}, event_id="EvX2")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "cancelled", what="cancelled")
    await bot.emu.wait_for(lambda: "Cancelled by" in json.dumps(bot.emu.messages(CHANNEL, thread_ts=thread)),
                           what="the cancel reply")


async def test_outcome_says_what_to_try_next_and_retry_starts_again_in_the_thread(bot):
    task_id, thread = await start_task(bot)
    bot.deps.store.transition(task_id, "running")
    bot.deps.store.transition(task_id, "not_fixed", reason="search budget spent")
    bot.deps.events.emit(task_id, "not_fixed", {"reason": "search budget spent"})
    reply = await bot.emu.wait_for(lambda: [m for m in bot.emu.messages(CHANNEL, thread_ts=thread)
                                            if m["ts"] != thread and "No fix found" in json.dumps(m["blocks"])],
                                   what="the outcome")
    assert "engine: llm" in json.dumps(reply[0]["blocks"])
    retry = next(e for blk in reply[0]["blocks"] if blk["type"] == "actions" for e in blk["elements"])
    await bot.click(retry["action_id"], retry["value"], user=REQUESTER, message_ts=reply[0]["ts"], key="retry")
    new = await bot.emu.wait_for(lambda: [t for t in bot.task_ids() if t != task_id], what="the retry task")
    again = bot.deps.store.get(new[0])
    assert again["retry_of"] == task_id and again["origin"]["thread_ts"] == thread
    assert again["origin"]["message_ts"] != thread  # its own status message, inside the old thread


async def test_a_second_retry_click_posts_nothing(bot):
    """Review finding 14: the second click posted a status message in the thread, then deleted it."""
    task_id, thread = await start_task(bot)
    bot.deps.store.transition(task_id, "running")
    bot.deps.store.transition(task_id, "failed", reason="boom")
    bot.deps.events.emit(task_id, "failed", {"reason": "boom"})
    reply = await bot.emu.wait_for(lambda: [m for m in bot.emu.messages(CHANNEL, thread_ts=thread)
                                            if "Failed:" in json.dumps(m["blocks"])], what="the outcome")
    retry = next(e for blk in reply[0]["blocks"] if blk["type"] == "actions" for e in blk["elements"])
    await bot.click(retry["action_id"], retry["value"], user=REQUESTER, message_ts=reply[0]["ts"], key="retry-1")
    new = await bot.emu.wait_for(lambda: [t for t in bot.task_ids() if t != task_id], what="the retry task")
    posts = len(bot.emu.calls_to("chat.postMessage"))
    await bot.click(retry["action_id"], retry["value"], user=REQUESTER, message_ts=reply[0]["ts"], key="retry-2")
    assert f"already started as `{new[0]}`" in (await bot.wait_response("retry-2"))["text"]
    assert len(bot.emu.calls_to("chat.postMessage")) == posts and not bot.emu.calls_to("chat.delete")


async def test_mentions_status_list_cancel_help_answered_once(bot):
    task_id, thread = await start_task(bot)
    said = bot.emu.user_message(CHANNEL, REQUESTER, "<@UFIXBOT> status", thread_ts=thread)
    await bot.event({**said, "type": "app_mention"}, event_id="EvM1")
    await bot.event({**said, "type": "app_mention"}, event_id="EvM1", retry_num=1)
    await bot.emu.wait_for(lambda: [m for m in bot.emu.messages(CHANNEL, thread_ts=thread)
                                    if task_id in json.dumps(m["blocks"]) and m["ts"] != thread],
                           what="the status reply")
    await asyncio.sleep(0.3)
    answers = [c for c in bot.emu.calls_to("chat.postMessage") if c.args.get("thread_ts") == thread]
    assert len(answers) == 1
    listed = bot.emu.user_message(CHANNEL, OTHER, "<@UFIXBOT> list")
    await bot.event({**listed, "type": "app_mention"}, event_id="EvM2")
    await bot.emu.wait_for(lambda: task_id in json.dumps(bot.emu.messages(CHANNEL, thread_ts=listed["ts"])),
                           what="the list")
    cancel = bot.emu.user_message(CHANNEL, OTHER, f"<@UFIXBOT> cancel {task_id}")
    await bot.event({**cancel, "type": "app_mention"}, event_id="EvM3")
    await bot.emu.wait_for(lambda: bot.emu.ephemeral, what="a refusal to a bystander")
    assert bot.deps.store.get(task_id)["status"] == "queued"
    cancel = bot.emu.user_message(CHANNEL, REQUESTER, "<@UFIXBOT> cancel", thread_ts=thread)
    await bot.event({**cancel, "type": "app_mention"}, event_id="EvM4")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "cancelled", what="cancel by mention")
    nonsense = bot.emu.user_message(CHANNEL, REQUESTER, "<@UFIXBOT> make coffee")
    await bot.event({**nonsense, "type": "app_mention"}, event_id="EvM5")
    await bot.emu.wait_for(lambda: "status" in json.dumps(bot.emu.messages(CHANNEL, thread_ts=nonsense["ts"])[1:]),
                           what="help")
    assert "I don't know `make`" in json.dumps(bot.emu.messages(CHANNEL, thread_ts=nonsense["ts"])[1:])
    typo = bot.emu.user_message(CHANNEL, REQUESTER, "<@UFIXBOT> stauts")
    await bot.event({**typo, "type": "app_mention"}, event_id="EvM6")
    await bot.emu.wait_for(lambda: "did you mean `status`" in json.dumps(bot.emu.messages(CHANNEL,
                                                                                         thread_ts=typo["ts"])[1:]),
                           what="a did-you-mean answer")


async def test_long_diff_is_uploaded_as_a_file(bot):
    long_diff = "--- a/calc.py\n+++ b/calc.py\n@@ -1,80 +1,80 @@\n" + "".join(
        f"-x{i} = {i}\n+x{i} = {i + 1}\n" for i in range(80))
    task_id, thread, message = await proposed_task(bot, data=proposal(diff=long_diff))
    files = [f for f in bot.emu.files.values() if f["shared"]]
    assert [f["name"] for f in files] == [f"fixbot-{task_id}.diff"]
    assert files[0]["content"].decode() == long_diff
    assert "attached as" in json.dumps(message["blocks"]) and has_buttons(message)
    assert [c.method for c in bot.emu.calls if c.method.startswith("files.")] == [
        "files.getUploadURLExternal", "files.completeUploadExternal"]


async def test_rate_limit_retry_after_is_honored(bot):
    task_id, thread = await start_task(bot)
    await bot.emu.wait_for(lambda: bot.emu.calls_to("chat.update"), what="the first status edit")
    await asyncio.sleep(0.3)
    bot.emu.fail("chat.update", retry_after=1)
    bot.deps.events.emit(task_id, "phase", {"phase": "localize", "text": "ranking"})
    bot.deps.store.update(task_id, {"progress": {"phase": "localize", "text": "ranking", "candidates_tried": 0}})
    await bot.emu.wait_for(lambda: [c for c in bot.emu.calls_to("chat.update") if c.status == 429], what="a 429")
    limited = [c for c in bot.emu.calls_to("chat.update") if c.status == 429][0]
    after = await bot.emu.wait_for(lambda: [c for c in bot.emu.calls_to("chat.update")
                                            if c.at > limited.at and c.ok], what="the retried edit")
    assert after[0].at - limited.at >= 1.0  # waited Retry-After (1 s) before trying again


async def test_status_edits_are_coalesced(bot):
    task_id, thread = await start_task(bot)
    await bot.emu.wait_for(lambda: bot.emu.calls_to("chat.update"), what="the first status edit")
    start, before = time.monotonic(), len(bot.emu.calls_to("chat.update"))
    for i in range(60):
        bot.deps.events.emit(task_id, "phase", {"phase": "repair", "text": f"step {i}"})
        await asyncio.sleep(0.01)
    bot.deps.store.update(task_id, {"progress": {"phase": "repair", "text": "last", "candidates_tried": 99}})
    bot.deps.events.emit(task_id, "phase", {"phase": "repair", "text": "last"})
    await bot.emu.wait_for(lambda: "99 candidates" in json.dumps(bot.emu.message(CHANNEL, thread)["blocks"]),
                           what="the last state shown")
    edits = len(bot.emu.calls_to("chat.update")) - before
    elapsed = time.monotonic() - start
    assert edits <= elapsed / bot.settings.slack_update_interval + 2, (edits, elapsed)


async def test_app_home_shows_figures_and_own_tasks(bot):
    task_id, _thread = await start_task(bot)
    await bot.event({"type": "app_home_opened", "user": REQUESTER, "tab": "home", "channel": "D0REQ"},
                    event_id="EvH1")
    home = await bot.emu.wait_for(lambda: bot.emu.home.get(REQUESTER), what="views.publish")
    text = json.dumps(home)
    assert "Success rate" in text and "Workers alive" in text and task_id in text
    assert "/archives/C0GENERAL/p" in text  # a link to the thread, built from auth.test's URL
    await bot.event({"type": "app_home_opened", "user": OTHER, "tab": "home"}, event_id="EvH2")
    other = await bot.emu.wait_for(lambda: bot.emu.home.get(OTHER), what="the bystander's home")
    assert task_id not in json.dumps(other)  # not an approver: sees only their own tasks


async def test_workspace_refusing_plan_blocks_gets_classic_progress(bot):
    bot.emu.refused_block_types = {"plan"}
    task_id, thread = await start_task(bot)
    await bot.emu.wait_for(lambda: [c for c in bot.emu.calls_to("chat.update") if c.ok], what="a status edit")
    status = bot.emu.message(CHANNEL, thread)["blocks"]
    assert "plan" not in {blk["type"] for blk in status}
    assert ":white_circle: Reproduce the failure" in json.dumps(status)
    assert [c.error for c in bot.emu.calls_to("chat.update")][0] == "invalid_blocks"


async def test_consumers_of_stopped_replicas_are_forgotten(bot, monkeypatch):
    from chatbot.server import NOTIFIER_KEY
    from chatbot.slack import notifier as notifier_module

    notifier = bot.app[NOTIFIER_KEY]
    stream = bot.deps.keys.all_events()
    bot.deps.conn.xgroup_createconsumer(stream, notifier.group, "gone-host-1")
    names = {i["name"].decode() for i in bot.deps.conn.xinfo_consumers(stream, notifier.group)}
    assert "gone-host-1" in names
    monkeypatch.setattr(notifier_module, "PRUNE_IDLE_MS", -1)
    assert notifier.prune_consumers() >= 1
    names = {i["name"].decode() for i in bot.deps.conn.xinfo_consumers(stream, notifier.group)}
    assert "gone-host-1" not in names


async def test_a_click_on_a_proposal_not_yet_recorded_is_not_stale(bot):
    task_id, _thread, message = await proposed_task(bot)
    bot.deps.conn.hset(bot.deps.keys.messages(task_id), "proposal", "1000000000.000001")  # an older proposal's ts
    await bot.click(b.APPROVE, task_id, user=APPROVER, message_ts=message["ts"], key="fresh")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "approved", what="approval")


async def test_an_unexpected_error_after_the_ack_goes_to_app_error_and_is_answered(bot):
    """Review findings 4 and 15: the work after the ack only logged its errors, past the app's error handler."""
    from chatbot.server import BOLT_KEY
    from chatbot.workspace import payloads

    errors = []

    async def capture(error):  # noqa: ANN001 - bolt's error handler signature
        errors.append(error)

    bot.app[BOLT_KEY].error(capture)
    task_id, _thread, message = await proposed_task(bot)
    payload = payloads.block_action(b.REJECT_FEEDBACK, task_id, user=REQUESTER, message_ts=message["ts"],
                                    response_url=bot.emu.response_url("broken"))
    del payload["trigger_id"]  # a payload the listener does not expect: a KeyError in its work
    status, _ = await bot.post(payloads.interaction_body(payload))
    assert status == 200
    answer = await bot.wait_response("broken")
    assert "Something went wrong on fixbot's side" in answer["text"] and answer["response_type"] == "ephemeral"
    assert [type(e) for e in errors] == [KeyError]


async def test_status_mention_where_plan_blocks_are_refused(emulator, redis_conn):
    """Review finding 8: the fallback to classic blocks lived in the notifier only; `@fixbot status` kept sending plan
    blocks to a workspace that refuses them and got no answer. One place decides now, for every post."""
    async with served_bot(emulator, notifier=False) as bot:
        bot.emu.refused_block_types = {"plan"}
        task_id, thread = await start_task(bot)
        said = bot.emu.user_message(CHANNEL, REQUESTER, "<@UFIXBOT> status", thread_ts=thread)
        await bot.event({**said, "type": "app_mention"}, event_id="EvPlan1")
        replies = await bot.emu.wait_for(lambda: [m for m in bot.emu.messages(CHANNEL, thread_ts=thread)
                                                  if m["ts"] not in (thread, said["ts"])], what="the status reply")
        text = json.dumps(replies[0]["blocks"])
        assert task_id in text and ":white_circle: Reproduce the failure" in text
        assert bot.deps.progress_mode == "classic"  # and every later post (the notifier's edits) uses classic too


async def test_an_empty_approver_group_means_nobody_approves(bot):
    """Review finding 16: an empty group was encoded as a fake approver id ("(nobody: ...)"); now a typed value."""
    from agent.tasks.policy import Approvers

    bot.emu.usergroups["S0EMPTY"] = []
    bot.deps.access.group, bot.deps.access.static_approvers = "S0EMPTY", set()
    assert await bot.deps.access.approvers() == Approvers(frozenset(), listed=True)
    task_id, _thread, message = await proposed_task(bot)
    await bot.click(b.APPROVE, task_id, user=APPROVER, message_ts=message["ts"], key="nobody")
    assert "nobody may approve patches yet" in (await bot.wait_response("nobody"))["text"]
    await bot.click(b.REJECT, task_id, user=OTHER, message_ts=message["ts"], key="bystander")
    assert "only the requester or an approver" in (await bot.wait_response("bystander"))["text"]
    await bot.click(b.REJECT, task_id, user=REQUESTER, message_ts=message["ts"], key="requester")
    await bot.emu.wait_for(lambda: bot.deps.store.get(task_id)["status"] == "rejected", what="the requester's reject")
