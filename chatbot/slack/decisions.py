"""Applying one person's decision on a task (approve, reject, retry with feedback, cancel) from any listener.

Who may decide is agent.tasks.policy's call; whether the decision is still possible is the store's
(its checked, atomic transitions: of two replicas racing on one click, one wins and the other gets
IllegalTransition). A refusal comes back as one mrkdwn line for an ephemeral answer, rendered from
the task's current record so it can say who decided first and when.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Literal

from agent.tasks.exceptions import IllegalTransition, NotAuthorized, TaskNotFound
from agent.tasks.policy import check_approver, check_participant
from chatbot.slack.blocks import refusal_text
from chatbot.slack.context import SlackDeps
from chatbot.slack.text import line, mrkdwn

Action = Literal["approve", "reject", "retry", "cancel"]
WHAT = {"reject": "reject this patch", "retry": "send this patch back with feedback", "cancel": "cancel this task"}


async def decide(deps: SlackDeps, task_id: str, *, user: str, action: Action, feedback: str | None = None,
                 message_ts: str | None = None) -> str | None:
    """Take the decision; None when it was taken, else the reason nothing changed (mrkdwn, one line).

    `message_ts` dates what was clicked: the proposal message, or the thread reply a "Retry with this" button
    offers. When a proposal newer than that is recorded (the task was sent back and proposed again since),
    the click changes nothing and the answer says why.
    """
    try:
        task = await deps.call(deps.store.get, task_id)
    except TaskNotFound:
        return f"There is no task `{line(task_id, 40)}` any more (its record expired)."
    try:
        if message_ts and action != "cancel":
            current = (await deps.message_refs(task_id)).get("proposal")
            if current and _ts(current) > _ts(message_ts):  # a newer proposal (not yet recorded: not stale)
                return ("Nothing changed: this proposal was replaced by a newer one further down the thread; "
                        "use the buttons there.")
        approvers = await deps.access.approvers()
        if action == "approve":
            check_approver(task, user, approvers=approvers, self_approval=deps.access.self_approval)
            await deps.call(deps.service.approve, task_id, by=user)
        elif action in ("reject", "retry"):
            check_participant(task, user, approvers=approvers, what=WHAT[action])
            await deps.call(deps.service.reject, task_id, by=user, feedback=feedback, retry=action == "retry")
        else:
            check_participant(task, user, approvers=approvers, what=WHAT["cancel"])
            await deps.call(deps.service.cancel, task_id, by=user)
    except NotAuthorized as exc:
        return f":no_entry: {mrkdwn(str(exc), 500)}"
    except IllegalTransition as exc:
        try:
            return refusal_text(await deps.call(deps.store.get, task_id), action)
        except TaskNotFound:
            return mrkdwn(str(exc), 500)
    return None


def _ts(value: str) -> Decimal:
    """A Slack message ts as an exact number (ts values grow within a channel; a float loses microseconds near
    the epoch's 1.7e9 seconds); 0 when unreadable."""
    try:
        return Decimal(value)
    except (InvalidOperation, ValueError):
        return Decimal(0)
