"""The pure renderers: snapshots of each message kind, tables of states, and untrusted text kept harmless.

Snapshots live in tests/chatbot/snapshots/; after an intended change, regenerate them with
UPDATE_SNAPSHOTS=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from chatbot.slack import blocks as b
from chatbot.slack import surfaces as s

SNAPSHOTS = Path(__file__).parent / "snapshots"
NOW = 1_760_000_300.0
DIFF = """--- a/cart.py
+++ b/cart.py
@@ -1,4 +1,4 @@
 def calculate_total(items):
-    return sum(i.price for i in items if i.price > 0)
+    return sum(i.price * i.quantity for i in items)
"""


def task(**over: Any) -> dict[str, Any]:
    base = {
        "id": "fx-0123456789ab", "status": "running", "reason": None, "engine": "search",
        "request": {"repo": "https://github.com/acme/shop.git", "issue": "the total is wrong for negative numbers",
                    "test_command": "python3 -m pytest -q", "branch": None},
        "origin": {"kind": "slack", "team": "T0001", "channel": "C0GENERAL", "user": "U0REQUEST",
                   "thread_ts": "1760000000.000100", "message_ts": "1760000000.000100"},
        "created_at": 1_760_000_000.0, "started_at": 1_760_000_001.0, "finished_at": None, "proposed_at": None,
        "decided_at": None, "updated_at": 1_760_000_100.0, "result": None,
        "progress": {"phase": "repair", "text": "Trying mutations at cart.py:3", "candidates_tried": 37,
                     "attempts": 0},
        "attempts": 0, "tokens": {"prompt": 0, "completion": 0, "total": 0}, "risk": None, "decision": None,
        "publication": None, "retry_of": None, "cancelled_by": None,
    }
    base.update(over)
    return base


def proposed(**over: Any) -> dict[str, Any]:
    result = {"analysis": "Negative prices are skipped and quantity is ignored.",
              "final_patch": {"filename": "cart.py", "diff": DIFF, "explanation": "Multiply by the quantity."},
              "test_results": [{"attempt": 1, "success": False}, {"attempt": 2, "success": True}],
              "candidates_tried": 41}
    fields = {"status": "awaiting_approval", "proposed_at": 1_760_000_200.0, "result": result,
              "risk": {"level": "medium", "reasons": ["changes a return statement"]},
              "progress": {"phase": "test", "text": "Proven", "candidates_tried": 41, "attempts": 1}}
    fields.update(over)
    return task(**fields)


def as_json(blocks: list[Block]) -> list[dict[str, Any]]:
    for block in blocks:
        block.validate_json()  # what Slack would refuse, slack_sdk refuses first
    return [block.to_dict() for block in blocks]


def check_snapshot(name: str, data: Any) -> None:
    path = SNAPSHOTS / f"{name}.json"
    text = json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
        if os.environ.get("UPDATE_SNAPSHOTS") != "1":
            pytest.fail(f"snapshot {path.name} was missing and is now written: review it and run again")
    assert json.loads(text) == json.loads(path.read_text()), f"snapshot {name} changed (UPDATE_SNAPSHOTS=1 to accept)"


SNAPSHOT_CASES = {
    "status_running_plan": lambda: b.render_status(task(), now=NOW, mode="plan"),
    "status_running_classic": lambda: b.render_status(task(), now=NOW, mode="classic"),
    "status_awaiting": lambda: b.render_status(proposed(), now=NOW),
    "reproduced": lambda: b.render_reproduced(task(), {"failing": ["tests/test_cart.py::test_negative"],
                                                       "message": "1 failed", "output": "E assert -3 == 3\n" * 3}),
    "proposal_inline": lambda: b.render_proposal(proposed(), inline_diff=True),
    "proposal_uploaded": lambda: b.render_proposal(proposed(), inline_diff=False),
    "proposal_approved": lambda: b.render_proposal(
        proposed(status="approved", decision={"action": "approve", "by": "U0APPROVE", "at": 1_760_000_250.0}),
        inline_diff=True),
    "outcome_not_fixed": lambda: b.render_outcome(task(status="not_fixed", reason="search budget spent")),
    "outcome_published": lambda: b.render_outcome(task(status="published", publication={
        "branch": "fixbot/fx-0123456789ab", "commit": "0123456789abcdef", "pr_url": None, "patch": "From x"})),
    "home": lambda: [s.render_home({"window": 604800, "tasks": 3, "success_rate": 0.667, "median_time_to_fix": 95.0,
                                    "median_attempts": 1, "tokens": 1234, "queue_depth": 2, "workers_alive": 1},
                                   [task(), proposed(id="fx-0000000000aa")],
                                   links={"fx-0123456789ab": "https://x.slack.com/archives/C0GENERAL/p1"}, now=NOW)],
    "fix_modal": lambda: [s.render_fix_modal("C0GENERAL", {"repo": "https://github.com/acme/shop",
                                                           "engine": "search"})],
    "feedback_modal": lambda: [s.render_feedback_modal(proposed(), channel="C0GENERAL", message_ts="1.2")],
}


@pytest.mark.parametrize("name", sorted(SNAPSHOT_CASES))
def test_snapshot(name):
    rendered = SNAPSHOT_CASES[name]()
    data = [v.to_dict() for v in rendered] if name in ("home", "fix_modal", "feedback_modal") else as_json(rendered)
    check_snapshot(name, data)


STATE_CASES = [
    # status, phase, expected states of reproduce/localize/repair/review/prove
    ("queued", "queued", ["pending"] * 5),
    ("running", "clone", ["in_progress", "pending", "pending", "pending", "pending"]),
    ("running", "localize", ["complete", "in_progress", "pending", "pending", "pending"]),
    ("running", "llm_coder", ["complete", "complete", "in_progress", "pending", "pending"]),
    ("running", "llm_reviewer", ["complete", "complete", "complete", "in_progress", "pending"]),
    ("running", "test", ["complete", "complete", "complete", "complete", "in_progress"]),
    ("awaiting_approval", "test", ["complete"] * 5),
    ("published", "publish", ["complete"] * 5),
    ("not_fixed", "repair", ["complete", "complete", "error", "pending", "pending"]),
    ("failed", "reproduce", ["error", "pending", "pending", "pending", "pending"]),
    ("no_failure", "reproduce", ["complete", "pending", "pending", "pending", "pending"]),
    ("cancelled", "localize", ["complete", "error", "pending", "pending", "pending"]),
]


@pytest.mark.parametrize(("status", "phase", "expected"), STATE_CASES)
def test_step_states(status, phase, expected):
    states = b.step_states(task(status=status, progress={"phase": phase, "text": "", "candidates_tried": 0}))
    assert [state for _, _, state, _ in states] == expected


@pytest.mark.parametrize("mode", ["plan", "classic"])
def test_timeline_carries_counters(mode):
    text = json.dumps(as_json(b.render_status(task(progress={"phase": "test", "text": "", "candidates_tried": 12,
                                                                "attempts": 2}), now=NOW, mode=mode)))
    assert "12 candidates tried" in text and "attempt 2" in text and "5m 00s" in text


def test_proposal_buttons_until_decided_then_outcome():
    open_ = as_json(b.render_proposal(proposed(), inline_diff=True))
    ids = [e["action_id"] for blk in open_ if blk["type"] == "actions" for e in blk["elements"]]
    assert ids == [b.APPROVE, b.REJECT, b.REJECT_FEEDBACK]
    for status, decision, words in [
        ("approved", {"action": "approve", "by": "U0APPROVE", "at": 1.0}, "Approved by <@U0APPROVE>"),
        ("rejected", {"action": "reject", "by": "U0APPROVE", "at": 1.0}, "Rejected by <@U0APPROVE>"),
        ("queued", {"action": "retry", "by": "U0APPROVE", "at": 1.0, "feedback": "round up"}, "Sent back by"),
    ]:
        done = as_json(b.render_proposal(proposed(status=status, decision=decision), inline_diff=True))
        assert not [blk for blk in done if blk["type"] == "actions"]
        assert words in json.dumps(done)
    # closed by an event: what the event says, even when the record has moved on (here, to a newer proposal)
    closed = as_json(b.render_proposal(proposed(), inline_diff=True, closed={
        "action": "retry", "by": "U0APPROVE", "at": 1_760_000_260.0, "feedback": "round half up"}))
    assert not [blk for blk in closed if blk["type"] == "actions"]
    assert "Sent back by <@U0APPROVE>" in json.dumps(closed) and "round half up" in json.dumps(closed)
    cancelled = as_json(b.render_decision_area(proposed(), closed={"action": "cancel", "by": "U0REQUEST", "at": 1.0}))
    assert "Cancelled by <@U0REQUEST>" in json.dumps(cancelled)


def test_outcome_reply_offers_retry_unless_published():
    ids = lambda blocks: [e["action_id"] for blk in as_json(blocks) if blk["type"] == "actions"  # noqa: E731
                          for e in blk["elements"]]
    assert ids(b.render_outcome_reply(task(status="not_fixed", reason="budget"))) == [b.RETRY_TASK]
    assert ids(b.render_outcome_reply(task(status="published", publication={"commit": "abc"}))) == []


def test_risk_level_is_read_in_any_case():
    """Review finding 16: "High" was high risk for the policy (lowercased) but not for the Approve confirmation."""
    data = json.dumps(as_json(b.render_proposal(proposed(risk={"level": "High", "reasons": []}), inline_diff=True)))
    assert "*high risk*" in data and ":red_circle:" in data


def test_short_and_long_diffs():
    assert b.diff_is_short(DIFF, 40)
    assert not b.diff_is_short(DIFF, 3)
    assert not b.diff_is_short("", 40)
    assert not b.diff_is_short("+x\n" * 2000, 5000)  # too many characters for one block


HOSTILE = "<!channel> @here <@U0VICTIM> <https://evil.example|click> ``` \x1b]0;pwned\x07\x1b[2K \u202egnp.exe & done"


@pytest.mark.parametrize("where", ["issue", "analysis", "filename", "diff", "reason", "test", "user"])
def test_untrusted_text_cannot_mention_link_or_escape(where):
    t = proposed()
    if where == "issue":
        t["request"]["issue"] = HOSTILE
    elif where == "analysis":
        t["result"]["analysis"] = HOSTILE
    elif where == "filename":
        t["result"]["final_patch"]["filename"] = HOSTILE
    elif where == "diff":
        t["result"]["final_patch"]["diff"] = DIFF + HOSTILE
    elif where == "reason":
        t.update(status="failed", reason=HOSTILE)
    elif where == "test":
        t["risk"] = {"level": "high", "reasons": [HOSTILE]}
    else:
        t["origin"]["user"] = HOSTILE
    rendered = [*b.render_status(t, now=NOW), *b.render_proposal(t, inline_diff=True), *b.render_outcome(t),
                *b.render_reproduced(t, {"failing": [HOSTILE], "output": HOSTILE})]
    data = as_json(rendered)
    parsed_text = "\n".join(_strings(data, parsed=True))  # mrkdwn: Slack parses mentions and links here
    assert "<!channel>" not in parsed_text and "<@U0VICTIM>" not in parsed_text and "<https://evil" not in parsed_text
    assert not re.search(r"(?<!\u2060)@(here|channel)\b", parsed_text)
    everything = "\n".join(_strings(data, parsed=False))
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", everything)
    # code is literal rich text: only text elements (no user, broadcast or link elements) inside preformatted
    for block in data:
        if block["type"] == "rich_text":
            assert block["elements"][0]["type"] == "rich_text_preformatted"
            assert {e["type"] for e in block["elements"][0]["elements"]} == {"text"}


def _strings(node: Any, *, parsed: bool) -> list[str]:
    """Every text of rendered blocks; with parsed=True only mrkdwn texts (the ones Slack formats)."""
    found: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("text"), str) and (not parsed or node.get("type") == "mrkdwn"):
            found.append(node["text"])
        for value in node.values():
            found += _strings(value, parsed=parsed)
    elif isinstance(node, list):
        for value in node:
            found += _strings(value, parsed=parsed)
    return found


def test_user_refs_only_for_real_ids():
    assert b.user_ref("U0APPROVE") == "<@U0APPROVE>"
    assert b.user_ref("api:alice") == "api:alice"
    assert b.user_ref("<!channel>") == "&lt;!channel&gt;"


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (59, "59s"), (61, "1m 01s"), (3600, "1h 00m"),
                                               (7322, "2h 02m")])
def test_elapsed(seconds, text):
    assert b.elapsed(seconds) == text


def test_modal_values_reads_each_kind():
    view = {"state": {"values": {
        "issue": {"issue": {"type": "plain_text_input", "value": "broken"}},
        "engine": {"engine": {"type": "static_select", "selected_option": {"value": "llm"}}},
        "retry": {"retry": {"type": "checkboxes", "selected_options": [{"value": "retry"}]}}}}}
    assert s.modal_values(view) == {"issue": "broken", "engine": "llm", "retry": ["retry"]}


def test_notification_text_is_escaped_too():
    t = task(request={"repo": "https://github.com/acme/<!channel>", "issue": "x"})
    assert "<!channel>" not in b.status_text(t) and "&lt;!channel&gt;" in b.status_text(t)


OUTCOME_CASES = [
    # review finding 13: what to try next fits what failed, and is written for Slack users (no CLI commands)
    (task(status="failed", reason="could not clone the repository: fatal: repository not found.",
          progress={"phase": "clone", "text": "Fetching the repository"}), "URL and branch", "fresh checkout"),
    (task(status="failed", reason="the test command could not be run in the sandbox (exit 127): install what "
          "else it needs with --setup.", progress={"phase": "reproduce", "text": ""}), "fresh checkout", "URL and"),
    (task(status="timed_out", reason="the task time limit (900 s) was reached."), "narrower test command", ".."),
]


@pytest.mark.parametrize(("record", "present", "absent"), OUTCOME_CASES, ids=["clone", "setup", "timed_out"])
def test_outcome_next_steps_fit_the_failure(record, present, absent):
    text = json.dumps(as_json(b.render_outcome(record)))
    assert present in text and absent not in text
    assert "fixbot sandbox run" not in text and ".." not in text.replace("...", "")


def test_decisions_are_confirmed_and_say_what_happens():
    """Review finding 13: plain Reject was final without a confirmation; Approve promised a pull request."""
    data = as_json(b.render_decision_area(proposed()))
    buttons = {e["action_id"]: e for blk in data for e in blk["elements"]}
    approve, reject = buttons[b.APPROVE]["confirm"]["text"]["text"], buttons[b.REJECT]["confirm"]["text"]["text"]
    assert "nothing is pushed" in approve and "pull request" not in approve and ".patch" in approve
    assert "nothing is pushed" in reject and "Reject with feedback" in reject
    assert "confirm" not in buttons[b.REJECT_FEEDBACK]  # it opens a form, which can be cancelled


def test_feedback_offer_names_nobody():
    """The offer is ephemeral to the reply's author now: it mentions no one."""
    text = json.dumps(as_json(b.render_feedback_offer(proposed(), "round <@U0X> up", "offer-1")))
    assert "<@" not in text and "offer-1" in text


