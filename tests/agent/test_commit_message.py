"""The commit the publish step makes: its subject is one line of at most 72 characters, cut between words."""

from __future__ import annotations

import pytest

from agent.graph.nodes.publish import commit_message, subject_line
from agent.request import FixRequest

EXPLANATION = ("Treat negative amounts as refunds: subtract them from the total instead of skipping them. "
               "With this change the refund test passes.")


def state(explanation: str) -> dict:
    request = FixRequest(repo="https://github.com/acme/shop", issue="totals are wrong")
    return {"task_id": "fx-1", "request": request.to_dict(), "final_patch": {"explanation": explanation},
            "decision": {"by": "U2"}}


def test_the_subject_is_cut_between_words():
    subject = commit_message(state(EXPLANATION)).splitlines()[0]
    assert subject == "fixbot: Treat negative amounts as refunds: subtract them from the..."
    assert len(subject) <= 72


@pytest.mark.parametrize(("text", "width", "expected"), [
    ("short enough", 20, "short enough"),
    ("  spaces\tand\nnewlines   collapse ", 40, "spaces and newlines collapse"),
    ("one two three four", 12, "one two..."),
    ("one two three four", 11, "one two..."),  # "one two thr" would end inside a word
    ("https://example.com/" + "a" * 80 + " details", 30, "https://example.com/aaaaaaa..."),  # nothing shorter
    ("cut after a comma, here", 20, "cut after a comma..."),
])
def test_subject_line(text, width, expected):
    got = subject_line(text, width)
    assert got == expected and len(got) <= width
