"""agent.tasks.policy: who may approve, reject, retry and cancel (a table of cases)."""

from __future__ import annotations

import pytest

from agent.tasks.exceptions import NotAuthorized
from agent.tasks.policy import check_approver, check_participant


def task(level: str = "low", requester: str = "U_REQ") -> dict:
    return {"id": "fx-1", "origin": {"kind": "slack", "user": requester}, "risk": {"level": level, "reasons": []}}


APPROVE = [
    # user, approvers, self_approval, risk, allowed, message part
    ("U_APP", {"U_APP"}, False, "low", True, ""),
    ("U_APP", {"U_APP"}, False, "high", True, ""),
    ("U_OTHER", {"U_APP"}, True, "low", False, "only approvers may approve"),
    ("U_REQ", {"U_REQ"}, False, "low", False, "self-approval is off"),
    ("U_REQ", {"U_REQ"}, True, "medium", True, ""),
    ("U_REQ", {"U_REQ"}, True, "high", False, "high risk"),
    ("U_REQ", set(), True, "high", False, "high risk"),
    ("U_REQ", set(), False, "low", False, "self-approval is off"),
    ("U_ANY", set(), False, "high", True, ""),
]


@pytest.mark.parametrize(("user", "approvers", "self_ok", "level", "allowed", "message"), APPROVE)
def test_check_approver(user, approvers, self_ok, level, allowed, message):
    if allowed:
        check_approver(task(level), user, approvers=approvers, self_approval=self_ok)
        return
    with pytest.raises(NotAuthorized) as info:
        check_approver(task(level), user, approvers=approvers, self_approval=self_ok)
    assert message in str(info.value)


@pytest.mark.parametrize(("user", "approvers", "allowed"), [
    ("U_REQ", {"U_APP"}, True), ("U_APP", {"U_APP"}, True), ("U_OTHER", {"U_APP"}, False), ("U_OTHER", set(), True)])
def test_check_participant(user, approvers, allowed):
    if allowed:
        check_participant(task(), user, approvers=approvers)
    else:
        with pytest.raises(NotAuthorized, match="only the requester or an approver may cancel it"):
            check_participant(task(), user, approvers=approvers, what="cancel it")
