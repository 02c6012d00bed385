"""The terminal: control sequences from test ids, output, source and the model's words never reach it."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from hostile_kit import CALC_ISSUE, ROOT, fixbot
from openai_server import OpenAIServer

pytestmark = [pytest.mark.docker]

TITLE = "\x1b]0;pwned\x07"  # sets the window title
ERASE = "\x1b[2K\r"  # erases the line and returns to its start
IN_SOURCE = "\x1b]0;pwned\x07\x1b[2K\x9b31m"  # raw in a comment (a CR would end the line for Python)
ESCAPED = "\\x1b]0;pwned\\x07\\x1b[2K\\r"  # written as escapes in test code, control characters at run time
CSI8 = "\x9b31m"  # the 8-bit CSI
CONTROLS = ("\x1b", "\x07", "\x9b", "\r")


def _clean(text: str) -> None:
    assert not any(c in text for c in CONTROLS), repr([line for line in text.splitlines()
                                                        if any(c in line for c in CONTROLS)][:3])


def test_source_output_and_test_ids_are_shown_without_control_sequences(hostile_repo, cli_env, tmp_path):
    calc = ("def calculate_total(items):\n    total = 0\n    for x in items:\n"
            f"        if x > 0:  # {IN_SOURCE}sum\n            total += x\n    return total\n")
    tests = ("import pytest\nfrom calc import calculate_total\n\n\n"
             "def test_positive():\n    assert calculate_total([1, 2, 3]) == 6\n\n\n"
             f"@pytest.mark.parametrize('items', [[1, -2, 3]], ids=['{ESCAPED}'])\n"
             "def test_negative(items):\n"
             f"    print('{ESCAPED}')\n"
             f"    assert calculate_total(items) == 2, '{ESCAPED}wrong'\n")
    repo = hostile_repo({"calc.py": calc, "tests/test_calc.py": tests})
    out = tmp_path / "result.json"
    proc = fixbot("fix", "--repo", str(repo), "--issue", CALC_ISSUE + TITLE, "--json", str(out), env=cli_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _clean(proc.stdout)
    _clean(proc.stderr)
    assert "sum" in proc.stdout and "-        if x > 0:" in proc.stdout  # the diff is shown, cleaned
    record = json.loads(out.read_text())
    assert IN_SOURCE in record["final_patch"]["diff"], "the record keeps the exact bytes; only the display is cleaned"


async def test_the_models_words_are_shown_without_control_sequences(hostile_repo, cli_env, tmp_path):
    span = "def span(xs):\n    lo = min(xs)\n    hi = min(xs)\n    return hi - lo + 1\n"
    tests = ("from stats import span\n\n\ndef test_span():\n    assert span([1, 5]) == 4\n\n\n"
             "def test_flat():\n    assert span([3, 3]) == 0\n")
    repo = hostile_repo({"stats.py": span, "tests/test_stats.py": tests, "calc.py": "", "tests/test_calc.py": ""})
    fix = (f"DESCRIPTION: use max {TITLE}\nEXPLANATION: hi took min(xs){ERASE}{CSI8} and the + 1 was extra.\n\n"
           "stats.py\n<<<<<<< SEARCH\n    hi = min(xs)\n    return hi - lo + 1\n=======\n"
           "    hi = max(xs)\n    return hi - lo\n>>>>>>> REPLACE\n")
    script = [{"reply": f"ROOT CAUSE: min twice {TITLE}\nFILES: stats.py"}, {"reply": fix},
              {"reply": '{"approve": true, "reasons": ["' + ERASE.replace("\x1b", "\\u001b").replace("\r", "\\r")
               + 'fine"]}'}]
    out = tmp_path / "result.json"
    async with OpenAIServer(script) as server:
        env = {**cli_env, "OPENAI_BASE_URL": server.base_url, "LLM_MAX_RETRIES": "0", "LLM_TIMEOUT": "20"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agent.cli", "fix", "--repo", str(repo), "--issue", "span is wrong",
            "--engine", "llm", "--json", str(out), env=env, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        stdout_b, stderr_b = await asyncio.wait_for(proc.communicate(), timeout=300)
    stdout, stderr = stdout_b.decode(), stderr_b.decode()
    assert proc.returncode == 0, stderr[-3000:]
    _clean(stdout)
    _clean(stderr)
    assert "hi took min(xs)" in stdout and "Root cause (model): min twice" in stdout
    assert "\x1b" in json.loads(out.read_text())["final_patch"]["explanation"]


def test_sandbox_run_cleans_output_unless_raw(cli_env):
    command = ["sandbox", "run", "--", "sh", "-c", r"printf 'a\033]0;pwned\007b\033[2Kc\n'; printf 'e\033[31mf\n' >&2"]
    proc = fixbot(*command, env=cli_env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "abc\n" and proc.stderr.startswith("ef\n")
    raw = fixbot(*command[:2], "--raw", *command[2:], env=cli_env)
    assert raw.stdout == "a\x1b]0;pwned\x07b\x1b[2Kc\n"
