"""Benchmark: the reproduce step against the suite's own time under the user's command (target: within 2x).

    .venv/bin/python bench/reproduce_time.py [--tests 600] [--work-ms 8] [--repeat 3] [--json out.json]
    .venv/bin/python bench/reproduce_time.py --repo PATH --test "python -m pytest -q"   # any local repository

Without --repo a synthetic suite is generated: `--tests` pytest tests spread over 20 modules, each
doing about `--work-ms` of CPU work, one of them failing. Measured, as medians of `--repeat` runs:
  host_s        the command on the host (reference only)
  suite_s       the user's command in a warm sandbox with the task's CPU share (what "the suite's time" means)
  reproduce_s   fixbot's reproduce step: sandbox start, probe install, the instrumented run, reruns of failures
  coverage_s    the localize step's coverage run (per-test contexts)
and the ratios reproduce_s / suite_s and coverage_s / suite_s. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.events import NullSink  # noqa: E402
from agent.graph.deps import Deps  # noqa: E402
from agent.graph.nodes.reproduce import reproduce  # noqa: E402
from agent.request import FixRequest  # noqa: E402
from agent.sandboxes import SandboxPool  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from agent.testrun import run_tests, shell  # noqa: E402

MODULE = '''\
import pytest


def work(seed, ms):
    return sum(i * seed for i in range(int(ms * 20000)))  # about `ms` milliseconds of Python on one core


@pytest.mark.parametrize("n", range({count}))
def test_work(n):
    assert work(n, {ms}) >= 0
'''


def synthetic(dest: Path, tests: int, work_ms: float) -> Path:
    """A repository of `tests` tests in 20 modules, one failing."""
    (dest / "tests").mkdir(parents=True)
    (dest / "conftest.py").write_text("")
    per = max(1, tests // 20)
    for i in range(20):
        (dest / "tests" / f"test_m{i:02d}.py").write_text(MODULE.format(count=per, ms=work_ms))
    (dest / "tests" / "test_bug.py").write_text("def test_bug():\n    assert sum([1, 2]) == 4\n")
    return dest


def measure(repo: Path, command: str, settings, repeat: int) -> dict:
    host, suite, repro, cov = [], [], [], []
    for _ in range(repeat):
        started = time.monotonic()
        subprocess.run(["bash", "-c", command], cwd=repo, capture_output=True, timeout=3600)
        host.append(time.monotonic() - started)
    pool = SandboxPool(settings.sandbox_config())
    deps = Deps(settings=settings, sandboxes=pool, events=NullSink())
    try:
        for i in range(repeat):
            task = f"bench-repro-{i}"
            state = {"task_id": task, "workspace": str(repo), "started_at": time.time(), "phase_times": {},
                     "request": FixRequest(repo=str(repo), issue="bench", test_command=command).to_dict()}
            started = time.monotonic()
            out = asyncio.run(reproduce(state, deps))
            repro.append(time.monotonic() - started)
            box = pool.get(task, repo)
            suite.append(box.exec(shell(command), timeout=settings.docker_timeout).duration)
            started = time.monotonic()
            run_tests(box, command, mode="coverage", timeout=settings.docker_timeout,
                      test_timeout=settings.test_timeout, env=out["baseline"].get("command_env") or {})
            cov.append(time.monotonic() - started)
            pool.release(task)
    finally:
        pool.close()
    med = {k: round(statistics.median(v), 2) for k, v in
           (("host_s", host), ("suite_s", suite), ("reproduce_s", repro), ("coverage_s", cov))}
    med["reproduce_vs_suite"] = round(med["reproduce_s"] / med["suite_s"], 2)
    med["coverage_vs_suite"] = round(med["coverage_s"] / med["suite_s"], 2)
    med["status"] = out["status"]
    med["message"] = out["message"][:200]
    return med


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path)
    parser.add_argument("--test", default="python -m pytest -q")
    parser.add_argument("--tests", type=int, default=600)
    parser.add_argument("--work-ms", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpus", type=float, default=None, help="DOCKER_MAX_CPU (default: host cores / workers)")
    parser.add_argument("--json")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fixbot-repro-"))
    try:
        repo = args.repo.resolve() if args.repo else synthetic(tmp / "repo", args.tests, args.work_ms)
        settings = load_settings(allow_local_repos=True, docker_max_cpu=args.cpus, docker_timeout=1800,
                                 work_dir=tmp / "work", checkpoint_db=tmp / "cp.sqlite")
        result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "command": args.test,
                  "repo": str(args.repo) if args.repo else f"synthetic: {args.tests} tests x {args.work_ms} ms",
                  "sandbox_cpus": settings.sandbox_cpus(), "repeat": args.repeat,
                  **measure(repo, args.test, settings, args.repeat)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
