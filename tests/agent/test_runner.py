"""The in-sandbox runner: candidate validation (real Docker). Outcomes and coverage: tests/agent/test_probe.py."""

from __future__ import annotations

import pytest

from agent.repair.validate import install_runner, validate_batch
from sandbox import Sandbox, SandboxConfig

pytestmark = [pytest.mark.docker]

CALC = """\
def calculate_total(items):
    total = 0
    for x in items:
        if x > 0:
            total += x
    return total


LIMIT = 10


class Cart:
    def __init__(self, items):
        self.items = items

    def total(self):
        return calculate_total(self.items)
"""
TESTS = """\
from calc import LIMIT, Cart, calculate_total


def test_positive():
    assert calculate_total([1, 2, 3]) == 6


def test_negative():
    assert calculate_total([1, -2, 3]) == 2


def test_cart():
    assert Cart([5, -5]).total() == 0


def test_limit():
    assert LIMIT == 10
"""
FAILING = ["tests/test_calc.py::test_cart", "tests/test_calc.py::test_negative"]


@pytest.fixture(scope="module")
def box(sandbox_image):
    sb = Sandbox.create("test-runner", SandboxConfig(image=sandbox_image, cpus=1.0, timeout=60))
    try:
        sb.put_files({"calc.py": CALC, "conftest.py": "", "tests/test_calc.py": TESTS})
        install_runner(sb)
        yield sb
    finally:
        sb.destroy()


def candidates():
    return [
        {"id": 0, "path": "calc.py", "source": CALC.replace("if x > 0:", "if x >= 0:")},  # still wrong
        {"id": 1, "path": "calc.py", "source": CALC.replace("if x > 0:", "if x != 0:")},  # the fix (in a function)
        {"id": 2, "path": "calc.py", "source": CALC.replace("if x > 0:", "while True:")},  # loops forever
        {"id": 3, "path": "calc.py", "source": CALC.replace("LIMIT = 10", "LIMIT = 11").replace("if x > 0:",
                                                                                                  "if True:")},
        {"id": 4, "path": "calc.py", "source": CALC.replace("return calculate_total(self.items)",
                                                            "return sum(self.items)")},  # method change
    ]


def test_validate_batch_hot_path_fallback_and_timeouts(box):
    results = validate_batch(box, candidates(), pytest_args=["-q"], tests=FAILING, per_candidate_timeout=2.0,
                             stop_early=True)
    assert results[0]["status"] == "fail"
    assert results[1]["status"] == "pass"
    assert results[2]["status"] == "timeout"
    assert results[3]["status"] == "pass"  # module-level change: re-imported in a fresh child
    # the method swap fixes test_cart (hot path) but not test_negative
    assert results[4]["status"] == "fail" and results[4]["failed"] == ["tests/test_calc.py::test_negative"]
    after = box.read_file("calc.py").decode()
    assert after == CALC, "the original file is restored after validation"


def test_validation_stops_at_the_deadline(box):
    looping = [{"id": i, "path": "calc.py", "source": CALC.replace("if x > 0:", f"while {i} < 9:")} for i in range(6)]
    results = validate_batch(box, looping, pytest_args=["-q"], tests=FAILING, per_candidate_timeout=1.0,
                             stop_early=True, deadline=1.5)
    statuses = [results[i]["status"] for i in range(6)]
    ran = statuses.index("skipped")  # candidates run in order until the deadline, the rest never start
    assert 1 <= ran <= 3 and set(statuses[:ran]) == {"timeout"} and set(statuses[ran:]) == {"skipped"}, statuses
    assert box.read_file("calc.py").decode() == CALC


def test_full_suite_detects_a_regression(box):
    results = validate_batch(box, candidates()[3:4], pytest_args=["-q"], tests=None, per_candidate_timeout=5.0,
                             stop_early=False)
    assert results[3]["status"] == "fail"
    assert results[3]["failed"] == ["tests/test_calc.py::test_limit"]


def test_validation_imports_as_the_command_does(sandbox_image):
    """`python -m pytest` puts the working directory on sys.path, bare pytest does not: the validator follows the
    command (agent.testcmd.PytestCall.runner_spec), or no candidate could ever import the code under test."""
    sb = Sandbox.create("test-runner-path", SandboxConfig(image=sandbox_image, cpus=1.0, timeout=60))
    try:
        sb.put_files({"calc.py": CALC, "tests/test_calc.py": TESTS, "src/calc2.py": CALC,
                      "tests/sub/test_src.py": "from calc2 import calculate_total\n\n\ndef test_neg():\n"
                                               "    assert calculate_total([1, -2, 3]) == 2\n"})
        install_runner(sb)
        fix = [{"id": 1, "path": "calc.py", "source": CALC.replace("if x > 0:", "if x != 0:")}]
        as_module = validate_batch(sb, fix, pytest_args=["-q", "tests/test_calc.py"], tests=FAILING,
                                   per_candidate_timeout=5.0, stop_early=True,
                                   invocation={"cwd": "", "env": {}, "module": True})
        assert as_module[1]["status"] == "pass" and as_module[1]["passed"] == 2
        bare = validate_batch(sb, fix, pytest_args=["-q", "tests/test_calc.py"], tests=FAILING,
                              per_candidate_timeout=5.0, stop_early=True)
        assert bare[1]["passed"] == 0  # bare pytest cannot import calc: nothing is collected
        fix2 = [{"id": 2, "path": "src/calc2.py", "source": CALC.replace("if x > 0:", "if x != 0:")}]
        in_dir = validate_batch(sb, fix2, pytest_args=["-q"], tests=["test_src.py::test_neg"],
                                per_candidate_timeout=5.0, stop_early=True,
                                invocation={"cwd": "tests/sub", "env": {"PYTHONPATH": "../../src"}, "module": False})
        assert in_dir[2]["status"] == "pass", in_dir
    finally:
        sb.destroy()
