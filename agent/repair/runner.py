"""In-sandbox test runner: fast validation of many candidate patches.

This file is copied into the sandbox and run there by `python3 runner.py MODE SPEC OUT`;
it uses only the standard library and pytest, and it never imports fixbot. Results are
written as JSON to OUT, not to stdout, so the sandbox's output cap never truncates them.
Per-test outcomes and coverage of the user's own command come from the probe
(agent/repair/probe.py), which runs inside that command instead.

Modes:
  validate  run many candidate patches against selected tests. pytest collects once; each
            candidate runs in a forked child that swaps the changed functions' code objects
            in place (fast path) and falls back to "fresh" (fork from a pristine process,
            re-import everything from the patched file) when a change is outside functions.
  fresh     each candidate in a child forked from a process that has imported only pytest.

A candidate is {"id", "edits": [{"path", "start", "end", "text", "unit": [first, last, headers] or
null}]}: splices in character offsets of the file as Python decodes it (BOM or PEP 263, line
endings kept); the patched file is written back in the same encoding, and only the unit (the
changed function, under its class headers) is compiled to find the new code objects.

Every mode first takes the test command's shape from the spec (see `_enter`): its working
directory, its `VAR=value` prefixes and, for `python -m pytest`, the working directory first
on sys.path, so the tests import what they import under the user's command.
"""

from __future__ import annotations
import __future__

import gc
import io
import json
import os
import select
import signal
import sys
import time
import tokenize
import types

WORKSPACE = os.environ.get("FIXBOT_WORKSPACE", "/workspace")


def _deadline(spec):
    """Monotonic time after which no candidate starts (None in the spec: no limit; 0: none starts)."""
    left = spec.get("deadline")
    return time.monotonic() + (1e9 if left is None else float(left))


