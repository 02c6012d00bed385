"""A reviewer's "reject with feedback, retry" reaches the LLM coder as a message (real sandbox, scripted model)."""

from __future__ import annotations

import pytest
from llm_fakes import ScriptedChat

from agent.request import FixRequest
from agent.workflow import decide_fix, run_fix

pytestmark = [pytest.mark.docker]

SPAN_REPO = {
    "conftest.py": "",
    "stats.py": "def span(xs):\n    lo = min(xs)\n    hi = min(xs)\n    return hi - lo + 1\n",
    "tests/test_stats.py": "from stats import span\n\n\ndef test_span():\n    assert span([1, 5]) == 4\n\n\n"
                           "def test_flat():\n    assert span([3, 3]) == 0\n",
}
PLAN = "ROOT CAUSE: `span` takes the minimum twice and adds one.\nPLAN:\n1. Use max for hi, drop + 1.\nFILES: stats.py"
FIX = ("DESCRIPTION: use max for the upper end and drop the + 1\nEXPLANATION: hi took min(xs).\n\nstats.py\n"
       "<<<<<<< SEARCH\n    hi = min(xs)\n    return hi - lo + 1\n=======\n    hi = max(xs)\n    return hi - lo\n"
       ">>>>>>> REPLACE\n")
OTHER = ("DESCRIPTION: compute the span with max() - min() directly\nEXPLANATION: one expression, no temporaries.\n\n"
         "stats.py\n<<<<<<< SEARCH\n    lo = min(xs)\n    hi = min(xs)\n    return hi - lo + 1\n=======\n"
         "    return max(xs) - min(xs)\n>>>>>>> REPLACE\n")
APPROVE = '{"approve": true, "reasons": []}'


async def test_retry_with_feedback_sends_it_to_the_coder_and_proposes_again(make_repo, tmp_path, workflow_settings):
    repo = make_repo(tmp_path / "r", SPAN_REPO)
    first = ScriptedChat([PLAN, FIX, APPROVE])
    paused = await run_fix(FixRequest(repo=str(repo), issue="span is wrong"), workflow_settings, engine="llm",
                           llm=first, approval=True)
    assert paused["awaiting_approval"] and "+    hi = max(xs)" in paused["final_patch"]["diff"]
    second = ScriptedChat([OTHER, APPROVE])
    again = await decide_fix(paused["task_id"], {"action": "retry", "by": "U2",
                                                 "feedback": "no temporaries: one expression please"},
                             workflow_settings, llm=second)
    assert second.nodes == ["coder", "reviewer"], "the plan is kept; only the coder and reviewer run again"
    prompt = second.prompt(0)
    assert "no temporaries: one expression please" in prompt and "A reviewer rejected your last patch" in prompt
    assert "+    hi = max(xs)" in prompt, "the rejected patch is shown to the model"
    assert again["awaiting_approval"] and "+    return max(xs) - min(xs)" in again["final_patch"]["diff"]
    assert again["attempts"] == 2
    done = await decide_fix(paused["task_id"], {"action": "approve", "by": "U3"}, workflow_settings, llm=second)
    assert done["status"] == "published" and "+    return max(xs) - min(xs)" in done["publication"]["patch"]
