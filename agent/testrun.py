"""Running the user's test command in the sandbox with fixbot's probe: per-test outcomes and coverage.

The command runs as the user wrote it (bash, in the repository root: `cd`, `&&`, pipes and
`VAR=value` prefixes work as in a terminal). The probe (agent/repair/probe.py, installed into
the sandbox user's site-packages) records from inside every Python process of the command what
each test did, so fixbot sees the same sys.path, rootdir, addopts and plugins as the command.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any, Protocol

from agent.exceptions import WorkflowError
from agent.repair.report import MAX_REPORT_BYTES, RunnerOutputError
from agent.testrecords import merge, parse_records
from sandbox import SandboxError

TOOLS = "/fixbot"
PROBE_DIR = "probe"  # under TOOLS
SPEC_PATH = f"{TOOLS}/{PROBE_DIR}/spec.json"
OUT_PATH = f"{TOOLS}/{PROBE_DIR}/out.jsonl"
# pytest's ini `addopts` cleared, for a command whose addopts name a plugin the sandbox lacks. It
# replaces the sandbox's PYTEST_ADDOPTS, so the cache stays outside the repository (see sandbox.container).
NO_ADDOPTS_ENV = {"PYTEST_ADDOPTS": '-o addopts="" -o cache_dir=/home/fixbot/.cache/pytest'}
OUTPUT_TAIL = 6000

USERCUSTOMIZE = '''\
"""fixbot: start the probe in every Python process of a test run fixbot asked for (FIXBOT_PROBE set)."""
import os

if os.environ.get("FIXBOT_PROBE"):
    plugins = os.environ.get("PYTEST_PLUGINS", "")
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") and "fixbot_probe_pytest" not in plugins:
        os.environ["PYTEST_PLUGINS"] = ",".join(p for p in (plugins, "fixbot_probe_pytest") if p)
    try:
        import fixbot_probe

        fixbot_probe.autostart()
    except Exception:
        pass
'''
DIST_INFO = "fixbot_probe-1.dist-info"
METADATA = "Metadata-Version: 2.1\nName: fixbot-probe\nVersion: 1\nSummary: fixbot's in-sandbox test probe\n"
ENTRY_POINTS = "[pytest11]\nfixbot_probe = fixbot_probe_pytest\n"
# Copies the probe into the user site (its path depends on the image's Python) and gives the shell a
# `coverage` command when the image has only Debian's `python3-coverage`.
INSTALL = f'''\
import os, shutil, site, stat
src = "{TOOLS}/{PROBE_DIR}/site"
dst = site.getusersitepackages()
os.makedirs(dst, exist_ok=True)
shutil.copytree(src, dst, dirs_exist_ok=True)
bindir = os.path.join(site.getuserbase(), "bin")
if shutil.which("coverage") is None and shutil.which("python3-coverage") is not None:
    os.makedirs(bindir, exist_ok=True)
    shim = os.path.join(bindir, "coverage")
    with open(shim, "w") as fh:
        fh.write('#!/bin/sh\\nexec python3 -m coverage "$@"\\n')
    os.chmod(shim, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
print(dst)
'''


class SandboxLike(Protocol):
    """The part of sandbox.Sandbox a test run needs."""

    def put_files(self, files: Any, *, base: str = ...) -> None: ...
    def read_file(self, path: str, *, base: str = ..., max_bytes: int | None = None) -> bytes: ...
    def exec(self, cmd: Any, *, timeout: float | None = None, workdir: str | None = None,
             env: Any = None) -> Any: ...


def probe_source(name: str = "probe.py") -> str:
    """A probe module shipped with fixbot (probe.py, or its pytest side probe_pytest.py)."""
    return resources.files("agent.repair").joinpath(name).read_text(encoding="utf-8")


def install_probe(sandbox: SandboxLike) -> None:
    """Install the probe into the sandbox user's site-packages (inert until a run names its spec)."""
    site = f"{PROBE_DIR}/site"
    sandbox.put_files({f"{site}/fixbot_probe.py": probe_source(),
                       f"{site}/fixbot_probe_pytest.py": probe_source("probe_pytest.py"),
                       f"{site}/usercustomize.py": USERCUSTOMIZE,
                       f"{site}/{DIST_INFO}/METADATA": METADATA,
                       f"{site}/{DIST_INFO}/entry_points.txt": ENTRY_POINTS}, base=TOOLS)
    res = sandbox.exec(["python3", "-c", INSTALL], timeout=60)
    if res.exit_code != 0:
        raise WorkflowError(f"could not install fixbot's test probe in the sandbox (exit {res.exit_code}): "
                            f"{(res.stderr or res.stdout).strip()[-300:]}; does the sandbox image have python3?")


def shell(command: str) -> list[str]:
    """The argv that runs a test or setup command as a terminal would: bash, never a host shell."""
    return ["bash", "-c", command]


def run_tests(sandbox: SandboxLike, command: str, *, timeout: float, mode: str = "outcomes",
              test_timeout: float = 0.0, tests: Iterable[str] | None = None, known_hangs: Iterable[str] = (),
              env: Mapping[str, str] | None = None, repeat: int = 1) -> dict[str, Any]:
    """Run the user's command once with the probe on; the merged outcomes (agent.testrecords) plus
    exit_code, duration, timed_out, oom_killed and output (the tail of stdout and stderr).

    `tests` runs only those ids (pytest node ids or unittest ids, as an earlier run reported them);
    `test_timeout` stops one test after that many seconds (it then counts as failed and hung);
    `env` adds variables to the command's environment (e.g. NO_ADDOPTS_ENV); with `tests`, `repeat` runs each
    of them that many times in one process (merged "runs" holds every run's outcome).
    """
    if mode not in ("outcomes", "coverage"):
        raise WorkflowError(f"unknown test run mode {mode!r}")
    spec = {"mode": mode, "out": OUT_PATH, "test_timeout": float(test_timeout),
            "tests": sorted(set(tests)) if tests is not None else None, "known_hangs": sorted(set(known_hangs)),
            "repeat": int(repeat)}
    sandbox.put_files({f"{PROBE_DIR}/spec.json": json.dumps(spec), f"{PROBE_DIR}/out.jsonl": ""}, base=TOOLS)
    run = sandbox.exec(shell(command), timeout=timeout, env={**(env or {}), "FIXBOT_PROBE": SPEC_PATH})
    try:
        raw = sandbox.read_file(f"{PROBE_DIR}/out.jsonl", base=TOOLS, max_bytes=MAX_REPORT_BYTES)
    except SandboxError as exc:
        raise RunnerOutputError(f"the test probe's result file could not be read ({exc}); the repository's "
                                "tests may have replaced it") from None
    merged = merge(parse_records(raw))
    output = (run.stdout or "") + (("\n" + run.stderr) if run.stderr else "")
    return {**merged, "exit_code": run.exit_code, "duration": round(float(run.duration), 3),
            "timed_out": bool(run.timed_out), "oom_killed": bool(getattr(run, "oom_killed", False)),
            "output": output[-OUTPUT_TAIL:]}


def has_outcomes(run: Mapping[str, Any]) -> bool:
    """True when a Python test runner (pytest or unittest) reported from inside the command."""
    return run.get("runner") is not None
