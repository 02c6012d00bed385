"""The probe inside the user's own test command: outcomes and coverage whatever the command (real Docker)."""

from __future__ import annotations

import json

import pytest

from agent.graph.nodes.localize import evidence
from agent.localize import rank
from agent.repair.probe import COMMAND_ID, HANG_MARK
from agent.repair.report import RunnerOutputError
from agent.repair.validate import install_runner
from agent.testrecords import merge, parse_records
from agent.testrun import install_probe, run_tests
from sandbox import Sandbox, SandboxConfig

CALC = """\
def calculate_total(items):
    total = 0
    for x in items:
        if x > 0:
            total += x
    return total
"""
TESTS = """\
import unittest

from calc import calculate_total


def test_positive():
    assert calculate_total([1, 2, 3]) == 6


def test_negative():
    assert calculate_total([1, -2, 3]) == 2


class TestTotals(unittest.TestCase):
    def test_empty(self):
        self.assertEqual(calculate_total([]), 0)

    def test_only_negative(self):
        self.assertEqual(calculate_total([-4]), -4)
"""
HANGS = """\
def test_loops():
    while True:
        try:
            pass
        except Exception:
            pass


def test_after():
    assert True


def test_loops_too():
    while True:
        pass


class TestTimeoutHandling:
    def test_plain_failure(self):
        assert 1 == 2
"""
CLI = """\
import subprocess
import sys


def test_cli_runs_the_module():
    out = subprocess.run([sys.executable, "-m", "calc_cli", "1", "-2"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "-1"
"""
CALC_CLI = "import sys\n\nfrom calc import calculate_total\n\nprint(calculate_total(int(a) for a in sys.argv[1:]))\n"
# addopts that change pytest's output and stop early: fixbot reads its own records, not the text
NOISY_INI = "[pytest]\naddopts = -q -q -rN --tb=no -x -p no:randomly\n"
P = "tests/test_calc.py::"
U = "tests.test_calc.TestTotals."

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def box(sandbox_image):
    """A task's sandbox with the runner and the probe, a repository without conftest.py (imports from the root)."""
    sb = Sandbox.create("test-probe", SandboxConfig(image=sandbox_image, cpus=1.0, timeout=60))
    try:
        sb.put_files({"calc.py": CALC, "calc_cli.py": CALC_CLI, "tests/__init__.py": "",
                      "tests/test_calc.py": TESTS, "tests/test_cli.py": CLI, "pytest.ini": NOISY_INI})
        install_runner(sb)
        install_probe(sb)
        yield sb
    finally:
        sb.destroy()


def test_python_m_pytest_sees_the_root_and_addopts_change_nothing(box):
    run = run_tests(box, "python -m pytest tests/test_calc.py", timeout=60)
    assert run["runner"] == "pytest" and run["exit_code"] == 1
    assert run["outcomes"] == {P + "test_positive": "passed", P + "test_negative": "failed",
                               P + "TestTotals::test_empty": "passed", P + "TestTotals::test_only_negative": "failed"}
    assert "assert 4 == 2" in run["messages"][P + "test_negative"]  # even with --tb=no
    assert ["calc.py", 5] in run["frames"][P + "test_negative"] or ["tests/test_calc.py", 11] in \
        run["frames"][P + "test_negative"]


def test_bare_pytest_cannot_import_the_root_and_says_so(box):
    box.put_files({"flat/test_flat.py": "from calc import calculate_total\n\n\ndef test_one():\n"
                                        "    assert calculate_total([1]) == 1\n"})
    assert run_tests(box, "python -m pytest flat", timeout=60)["outcomes"] == {"flat/test_flat.py::test_one": "passed"}
    run = run_tests(box, "pytest flat", timeout=60)  # no __init__.py: pytest puts flat/ on sys.path, not the root
    assert run["runner"] == "pytest" and run["exit_code"] == 2 and run["outcomes"] == {}
    [error] = run["collection_errors"]
    assert error["id"] == "flat/test_flat.py"
    assert "ModuleNotFoundError: No module named 'calc'" in error["message"]


def test_shell_forms_run_as_in_a_terminal(box):
    """cd, env prefixes, && and pipes: the pipe hides the exit status, the probe does not hide the failure."""
    run = run_tests(box, "cd tests && PYTHONPATH=.. python -m pytest test_calc.py 2>&1 | tail -n 1", timeout=60)
    assert run["exit_code"] == 0
    assert run["outcomes"][P + "test_negative"] == "failed"  # rootdir stays the ini's folder: ids unchanged
    run = run_tests(box, "python -m pytest -n 2 -p xdist tests/test_calc.py", timeout=90)
    assert run["outcomes"][P + "test_negative"] == "failed" and len(run["outcomes"]) == 4
    # plugin autoloading off: the probe's pytest side comes in through PYTEST_PLUGINS instead
    run = run_tests(box, "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 python -m pytest tests/test_calc.py", timeout=60)
    assert run["outcomes"][P + "test_negative"] == "failed" and len(run["outcomes"]) == 4


def test_unittest_ids_and_selection(box):
    run = run_tests(box, "python -m unittest -v tests.test_calc", timeout=60)
    assert run["runner"] == "unittest"
    assert run["outcomes"] == {U + "test_empty": "passed", U + "test_only_negative": "failed"}
    assert "AssertionError: 0 != -4" in run["messages"][U + "test_only_negative"]
    again = run_tests(box, "python -m unittest -v tests.test_calc", timeout=60, tests=[U + "test_only_negative"])
    assert again["outcomes"] == {U + "test_only_negative": "failed"}
    picked = run_tests(box, "python -m pytest tests/test_calc.py", timeout=60, tests=[P + "test_negative"])
    assert picked["outcomes"] == {P + "test_negative": "failed"}


