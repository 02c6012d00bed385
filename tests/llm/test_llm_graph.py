"""The LLM engine inside the compiled graph, in the real sandbox: scripted model and a real HTTP endpoint."""

from __future__ import annotations

import json

import pytest
from llm_fakes import ScriptedChat
from openai_server import OpenAIServer

from agent.events import ListSink
from agent.exceptions import ConfigError
from agent.llm.client import Reply
from agent.request import FixRequest
from agent.workflow import run_fix

pytestmark = [pytest.mark.docker]

# Three lines are wrong, each failing its own test: no single edit and no pair of edits fixes it, so the search
# gives up and the LLM must.
SPAN = "def span(xs):\n    if not xs:\n        return 1\n    lo = min(xs)\n    hi = min(xs)\n    return hi - lo + 1\n"
SPAN_TESTS = ("from stats import span\n\n\ndef test_span():\n    assert span([1, 5]) == 4\n\n\n"
              "def test_flat():\n    assert span([3, 3]) == 0\n\n\ndef test_empty():\n    assert span([]) == 0\n")
SPAN_REPO = {"conftest.py": "", "stats.py": SPAN, "tests/test_stats.py": SPAN_TESTS}
PLAN = ("ROOT CAUSE: `span` takes the minimum twice, adds one, and calls an empty list 1 wide.\nPLAN:\n"
        "1. Use max for hi, drop + 1, return 0 when empty.\nFILES: stats.py")
FIX = ("DESCRIPTION: use max for the upper end, drop the + 1, an empty list spans 0\nEXPLANATION: hi took min(xs), "
       "and the + 1 made a flat list span 1.\n\nstats.py\n<<<<<<< SEARCH\n        return 1\n    lo = min(xs)\n"
       "    hi = min(xs)\n    return hi - lo + 1\n=======\n        return 0\n    lo = min(xs)\n    hi = max(xs)\n"
       "    return hi - lo\n>>>>>>> REPLACE\n")
HALF_FIX = ("DESCRIPTION: use max for the upper end\nEXPLANATION: hi took min(xs).\n\nstats.py\n<<<<<<< SEARCH\n"
            "    hi = min(xs)\n=======\n    hi = max(xs)\n>>>>>>> REPLACE\n")
APPROVE = '{"approve": true, "reasons": []}'





@pytest.fixture
def settings(workflow_settings):
    return workflow_settings.model_copy(update={"auto_search_budget": 20, "max_attempts": 3})


async def test_auto_hands_over_to_the_llm_when_the_search_finds_nothing(make_repo, tmp_path, settings):
    chat = ScriptedChat([PLAN, HALF_FIX, APPROVE, FIX, APPROVE])
    sink = ListSink()
    record = await run_fix(FixRequest(repo=str(make_repo(tmp_path / "r", SPAN_REPO)), issue="span is wrong"),
                           settings, engine="auto", llm=chat, events=sink)
    assert record["status"] == "fixed", record["message"]
    assert record["candidates_tried"] > 0  # the search went first
    assert chat.nodes == ["manager", "coder", "reviewer", "coder", "reviewer"]
    assert [r["success"] for r in record["test_results"] if r.get("engine") == "llm"] == [False, True]
    assert "-    hi = min(xs)\n-    return hi - lo + 1\n+    hi = max(xs)\n+    return hi - lo\n" in \
        record["final_patch"]["diff"] and "-        return 1\n+        return 0\n" in record["final_patch"]["diff"]
    assert record["final_patch"]["explanation"].startswith("hi took min(xs)")
    assert record["attempts"] == 2 and record["tokens"]["total"] == 5 * 120
    assert set(record["tokens"]["by_node"]) == {"manager", "coder", "reviewer"}
    assert "Root cause (model): `span` takes the minimum twice" in record["analysis"]
    # The second coder prompt carries the focused failing output of the first attempt.
    assert "assert 5 == 4" not in chat.prompt(1) and "assert 5 == 4" in chat.prompt(3)
    assert "the tests still fail with the patch applied" in chat.prompt(3)
    phases = [e.get("phase") for e in sink.events if e["kind"] == "phase"]
    assert phases.index("repair") < phases.index("llm_manager")


async def test_search_engine_never_calls_the_model(make_repo, tmp_path, settings):
    chat = ScriptedChat([])
    record = await run_fix(FixRequest(repo=str(make_repo(tmp_path / "r", SPAN_REPO)), issue="span is wrong"),
                           settings.model_copy(update={"repair_max_candidates": 30}), engine="search", llm=chat)
    assert record["status"] == "not_fixed" and chat.calls == []
    assert "candidate budget (30)" in record["message"] or "were tried" in record["message"]


async def test_token_budget_exhausted_stops_with_a_clear_result(make_repo, tmp_path, settings):
    chat = ScriptedChat([Reply(PLAN, 900, 100), Reply(HALF_FIX, 900, 100)])
    record = await run_fix(FixRequest(repo=str(make_repo(tmp_path / "r", SPAN_REPO)), issue="span is wrong"),
                           settings.model_copy(update={"llm_token_budget": 1500}), engine="llm", llm=chat)
    assert record["status"] == "budget_exhausted"
    assert "budget" in record["message"] and record["tokens"]["total"] <= 2000
    assert record["final_patch"] is None


