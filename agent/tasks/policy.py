"""Who may decide on a task: approve it, or reject, retry and cancel it. Every face asks here first.

The rules (issue 10): only configured approvers approve (user ids, or members of a user group the
face resolves to ids); an empty approver list means any allowed user may approve. The requester
approves their own patch only when self-approval is on, and never a high-risk one: a second
person must look at it (the "two-person rule" of change management). Rejecting, retrying with
feedback and cancelling are open to the requester and to approvers. A chat channel's shared /fix
defaults (repository, test and setup commands every later task of the channel runs) are changed by
approvers only, since they decide for everyone.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from agent.tasks.exceptions import NotAuthorized


@dataclass(frozen=True)
class Approvers:
    """Who may approve: exactly `ids` when an approver list is configured (`listed`; it may be empty, e.g. an empty
    user group: then nobody may), or anyone allowed to use fixbot when none is."""

    ids: frozenset[str] = frozenset()
    listed: bool = False

    def __contains__(self, user: object) -> bool:
        return user in self.ids

    @classmethod
    def of(cls, approvers: Approvers | Collection[str]) -> Approvers:
        """`approvers` as Approvers; a plain collection is a list of ids, empty meaning anyone."""
        if isinstance(approvers, Approvers):
            return approvers
        return cls(frozenset(approvers), listed=bool(approvers))

    def admits(self, user: str) -> bool:
        """Whether `user` is an approver (everyone is when no list is configured)."""
        return not self.listed or user in self.ids


def risk_level(task: dict[str, Any]) -> str:
    """The task's risk level in lower case ("low", "medium", "high"), "" when unknown."""
    return str((task.get("risk") or {}).get("level") or "").lower()


def requester_of(task: dict[str, Any]) -> str | None:
    """The user who asked for the task (origin "user"), if known."""
    user = (task.get("origin") or {}).get("user")
    return str(user) if user else None


def check_approver(task: dict[str, Any], user: str, *, approvers: Approvers | Collection[str],
                   self_approval: bool) -> None:
    """Raise NotAuthorized unless `user` may approve `task`'s patch.

    `approvers` is the resolved Approvers (or a collection of user ids, empty: anyone may approve);
    `self_approval` lets the requester approve a low- or medium-risk patch of their own. The message
    says what to do instead.
    """
    approvers = Approvers.of(approvers)
    if approvers.listed and not approvers.ids:
        raise NotAuthorized("nobody may approve patches yet: the approver group is empty; ask an admin to add "
                            "members to APPROVER_GROUP, or approvers to APPROVERS")
    if not approvers.admits(user):
        raise NotAuthorized("only approvers may approve a patch, and you are not one: ask an approver, "
                            "or an admin to add you to APPROVERS or APPROVER_GROUP")
    if user == requester_of(task):
        if risk_level(task) == "high":
            raise NotAuthorized("this patch is high risk, so someone other than the requester must approve it")
        if not self_approval:
            raise NotAuthorized("you asked for this fix and self-approval is off (SELF_APPROVAL): "
                                "ask another approver")


def check_participant(task: dict[str, Any], user: str, *, approvers: Approvers | Collection[str],
                      what: str = "do this") -> None:
    """Raise NotAuthorized unless `user` is the requester or an approver (anyone when there are no approvers).

    `what` names the action in the message ("cancel this task", "reject this patch").
    """
    if Approvers.of(approvers).admits(user) or user == requester_of(task):
        return
    raise NotAuthorized(f"only the requester or an approver may {what}")


def check_config_editor(user: str, *, approvers: Approvers | Collection[str]) -> None:
    """Raise NotAuthorized unless `user` may change a channel's shared defaults: an approver (anyone when there
    are no approvers)."""
    if not Approvers.of(approvers).admits(user):
        raise NotAuthorized("only approvers may change this channel's /fix defaults: ask one of them, "
                            "or give the values in your own /fix")
