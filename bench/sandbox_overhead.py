"""Per-run overhead of the sandbox: one small pytest suite, bare on the host vs in a warm and a fresh container.

Usage: .venv/bin/python bench/sandbox_overhead.py [--runs 10] [--cpus 2.0] [--json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sandbox import Sandbox, SandboxConfig
from sandbox.client import docker_client
from sandbox.oneshot import run_once

SUITE = {
    "conftest.py": "",
    "work.py": (
        "def primes(n):\n"
        "    sieve = [True] * (n + 1)\n"
        "    for i in range(2, int(n ** 0.5) + 1):\n"
        "        if sieve[i]:\n"
        "            sieve[i * i :: i] = [False] * len(sieve[i * i :: i])\n"
        "    return [i for i in range(2, n + 1) if sieve[i]]\n\n\n"
        "def fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
    ),
    "tests/test_work.py": (
        "import pytest\n\nfrom work import fib, primes\n\n\n"
        "@pytest.mark.parametrize('n', [21, 22, 23])\n"
        "def test_fib(n):\n    assert fib(n) == fib(n - 1) + fib(n - 2)\n\n\n"
        "@pytest.mark.parametrize('n', [200_000, 400_000])\n"
        "def test_primes(n):\n    assert primes(n)[:3] == [2, 3, 5]\n"
    ),
}
PYTEST = ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
# The host venv carries third-party pytest plugins (langsmith's alone imports for ~1 s); the image has none.
NO_PLUGINS = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def write_suite(root: Path) -> None:
    for name, text in SUITE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench(runs: int, cpus: float) -> dict[str, object]:
    config = SandboxConfig(cpus=cpus, memory="512m", timeout=120, extra_env=NO_PLUGINS)
    client = docker_client()
    with tempfile.TemporaryDirectory(prefix="fixbot-bench-") as tmp:
        root = Path(tmp)
        write_suite(root)

        def bare() -> None:
            # the same interpreter version and pytest on the host (our own trusted suite, not untrusted code)
            proc = subprocess.run([sys.executable, *PYTEST[1:]], cwd=root, capture_output=True, text=True,
                                  env={**os.environ, **NO_PLUGINS})
            assert proc.returncode == 0, proc.stdout + proc.stderr

        bare()  # warm the host's page cache
        bare_times = [timed(bare) for _ in range(runs)]

        box = Sandbox.create(f"bench-{uuid.uuid4().hex[:6]}", config, client=client)
        try:
            box.put_workspace(root)

            def warm() -> None:
                res = box.exec(PYTEST, env=NO_PLUGINS)
                assert res.ok, res.stdout + res.stderr

            warm()
            warm_times = [timed(warm) for _ in range(runs)]
            noop_times = [timed(lambda: box.exec(["true"])) for _ in range(runs)]
        finally:
            box.destroy()

        def fresh() -> None:
            res = run_once(PYTEST, config, workspace=root)
            assert res.ok, res.stdout + res.stderr

        fresh_times = [timed(fresh) for _ in range(runs)]

    med = {name: statistics.median(ts) for name, ts in
           (("bare", bare_times), ("warm", warm_times), ("fresh", fresh_times), ("noop", noop_times))}
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": runs,
        "cpus": cpus,
        "host_cpus": os.cpu_count(),
        "median_s": {k: round(v, 4) for k, v in med.items()},
        "warm_ratio": round(med["warm"] / med["bare"], 3),
        "warm_overhead_ms": round((med["warm"] - med["bare"]) * 1000, 1),
        "noop_exec_ms": round(med["noop"] * 1000, 1),
        "fresh_overhead_ms": round((med["fresh"] - med["bare"]) * 1000, 1),
        "fresh_ratio": round(med["fresh"] / med["bare"], 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cpus", type=float, default=float(os.cpu_count() or 1),
                        help="CPU limit of the sandbox (default: all host CPUs, so the quota does not skew the ratio)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = bench(args.runs, args.cpus)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    m = result["median_s"]
    assert isinstance(m, dict)
    print(f"sandbox per-run overhead — {result['date']}, {args.runs} runs, sandbox cpus={args.cpus} "
          f"(host has {result['host_cpus']})")
    print(f"  bare on host (median)      {m['bare'] * 1000:8.1f} ms")
    print(f"  warm sandbox exec (median) {m['warm'] * 1000:8.1f} ms   ratio {result['warm_ratio']:.2f}   "
          f"overhead {result['warm_overhead_ms']:.0f} ms/run   (target < 150 ms, ratio < 1.5)")
    print(f"  no-op exec (median)        {result['noop_exec_ms']:8.1f} ms")
    print(f"  fresh sandbox per run      {m['fresh'] * 1000:8.1f} ms   "
          f"overhead {result['fresh_overhead_ms']:.0f} ms/run   (create + copy + run + destroy; target < 1000 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
