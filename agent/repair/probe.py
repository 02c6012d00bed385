"""fixbot's probe: per-test outcomes and coverage from inside the user's own test command.

This file is copied into the sandbox user's site-packages as `fixbot_probe`, beside a
`usercustomize.py` that calls `autostart()` in every Python process and a `pytest11` entry
point that makes pytest load its pytest side (agent/repair/probe_pytest.py, installed as
`fixbot_probe_pytest`). It does nothing unless the environment names a spec file
(FIXBOT_PROBE), which fixbot sets only for its own runs of the test command. So whatever
the command is (`python -m pytest`, `cd tests && pytest`, `PYTHONPATH=src pytest -n 2`,
`python -m unittest -v`, `python runtests.py`, a shell script), the tests run exactly as the
user's command runs them (same sys.path, rootdir, addopts, plugins), and the probe records
what happened from the inside: output options (`-q -q`, `--tb=no`, `-rN`) change nothing it reads.

Each recording process appends one JSON line to spec["out"]:
    {"v": 1, "pid", "runner": "pytest"|"unittest"|"python", "role": "main"|"worker"|"nested",
     "rootdir", "exit_status", "outcomes": {test id: outcome}, "durations", "frames": {id: [[path, line]]},
     "messages", "hung": [ids], "collection_errors": [{"id", "message", "frames"}],
     "tests": [ids], "lines": {path: {line: [index into tests]}}}     (lines: mode "coverage" only)
Test ids are pytest node ids (relative to pytest's rootdir) or unittest ids (module.Class.method).
pytest-xdist workers record the tests they run; the controller only its exit status. A Python
process started by a test (a CLI under test) records coverage for that test ("nested").

Spec keys: mode ("outcomes" | "coverage"), out, test_timeout (s; 0 = none), known_hangs, tests
(run only these ids), repeat (run each selected test that many times in this process; the record
then has "runs": {id: [outcome of each run]}), omit (coverage globs). Only the standard library is
imported up front.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import time
import traceback

SPEC_ENV = "FIXBOT_PROBE"
OWNER_ENV = "FIXBOT_PROBE_OWNER"  # pid of the process recording outcomes; children of its tests are "nested"
TEST_ENV = "FIXBOT_PROBE_TEST"  # the test running now in the owner, so a nested process knows whose it is
WORKSPACE = os.environ.get("FIXBOT_WORKSPACE", "/workspace")
HANG_MARK = "fixbot: the test did not finish within"
COMMAND_ID = "<test command>"  # lines run by a Python process that ran no test we could see
MAX_MESSAGE = 1500

_probe = None  # this process's Probe, once started


class FixbotTestTimeout(BaseException):
    """Raised in a test that runs past its limit; BaseException so `except Exception` in the code cannot eat it."""


def autostart():
    """Called by usercustomize at interpreter start: become active when fixbot's spec is named."""
    global _probe
    path = os.environ.get(SPEC_ENV)
    if not path or _probe is not None:
        return
    try:
        with open(path, encoding="utf-8") as fh:
            spec = json.load(fh)
    except (OSError, ValueError):
        return
    _probe = Probe(spec)
    _probe.start()


def active():
    """This process's Probe, or None when fixbot is not recording."""
    return _probe


def _rel(path):
    path = os.path.abspath(str(path))
    if path.startswith(WORKSPACE + os.sep):
        return path[len(WORKSPACE) + 1:]
    return None


def _frames(tb):
    """[[workspace-relative path, line]] of a traceback, outermost first."""
    frames = []
    for frame, lineno in traceback.walk_tb(tb):
        rel = _rel(frame.f_code.co_filename)
        if rel:
            frames.append([rel, lineno])
    return frames


def _message(exc_type, exc, tb):
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    return text[-MAX_MESSAGE:]