async def test_green_suite_gets_a_reproduction_test_that_ships_with_the_fix(make_repo, tmp_path, settings):
    calc = "def calculate_total(items):\n    total = 0\n    for x in items:\n        if x > 0:\n" \
           "            total += x\n    return total\n"
    tests = "from calc import calculate_total\n\n\ndef test_positive():\n    assert calculate_total([1, 2, 3]) == 6\n"
    repo = make_repo(tmp_path / "r", {"conftest.py": "", "calc.py": calc, "tests/test_calc.py": tests})
    repro = ("DESCRIPTION: negative items are summed\n```python\nfrom calc import calculate_total\n\n\n"
             "def test_negative_items_count():\n    assert calculate_total([1, -2, 3]) == 2\n```\n")
    fix = ("DESCRIPTION: add every item\nEXPLANATION: The guard skipped negative items.\n\ncalc.py\n"
           "<<<<<<< SEARCH\n        if x > 0:\n            total += x\n=======\n        total += x\n"
           ">>>>>>> REPLACE\n")
    chat = ScriptedChat([repro, "ROOT CAUSE: the guard.\nFILES: calc.py", fix, APPROVE])
    record = await run_fix(FixRequest(repo=str(repo), issue="calculate_total ignores negative numbers"),
                           settings, engine="llm", llm=chat)
    assert record["status"] == "fixed", record["message"]
    assert chat.nodes == ["reprotest", "manager", "coder", "reviewer"]
    diff = record["final_patch"]["diff"]
    assert "+    assert calculate_total([1, -2, 3]) == 2" in diff and "-        if x > 0:" in diff
    assert any("reproduction test" in r for r in record["risk"]["reasons"])
    assert record["baseline"]["failing"] and all("test_positive" not in t for t in record["baseline"]["failing"])


async def test_engine_llm_without_a_model_is_refused_before_any_work(make_repo, tmp_path, settings):
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        await run_fix(FixRequest(repo=str(make_repo(tmp_path / "r", SPAN_REPO)), issue="x"), settings, engine="llm")
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


async def test_real_http_endpoint_fixes_the_repo_end_to_end(make_repo, tmp_path, settings):
    """ChatOpenAI against a local OpenAI-compatible server: a 429 and a 500 are retried, usage is counted."""
    script = [{"reply": PLAN, "usage": (400, 50)}, {"status": 429, "retry_after": "0"}, {"status": 500},
              {"reply": FIX, "usage": (700, 90)}, {"reply": APPROVE, "usage": (300, 10)}]
    async with OpenAIServer(script) as server:
        http = settings.model_copy(update={"openai_base_url": server.base_url, "llm_model": "local-model",
                                           "llm_max_retries": 3, "llm_timeout": 10})
        record = await run_fix(FixRequest(repo=str(make_repo(tmp_path / "r", SPAN_REPO)), issue="span is wrong"),
                               http, engine="llm")
    assert record["status"] == "fixed", record["message"]
    assert len(server.requests) == 5 and all(r["json"]["model"] == "local-model" for r in server.requests)
    assert record["tokens"]["prompt"] == 1400 and record["tokens"]["completion"] == 150
    user = server.requests[0]["json"]["messages"][-1]["content"]
    assert "<<<DATA issue" in user and "span is wrong" in user
    json.dumps(record)  # the record is plain JSON, ready for the API


async def test_auto_with_a_dead_endpoint_says_what_both_engines_did(make_repo, tmp_path, settings):
    import socket

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = settings.model_copy(update={"openai_base_url": f"http://127.0.0.1:{port}/v1", "llm_max_retries": 1,
                                       "llm_timeout": 2, "repair_max_candidates": 30})
    record = await run_fix(FixRequest(repo=str(make_repo(tmp_path / "r", SPAN_REPO)), issue="span is wrong"),
                           dead, engine="auto")
    assert record["status"] == "error"
    assert record["message"].startswith("the search found no plausible patch")
    assert f"cannot connect to the LLM endpoint at http://127.0.0.1:{port}/v1" in record["message"]
    assert record["final_patch"] is None and record["candidates_tried"] > 0


async def test_llm_edits_keep_a_latin1_crlf_files_encoding_and_endings(tmp_path, settings):
    """The model answers in plain LF text; the patch lands in the file's own CRLF endings, written back in latin-1."""
    repo = tmp_path / "r"
    (repo / "tests").mkdir(parents=True)
    source = ("# -*- coding: latin-1 -*-\r\nSIGNE = 'é'\r\n\r\n\r\ndef marque(prix):\r\n"
              "    return str(prix) + SIGNE + SIGNE\r\n")
    (repo / "prix.py").write_bytes(source.encode("latin-1"))
    (repo / "conftest.py").write_text("")
    (repo / "tests" / "test_prix.py").write_text(
        "from prix import marque\n\n\ndef test_marque():\n    assert marque(3) == '3\\u00e9'\n")
    fix = ("DESCRIPTION: one sign\nEXPLANATION: The sign was added twice.\n\nprix.py\n<<<<<<< SEARCH\n"
           "    return str(prix) + SIGNE + SIGNE\n=======\n    return str(prix) + SIGNE\n>>>>>>> REPLACE\n")
    chat = ScriptedChat(["ROOT CAUSE: twice.\nFILES: prix.py", fix, APPROVE])
    record = await run_fix(FixRequest(repo=str(repo), issue="marque(3) shows the sign twice"), settings,
                           engine="llm", llm=chat)
    assert record["status"] == "fixed", record["message"]  # the proof passed: the file was valid latin-1
    changed = [line for line in record["final_patch"]["diff"].splitlines(keepends=True)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["-    return str(prix) + SIGNE + SIGNE\r\n", "+    return str(prix) + SIGNE\r\n"]
