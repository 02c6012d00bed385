"""Benchmark: the search engine over every example in examples/ (or another corpus), in the real sandbox.

    .venv/bin/python bench/repair.py [--cpus 1.0] [--only NAME ...] [--fresh-sample 20] [--json out.json]
    .venv/bin/python bench/repair.py --corpus /tmp/heldout --cpus 2 --budget 60 --fresh-sample 0

Reports, per example: fixed or not, time to fix, candidates validated and the rate; then the
fixed count, the median time-to-fix and the median validation rate. `--fresh-sample N`
also validates N candidates of the demo example with a fresh container per candidate (the
naive approach) to compare against the warm in-sandbox runner.

`--corpus DIR` runs over every subdirectory of DIR that holds an ISSUE.md (a tiny repo with a
failing pytest suite, like examples/), e.g. a local held-out set that is never committed.

`--kinds` runs the "real-world kinds" corpus instead (tests/fixtures/kinds, see bench/kinds.py):
each kind is fixed, a clear error naming its cause, or wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.request import FixRequest  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from agent.workflow import run_fix  # noqa: E402


class Timer:
    """Event sink that records when validation batches finish."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, dict]] = []

    def emit(self, task_id: str, kind: str, data: dict) -> None:
        self.events.append((time.monotonic(), kind, data))


async def one(corpus: Path, name: str, settings) -> dict:
    repo = corpus / name
    issue = (repo / "ISSUE.md").read_text().strip()
    sink = Timer()
    started = time.monotonic()
    record = await run_fix(FixRequest(repo=str(repo), issue=issue), settings, events=sink)
    elapsed = time.monotonic() - started
    test_time = (record.get("phase_times") or {}).get("test", 0.0)
    tried = record["candidates_tried"]
    return {"example": name, "status": record["status"], "seconds": round(elapsed, 2), "candidates": tried,
            "test_seconds": test_time, "rate": round(tried / test_time, 1) if test_time else 0.0,
            "patch": (record.get("final_patch") or {}).get("explanation", "")[:90]}


def demo_pool(n: int):
    """The first n candidates at every line of the demo, the same list for both ways of validating."""
    from agent.localize import Suspect
    from agent.repair.search import CandidatePool

    source = (ROOT / "examples" / "calculate_total" / "calc.py").read_text()
    suspects = [Suspect("calc.py", line, 1.0) for line in range(1, source.count("\n") + 1)]
    return CandidatePool({"calc.py": source}, suspects, [], n)


def warm_per_candidate(settings, n: int) -> dict:
    """Validate n candidates of the demo in one warm sandbox with the runner (the whole suite, -x, each)."""
    from agent.repair.validate import install_runner, validate_batch
    from sandbox import Sandbox

    pool = demo_pool(n)
    box = Sandbox.create("bench-warm", settings.sandbox_config())
    try:
        box.put_workspace(ROOT / "examples" / "calculate_total")
        install_runner(box)
        started = time.monotonic()
        validate_batch(box, pool.payload(list(range(len(pool)))), pytest_args=["-q"], tests=None,
                       per_candidate_timeout=10, stop_early=True)
        elapsed = time.monotonic() - started
    finally:
        box.destroy()
    return {"candidates": len(pool), "seconds": round(elapsed, 2), "rate": round(len(pool) / elapsed, 2)}


