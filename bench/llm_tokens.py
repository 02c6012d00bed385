"""Benchmark: prompt tokens per task of the LLM engine on every example, and the context budget under stress.

    .venv/bin/python bench/llm_tokens.py [--only NAME ...] [--json out.json]

Runs the real graph (engine llm) in the real sandbox with a measuring model: it answers the
manager with a short plan, the coder with the example's reference fix (as a unified diff, from
tests/fixtures/example_fixes/) and the reviewer with an approval, and it counts the prompt of every
call as ~4 characters per token (no tokenizer is available offline; real counts come from the
endpoint's usage data in production). Then two stress cases check that the context budget holds:
a 6,000-line module and a test run that prints ~5 MB before failing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.llm.budget import estimate_tokens  # noqa: E402
from agent.llm.client import Reply  # noqa: E402
from agent.llm.context import CONTEXT_CHARS  # noqa: E402
from agent.request import FixRequest  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from agent.workflow import run_fix  # noqa: E402

FIXES = ROOT / "tests" / "fixtures" / "example_fixes"
PLAN = "ROOT CAUSE: see the failing test.\nPLAN:\n1. Fix the condition.\nFILES: {files}"
APPROVE = '{"approve": true, "reasons": []}'


class MeasuringChat:
    """A scripted model that records the size of every prompt."""

    def __init__(self, coder_answer: str, files: str) -> None:
        self.coder_answer = coder_answer
        self.files = files
        self.calls: list[dict] = []

    async def complete(self, messages: list[dict[str, str]], *, node: str) -> Reply:
        chars = sum(len(m["content"]) for m in messages)
        self.calls.append({"node": node, "chars": chars, "user_chars": len(messages[-1]["content"])})
        text = {"manager": PLAN.format(files=self.files), "coder": self.coder_answer}.get(node, APPROVE)
        return Reply(text, estimate_tokens("".join(m["content"] for m in messages)), estimate_tokens(text))


def coder_answer(patch: str) -> str:
    return f"DESCRIPTION: the reference fix\nEXPLANATION: as in the failing test.\n\n```diff\n{patch}```\n"


async def one(name: str, settings) -> dict:
    repo = ROOT / "examples" / name
    patch = (FIXES / f"{name}.patch").read_text()
    files = ", ".join(line[6:] for line in patch.splitlines() if line.startswith("+++ b/"))
    chat = MeasuringChat(coder_answer(patch), files)
    record = await run_fix(FixRequest(repo=str(repo), issue=(repo / "ISSUE.md").read_text().strip()), settings,
                           engine="llm", llm=chat)
    by_node = {c["node"]: estimate_tokens("x" * c["chars"]) for c in chat.calls}
    return {"example": name, "status": record["status"], "prompt_tokens": record["tokens"]["prompt"],
            "completion_tokens": record["tokens"]["completion"], "calls": len(chat.calls), "by_node": by_node,
            "largest_user_prompt_chars": max(c["user_chars"] for c in chat.calls)}


def stress_repo(root: Path) -> Path:
    """A 6,000-line module with the bug near its end, and a test that floods its output before failing."""
    root.mkdir(parents=True, exist_ok=True)
    filler = "".join(f"def helper_{i}(value):\n    \"\"\"Helper {i}.\"\"\"\n    return value + {i}\n\n\n"
                     for i in range(1200))
    (root / "big.py").write_text(filler + "def clamp(x, lo, hi):\n    return max(lo, min(x, lo))\n")
    (root / "conftest.py").write_text("")
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_big.py").write_text(
        "from big import clamp\n\n\ndef test_clamp():\n"
        "    print('noise ' * 900_000)\n    assert clamp(5, 0, 10) == 5\n")
    return root


async def stress(settings) -> dict:
    repo = stress_repo(Path(settings.work_dir) / "stress-repo")
    fix = ("--- a/big.py\n+++ b/big.py\n@@ -1,2 +1,2 @@\n def clamp(x, lo, hi):\n"
           "-    return max(lo, min(x, lo))\n+    return max(lo, min(x, hi))\n")
    chat = MeasuringChat(coder_answer(fix), "big.py")
    record = await run_fix(FixRequest(repo=str(repo), issue="clamp(5, 0, 10) returns 0 instead of 5"), settings,
                           engine="llm", llm=chat)
    return {"status": record["status"], "module_lines": (repo / "big.py").read_text().count("\n"),
            "largest_user_prompt_chars": max(c["user_chars"] for c in chat.calls), "budget_chars": CONTEXT_CHARS,
            "prompt_tokens": record["tokens"]["prompt"],
            "by_node": {c["node"]: c["user_chars"] for c in chat.calls}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--json")
    args = parser.parse_args()
    settings = load_settings(allow_local_repos=True, work_dir=Path("/tmp/fixbot-bench-llm"), docker_timeout=120,
                             checkpoint_db=Path("/tmp/fixbot-bench-llm/cp.sqlite"), openai_api_key=None)
    names = args.only or sorted(p.name for p in (ROOT / "examples").iterdir() if (p / "ISSUE.md").exists())
    rows = []
    for name in names:
        row = asyncio.run(one(name, settings))
        rows.append(row)
        print(f"{row['example']:<18} {row['status']:<10} prompt {row['prompt_tokens']:>6} tok  completion "
              f"{row['completion_tokens']:>4} tok  {row['calls']} calls  {row['by_node']}", flush=True)
    summary = {"examples": len(rows), "fixed": sum(r["status"] == "fixed" for r in rows),
               "median_prompt_tokens_per_task": statistics.median(r["prompt_tokens"] for r in rows),
               "max_prompt_tokens_per_task": max(r["prompt_tokens"] for r in rows),
               "stress": asyncio.run(stress(settings))}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