def test_home_says_whose_figures_and_tasks_it_shows():
    """Review finding 17: a non-approver saw "No tasks yet" under "3 tasks", and "Median attempts 0.0"."""
    stats = {"window": 604800, "tasks": 3, "success_rate": 0.5, "median_time_to_fix": 60.0, "median_attempts": 0.0,
             "tokens": 0, "queue_depth": 0, "workers_alive": 1}
    own = json.dumps(s.render_home(stats, [], links={}, now=NOW).to_dict())
    assert "3 tasks by everyone" in own and "Your recent tasks" in own and "You have not asked for a fix yet" in own
    assert "No tasks yet" not in own and "*Median attempts*\\n0\"" in own and "0.0" not in own
    everyone = json.dumps(s.render_home({**stats, "median_attempts": 1.5}, [task()], links={}, now=NOW,
                                        everyone=True).to_dict())
    assert "Recent tasks (everyone's)" in everyone and "*Median attempts*\\n1.5" in everyone


def test_published_says_pushed_only_when_there_is_a_pull_request():
    committed = json.dumps(as_json(b.render_outcome(task(status="published", publication={
        "branch": "fixbot/fx-0123456789ab", "commit": "0123456789abcdef", "pr_url": None, "patch": "From x"}))))
    assert "nothing pushed" in committed and "Published" not in committed
    pushed = json.dumps(as_json(b.render_outcome(task(status="published", publication={
        "branch": "fixbot/fx-0123456789ab", "commit": "0123456789abcdef",
        "pr_url": "https://github.com/acme/shop/pull/7", "patch": "From x"}))))
    assert "*Published:* <https://github.com/acme/shop/pull/7|pull request>" in pushed
    assert "nothing pushed" not in pushed


@pytest.mark.parametrize(("repo", "shown"), [
    ("https://github.com/acme/shop.git", "acme/shop"),
    ("git@github.com:acme/shop.git", "acme/shop"),
    ("git://127.0.0.1:9419/shop.git", "127.0.0.1:9419/shop"),  # was `9419/shop`
    ("https://gitlab.com/group/sub/proj", "sub/proj"),
    ("git://[::1]:9419/shop.git", "[::1]:9419/shop"),
])
def test_the_repository_is_named_by_its_last_two_segments_or_host_and_name(repo, shown):
    assert b.repo_name({"request": {"repo": repo}}) == shown


def test_the_status_line_says_published_only_with_a_pull_request():
    committed = task(status="published", publication={"branch": "b", "commit": "c", "pr_url": None})
    assert b.status_label(committed) == ":package: committed, nothing pushed"
    assert "committed, nothing pushed" in json.dumps(as_json(b.render_status(committed, now=NOW)))
    pushed = task(status="published", publication={"pr_url": "https://github.com/acme/shop/pull/7"})
    assert b.status_label(pushed) == ":rocket: published"