def fresh_per_candidate(settings, n: int) -> dict:
    """Validate n candidates of the demo with a brand-new container each (the naive way)."""
    from sandbox import Sandbox

    repo = ROOT / "examples" / "calculate_total"
    pool = demo_pool(n)
    config = settings.sandbox_config()
    started = time.monotonic()
    for cand in pool.candidates[:n]:
        box = Sandbox.create("bench-fresh", config)
        try:
            box.put_workspace(repo)
            box.put_files(cand.apply(pool.sources))
            box.exec("python3 -m pytest -q -x", timeout=30)
        finally:
            box.destroy()
    elapsed = time.monotonic() - started
    return {"candidates": n, "seconds": round(elapsed, 2), "rate": round(n / elapsed, 2)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpus", type=float, default=1.0)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--fresh-sample", type=int, default=20)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--corpus", type=Path, default=ROOT / "examples",
                        help="a directory of small repos, each with ISSUE.md and a failing pytest suite")
    parser.add_argument("--kinds", action="store_true", help="the real-world kinds corpus (tests/fixtures/kinds)")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/fixbot-bench"),
                        help="checkouts and checkpoints of this run (apart from other runs on a shared machine)")
    parser.add_argument("--json")
    args = parser.parse_args()
    corpus = args.corpus.resolve()
    settings = load_settings(allow_local_repos=True, docker_max_cpu=args.cpus, repair_time_budget=args.budget,
                             work_dir=args.work_dir, checkpoint_db=args.work_dir / "cp.sqlite")
    if args.kinds:
        return kinds_main(settings, args)
    names = args.only or sorted(p.name for p in corpus.iterdir() if (p / "ISSUE.md").exists())
    rows = []
    for name in names:
        row = asyncio.run(one(corpus, name, settings))
        rows.append(row)
        print(f"{row['example']:<26} {row['status']:<10} {row['seconds']:>6.1f}s {row['candidates']:>5} cands "
              f"{row['rate']:>7.1f}/s  {row['patch']}", flush=True)
    fixed = [r for r in rows if r["status"] == "fixed"]
    rates = [r["rate"] for r in rows if r["rate"]]
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "corpus": str(corpus), "cpus": args.cpus,
        "budget_s": args.budget, "examples": len(rows), "fixed": len(fixed),
        # the budget is checked between batches, so a slow suite can overrun it: count those apart
        "fixed_within_budget": sum(1 for r in fixed if r["seconds"] <= args.budget),
        "median_time_to_fix_s": round(statistics.median(r["seconds"] for r in fixed), 2) if fixed else None,
        # per task: candidates / seconds of the test phase, which also holds the full-suite check and the proof,
        # so it is low when the first candidates already fix the bug; warm_runner_per_candidate is the throughput
        "median_candidates_per_s": round(statistics.median(rates), 1) if rates else None,
        "not_fixed": [r["example"] for r in rows if r["status"] != "fixed"],
        "over_budget": [r["example"] for r in fixed if r["seconds"] > args.budget],
    }
    if args.fresh_sample:
        # Throughput on the same candidates: one warm sandbox with the runner vs a fresh container each.
        warm = warm_per_candidate(settings, max(args.fresh_sample, 100))
        fresh = fresh_per_candidate(settings, args.fresh_sample)
        summary["warm_runner_per_candidate"] = warm
        summary["fresh_container_per_candidate"] = fresh
        if fresh["rate"]:
            summary["warm_vs_fresh_rate_ratio"] = round(warm["rate"] / fresh["rate"], 1)
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    return 0


def kinds_main(settings, args) -> int:
    """Every kind: fixed / clear error / wrong, time, reproduce time."""
    import tempfile

    from bench.kinds import load_kinds, run_kind, summarize

    kinds = [k for k in load_kinds() if not args.only or k.name in args.only]
    rows = []
    with tempfile.TemporaryDirectory(prefix="fixbot-kinds-") as tmp:
        for kind in kinds:
            row = asyncio.run(run_kind(kind, settings.model_copy(update={"docker_timeout": 120}), Path(tmp)))
            rows.append(row)
            print(f"{row['kind']:<40} {row['verdict']:<12} {row['seconds']:>6.1f}s  "
                  f"reproduce {row['reproduce_s']:>5.1f}s  {' '.join(row['why'].split())[:70]}", flush=True)
    summary = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": args.cpus, **summarize(rows)}
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    return 0 if not summary["wrong"] else 1


if __name__ == "__main__":
    sys.exit(main())
