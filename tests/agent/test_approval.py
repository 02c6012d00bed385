"""The graph pauses for a person at `propose` and follows the decision (real sandbox, SQLite checkpoints)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.events import ListSink
from agent.request import FixRequest
from agent.workflow import decide_fix, run_fix

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker]


def example(name: str) -> FixRequest:
    path = ROOT / "examples" / name
    return FixRequest(repo=str(path), issue=(path / "ISSUE.md").read_text())


async def test_fix_without_approval_never_pauses(workflow_settings):
    record = await run_fix(example("calculate_total"), workflow_settings)
    assert record["status"] == "fixed" and record["awaiting_approval"] is False and record["proposal"] is None


async def test_pause_then_approve_publishes_a_format_patch(workflow_settings):
    sink = ListSink()
    paused = await run_fix(example("calculate_total"), workflow_settings, approval=True, events=sink)
    assert paused["awaiting_approval"] is True and paused["status"] == "fixed"
    proposal = paused["proposal"]
    assert proposal["final_patch"]["diff"] == paused["final_patch"]["diff"]
    assert proposal["risk"]["level"] in ("low", "medium", "high") and proposal["test_results"][-1]["success"]
    assert proposal["analysis"] and proposal["explanation"]
    work = Path(workflow_settings.work_dir) / paused["task_id"]
    assert not work.exists(), "the checkout is released while the task waits"
    done = await decide_fix(paused["task_id"], {"action": "approve", "by": "U2", "feedback": None},
                            workflow_settings, events=sink)
    assert done["status"] == "published" and done["awaiting_approval"] is False
    publication = done["publication"]
    assert publication["branch"] == f"fixbot/{paused['task_id']}" and len(publication["commit"]) == 40
    assert publication["patch"].startswith("From ") and "Approved-by: U2" in publication["patch"]
    assert "--- a/calc.py" in publication["patch"] and "+++ b/calc.py" in publication["patch"]
    assert [e["kind"] for e in sink.events].count("reproduced") == 1, "the resume does not run the tests again"


async def test_reject_ends_and_retry_finds_another_candidate(workflow_settings):
    paused = await run_fix(example("calculate_total"), workflow_settings, approval=True)
    first = paused["final_patch"]["diff"]
    again = await decide_fix(paused["task_id"], {"action": "retry", "by": "U2", "feedback": "not this one"},
                             workflow_settings)
    if again["awaiting_approval"]:  # the search found a different plausible patch after the rejected one
        assert again["final_patch"]["diff"] != first
        assert again["proposal"]["final_patch"]["diff"] == again["final_patch"]["diff"]
        rejected = await decide_fix(paused["task_id"], {"action": "reject", "by": "U3", "feedback": None},
                                    workflow_settings)
        assert rejected["status"] == "rejected" and rejected["final_patch"]["diff"] == again["final_patch"]["diff"]
    else:  # nothing else is plausible: the search ends, never proposing the rejected patch again
        assert again["status"] == "not_fixed" and again["final_patch"] is None
    assert again["decision"]["feedback"] == "not this one"
