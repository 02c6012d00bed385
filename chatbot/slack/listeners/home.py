"""App Home: the dashboard, published when a user opens the Home tab (app_home_opened)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.models.blocks import SectionBlock
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from agent.tasks.exceptions import NotAuthorized, StoreUnavailable
from chatbot.slack.context import SlackDeps
from chatbot.slack.listeners import handoff
from chatbot.slack.surfaces import render_home

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    """Attach the App Home listener."""

    async def on_home(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event.get("user", "")
        refusal = deps.access.refusal(team=body.get("team_id"), channel=None, user=user)
        if refusal:
            await client.views_publish(user_id=user, view=View(type="home", blocks=[SectionBlock(text=refusal)]))
            return
        try:
            stats = await deps.call(deps.store.stats)
            try:
                sees_all = user in await deps.access.approvers()
            except NotAuthorized:
                sees_all = False
            # Everyone sees their own tasks; approvers, who oversee, see everyone's (task text can be private).
            tasks, _ = await deps.call(deps.store.recent, requester=None if sees_all else user, limit=15)
        except StoreUnavailable as exc:
            log.warning("App Home without data: %s", exc)
            await client.views_publish(user_id=user, view=View(type="home", blocks=[SectionBlock(
                text=":warning: fixbot cannot reach its task store right now; try again in a minute.")]))
            return
        links = {t["id"]: link for t in tasks if (link := deps.link(t))}
        await client.views_publish(user_id=user, view=render_home(stats, tasks, links=links, now=deps.now(),
                                                                  everyone=sees_all))

    app.event("app_home_opened")(handoff(app, deps, on_home))
