"""The transition table: the paths of the issue exist, terminal states lead nowhere."""

from __future__ import annotations

import pytest

from agent.tasks.states import TERMINAL, TRANSITIONS, TaskStatus, can_transition

S = TaskStatus


def test_every_status_has_a_row_and_terminal_ones_lead_nowhere():
    assert set(TRANSITIONS) == set(TaskStatus)
    assert TERMINAL == {S.PUBLISHED, S.REJECTED, S.NOT_FIXED, S.NO_FAILURE, S.FAILED, S.CANCELLED, S.TIMED_OUT}


@pytest.mark.parametrize("path", [
    ["queued", "running", "awaiting_approval", "approved", "publishing", "published"],
    ["queued", "running", "awaiting_approval", "queued", "running", "awaiting_approval", "rejected"],
    ["queued", "running", "queued", "running", "failed"],
    ["queued", "cancelled"], ["queued", "running", "cancelled"], ["queued", "running", "timed_out"],
])
def test_allowed_paths(path):
    assert all(can_transition(a, b) for a, b in zip(path, path[1:], strict=False))


@pytest.mark.parametrize(("a", "b"), [
    ("failed", "approved"), ("approved", "approved"), ("published", "cancelled"), ("queued", "approved"),
    ("running", "approved"), ("cancelled", "approved"), ("rejected", "queued"), ("queued", "nonsense"),
])
def test_refused(a, b):
    assert not can_transition(a, b)
