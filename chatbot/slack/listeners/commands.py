"""`/fix`: ack at once; then parse, authorize, and start a task, open the modal, or manage channel defaults.

Channel defaults decide for everyone in the channel (the repository and the commands each later /fix
runs), so only approvers change them, the values are checked as a /fix would be, and every change is
announced in the channel (chatbot.slack.validation, agent.tasks.policy.check_config_editor).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from agent.exceptions import FixbotError
from agent.tasks.policy import check_config_editor
from chatbot.exceptions import CommandSyntaxError
from chatbot.slack.api_errors import NOT_IN_CHANNEL, error_code
from chatbot.slack.blocks import render_config, render_config_change, render_help, render_text
from chatbot.slack.context import SlackDeps
from chatbot.slack.fix_command import is_help, parse_fix_command, unescape_slack
from chatbot.slack.listeners import handoff
from chatbot.slack.submit import request_from, start_fix
from chatbot.slack.surfaces import render_fix_modal
from chatbot.slack.text import mrkdwn, preformatted
from chatbot.slack.validation import validate_defaults


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach the /fix listener."""

    async def fix_command(body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        team, channel, user = body.get("team_id", ""), body.get("channel_id", ""), body.get("user_id", "")

        async def notify(text: str) -> None:
            await respond(text=text, blocks=render_text(text), response_type="ephemeral")

        async def change_defaults(values: dict[str, str] | None) -> None:
            """Approvers only; values checked as a /fix would be; announced in the channel before they are saved,
            so a change is never silent (a bot that cannot post there saves nothing)."""
            check_config_editor(user, approvers=await deps.access.approvers())
            values = await deps.call(validate_defaults, values, deps.settings) if values is not None else None
            blocks = render_config_change(user, values)
            try:
                posted = await client.chat_postMessage(channel=channel, text="/fix defaults changed", blocks=blocks)
            except SlackApiError as exc:
                if error_code(exc) in NOT_IN_CHANNEL:
                    await notify(":wave: I am not in this channel yet. Type `/invite @fixbot` here, then try again.")
                    return
                raise
            try:
                saved = await deps.set_channel_defaults(channel, values)
            except FixbotError as exc:
                text = f":warning: The change of this channel's /fix defaults was not saved: {mrkdwn(str(exc), 300)}"
                await client.chat_update(channel=channel, ts=str(posted["ts"]), text=text, blocks=render_text(text))
                raise
            await respond(text="/fix defaults saved" if saved else "/fix defaults cleared",
                          blocks=render_config(channel, saved), response_type="ephemeral")

        if is_help(body.get("text") or ""):  # answered from here alone: help works while Redis is down
            await respond(text="How to use fixbot", blocks=render_help(), response_type="ephemeral")
            return
        # Slack repeats an invocation it thinks was lost with the same trigger_id: handle it once.
        if not await deps.first_time(f"command:{team}:{body.get('trigger_id') or body.get('response_url')}"):
            return
        refusal = deps.access.refusal(team=team, channel=channel, user=user)
        if refusal:
            await notify(f":no_entry: {refusal}")
            return
        try:
            defaults = await deps.channel_defaults(channel)
            command = parse_fix_command(body.get("text") or "", has_default_repo=bool(defaults.get("repo")))
            if command.kind == "modal":
                await client.views_open(trigger_id=body["trigger_id"], view=render_fix_modal(channel, defaults))
            elif command.kind == "config_show":
                await respond(text="/fix defaults", blocks=render_config(channel, defaults), response_type="ephemeral")
            elif command.kind in ("config_set", "config_clear"):
                await change_defaults(command.config if command.kind == "config_set" else None)
            else:
                request, engine = request_from(command, defaults)
                await start_fix(deps, client, notify, request=request, engine=engine, team=team, channel=channel,
                                user=user, response_url=body.get("response_url"),
                                idempotency_key=f"slack:{team}:{body.get('trigger_id')}", seen_before=False)
        except CommandSyntaxError as exc:  # what was typed comes back, so nothing is lost (Slack clears the box)
            text = f":warning: {mrkdwn(str(exc), 1000)}\nYou wrote:"
            typed = preformatted(f"/fix {unescape_slack(body.get('text') or '')}".strip(), max_lines=20, max_chars=2000)
            await respond(text=text, blocks=[*render_text(text), typed], response_type="ephemeral")
        except FixbotError as exc:  # NotAuthorized and InvalidRequest too
            await notify(f":warning: {mrkdwn(str(exc), 1000)}")

    app.command("/fix")(handoff(app, deps, fix_command))  # ack first, always: the work runs after it
