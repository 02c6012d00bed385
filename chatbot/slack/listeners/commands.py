"""`/fix`: ack at once; then parse, authorize, and start a task, open the modal, or manage channel defaults."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from agent.exceptions import FixbotError
from chatbot.exceptions import CommandSyntaxError
from chatbot.slack.blocks import render_config, render_help, render_text
from chatbot.slack.context import SlackDeps
from chatbot.slack.fix_command import parse_fix_command
from chatbot.slack.listeners import handoff
from chatbot.slack.submit import request_from, start_fix
from chatbot.slack.surfaces import render_fix_modal
from chatbot.slack.text import mrkdwn


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach the /fix listener."""

    async def fix_command(body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        team, channel, user = body.get("team_id", ""), body.get("channel_id", ""), body.get("user_id", "")

        async def notify(text: str) -> None:
            await respond(text=text, blocks=render_text(text), response_type="ephemeral")

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
            if command.kind == "help":
                await respond(text="How to use fixbot", blocks=render_help(), response_type="ephemeral")
            elif command.kind == "modal":
                await client.views_open(trigger_id=body["trigger_id"], view=render_fix_modal(channel, defaults))
            elif command.kind == "config_show":
                await respond(text="/fix defaults", blocks=render_config(channel, defaults), response_type="ephemeral")
            elif command.kind in ("config_set", "config_clear"):
                values = command.config if command.kind == "config_set" else None
                saved = await deps.set_channel_defaults(channel, values)
                await respond(text="/fix defaults saved", blocks=render_config(channel, saved),
                              response_type="ephemeral")
            else:
                request, engine = request_from(command, defaults)
                await start_fix(deps, client, notify, request=request, engine=engine, team=team, channel=channel,
                                user=user, response_url=body.get("response_url"),
                                idempotency_key=f"slack:{team}:{body.get('trigger_id')}")
        except (CommandSyntaxError, FixbotError) as exc:
            await notify(f":warning: {mrkdwn(str(exc), 1000)}")

    app.command("/fix")(handoff(deps, fix_command))  # ack first, always: the work runs after it