class Probe:
    """One process's recording: outcomes, failures, hangs and (mode coverage) lines per test."""

    def __init__(self, spec):
        self.spec = spec
        self.out = spec.get("out") or ""
        self.mode = spec.get("mode", "outcomes")
        self.limit = float(spec.get("test_timeout") or 0.0)
        self.known_hangs = set(spec.get("known_hangs") or ())
        self.wanted = set(spec["tests"]) if spec.get("tests") else None
        self.repeat = max(1, int(spec.get("repeat") or 1)) if self.wanted is not None else 1
        self.runs = {}  # test id -> the outcome of each of its runs (spec "repeat")
        self.this_run = {}  # test id -> the worst outcome of its current run so far
        owner = os.environ.get(OWNER_ENV)
        self.role = "nested" if owner and owner != str(os.getpid()) else "main"
        self.parent_test = os.environ.get(TEST_ENV) or "" if self.role == "nested" else ""
        self.runner = "python"
        self.rootdir = ""
        self.exit_status = None
        self.outcomes, self.durations, self.frames, self.messages = {}, {}, {}, {}
        self.hung = set()
        self.collection_errors = {}
        self.cov = None
        self.current = ""
        self.started_at = {}
        self.hangs = 0
        self.slowest_ok = 0.0
        self.armed = 0.0
        self.alarm_on = False
        self.session_active = False  # a pytest session of this process is being recorded

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        if self.mode == "coverage":
            self._start_coverage()
        if self.role == "main":
            _patch_unittest(self)
        atexit.register(self.flush, final=True)

    def _start_coverage(self):
        try:
            import coverage
        except ImportError:
            return
        self.cov = coverage.Coverage(data_file=None, source=[WORKSPACE], omit=self.spec.get("omit") or None,
                                     config_file=False)
        self.cov.set_option("run:disable_warnings", ["no-data-collected", "module-not-measured",
                                                     "module-not-imported", "already-imported"])
        self.cov.start()

    def claim(self, runner):
        """This process runs the tests: its children (programs the tests start) are nested."""
        self.runner = runner
        os.environ[OWNER_ENV] = str(os.getpid())

    def switch(self, test_id):
        """Lines run from now on belong to test_id ("" = to no test)."""
        self.current = test_id
        os.environ[TEST_ENV] = test_id
        if self.cov is not None:
            self.cov.switch_context(test_id)

    # ------------------------------------------------------------------ per-test time limit
    def arm(self, test_id):
        """Start the test's alarm (main thread only); a test past it raises FixbotTestTimeout."""
        if self.limit <= 0:
            return
        if test_id in self.known_hangs:
            self.armed = min(self.limit, 0.5)  # known to hang: coverage needs only a moment of it
        elif self.hangs:
            self.armed = min(self.limit, max(2.0, 5 * self.slowest_ok))  # siblings likely stuck in the same loop
        else:
            self.armed = self.limit
        try:
            signal.signal(signal.SIGALRM, self._on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.armed)
        except ValueError:  # not the main thread: the command's own time limit still applies
            return
        self.alarm_on = True

    def disarm(self):
        if self.alarm_on:
            self.alarm_on = False
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _on_alarm(self, _signum, _frame):
        if self.alarm_on:
            self.alarm_on = False
            raise FixbotTestTimeout()

    # ------------------------------------------------------------------ recording
    def run_outcome(self, test_id, outcome):
        """Note one phase's outcome in the test's current run (a failure in any phase wins)."""
        if self.this_run.get(test_id) not in ("failed", "error"):
            self.this_run[test_id] = outcome

    def end_run(self, test_id):
        """One run of the test is over: keep its outcome."""
        outcome = self.this_run.pop(test_id, None)
        if outcome is not None:
            self.runs.setdefault(test_id, []).append(outcome)

    def outcome(self, test_id, outcome, duration=0.0):
        """Record one phase's outcome; a failure in any phase wins over a pass."""
        self.run_outcome(test_id, outcome)
        before = self.outcomes.get(test_id)
        if before in ("failed", "error") and outcome not in ("failed", "error"):
            pass
        elif outcome == "error" and before == "failed":
            pass
        else:
            self.outcomes[test_id] = outcome
        self.durations[test_id] = round(self.durations.get(test_id, 0.0) + duration, 6)

    def failure(self, test_id, exc_info):
        exc_type, exc, tb = exc_info
        frames = _frames(tb)
        if self.frames.get(test_id):
            return  # the first failure (the call) explains more than a teardown's
        self.frames[test_id] = frames
        text = _message(exc_type, exc, tb)
        if exc_type is not None and issubclass(exc_type, FixbotTestTimeout):
            self.hung.add(test_id)
            self.hangs += 1
            text = f"{HANG_MARK} {self.armed:g} s (an endless loop?); it was stopped here:\n{text[-1200:]}"
        self.messages[test_id] = text

    def collection_error(self, where, text, frames=()):
        self.collection_errors.setdefault(where, {"id": where, "message": str(text)[-MAX_MESSAGE:],
                                                  "frames": list(frames)})

    def flush(self, final=False):
        """Append what this process recorded since the last flush as one record (pytest: at the end of each
        session; everything else: at exit), then start afresh for a next session in the same process."""
        self.disarm()
        record = {"v": 1, "pid": os.getpid(), "runner": self.runner, "role": self.role, "rootdir": self.rootdir,
                  "exit_status": self.exit_status, "outcomes": self.outcomes, "durations": self.durations,
                  "frames": self.frames, "messages": self.messages, "hung": sorted(self.hung),
                  "collection_errors": list(self.collection_errors.values())}
        if self.repeat > 1:
            record["runs"] = self.runs
        if self.cov is not None:
            record.update(self._lines(restart=not final))
        self.outcomes, self.durations, self.frames, self.messages, self.runs = {}, {}, {}, {}, {}
        self.hung, self.collection_errors, self.exit_status = set(), {}, None
        said = (record["outcomes"] or record["collection_errors"] or record.get("lines")
                or record["exit_status"] is not None)
        if not said or not self.out:
            return  # nothing to say (e.g. a program a test started that ran none of the repository)
        data = (json.dumps(record) + "\n").encode("utf-8")
        try:
            fd = os.open(self.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        except OSError:
            return
        try:
            os.write(fd, data)  # one write with O_APPEND: records of parallel processes never interleave
        finally:
            os.close(fd)

    def _lines(self, restart):
        """{"tests": [ids], "lines": {path: {line: [test index]}}}: which tests ran each workspace line."""
        try:
            self.cov.stop()
            data = self.cov.get_data()
        except Exception:  # noqa: BLE001 - coverage is an extra; outcomes still count
            return {}
        try:
            return self._lines_of(data)
        finally:
            if restart:
                self.cov.erase()
                self.cov.start()

    def _lines_of(self, data):
        tests, index, lines = [], {}, {}
        for filename in data.measured_files():
            rel = _rel(filename)
            if rel is None:
                continue
            per_line = {}
            for lineno, contexts in (data.contexts_by_lineno(filename) or {}).items():
                ids = {self._test_of(c) for c in contexts} - {""}
                if ids:
                    per_line[str(lineno)] = sorted(index.setdefault(t, len(index)) for t in ids)
            if per_line:
                lines[rel] = per_line
        tests = sorted(index, key=index.get)
        return {"tests": tests, "lines": lines}

    def _test_of(self, context):
        """The test a coverage context belongs to; lines run outside any test count for none."""
        if context:
            return context
        if self.role == "nested":
            return self.parent_test
        if self.runner == "python":
            return COMMAND_ID  # a plain script: the command as a whole is the one "test"
        return ""


# ---------------------------------------------------------------------- unittest


def _patch_unittest(probe):
    """Record unittest's results (`python -m unittest`, `unittest.main()`, runtests.py scripts)."""
    import unittest.case
    import unittest.result

    result_cls = unittest.result.TestResult

    def wrap(name, fn):
        original = getattr(result_cls, name)

        def patched(self, *args, **kwargs):
            if probe.runner != "pytest":
                try:
                    fn(*args)
                except Exception:  # noqa: BLE001 - recording must never break the user's run
                    pass
            return original(self, *args, **kwargs)

        setattr(result_cls, name, patched)

    def start(test):
        test_id = test.id()
        if probe.runner == "python":
            probe.claim("unittest")
        probe.started_at[test_id] = time.monotonic()
        probe.switch(test_id)
        probe.arm(test_id)

    def stop(test):
        probe.disarm()
        test_id = test.id()
        probe.switch("")
        began = probe.started_at.pop(test_id, None)
        if test_id not in probe.hung and began is not None:
            probe.slowest_ok = max(probe.slowest_ok, time.monotonic() - began)
        if began is not None:
            probe.durations[test_id] = round(probe.durations.get(test_id, 0.0) + time.monotonic() - began, 6)
        probe.outcomes.setdefault(test_id, "passed")
        probe.this_run.setdefault(test_id, "passed")
        probe.end_run(test_id)

    def failed(kind):
        def record(test, err):
            if type(test).__name__ == "_FailedTest":  # unittest's stand-in for a module that did not import
                probe.collection_error(getattr(test, "_testMethodName", test.id()), _message(*err),
                                     _frames(err[2]))
                return
            outcome = "error" if kind == "error" and not issubclass(err[0], test.failureException) else "failed"
            probe.outcomes[test.id()] = outcome
            probe.run_outcome(test.id(), outcome)
            probe.failure(test.id(), err)
        return record

    def subtest(test, _sub, err):
        if err is not None:
            failed("failed" if issubclass(err[0], test.failureException) else "error")(test, err)

    wrap("startTest", start)
    wrap("stopTest", stop)
    wrap("addError", failed("error"))
    wrap("addFailure", failed("failed"))
    wrap("addSubTest", subtest)
    def mark(test_id, outcome, force):
        if force:
            probe.outcomes[test_id] = outcome
        else:
            probe.outcomes.setdefault(test_id, outcome)
        probe.run_outcome(test_id, outcome)

    wrap("addSkip", lambda test, _reason: mark(test.id(), "skipped", False))
    wrap("addExpectedFailure", lambda test, _err: mark(test.id(), "xfailed", True))
    wrap("addUnexpectedSuccess", lambda test: mark(test.id(), "failed", True))

    if probe.wanted is not None:
        run = unittest.case.TestCase.run

        def selected_run(self, result=None):
            if probe.runner == "pytest" or type(self).__name__ == "_FailedTest":
                return run(self, result)
            if self.id() not in probe.wanted:
                return result  # not asked for: not run, not counted
            for _ in range(probe.repeat - 1):
                run(self, result)
            return run(self, result)

        unittest.case.TestCase.run = selected_run


def frames_in_text(text):
    """[[path, line]] of the workspace files a formatted traceback names."""
    import re

    frames = []
    for path, line in re.findall(r"(?m)^(\S+\.py):(\d+): ", text) + re.findall(r'File "([^"]+)", line (\d+)', text):
        rel = _rel(path if os.path.isabs(path) else os.path.join(WORKSPACE, path))
        if rel:
            frames.append([rel, int(line)])
    return frames
