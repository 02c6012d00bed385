"""Modal submissions: the /fix form and Reject with feedback.

The /fix form is validated before the ack, because the ack is what carries field errors back
into the open modal (`response_action: errors`); validation is local and takes milliseconds (a
Redis read of the channel defaults, no other network). Starting the task happens after the ack, in
its own task.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.kwargs_injection.async_args import AsyncArgs
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.exceptions import InvalidRequest
from agent.request import FixRequest
from agent.tasks.exceptions import StoreUnavailable
from chatbot.exceptions import InvalidField
from chatbot.slack.blocks import render_text
from chatbot.slack.context import SlackDeps
from chatbot.slack.decisions import decide
from chatbot.slack.fix_command import FixCommand
from chatbot.slack.listeners import guarded, handoff
from chatbot.slack.submit import request_from, start_fix
from chatbot.slack.surfaces import FEEDBACK_MODAL, FIX_MODAL, modal_values
from chatbot.slack.text import mrkdwn
from chatbot.slack.validation import validate_chat_request


def _who(body: dict[str, Any], view: dict[str, Any]) -> tuple[str, str, str]:
    user = (body.get("user") or {}).get("id", "")
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id", "")
    channel = str(json.loads(view.get("private_metadata") or "{}").get("channel") or "")
    return user, team, channel


async def _modal_request(deps: SlackDeps, view: dict[str, Any], channel: str) -> tuple[FixRequest, str | None]:
    """The form's request, filled in from the channel's defaults as a /fix is (submit.request_from)."""
    values = modal_values(view)
    command = FixCommand("fix", repo=values.get("repo") or None, issue=values.get("issue") or None,
                         test=values.get("test") or None, branch=values.get("branch") or None,
                         setup=values.get("setup") or None, engine=values.get("engine") or None)
    return request_from(command, await deps.channel_defaults(channel))


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach the modal listeners."""

    async def tell(client: AsyncWebClient, channel: str, user: str, text: str) -> None:
        """An ephemeral line in the channel, or a direct message when the bot cannot post there."""
        try:
            await client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=render_text(text))
        except SlackApiError:
            await client.chat_postMessage(channel=user, text=text, blocks=render_text(text))

    async def check_fix_modal(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient,
                              args: AsyncArgs) -> None:
        user, team, channel = _who(body, view)
        refusal = deps.access.refusal(team=team, channel=channel, user=user)
        if refusal:
            await ack(response_action="errors", errors={"issue": refusal})
            return
        try:  # before the ack, which is what carries errors into the open form
            request, engine = await _modal_request(deps, view, channel)
            await deps.call(validate_chat_request, request, deps.settings)
        except StoreUnavailable:
            await ack(response_action="errors", errors={"issue": "fixbot cannot reach its task store right now: "
                                                                  "try again in a minute."})
            return
        except InvalidField as exc:
            await ack(response_action="errors", errors={exc.field: str(exc)[:150]})
            return
        except InvalidRequest as exc:  # request_from: no repository, in the form or as a channel default
            await ack(response_action="errors", errors={"repo": str(exc)[:150]})
            return
        await ack()
        deps.spawn(guarded(app, args, start_from_modal(body, view, client, request, engine), name="start_from_modal"),
                   name="start_from_modal")

    async def start_from_modal(body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient,
                               request: FixRequest, engine: str | None) -> None:
        user, team, channel = _who(body, view)

        async def notify(text: str) -> None:
            await tell(client, channel, user, text)

        await start_fix(deps, client, notify, request=request, engine=engine, team=team, channel=channel, user=user,
                        idempotency_key=f"slack:{team}:view:{view.get('id')}:{view.get('hash')}")

    async def on_feedback_modal(body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        user = (body.get("user") or {}).get("id", "")
        meta = json.loads(view.get("private_metadata") or "{}")
        values = modal_values(view)
        retry = "retry" in (values.get("retry") or [])
        why = await decide(deps, str(meta.get("task_id") or ""), user=user, action="retry" if retry else "reject",
                           feedback=values.get("feedback") or None, message_ts=meta.get("message_ts") or None)
        if why:
            await tell(client, str(meta.get("channel") or user), user, why)
        elif not retry:
            await tell(client, str(meta.get("channel") or user), user,
                       f"Rejected. Your feedback is recorded on the task: “{mrkdwn(values.get('feedback'), 300)}”")

    app.view(FIX_MODAL)(check_fix_modal)
    app.view(FEEDBACK_MODAL)(handoff(app, deps, on_feedback_modal))
