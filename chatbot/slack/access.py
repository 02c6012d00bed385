"""Who may use fixbot here (SLACK_ALLOWED_TEAMS/CHANNELS/USERS) and who approves (APPROVERS, APPROVER_GROUP).

A user group's members come from usergroups.users.list (scope usergroups:read), cached for
GROUP_TTL seconds. When the group is configured but cannot be read, approval is refused with a
message rather than opened to everyone (fail closed).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from agent.settings import Settings
from agent.tasks.exceptions import NotAuthorized
from agent.tasks.policy import Approvers

GROUP_TTL = 60.0
log = logging.getLogger(__name__)


class Access:
    """Allow-lists and the approver set of one bot process."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.teams = set(settings.slack_allowed_teams)
        self.channels = set(settings.slack_allowed_channels)
        self.users = set(settings.slack_allowed_users)
        self.static_approvers = set(settings.approvers)
        self.group = settings.approver_group
        self.self_approval = settings.self_approval
        self.client = client  # slack_sdk AsyncWebClient, set once the Bolt app exists
        self._group_members: set[str] | None = None
        self._group_read_at = 0.0

    def refusal(self, *, team: str | None, channel: str | None, user: str | None) -> str | None:
        """Why this workspace, channel or user may not use fixbot (one line), or None when allowed."""
        if self.teams and team not in self.teams:
            return "fixbot is not enabled for this workspace (SLACK_ALLOWED_TEAMS)."
        if self.channels and channel and channel not in self.channels:
            return ("fixbot is not enabled in this channel (SLACK_ALLOWED_CHANNELS): ask an admin, "
                    "or use an allowed channel.")
        if self.users and user not in self.users:
            return "you are not on fixbot's list of users (SLACK_ALLOWED_USERS): ask an admin to add you."
        return None

    async def approvers(self) -> Approvers:
        """Who may approve: APPROVERS and the members of APPROVER_GROUP (neither configured: anyone; a configured
        group that is empty, with no APPROVERS: nobody).

        Raises NotAuthorized when the group is configured but Slack cannot list it and nothing is cached.
        """
        if not self.group:
            return Approvers.of(self.static_approvers)
        now = time.monotonic()
        if self._group_members is None or now - self._group_read_at > GROUP_TTL:
            try:
                reply = await self.client.usergroups_users_list(usergroup=self.group)
                self._group_members = {str(u) for u in reply.get("users") or []}
                self._group_read_at = now
            except Exception as exc:  # noqa: BLE001 - any Slack failure: keep the cache, or refuse
                log.warning("cannot list approver group %s: %s", self.group, getattr(exc, "response", exc))
                if self._group_members is None:
                    raise NotAuthorized("cannot read the approver group from Slack right now; "
                                        "try again in a minute") from None
        return Approvers(frozenset(self.static_approvers | (self._group_members or set())), listed=True)
