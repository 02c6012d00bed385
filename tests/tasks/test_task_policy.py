"""agent.tasks.policy: who may approve, reject, retry and cancel (a table of cases)."""

from __future__ import annotations

import pytest

from agent.tasks.exceptions import NotAuthorized
from agent.tasks.policy import Approvers, check_approver, check_config_editor, check_participant, risk_level


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


@pytest.mark.parametrize(("user", "approvers", "allowed"), [
    ("U_APP", {"U_APP"}, True), ("U_REQ", {"U_APP"}, False), ("U_ANY", set(), True)])
def test_check_config_editor(user, approvers, allowed):
    if allowed:
        check_config_editor(user, approvers=approvers)
    else:
        with pytest.raises(NotAuthorized, match="only approvers may change this channel's /fix defaults"):
            check_config_editor(user, approvers=approvers)


def test_a_listed_but_empty_approver_set_means_nobody():
    nobody = Approvers(frozenset(), listed=True)
    with pytest.raises(NotAuthorized, match="nobody may approve"):
        check_approver(task(), "U_ANY", approvers=nobody, self_approval=True)
    check_participant(task(), "U_REQ", approvers=nobody)  # the requester may still cancel or reject
    with pytest.raises(NotAuthorized):
        check_participant(task(), "U_ANY", approvers=nobody)
    with pytest.raises(NotAuthorized):
        check_config_editor("U_ANY", approvers=nobody)
    assert Approvers.of(set()) == Approvers() and Approvers.of({"U1"}) == Approvers(frozenset({"U1"}), listed=True)


def test_risk_level_in_any_case():
    assert risk_level({"risk": {"level": "High"}}) == "high" and risk_level({}) == ""
    with pytest.raises(NotAuthorized, match="high risk"):
        check_approver(task("HIGH"), "U_REQ", approvers={"U_REQ"}, self_approval=True)