def test_coverage_per_test_ranks_the_condition(box):
    run = run_tests(box, "python -m pytest tests/test_calc.py", timeout=60, mode="coverage")
    baseline = {"failing": [P + "test_negative", P + "TestTotals::test_only_negative"]}
    data = evidence(run, baseline)
    assert data["lines"]["calc.py"]["5"] == [1, 1]  # `total += x`: test_negative fails, test_positive passes
    assert data["lines"]["calc.py"]["4"] == [2, 1]  # test_empty never enters the loop
    ranked = rank(data, {"calc.py": CALC})
    assert ranked[0].path == "calc.py" and ranked[0].line == 4


def test_unittest_coverage_and_a_program_started_by_a_test(box):
    run = run_tests(box, "python -m unittest tests.test_calc", timeout=60, mode="coverage")
    assert set(run["coverage"]["calc.py"]["2"]) == {U + "test_empty", U + "test_only_negative"}
    cli = run_tests(box, "python -m pytest tests/test_cli.py", timeout=60, mode="coverage")
    # the module the test ran in a subprocess: its lines count for the test that started it
    assert cli["coverage"]["calc_cli.py"]["5"] == ["tests/test_cli.py::test_cli_runs_the_module"]
    assert cli["coverage"]["calc.py"]["5"] == ["tests/test_cli.py::test_cli_runs_the_module"]


def test_a_plain_script_is_one_test(box):
    box.put_files({"check.py": "from calc import calculate_total\nassert calculate_total([-1]) == -1\n"})
    run = run_tests(box, "python check.py", timeout=60, mode="coverage")
    assert run["runner"] is None and run["exit_code"] == 1
    assert run["coverage"]["calc.py"]["4"] == [COMMAND_ID]  # every line the script ran counts for the command
    assert "5" not in run["coverage"]["calc.py"]


def test_hanging_tests_are_stopped_and_the_run_goes_on(box):
    box.put_files({"tests/test_h.py": HANGS})
    run = run_tests(box, "python -m pytest tests/test_h.py", timeout=60, test_timeout=3)
    assert run["outcomes"] == {"tests/test_h.py::test_loops": "failed", "tests/test_h.py::test_after": "passed",
                               "tests/test_h.py::test_loops_too": "failed",
                               "tests/test_h.py::TestTimeoutHandling::test_plain_failure": "failed"}
    assert run["hung"] == ["tests/test_h.py::test_loops", "tests/test_h.py::test_loops_too"]
    assert run["messages"]["tests/test_h.py::test_loops"].startswith(HANG_MARK + " 3 s")
    # once one test hung, its siblings get a shorter leash (5 x the slowest finished test, at least 2 s)
    assert run["messages"]["tests/test_h.py::test_loops_too"].startswith(HANG_MARK + " 2 s")
    plain = run["messages"]["tests/test_h.py::TestTimeoutHandling::test_plain_failure"]
    assert not plain.startswith(HANG_MARK) and "assert 1 == 2" in plain


def test_a_missing_plugin_in_addopts_is_a_usage_error(box):
    box.put_files({"sub/pytest.ini": "[pytest]\naddopts = --benchmark-disable\n", "sub/test_ok.py":
                   "def test_ok():\n    pass\n"})
    run = run_tests(box, "cd sub && pytest", timeout=60)
    assert run["exit_code"] == 4 and run["runner"] is None
    assert "unrecognized arguments: --benchmark-disable" in run["output"]
    cleared = run_tests(box, "cd sub && pytest", timeout=60,
                        env={"PYTEST_ADDOPTS": '-o addopts=""'})
    assert cleared["outcomes"] == {"test_ok.py::test_ok": "passed"}


def test_records_are_untrusted_input():
    good = json.dumps({"runner": "pytest", "outcomes": {"t::a": "failed"}, "tests": ["t::a"],
                       "lines": {"m.py": {"3": [0, 7]}, "/etc/passwd": {"1": [0]}},
                       "frames": {"t::a": [["../x.py", 1], ["m.py", 3]]}})
    merged = merge(parse_records((good + "\n" + good + "\n").encode()))
    assert merged["outcomes"] == {"t::a": "failed"}
    assert merged["coverage"] == {"m.py": {"3": ["t::a"]}}  # unknown test index and absolute path dropped
    assert merged["frames"] == {"t::a": [["m.py", 3]]}
    for bad in (b"[1, 2]\n", b'{"outcomes": {"t": "exploded"}}\n', b"{not json\n", b"[" * 100000):
        with pytest.raises(RunnerOutputError):
            parse_records(bad)


def test_repeats_run_in_one_process_and_show_flips(box):
    """Reruns for flaky tests: each selected test several times in one process, every run's outcome kept."""
    box.put_files({"tests/test_flip.py": "import itertools\n\n_n = itertools.count()\n\n\ndef test_flip():\n"
                                         "    assert next(_n) % 2 == 1\n\n\ndef test_never():\n    assert False\n"})
    run = run_tests(box, "python -m pytest tests/test_flip.py", timeout=60, repeat=3,
                    tests=["tests/test_flip.py::test_flip", "tests/test_flip.py::test_never"])
    assert run["runs"] == {"tests/test_flip.py::test_flip": ["failed", "passed", "failed"],
                           "tests/test_flip.py::test_never": ["failed", "failed", "failed"]}
    unit = run_tests(box, "python -m unittest tests.test_calc", timeout=60, repeat=2,
                     tests=[U + "test_only_negative"])
    assert unit["runs"] == {U + "test_only_negative": ["failed", "failed"]}
