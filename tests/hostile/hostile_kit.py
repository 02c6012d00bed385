"""Helpers for the hostile-repository tests: the CLI run as a user runs it, and the calculate_total bug."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

CALC_ISSUE = (EXAMPLES / "calculate_total" / "ISSUE.md").read_text()
CALC = {
    "conftest.py": "",
    "calc.py": "def calculate_total(items):\n    total = 0\n    for x in items:\n        if x > 0:\n"
               "            total += x\n    return total\n",
    "tests/test_calc.py": "from calc import calculate_total\n\n\ndef test_positive():\n"
                          "    assert calculate_total([1, 2, 3]) == 6\n\n\ndef test_negative():\n"
                          "    assert calculate_total([1, -2, 3]) == 2\n",
}


def fixbot(*args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 300
           ) -> subprocess.CompletedProcess[str]:
    """`fixbot ARGS` in a subprocess, stdin closed, output captured as text (undecodable bytes kept visible)."""
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True,
                          errors="backslashreplace", env=env, cwd=cwd or ROOT, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single `fixbot: ...` line of a failed run (asserts there is no traceback)."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith("fixbot: ")]
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]
