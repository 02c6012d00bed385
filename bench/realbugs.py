"""Benchmark: real historical bugs of pure-Python libraries from PyPI, replayed and handed to fixbot.

    .venv/bin/python bench/realbugs.py [--only NAME ...] [--cpus 2] [--budget 120] [--json out.json]

Each recipe in bench/realbugs.json names a package and version, a file, the fixed snippet as the
release has it and the buggy snippet as it was before the fix, the tests that must fail, the
issue text a user would write, and how many edits the real fix took. At run time the script
downloads the sdist with `pip download` (cached under --cache), unpacks it, replaces the fixed
snippet with the buggy one (it must occur exactly once), optionally adds a test
(`test_file` + `test_code`), and runs fixbot's search engine on the result with the user's
command. Nothing of the libraries is committed.

Reported per bug: status, the baseline run's duration under the user's command (the suite's own
time in the sandbox), reproduce / localize / test phase times and their ratios to it, candidates
validated and the validation rate, and whether the failing tests of the recipe were reproduced.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.request import FixRequest  # noqa: E402
from agent.settings import load_settings  # noqa: E402
from agent.workflow import run_fix  # noqa: E402

RECIPES = Path(__file__).with_name("realbugs.json")
DEFAULT_COMMAND = "python3 -m pytest -q"


def fetch_sdist(package: str, version: str, cache: Path) -> Path:
    """The unpacked source distribution of package==version (downloaded once into cache)."""
    target = cache / f"{package}-{version}"
    if (target / ".complete").exists():
        return next(p for p in target.iterdir() if p.is_dir())
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                    "--dest", str(target), f"{package}=={version}"], check=True, timeout=300)
    archive = next(p for p in target.iterdir() if p.is_file())
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    else:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(target)
    archive.unlink()
    (target / ".complete").write_text("ok\n")
    return next(p for p in target.iterdir() if p.is_dir())


def replay(recipe: dict, cache: Path, work: Path) -> Path:
    """A fresh copy of the release with the fix removed (and the recipe's test added, if any)."""
    source = fetch_sdist(recipe["package"], recipe["version"], cache)
    repo = work / recipe["name"]
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(source, repo)
    path = repo / recipe["file"]
    text = path.read_bytes().decode("utf-8")
    if text.count(recipe["fixed"]) != 1:
        raise SystemExit(f"{recipe['name']}: the fixed snippet occurs {text.count(recipe['fixed'])} times in "
                         f"{recipe['file']} of {recipe['package']} {recipe['version']}, expected once")
    path.write_bytes(text.replace(recipe["fixed"], recipe["buggy"]).encode("utf-8"))
    if recipe.get("test_file"):
        test = repo / recipe["test_file"]
        test.parent.mkdir(parents=True, exist_ok=True)
        with test.open("a", encoding="utf-8") as fh:
            fh.write(recipe["test_code"])
    (repo / "ISSUE.md").write_text(recipe["issue"] + "\n", encoding="utf-8")
    return repo


class Progress:
    """Event sink that prints each phase and batch with the seconds since the start (--verbose)."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.started = time.monotonic()

    def emit(self, task_id: str, kind: str, data: dict) -> None:
        if self.verbose:
            text = data.get("text") or {k: v for k, v in data.items() if k not in ("suspects", "failing")}
            print(f"  {time.monotonic() - self.started:7.1f}s {kind}: {str(text)[:150]}", file=sys.stderr, flush=True)


async def run_one(recipe: dict, repo: Path, settings, verbose: bool = False) -> dict:
    request = FixRequest(repo=str(repo), issue=recipe["issue"], test_command=recipe.get("command") or DEFAULT_COMMAND)
    started = time.monotonic()
    record = await run_fix(request, settings, events=Progress(verbose))
    elapsed = time.monotonic() - started
    phases = record.get("phase_times") or {}
    baseline = record.get("baseline") or {}
    suite = float(baseline.get("duration") or 0.0)
    tried = int(record.get("candidates_tried") or 0)
    test_time = float(phases.get("test", 0.0))
    failing = set(baseline.get("failing") or [])
    return {
        "name": recipe["name"], "status": record["status"], "seconds": round(elapsed, 1),
        "edits_in_real_fix": recipe.get("edits"), "suite_s": round(suite, 2),
        "reproduce_s": round(phases.get("reproduce", 0.0), 1), "localize_s": round(phases.get("localize", 0.0), 1),
        "review_s": round(phases.get("review", 0.0), 1), "test_s": round(test_time, 1),
        "reproduce_x_suite": round(phases.get("reproduce", 0.0) / suite, 2) if suite else None,
        "localize_x_suite": round(phases.get("localize", 0.0) / suite, 2) if suite else None,
        "candidates": tried, "candidates_per_s": round(tried / test_time, 1) if test_time else 0.0,
        "reproduced": sorted(set(recipe["failing"]) - failing) == [],
        "failing": sorted(failing)[:6],
        "patch": (record.get("final_patch") or {}).get("diff", ""),
        "message": record.get("message", ""),
    }


def throughput(recipe: dict, repo: Path, settings, count: int, limit: float) -> dict:
    """Candidates validated per second on this repository: `count` candidates at the lines of the function the
    recipe breaks, against the recipe's failing tests, in one warm sandbox (the engine's own validator)."""
    from agent.edits.splice import lines_of
    from agent.localize import Suspect, function_spans
    from agent.repair.search import CandidatePool
    from agent.repair.validate import install_runner, validate_batch
    from agent.testcmd import pytest_args
    from sandbox import Sandbox

    source = (repo / recipe["file"]).read_text(encoding="utf-8")
    where = source.index(recipe["buggy"])
    line = source.count("\n", 0, where) + 1
    first, last, _name = next(s for s in function_spans(source) if s[0] <= line <= s[1])
    suspects = [Suspect(recipe["file"], n, 1.0) for n in range(first + 1, last + 1)
                if lines_of(source)[n - 1].strip()]
    started = time.monotonic()
    pool = CandidatePool({recipe["file"]: source}, suspects, [], count)
    generated = time.monotonic() - started
    box = Sandbox.create("bench-throughput", settings.sandbox_config())
    try:
        box.put_workspace(repo)
        install_runner(box)
        args = pytest_args(recipe.get("command") or DEFAULT_COMMAND) or []
        started = time.monotonic()
        one = validate_batch(box, pool.payload([0]), pytest_args=args, tests=recipe["failing"],
                             per_candidate_timeout=limit, stop_early=False)
        # the runner's start and pytest's collection, paid once per batch
        startup = time.monotonic() - started - float(one[0].get("duration") or 0)
        started = time.monotonic()
        results = validate_batch(box, pool.payload(range(len(pool))), pytest_args=args, tests=recipe["failing"],
                                 per_candidate_timeout=limit, stop_early=False)
        elapsed = time.monotonic() - started
    finally:
        box.destroy()
    statuses: dict[str, int] = {}
    for row in results.values():
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    spent = sum(float(row.get("duration") or 0) for row in results.values())
    return {"name": recipe["name"], "candidates": len(pool), "generate_s": round(generated, 2),
            "per_candidate_timeout_s": limit, "batch_startup_s": round(startup, 2), "validate_s": round(elapsed, 2),
            "candidates_per_s": round(len(pool) / elapsed, 1),
            "median_candidate_ms": round(1000 * statistics.median(float(r.get("duration") or 0)
                                                                   for r in results.values()), 1),
            "in_candidates_s": round(spent, 2), "statuses": statuses}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--cpus", type=float, default=2.0)
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--test-timeout", type=float, default=10.0,
                        help="TEST_TIMEOUT: more-itertools' test_primes needs ~11 s of CPU (9,592 subtests)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/fixbot-realbugs/cache"))
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/fixbot-realbugs/work"))
    parser.add_argument("--verbose", action="store_true", help="print each phase with its time")
    parser.add_argument("--throughput", type=int, default=0, metavar="N",
                        help="instead of fixing: validate N candidates of the broken function and report the rate")
    parser.add_argument("--candidate-timeout", type=float, default=1.0,
                        help="--throughput: each candidate's limit (the workflow derives ~1 s from the baseline)")
    parser.add_argument("--json")
    args = parser.parse_args()
    recipes = [r for r in json.loads(RECIPES.read_text(encoding="utf-8")) if not args.only or r["name"] in args.only]
    settings = load_settings(allow_local_repos=True, docker_max_cpu=args.cpus, repair_time_budget=args.budget,
                             docker_timeout=600, test_timeout=args.test_timeout, work_dir=args.work_dir / "tasks",
                             checkpoint_db=args.work_dir / "cp.sqlite")
    rows = []
    for recipe in recipes:
        repo = replay(recipe, args.cache, args.work_dir / "repos")
        if args.throughput:
            print(json.dumps(throughput(recipe, repo, settings, args.throughput, args.candidate_timeout)), flush=True)
            continue
        row = asyncio.run(run_one(recipe, repo, settings, args.verbose))
        rows.append(row)
        print(f"{row['name']:<34} {row['status']:<10} {row['seconds']:>6.1f}s  suite {row['suite_s']:>5.1f}s  "
              f"reproduce {row['reproduce_x_suite']}x  localize {row['localize_x_suite']}x  "
              f"{row['candidates']} cands {row['candidates_per_s']}/s  reproduced={row['reproduced']}", flush=True)
    if args.throughput:
        return 0
    fixed = [r for r in rows if r["status"] == "fixed"]
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": args.cpus, "budget_s": args.budget,
        "test_timeout_s": args.test_timeout,
        "bugs": len(rows), "fixed": len(fixed), "fixed_names": [r["name"] for r in fixed],
        "single_edit_bugs": sum(1 for r in rows if r["edits_in_real_fix"] == 1),
        "median_time_to_fix_s": round(statistics.median(r["seconds"] for r in fixed), 1) if fixed else None,
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
