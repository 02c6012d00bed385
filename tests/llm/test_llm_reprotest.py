"""No reproducing test: the model writes one that must fail now; it joins the patch as a new file."""

from __future__ import annotations

from pathlib import Path

import pytest
from llm_fakes import ScriptedChat, drive, make_deps, make_state
from test_llm_nodes import APPROVE, CALC, GOOD, MANAGER

GREEN = {"conftest.py": "", "calc.py": CALC,
         "tests/test_calc.py": "from calc import calculate_total\n\n\ndef test_positive():\n"
                               "    assert calculate_total([1, 2, 3]) == 6\n"}


def block(code: str, description: str = "negative items count") -> str:
    return f"DESCRIPTION: {description}\n\n```python\n{code}```\n"


PASSES = block("from calc import calculate_total\n\n\ndef test_total():\n    assert calculate_total([1, 2]) == 3\n")
IMPORT_ERROR = block("from calcx import calculate_total\n\n\ndef test_total():\n"
                     "    assert calculate_total([1, -2]) == -1\n")
NO_TEST = block("X = 1\n")
SHOWS_BUG = block("from calc import calculate_total\n\n\ndef test_negative_items_count():\n"
                  "    assert calculate_total([1, -2, 3]) == 2\n")


async def test_writes_a_failing_test_then_the_fix_passes_it(tmp_path: Path):
    state = make_state(tmp_path / "repo", GREEN, status="no_failure",
                       baseline={"exit_code": 0, "failing": [], "passing": ["tests/test_calc.py::test_positive"]})
    chat = ScriptedChat([PASSES, IMPORT_ERROR, NO_TEST, SHOWS_BUG, MANAGER, GOOD, APPROVE])
    deps = make_deps(chat, max_attempts=4)
    state, trace = await drive(state, deps, start="llm_reprotest")
    assert trace == ["llm_reprotest"] * 4 + ["reproduce"]
    assert "passes on the current code, so it does not show the bug" in chat.prompt(1)
    assert "errors out (import, syntax or fixture problem)" in chat.prompt(2)
    assert "defines no test function" in chat.prompt(3)
    repro = state["repro_test"]
    assert repro["path"] == "tests/test_fixbot_repro.py" and repro["description"] == "negative items count"
    assert "test_negative_items_count" in repro["output"] and state["status"] == "running"
    workspace = Path(state["workspace"])
    assert (workspace / repro["path"]).read_text() == repro["content"]
    box = deps.sandboxes.boxes["fx-test"]
    assert box.read_file(repro["path"]).decode() == repro["content"]
    assert "<<<DATA example-test" in chat.prompt(0) and "tests/test_fixbot_repro.py" in chat.prompt(0)

    # reproduce (the lead's node) would now record the failure; then the fix loop runs as usual.
    state["baseline"] = {"exit_code": 1, "stdout": "F", "failing": ["tests/test_fixbot_repro.py::"
                                                                    "test_negative_items_count"]}
    state["suspects"] = [{"path": "calc.py", "line": 4, "score": 0.9, "function": "calculate_total"}]
    state, trace = await drive(state, deps)
    assert trace[-2:] == ["llm_prove", "end"] and state["plausible"]
    from agent.graph.nodes.llm_prove import final_patch_of

    final = final_patch_of(state)["final_patch"]
    assert final["files"] == ["calc.py", "tests/test_fixbot_repro.py"]
    assert "--- /dev/null\n+++ b/tests/test_fixbot_repro.py" in final["diff"]


async def test_gives_up_after_max_attempts(tmp_path: Path):
    state = make_state(tmp_path / "repo", GREEN, status="no_failure")
    chat = ScriptedChat([PASSES])
    state, trace = await drive(state, make_deps(chat, max_attempts=1), start="llm_reprotest")
    assert trace == ["llm_reprotest", "llm_reprotest", "end"]
    assert state["status"] == "no_failure" and "could not write a test that shows the bug" in state["message"]
    assert not (Path(state["workspace"]) / "tests/test_fixbot_repro.py").exists()


def test_a_symlinked_test_folder_never_leads_the_new_test_out_of_the_repository(tmp_path: Path):
    from agent.exceptions import WorkflowError
    from agent.graph.nodes.llm_reprotest import _write_new, new_test_path

    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "tests").symlink_to(outside)
    path = new_test_path(str(repo))
    assert path == "test_fixbot_repro.py"  # not under the linked folder
    with pytest.raises(WorkflowError, match="outside the repository"):
        _write_new(str(repo), "tests/test_fixbot_repro.py", "def test_x():\n    pass\n")
    assert list(outside.iterdir()) == []
    _write_new(str(repo), path, "def test_x():\n    pass\n")
    assert (repo / path).read_text() == "def test_x():\n    pass\n"


def test_read_sources_skips_files_behind_a_symlinked_folder(tmp_path: Path):
    from agent.graph.nodes.common import read_sources

    secret = tmp_path / "host"
    secret.mkdir()
    (secret / "x.py").write_text("SECRET = 1\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "lib").symlink_to(secret)
    (repo / "ok.py").write_text("A = 1\n")
    assert read_sources(str(repo), ["lib/x.py", "ok.py"]) == {"ok.py": "A = 1\n"}
