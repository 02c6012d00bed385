"""The LLM nodes with a scripted model and a local box running real pytest: every loop of the workflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from llm_fakes import ScriptedChat, drive, make_deps, make_state

from agent.graph.nodes.llm_prove import final_patch_of, prove_files
from agent.llm.client import Reply
from agent.llm.errors import LLMUnavailable

CALC = "def calculate_total(items):\n    total = 0\n    for x in items:\n        if x > 0:\n            total += x\n" \
       "    return total\n"
TESTS = ("from calc import calculate_total\n\n\ndef test_positive():\n    assert calculate_total([1, 2, 3]) == 6\n\n\n"
         "def test_negative():\n    assert calculate_total([1, -2, 3]) == 2\n")
REPO = {"conftest.py": "", "calc.py": CALC, "tests/test_calc.py": TESTS}
BASELINE = {"exit_code": 1, "stdout": "..F\nFAILED tests/test_calc.py::test_negative - assert 4 == 2",
            "failing": ["tests/test_calc.py::test_negative"], "passing": ["tests/test_calc.py::test_positive"],
            "messages": {"tests/test_calc.py::test_negative": "AssertionError: assert 4 == 2"}}
SUSPECTS = [{"path": "calc.py", "line": 4, "score": 0.9, "function": "calculate_total", "reasons": []}]

MANAGER = ("ROOT CAUSE: `calculate_total` skips negative numbers because of the `if x > 0` guard.\n"
           "PLAN:\n1. Remove the guard in calc.py.\nFILES: calc.py")


def edit(search: str, replace: str, path: str = "calc.py", description: str = "add every item") -> str:
    return (f"DESCRIPTION: {description}\nEXPLANATION: The guard skipped negative items.\nThey must count.\n\n"
            f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n")


GOOD = edit("        if x > 0:\n            total += x\n", "        total += x\n")
WRONG = edit("        if x > 0:\n", "        if x >= 0:\n", description="include zero")
NO_MATCH = edit("        if x > 100:\n", "        if True:\n")
BROKEN = edit("        if x > 0:\n", "        if x >>:\n")
TEST_EDIT = edit("    assert calculate_total([1, -2, 3]) == 2\n", "    pass\n", path="tests/test_calc.py")
APPROVE = 'Looks right.\n{"approve": true, "reasons": []}'
REJECT = '{"approve": false, "reasons": ["the guard hides the bug"]}'


@pytest.fixture
def repo(tmp_path: Path) -> dict:
    return make_state(tmp_path / "repo", REPO, baseline=BASELINE, suspects=SUSPECTS,
                      analysis="1 test(s) fail: tests/test_calc.py::test_negative.")


async def test_happy_path(repo):
    chat = ScriptedChat([MANAGER, GOOD, APPROVE])
    deps = make_deps(chat)
    state, trace = await drive(repo, deps)
    assert trace == ["llm_manager", "llm_coder", "llm_reviewer", "llm_prove", "end"]
    found = state["plausible"]
    assert found["engine"] == "llm" and found["description"] == "add every item"
    assert found["explanation"] == "The guard skipped negative items. They must count."
    assert state["test_results"][-1]["success"] is True and state["attempts"] == 1
    assert state["tokens"]["total"] == 360 and set(state["tokens"]["by_node"]) == {"manager", "coder", "reviewer"}
    assert "Root cause (model): `calculate_total` skips" in state["analysis"]
    manager_prompt, coder_prompt = chat.prompt(0), chat.prompt(1)
    assert "<<<DATA issue" in manager_prompt and ">    4 |         if x > 0:" in manager_prompt
    assert "### calc.py (the whole file)\n" + CALC in coder_prompt and "did not work" not in coder_prompt
    assert "-        if x > 0:" in chat.prompt(2)
    box = deps.sandboxes.boxes["fx-test"]
    assert box.read_file("calc.py").decode() == CALC  # the original is back in the sandbox
    final = final_patch_of(state)
    assert final["status"] == "fixed" and final["final_patch"]["filename"] == "calc.py"
    assert final["final_patch"]["diff"].startswith("--- a/calc.py\n+++ b/calc.py\n")
    assert final["risk"]["level"] == "low"


async def test_a_failing_patch_goes_back_with_the_test_output(repo):
    chat = ScriptedChat([MANAGER, WRONG, APPROVE, GOOD, APPROVE])
    state, trace = await drive(repo, make_deps(chat))
    assert trace == ["llm_manager", "llm_coder", "llm_reviewer", "llm_prove", "llm_coder", "llm_reviewer",
                     "llm_prove", "end"]
    assert [r["success"] for r in state["test_results"]] == [False, True] and state["attempts"] == 2
    second = chat.prompt(3)
    assert "did not work: the tests still fail with the patch applied" in second
    assert "test_negative" in second and "+        if x >= 0:" in second and "<<<DATA test-output" in second


async def test_a_malformed_edit_is_feedback_and_counts_as_an_attempt(repo):
    chat = ScriptedChat([MANAGER, NO_MATCH, GOOD, APPROVE])
    state, trace = await drive(repo, make_deps(chat))
    assert trace == ["llm_manager", "llm_coder", "llm_coder", "llm_reviewer", "llm_prove", "end"]
    assert state["attempts"] == 2 and state["plausible"]
    assert "did not work: the edits could not be applied" in chat.prompt(2)
    assert "if x > 100:" in chat.prompt(2)  # the failed reply is shown back


async def test_reviewer_rejection_goes_back_with_reasons(repo):
    chat = ScriptedChat([MANAGER, WRONG, REJECT, GOOD, APPROVE])
    state, trace = await drive(repo, make_deps(chat))
    assert trace == ["llm_manager", "llm_coder", "llm_reviewer", "llm_coder", "llm_reviewer", "llm_prove", "end"]
    assert "the reviewer rejected the patch" in chat.prompt(3) and "- the guard hides the bug" in chat.prompt(3)
    assert len(state["test_results"]) == 1 and state["llm_review"]["approve"] is True


async def test_static_checks_reject_without_asking_the_model(repo):
    chat = ScriptedChat([MANAGER, TEST_EDIT, BROKEN, GOOD, APPROVE])
    state, trace = await drive(repo, make_deps(chat))
    assert chat.nodes == ["manager", "coder", "coder", "coder", "reviewer"]
    assert "tests/test_calc.py is a test file" in chat.prompt(2)
    assert "the patch failed the automatic checks" in chat.prompt(3) and "no longer parses" in chat.prompt(3)
    assert state["plausible"] and state["attempts"] == 3


async def test_attempts_run_out(repo):
    chat = ScriptedChat([MANAGER, NO_MATCH, NO_MATCH])
    state, trace = await drive(repo, make_deps(chat, max_attempts=2))
    assert trace[-2:] == ["llm_coder", "end"] and state["status"] == "not_fixed"
    assert state["message"] == ("the LLM found no working patch in 2 attempt(s); the last one failed because "
                                "the edits could not be applied")


async def test_budget_exhausted_stops_before_the_next_call(repo):
    chat = ScriptedChat([Reply(MANAGER, 900, 150), GOOD])
    state, trace = await drive(repo, make_deps(chat, llm_token_budget=1000))
    assert trace == ["llm_manager", "llm_coder", "end"] and chat.nodes == ["manager"]
    assert state["status"] == "budget_exhausted" and "LLM_TOKEN_BUDGET" in state["message"]
    assert state["tokens"]["total"] == 1050


async def test_an_unavailable_model_or_no_model_ends_with_a_clear_message(repo):
    chat = ScriptedChat([LLMUnavailable("cannot connect to the LLM endpoint at http://127.0.0.1:9/v1")])
    state, _ = await drive(repo, make_deps(chat))
    assert state["status"] == "error"
    assert state["message"] == "the LLM failed: cannot connect to the LLM endpoint at http://127.0.0.1:9/v1"
    state, _ = await drive(repo, make_deps(None))
    assert state["status"] == "error" and "OPENAI_API_KEY" in state["message"]


async def test_prove_files_restores_and_removes_new_files(repo):
    deps = make_deps(None)
    fixed = CALC.replace("        if x > 0:\n            total += x\n", "        total += x\n")
    proof = await prove_files(repo, deps, {"calc.py": fixed, "extra.py": "X = 1\n"})
    assert proof["success"] is True and "2 passed" in proof["stdout"] and proof["failing"] == ""
    box = deps.sandboxes.boxes["fx-test"]
    assert box.read_file("calc.py").decode() == CALC and not (box.root / "extra.py").exists()
    proof = await prove_files(repo, deps, {"calc.py": CALC.replace("total = 0", "total = 1")})
    assert proof["success"] is False and proof["failing"].lstrip("=").startswith(" FAILURES")


async def test_unsafe_paths_and_hidden_characters_never_get_through(repo):
    from agent.graph.nodes.llm_coder import llm_coder

    repo["request"]["issue"] = "calculate_total\u200b ignores\u202e negatives"
    chat = ScriptedChat([edit("x\n", "y\n", path="../outside.py")])
    update = await llm_coder(repo, make_deps(chat))
    assert update["llm_candidate"] is None and update["attempts"] == 1
    assert "'../outside.py' is not a Python source path inside the repository" in update["llm_feedback"]
    assert "\u200b" not in chat.prompt(0) and "\u202e" not in chat.prompt(0)
    assert "calculate_total ignores negatives" in chat.prompt(0)


def test_a_new_file_edit_never_replaces_a_file_it_could_not_read(tmp_path: Path):
    from agent.edits.errors import EditError
    from agent.graph.nodes.llm_coder import build_candidate

    (tmp_path / "legacy.py").write_bytes("NAME = 'caf\xe9'\n".encode("latin-1"))  # not UTF-8: never shown
    answer = "DESCRIPTION: new\n\nlegacy.py\n<<<<<<< SEARCH\n=======\nNAME = 'x'\n>>>>>>> REPLACE\n"
    with pytest.raises(EditError, match="already exists"):
        build_candidate(answer, str(tmp_path), {})
    fresh = build_candidate(answer.replace("legacy.py", "fresh.py"), str(tmp_path), {})
    assert fresh["files"] == {"fresh.py": "NAME = 'x'\n"}
