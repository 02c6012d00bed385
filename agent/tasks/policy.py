"""Who may decide on a task: approve it, or reject, retry and cancel it. Every face asks here first.

The rules (issue 10): only configured approvers approve (user ids, or members of a user group the
face resolves to ids); an empty approver list means any allowed user may approve. The requester
approves their own patch only when self-approval is on, and never a high-risk one: a second
person must look at it (the "two-person rule" of change management). Rejecting, retrying with
feedback and cancelling are open to the requester and to approvers.
"""

from __future__ import annotations

from typing import Any

from agent.tasks.exceptions import NotAuthorized


def requester_of(task: dict[str, Any]) -> str | None:
    """The user who asked for the task (origin "user"), if known."""
    user = (task.get("origin") or {}).get("user")
    return str(user) if user else None


def check_approver(task: dict[str, Any], user: str, *, approvers: set[str], self_approval: bool) -> None:
    """Raise NotAuthorized unless `user` may approve `task`'s patch.

    `approvers` is the resolved set of user ids (empty: anyone may approve); `self_approval` lets the
    requester approve a low- or medium-risk patch of their own. The message says what to do instead.
    """
    if approvers and user not in approvers:
        raise NotAuthorized("only approvers may approve a patch, and you are not one: ask an approver, "
                            "or an admin to add you to APPROVERS or APPROVER_GROUP")
    if user == requester_of(task):
        level = str((task.get("risk") or {}).get("level") or "").lower()
        if level == "high":
            raise NotAuthorized("this patch is high risk, so someone other than the requester must approve it")
        if not self_approval:
            raise NotAuthorized("you asked for this fix and self-approval is off (SELF_APPROVAL): "
                                "ask another approver")


def check_participant(task: dict[str, Any], user: str, *, approvers: set[str], what: str = "do this") -> None:
    """Raise NotAuthorized unless `user` is the requester or an approver (anyone when there are no approvers).

    `what` names the action in the message ("cancel this task", "reject this patch").
    """
    if not approvers or user in approvers or user == requester_of(task):
        return
    raise NotAuthorized(f"only the requester or an approver may {what}")
