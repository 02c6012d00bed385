"""fixbot's probe, pytest side: per-test outcomes, failures, hangs and coverage contexts of pytest runs.

Copied into the sandbox user's site-packages as `fixbot_probe_pytest` and loaded by pytest through
the probe's `pytest11` entry point, in every pytest process of the user's command. Inert unless
the probe is recording (see agent/repair/probe.py, which holds the record format).
"""

from __future__ import annotations

from typing import Any

try:
    import fixbot_probe as core  # in the sandbox
except ImportError:  # on the host (tests, type checks)
    from agent.repair import probe as core

class PytestRecorder:
    """The pytest side: registered on the outermost session of a recording process."""

    def __init__(self, probe, config):
        self.probe = probe
        self.config = config
        self.controller = False

    def pytest_sessionstart(self, session):
        self.controller = self.config.pluginmanager.hasplugin("dsession")  # xdist: workers run the tests
        self.probe.rootdir = str(self.config.rootpath)

    def pytest_collection_modifyitems(self, session, config, items):
        wanted = self.probe.wanted
        if wanted is None:
            return
        keep = [it for it in items if it.nodeid in wanted]
        dropped = [it for it in items if it.nodeid not in wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = [it for it in keep for _ in range(self.probe.repeat)]  # each run of a test right after the last

    def pytest_collectreport(self, report):
        if report.failed:
            text = str(report.longrepr)
            where = report.nodeid or "<collection>"
            self.probe.collection_error(where, text, core.frames_in_text(text))

    def pytest_runtest_protocol(self, item, nextitem):
        self.probe.switch(item.nodeid)
        if not _has_own_timeout(item):
            self.probe.arm(item.nodeid)

    def pytest_runtest_makereport(self, item, call):
        if call.when == "call" or call.excinfo is not None:
            self.probe.disarm()
        excinfo = call.excinfo
        if excinfo is None or call.when == "teardown" and item.nodeid in self.probe.frames:
            return
        import _pytest.outcomes

        if excinfo.errisinstance((_pytest.outcomes.Skipped, _pytest.outcomes.XFailed)):
            return
        self.probe.failure(item.nodeid, (excinfo.type, excinfo.value, excinfo.tb))

    def pytest_runtest_logreport(self, report):
        if self.controller:
            return
        nodeid = report.nodeid
        probe = self.probe
        if report.when == "call" and report.passed and nodeid not in probe.hung:
            probe.slowest_ok = max(probe.slowest_ok, report.duration)
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.skipped else "xpassed"
        elif report.passed:
            outcome = "passed"
        elif report.skipped:
            outcome = "skipped"
        else:
            outcome = "failed" if report.when == "call" else "error"
        if report.when == "call" or outcome != "passed" or nodeid not in probe.outcomes:
            probe.outcome(nodeid, outcome, report.duration)
        else:
            probe.durations[nodeid] = round(probe.durations.get(nodeid, 0.0) + report.duration, 6)
        if report.failed and nodeid not in probe.frames and report.longrepr is not None:
            text = str(report.longrepr)  # a worker's failure seen only through its report
            probe.frames[nodeid] = core.frames_in_text(text)
            probe.messages[nodeid] = text[-core.MAX_MESSAGE:]
            if "FixbotTestTimeout" in text:
                probe.hung.add(nodeid)

    def pytest_runtest_logfinish(self, nodeid, location):
        self.probe.switch("")
        self.probe.end_run(nodeid)

    def pytest_sessionfinish(self, session, exitstatus):
        self.probe.disarm()
        self.probe.exit_status = int(exitstatus)

    def pytest_unconfigure(self, config):
        self.probe.session_active = False
        self.probe.flush()


def _has_own_timeout(item):
    """True when pytest-timeout limits this test: its alarm and ours would fight over SIGALRM."""
    if item.get_closest_marker("timeout") is not None:
        return True
    try:
        return bool(item.config.getoption("timeout", None) or item.config.getini("timeout"))
    except (ValueError, KeyError):
        return False


_hookimpl: Any
try:  # pytest.hookimpl is this marker; importing pluggy alone keeps every Python process's start quick
    import pluggy

    _hookimpl = pluggy.HookimplMarker("pytest")
except ImportError:  # a Python without pytest: the unittest side still works
    def _hookimpl(**_kwargs):
        return lambda fn: fn


@_hookimpl(hookwrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """Mode coverage measures with its own tracer: pytest-cov (`--cov` in addopts) would replace it."""
    probe = core.active()
    if probe is not None and probe.cov is not None and hasattr(early_config.known_args_namespace, "no_cov"):
        early_config.known_args_namespace.no_cov = True
    yield


@_hookimpl(tryfirst=True)
def pytest_configure(config):
    """Register the recorder on the outermost session; options that would hide outcomes are turned off."""
    probe = core.active()
    if probe is None or probe.session_active:
        return  # not recording, or a pytest session inside a test (pytester): not the user's tests
    worker = hasattr(config, "workerinput")
    if probe.role == "nested" and not worker:
        return
    if worker:
        probe.role = "worker"
    probe.claim("pytest")
    probe.session_active = True
    option = config.option
    for name, value in (("maxfail", 0), ("lf", False), ("failedfirst", False), ("stepwise", False),
                        ("stepwise_skip", False), ("exitfirst", False)):
        if hasattr(option, name):
            setattr(option, name, value)  # -x, --lf, --sw would run fewer tests than the suite has
    config.pluginmanager.register(PytestRecorder(probe, config), "fixbot-probe-recorder")
