"""Understanding test commands, telling the environment's problems from bugs, judging runs (pure functions)."""

from __future__ import annotations

import pytest

from agent.baseline import classify, verdict
from agent.diagnose import (
    collection_hint,
    conftest_failure,
    environment_problems,
    not_runnable,
    setup_failed,
    tox_commands,
    usage_error,
)
from agent.testcmd import PytestCall, pytest_call, wrapper_of


@pytest.mark.parametrize(("command", "call"), [
    ("pytest -q", PytestCall(["-q"])),
    ("python -m pytest -q tests", PytestCall(["-q", "tests"], module=True)),
    ("python3 -m pytest", PytestCall([], module=True)),
    ("PYTHONPATH=src pytest -x", PytestCall(["-x"], env={"PYTHONPATH": "src"})),
    ("cd tests && python -m pytest -k 'a or b'", PytestCall(["-k", "a or b"], cwd="tests", module=True)),
    ("cd ./pkg/ && A=1 B=x:y pytest", PytestCall([], cwd="pkg", env={"A": "1", "B": "x:y"})),
    ("cd .. && pytest", None),  # outside the repository
    ("cd /tmp && pytest", None),
    ("pytest | tail -1", None),
    ("pytest && flake8", None),
    ("PYTHONPATH=$HOME pytest", None),  # needs the shell to expand
    ("python -m unittest -v", None),
    ("python runtests.py", None),
])
def test_pytest_call(command, call):
    assert pytest_call(command) == call


def test_runner_spec_and_wrappers():
    assert pytest_call("cd t && PYTHONPATH=.. python -m pytest").runner_spec() == \
        {"cwd": "t", "env": {"PYTHONPATH": ".."}, "module": True}
    assert wrapper_of("tox -e py") == "tox" and wrapper_of("CI=1 make test") == "make"
    assert wrapper_of("python -m pytest") is None


def test_setup_failure_says_what_to_do():
    pip = "ERROR: Could not find a version that satisfies the requirement tinyunits==1.0 (from versions: none)\n" \
          "ERROR: No matching distribution found for tinyunits==1.0\n"
    offline = setup_failed(1, pip, network=False, wheelhouse=False)
    assert offline.startswith("the setup command failed (exit 1). pip could not find tinyunits==1.0: the setup has "
                              "no network")
    assert "SANDBOX_SETUP_NETWORK=true" in offline and "SANDBOX_WHEELHOUSE=DIR" in offline
    assert "No matching distribution found" in offline  # the end of its output is shown
    assert "wheelhouse (SANDBOX_WHEELHOUSE) has no wheel" in setup_failed(1, pip, network=False, wheelhouse=True)
    assert "on its index" in setup_failed(1, pip, network=True, wheelhouse=False)
    assert "not in the sandbox image" in setup_failed(127, "bash: poetry: command not found", network=False,
                                                      wheelhouse=False)


def test_tox_is_answered_with_what_tox_runs(tmp_path):
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py\n[testenv]\ndeps = pytest\ncommands =\n"
                                      "    pytest -q {posargs:tests}\n    flake8\n")
    assert tox_commands(tmp_path) == "pytest -q"
    text = not_runnable(127, "bash: line 1: tox: command not found", "tox", tmp_path)
    assert "no `tox`" in text and "`pytest -q`" in text and "setup command" in text
    assert "install what else it needs" in not_runnable(127, "bash: foo: command not found", None, tmp_path)


def test_usage_errors_and_conftest_failures():
    out = "ERROR: usage: __main__.py [options]\n__main__.py: error: unrecognized arguments: --cov\n  inifile: x\n"
    assert usage_error(out) == "__main__.py: error: unrecognized arguments: --cov"
    assert usage_error("all good") is None
    text = ("ImportError while loading conftest '/workspace/tests/conftest.py'.\ntests/conftest.py:1: in <module>\n"
            "    import numpy\nE   ModuleNotFoundError: No module named 'numpy'\n")
    [err] = conftest_failure(text)
    assert err["id"] == "tests/conftest.py" and "No module named 'numpy'" in err["message"]
    assert "install it with the setup command" in collection_hint([err])
    assert "share a module name" in collection_hint([{"message": "import file mismatch:\nimported module 'test_u'"}])


def test_environment_problems(tmp_path):
    (tmp_path / "tests" / "data").mkdir(parents=True)
    (tmp_path / "tests" / "data" / "levels.txt").write_text("a 1\n")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "model.bin").write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\n")
    messages = {
        "t::ro": "OSError: [Errno 30] Read-only file system: '/usr/share/x.txt'",
        "t::ws": "PermissionError: [Errno 13] Permission denied: '/workspace/locked'",  # inside: could be the bug
        "t::lfs": 'E   UnicodeDecodeError ... in load\n    data = open("assets/model.bin").read()',
        "t::cwd": "FileNotFoundError: [Errno 2] No such file or directory: 'data/levels.txt'",
        "t::gone": "FileNotFoundError: [Errno 2] No such file or directory: 'nowhere.txt'",
    }
    found = {p["kind"]: p for p in environment_problems(list(messages), messages, tmp_path)}
    assert set(found) == {"read-only", "git-lfs", "working-directory"}
    assert found["read-only"]["tests"] == ["t::ro"] and "read-only in the sandbox" in found["read-only"]["message"]
    assert found["git-lfs"]["path"] == "assets/model.bin" and "git lfs pull" in found["git-lfs"]["message"]
    assert found["working-directory"]["tests"] == ["t::cwd"]
    assert "tests/data/levels.txt" in found["working-directory"]["message"]


def test_reruns_sort_flaky_from_slow_from_failing():
    baseline = {"failing": ["a", "b", "c", "d"], "hung": ["c", "d"]}
    reruns = [{"outcomes": {"a": "failed", "b": "passed", "c": "passed", "d": "failed"}, "hung": ["d"]},
              {"outcomes": {"a": "failed", "d": "failed"}, "hung": ["d"]}]
    assert classify(baseline, reruns) == {"failing": ["a", "d"], "flaky": ["b"], "slow": ["c"]}


def test_verdict_of_a_proof():
    baseline = {"failing": ["t::bug"], "flaky": ["t::flaky"], "environment": [{"tests": ["t::ro"]}]}
    run = {"runner": "pytest", "exit_code": 1, "outcomes": {"t::bug": "passed", "t::ok": "passed",
                                                            "t::flaky": "failed", "t::ro": "failed"}}
    assert verdict(run, baseline) == (True, "")  # only tests that are no evidence failed
    assert verdict({**run, "outcomes": {**run["outcomes"], "t::ok": "failed"}}, baseline)[0] is False
    assert "did not run" in verdict({**run, "outcomes": {"t::ok": "passed"}, "exit_code": 0}, baseline)[1]
    piped = {"runner": "pytest", "exit_code": 0, "outcomes": {"t::bug": "failed"}}  # `pytest | tee`: exit 0
    assert verdict(piped, baseline)[0] is False
    assert verdict({"runner": "pytest", "exit_code": 3, "outcomes": {"t::bug": "passed"}}, baseline)[1] == \
        "every test passed but the test command exited with 3"
    assert verdict({"runner": None, "exit_code": 0}, {"failing": ["<test command>"]}) == (True, "")
    assert verdict({"runner": None, "exit_code": 0, "timed_out": True}, baseline)[0] is False
