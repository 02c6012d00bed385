"""What each task event posts in its Slack thread, as named parts a delivery can resume after a failure.

A milestone is a short list of parts: e.g. the proposal is (upload the long diff, post the patch with
its buttons, remember that message). chatbot.slack.delivery runs them in order, records each part
done, and after a transient failure resumes at the part that failed, so nothing is posted twice and
nothing is skipped. Parts that only tidy up (closing the old proposal's buttons) come after the part
people need (the reply saying what happened). A proposal whose long diff cannot be uploaded is posted
anyway, with the diff's first lines inline and a note: the buttons never wait for the file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient

from chatbot.slack.api_errors import error_code
from chatbot.slack.blocks import (
    diff_filename,
    diff_is_short,
    patch_filename,
    proposal_of,
    render_decision_reply,
    render_outcome_reply,
    render_proposal,
    render_reproduced,
)
from chatbot.slack.context import SlackDeps

OUTCOMES = ("published", "failed", "timed_out", "not_fixed", "no_failure", "cancelled")
Part = Callable[[dict[str, Any]], Awaitable[object]]  # takes the milestone's saved state (JSON-able), may add to it
log = logging.getLogger(__name__)


def posts(event: dict[str, Any]) -> bool:
    """Whether `event` posts anything in the thread (Milestones.parts is not empty for a Slack task)."""
    kind = event.get("kind")
    return kind in ("proposed", "decision", *OUTCOMES) or (kind == "reproduced" and
                                                           bool((event.get("data") or {}).get("failing")))


class Milestones:
    """The thread replies of task events, for one Web API client."""

    def __init__(self, deps: SlackDeps, client: AsyncWebClient) -> None:
        self.deps = deps
        self.client = client

    def parts(self, task: dict[str, Any], event: dict[str, Any]) -> list[tuple[str, Part]]:
        """The named parts `event` posts for `task` (the current record), in order; [] for progress events."""
        kind, data = event["kind"], event.get("data") or {}
        if kind == "reproduced" and data.get("failing"):
            return [("reply", lambda state: self.reply(task, render_reproduced(task, data), "Bug reproduced"))]
        if kind == "proposed":
            proposed = proposal_view(task, data or task.get("proposal") or {})
            return [("upload", lambda state: self.upload_diff(proposed, state)),
                    ("post", lambda state: self.post_proposal(proposed, state)),
                    ("record", lambda state: self.record_proposal(proposed, state))]
        if kind == "decision":
            closed = {"action": data.get("action"), "by": data.get("by"), "at": event.get("at"),
                      "feedback": data.get("feedback")}
            return [("reply", lambda state: self.reply(task, render_decision_reply(task, data), "Decision")),
                    ("close", lambda state: self.close_proposal(task, closed))]
        if kind in OUTCOMES:
            blocks, text = render_outcome_reply(task), f"Task {task['status']}"
            parts: list[tuple[str, Part]] = [("reply", lambda state: self.reply(task, blocks, text))]
            if kind == "cancelled":
                cancel = {"action": "cancel", "by": data.get("by"), "at": event.get("at")}
                parts.append(("close", lambda state: self.close_proposal(task, cancel)))
            publication = task.get("publication") or {}
            if kind == "published" and publication.get("patch") and not publication.get("pr_url"):
                parts.append(("patch", lambda state: self.upload(task, patch_filename(task), str(publication["patch"]),
                                                                 "The approved patch")))
            return parts
        return []

    async def reply(self, task: dict[str, Any], blocks: list[Block], text: str) -> str:
        """Post in the task's thread; returns the reply's ts."""
        origin = task["origin"]
        reply = await self.client.chat_postMessage(channel=origin["channel"], thread_ts=origin["thread_ts"],
                                                   text=text, blocks=blocks, unfurl_links=False)
        return str(reply["ts"])

    async def upload(self, task: dict[str, Any], filename: str, content: str, title: str) -> None:
        """Attach a file to the task's thread (files_upload_v2: get an upload URL, send, complete)."""
        origin = task["origin"]
        await self.client.files_upload_v2(channel=origin["channel"], thread_ts=origin["thread_ts"],
                                          filename=filename, title=title, content=content.encode("utf-8"))

    def _inline(self, task: dict[str, Any]) -> bool:
        return diff_is_short(proposal_of(task)["diff"], self.deps.settings.slack_diff_inline_lines)

    async def upload_diff(self, task: dict[str, Any], state: dict[str, Any]) -> None:
        """A long diff as a .diff file; when Slack refuses it (any error), the proposal shows its first lines."""
        diff = proposal_of(task)["diff"]
        if not diff or self._inline(task):
            return
        try:
            await self.upload(task, diff_filename(task), diff, "Proposed patch")
        except Exception as exc:  # noqa: BLE001 - the buttons matter more than the file: degrade, never hold them
            reason = error_code(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("could not upload the diff of task %s (%s): showing its first lines instead", task["id"],
                        reason)
            state["upload_error"] = reason

    async def post_proposal(self, task: dict[str, Any], state: dict[str, Any]) -> None:
        """The patch with its buttons (the diff inline, attached, or cut with a note)."""
        blocks = render_proposal(task, inline_diff=self._inline(task), upload_error=state.get("upload_error"))
        state["ts"] = await self.reply(task, blocks, "Patch proposed: approve or reject")

    async def record_proposal(self, task: dict[str, Any], state: dict[str, Any]) -> None:
        """Remember the open proposal's message (for stale clicks) and what it shows (to render it closed)."""
        shown = {"proposal": task["proposal"], "inline": self._inline(task), "upload_error": state.get("upload_error")}
        await self.deps.set_message_ref(task["id"], "proposal", state["ts"])
        await self.deps.set_message_ref(task["id"], "proposal_shown", json.dumps(shown))

    async def close_proposal(self, task: dict[str, Any], closed: dict[str, Any]) -> None:
        """Render the open proposal again with what closed it (approved, rejected, sent back, cancelled) instead of
        its buttons."""
        refs = await self.deps.message_refs(task["id"])
        if not refs.get("proposal") or not refs.get("proposal_shown"):
            return
        shown = json.loads(refs["proposal_shown"])
        blocks = render_proposal(proposal_view(task, shown["proposal"]), inline_diff=shown["inline"],
                                 upload_error=shown.get("upload_error"), closed=closed)
        await self.client.chat_update(channel=task["origin"]["channel"], ts=refs["proposal"],
                                      text="Patch proposal (decided)", blocks=blocks)


def proposal_view(task: dict[str, Any], proposal: dict[str, Any]) -> dict[str, Any]:
    """The task as one of its proposals shows it: that proposal and its own risk (a later proposal may differ)."""
    return {**task, "proposal": proposal, "risk": proposal.get("risk") or task.get("risk")}