def _enter(spec):
    """Run as the user's command runs pytest: spec "cwd" (relative to the workspace), "env" (its VAR=value
    prefixes, PYTHONPATH included) and "module" (`python -m pytest`: the working directory on sys.path)."""
    cwd = os.path.normpath(os.path.join(WORKSPACE, spec.get("cwd") or ""))
    if cwd != WORKSPACE and not cwd.startswith(WORKSPACE + os.sep):
        cwd = WORKSPACE
    os.chdir(cwd)
    env = {str(k): str(v) for k, v in (spec.get("env") or {}).items()}
    os.environ.update(env)
    entries = [os.path.normpath(os.path.join(cwd, p)) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[1:1] = [e for e in entries if e not in sys.path]  # after the runner's own folder, before the rest
    if spec.get("module"):
        sys.path.insert(0, cwd)


class Collector:
    """A pytest plugin recording each test's outcome (mode fresh)."""

    def __init__(self):
        self.outcomes = {}

    def pytest_runtest_logreport(self, report):
        nodeid = report.nodeid
        if report.when == "call" or report.outcome != "passed":
            if report.outcome == "skipped" and report.when != "call":
                self.outcomes.setdefault(nodeid, "skipped")
            elif report.outcome != "passed" or nodeid not in self.outcomes:
                self.outcomes[nodeid] = "passed" if report.outcome == "passed" else report.outcome

    def pytest_collectreport(self, report):
        if report.failed:
            self.outcomes[report.nodeid or "<collection>"] = "error"


def _run_pytest(args, plugins):
    import pytest

    class InProcess:
        """Candidates are run in this process (forked children): pytest-xdist must not distribute the tests,
        even when the repository's addopts say `-n auto`. Runs before xdist reads its options."""

        @pytest.hookimpl(hookwrapper=True)
        def pytest_cmdline_main(self, config):
            if hasattr(config.option, "numprocesses"):
                config.option.numprocesses = 0
                config.option.dist = "no"
            yield

    sys.dont_write_bytecode = True
    return int(pytest.main(list(args), plugins=[InProcess(), *plugins]))


def _silenced(fn):
    """Run fn with fd 1 and 2 sent to /dev/null: the tests' own output is not our channel."""
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        return fn()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(devnull)


# ---------------------------------------------------------------- validation


def _code_objects(code, out):
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out[const.co_qualname] = const
            _code_objects(const, out)
    return out


def _module_shape(code):
    consts = tuple(c for c in code.co_consts if not isinstance(c, types.CodeType))
    return code.co_code, code.co_names, repr(consts)


_FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag


class SourceState:
    """One workspace file as Python reads it (BOM or PEP 263 encoding, line endings kept), and how to patch it.

    Candidates arrive as splices (character offsets into this decoded text) with the unit each one
    changes: the outermost function around it, compiled alone under synthetic headers (see
    agent/repair/region.py on the fixbot side, which computes them).
    """

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as fh:
            self.data = fh.read()
        self.encoding = tokenize.detect_encoding(io.BytesIO(self.data).readline)[0]
        self.text = self.data.decode(self.encoding)
        self.lines = _split_lines(self.text)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        self._flags = None
        self._old_units = {}
        self._loaded = None

    @property
    def flags(self):
        """The module's `from __future__` flags: a unit compiled alone must keep them."""
        if self._flags is None:
            self._flags = compile(self.text, self.path, "exec", dont_inherit=True).co_flags & _FUTURE_FLAGS
        return self._flags

    @property
    def loaded(self):
        """Whether the test process imported this file (else a child imports the patched file itself)."""
        if self._loaded is None:
            self._loaded = any(getattr(m, "__file__", None) == self.path for m in list(sys.modules.values()))
        return self._loaded

    def patched(self, edits):
        """The new text after the splices."""
        text = self.text
        for edit in sorted(edits, key=lambda e: e["start"], reverse=True):
            text = text[:edit["start"]] + edit["text"] + text[edit["end"]:]
        return text

    def encode(self, text):
        return text.encode(self.encoding)

    def unit_source(self, unit, edits=()):
        """The unit's text, padded to its line numbers under its headers, with the edits applied."""
        first, last, headers = unit
        start, end = self.starts[first - 1], self.starts[last]
        region = self.text[start:end]
        for edit in sorted(edits, key=lambda e: e["start"], reverse=True):
            if not (start <= edit["start"] and edit["end"] <= end):
                raise ValueError("an edit outside its unit")
            region = region[:edit["start"] - start] + edit["text"] + region[edit["end"] - start:]
        pad = "\n" * max(0, first - 1 - len(headers))
        heads = "".join(" " * level + header + "\n" for level, header in enumerate(headers))
        return pad + heads + region

    def compile_unit(self, unit, edits=()):
        key = (unit[0], unit[1], tuple(unit[2]))
        if not edits and key in self._old_units:
            return self._old_units[key]
        code = compile(self.unit_source(unit, edits), self.path, "exec", flags=self.flags, dont_inherit=True)
        if not edits:
            self._old_units[key] = code
        return code


def _split_lines(text):
    """Lines split on \\n only (form feeds stay inside their line), endings kept."""
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def _by_path(cand):
    groups = {}
    for edit in cand["edits"]:
        groups.setdefault(os.path.join(WORKSPACE, edit["path"]), []).append(edit)
    return groups


class Validator:
    """A pytest plugin that takes over the run loop to validate candidates."""

    def __init__(self, spec, out):
        self.spec = spec
        self.out = out
        self.deadline = _deadline(spec)  # from before collection: collecting spends the task's budget too
        self.items = []
        self.functions = {}
        self.files = {}

    def pytest_collection_modifyitems(self, session, config, items):
        wanted = self.spec.get("tests")
        if wanted:
            order = {n: i for i, n in enumerate(wanted)}
            items[:] = sorted((it for it in items if it.nodeid in order), key=lambda it: order[it.nodeid])
        self.items = list(items)

    def _file(self, path):
        if path not in self.files:
            self.files[path] = SourceState(path)
        return self.files[path]

    def pytest_runtestloop(self, session):
        deadline = self.deadline
        wanted, passes = int(self.spec.get("stop_after_passes") or 0), 0  # enough survivors: stop early
        for cand in self.spec["candidates"]:
            if time.monotonic() > deadline:
                break  # the rest stay unvalidated; the caller marks them skipped
            result = self._one(session, cand)
            self.out.write(json.dumps(result) + "\n")
            self.out.flush()
            passes += result["status"] == "pass"
            if wanted and passes >= wanted:
                break
        return True

    def _live_functions(self, path):
        if path not in self.functions:
            found = {}
            for obj in gc.get_objects():
                if isinstance(obj, types.FunctionType) and obj.__code__.co_filename == path:
                    found.setdefault(obj.__code__.co_qualname, []).append(obj)
            self.functions[path] = found
        return self.functions[path]

    def _hot_plan(self, path, edits):
        """Which live functions get which new code; None when the change is not function-local."""
        state = self._file(path)
        if not state.loaded:
            return []  # the child imports the patched file itself
        units = {}
        for edit in edits:
            if not edit.get("unit"):
                return None
            units.setdefault(json.dumps(edit["unit"]), (edit["unit"], []))[1].append(edit)
        plan = []
        for unit, unit_edits in units.values():
            old_code = state.compile_unit(unit)
            new_code = state.compile_unit(unit, unit_edits)
            if _module_shape(old_code) != _module_shape(new_code):
                return None
            old_fns, new_fns = _code_objects(old_code, {}), _code_objects(new_code, {})
            if set(old_fns) != set(new_fns):
                return None
            live = self._live_functions(path)
            for qualname, code in new_fns.items():
                before = old_fns[qualname]
                if before == code:
                    continue
                if "<locals>" in qualname:
                    continue  # rebuilt from its enclosing function's new code on each call
                targets = live.get(qualname)
                if targets and not qualname.rsplit(".", 1)[-1].startswith("<"):
                    plan.extend((fn, code) for fn in targets)
                elif _module_shape(before) != _module_shape(code):
                    return None  # a class body, lambda or unreachable function changed: re-import
        return plan

    def _one(self, session, cand):
        start = time.monotonic()
        groups = _by_path(cand)
        plan, new_bytes = [], {}
        try:
            for path, edits in groups.items():
                state = self._file(path)
                part = self._hot_plan(path, edits)
                if part is None:
                    return {"id": cand["id"], "status": "fallback", "duration": time.monotonic() - start}
                plan.extend(part)
                new_bytes[path] = state.encode(state.patched(edits))
        except SyntaxError as exc:
            return {"id": cand["id"], "status": "error", "error": f"syntax: {exc}", "duration": 0.0}
        except (ValueError, UnicodeError) as exc:
            return {"id": cand["id"], "status": "error", "error": str(exc)[:200], "duration": 0.0}
        try:
            for path, data in new_bytes.items():
                _write(path, data)
            status, failed, passed = self._fork(session, plan)
        finally:
            for path in new_bytes:
                _write(path, self.files[path].data)
        return {"id": cand["id"], "status": status, "failed": failed, "passed": passed,
                "duration": round(time.monotonic() - start, 4)}

    def _fork(self, session, plan):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # child
            os.close(read_fd)
            code = 3
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                for fn, new in plan:
                    fn.__code__ = new
                for item in self.items:  # a verdict needs no traceback: pytest's costs ~1 s in a 5,000-line module
                    item.repr_failure = _short_failure
                    item._repr_failure_py = _short_failure_py
                failed, passed = [], 0
                stop_early = bool(self.spec.get("stop_early"))
                reports = []

                class Catch:
                    def pytest_runtest_logreport(self, report):
                        reports.append(report)

                session.config.pluginmanager.register(Catch(), "fixbot-catch")
                for i, item in enumerate(self.items):
                    nextitem = self.items[i + 1] if i + 1 < len(self.items) else None
                    before = len(reports)
                    item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                    if any(r.failed for r in reports[before:]):
                        failed.append(item.nodeid)
                        if stop_early:
                            break
                    else:
                        passed += 1
                os.write(write_fd, json.dumps([failed, passed]).encode())
                code = 0
            except BaseException:  # noqa: BLE001 - any crash is a failed candidate
                code = 4
            finally:
                os._exit(code)
        os.close(write_fd)
        state, payload = _wait_child(pid, read_fd, float(self.spec.get("timeout", 10)))
        if state != "ok":
            return state, [], 0
        failed, passed = payload
        return ("fail" if failed else "pass"), failed, passed


def _short_failure(excinfo):
    return f"{excinfo.typename}: {str(excinfo.value)[:200]}"


def _short_failure_py(excinfo, style=None):
    return _short_failure(excinfo)


def _write(path, data):
    with open(path, "wb") as fh:
        fh.write(data)


def _wait_child(pid, read_fd, timeout):
    """Collect a forked child's JSON answer; kill it at the deadline (mutants loop forever)."""
    deadline = time.monotonic() + timeout
    chunks = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return "timeout", None
            ready, _, _ = select.select([read_fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_fd)
    _, wstatus = os.waitpid(pid, 0)
    if not chunks or not os.WIFEXITED(wstatus) or os.WEXITSTATUS(wstatus) != 0:
        return "error", None
    return "ok", json.loads(b"".join(chunks))


def mode_fresh(spec, out_path):
    """Each candidate in a child forked from a process that has imported only pytest."""
    import pytest  # noqa: F401 - imported once here so every child starts warm

    args = list(spec["pytest_args"]) + ["-p", "no:cacheprovider"] + list(spec.get("tests") or [])
    if spec.get("stop_early"):
        args.append("-x")
    files = {}
    deadline = _deadline(spec)
    wanted, passes = int(spec.get("stop_after_passes") or 0), 0
    with open(out_path, "w", encoding="utf-8") as out:
        for cand in spec["candidates"]:
            if time.monotonic() > deadline:
                break
            start = time.monotonic()
            groups = _by_path(cand)
            try:
                new_bytes = {}
                for path, edits in groups.items():
                    if path not in files:
                        files[path] = SourceState(path)
                    new_bytes[path] = files[path].encode(files[path].patched(edits))
            except (ValueError, UnicodeError, SyntaxError) as exc:
                out.write(json.dumps({"id": cand["id"], "status": "error", "error": str(exc)[:200],
                                      "failed": [], "passed": 0, "duration": 0.0}) + "\n")
                continue
            try:
                for path, data in new_bytes.items():
                    _write(path, data)
                read_fd, write_fd = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(read_fd)
                    code = 3
                    try:
                        collector = Collector()
                        _silenced(lambda c=collector: _run_pytest(args, [c]))
                        failed = sorted(n for n, o in collector.outcomes.items() if o in ("failed", "error"))
                        passed = sum(1 for o in collector.outcomes.values() if o == "passed")
                        os.write(write_fd, json.dumps([failed, passed]).encode())
                        code = 0
                    finally:
                        os._exit(code)
                os.close(write_fd)
                state, payload = _wait_child(pid, read_fd, float(spec.get("timeout", 10)))
            finally:
                for path in new_bytes:
                    _write(path, files[path].data)
            failed, passed = payload if state == "ok" else ([], 0)
            status = state if state != "ok" else ("fail" if failed else "pass")
            out.write(json.dumps({"id": cand["id"], "status": status, "failed": failed, "passed": passed,
                                  "duration": round(time.monotonic() - start, 4)}) + "\n")
            out.flush()
            passes += status == "pass"
            if wanted and passes >= wanted:
                break


def mode_validate(spec, out_path):
    with open(out_path, "w", encoding="utf-8") as out:
        validator = Validator(spec, out)
        args = list(spec["pytest_args"]) + ["-p", "no:cacheprovider"]
        _silenced(lambda: _run_pytest(args, [validator]))
    return None


def main(argv):
    mode, spec_path, out_path = argv[1], argv[2], argv[3]
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    _enter(spec)
    if mode == "validate":
        mode_validate(spec, out_path)
        return 0
    if mode == "fresh":
        mode_fresh(spec, out_path)
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
