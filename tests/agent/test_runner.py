"""The in-sandbox runner: candidate validation (real Docker). Outcomes and coverage: tests/agent/test_probe.py."""

from __future__ import annotations

import pytest

from agent.edits.splice import Splice
from agent.repair.region import unit_for
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


def change(cid: int, *pairs: tuple[str, str], source: str = CALC, path: str = "calc.py") -> dict:
    """A validator payload row: each (old, new) pair becomes one splice, with the unit it compiles in."""
    edits = []
    for old, new in pairs:
        start = source.index(old)
        splice = Splice(path, start, start + len(old), new)
        unit = unit_for(source, splice)
        edits.append({**splice.to_dict(), "unit": unit.to_list() if unit else None})
    return {"id": cid, "edits": edits}


def candidates():
    return [
        change(0, ("if x > 0:", "if x >= 0:")),  # still wrong
        change(1, ("if x > 0:", "if x != 0:")),  # the fix (in a function)
        change(2, ("if x > 0:", "while True:")),  # loops forever
        change(3, ("LIMIT = 10", "LIMIT = 11"), ("if x > 0:", "if True:")),  # module level: a fresh import
        change(4, ("return calculate_total(self.items)", "return sum(self.items)")),  # method change
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
    looping = [change(i, ("if x > 0:", f"while {i} < 9:")) for i in range(6)]
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
        fix = [change(1, ("if x > 0:", "if x != 0:"))]
        as_module = validate_batch(sb, fix, pytest_args=["-q", "tests/test_calc.py"], tests=FAILING,
                                   per_candidate_timeout=5.0, stop_early=True,
                                   invocation={"cwd": "", "env": {}, "module": True})
        assert as_module[1]["status"] == "pass" and as_module[1]["passed"] == 2
        bare = validate_batch(sb, fix, pytest_args=["-q", "tests/test_calc.py"], tests=FAILING,
                              per_candidate_timeout=5.0, stop_early=True)
        assert bare[1]["passed"] == 0  # bare pytest cannot import calc: nothing is collected
        fix2 = [change(2, ("if x > 0:", "if x != 0:"), path="src/calc2.py")]
        in_dir = validate_batch(sb, fix2, pytest_args=["-q"], tests=["test_src.py::test_neg"],
                                per_candidate_timeout=5.0, stop_early=True,
                                invocation={"cwd": "tests/sub", "env": {"PYTHONPATH": "../../src"}, "module": False})
        assert in_dir[2]["status"] == "pass", in_dir
    finally:
        sb.destroy()


# A latin-1 module with CRLF endings, tabs, a `from __future__` import and a method that uses super():
# the validator must patch it in its own encoding, keep every other byte, and swap the method's code
# compiled inside its class (super() needs the class cell).
PRICES = (
    "# -*- coding: latin-1 -*-\r\n"
    "from __future__ import annotations\r\n"
    "\r\n"
    "CURRENCY = 'é'\r\n"
    "\r\n"
    "\r\n"
    "class Base:\r\n"
    "\tdef price(self, n: int) -> int:\r\n"
    "\t\treturn n\r\n"
    "\r\n"
    "\r\n"
    "class Shop(Base):\r\n"
    "\tdef price(self, n: int) -> int:\r\n"
    "\t\treturn super().price(n) - 1\r\n"
    "\r\n"
    "\tdef label(self) -> str:\r\n"
    "\t\treturn CURRENCY + 'x'\r\n"
)
PRICE_TESTS = """\
from prices import Shop


def test_price():
    assert Shop().price(3) == 3


def test_label():
    assert Shop().label() == "\\u00e9x"
"""


def test_validation_patches_a_latin1_crlf_tab_file_in_place_and_restores_its_bytes(sandbox_image):
    data = PRICES.encode("latin-1")
    sb = Sandbox.create("test-runner-enc", SandboxConfig(image=sandbox_image, cpus=1.0, timeout=60))
    try:
        sb.put_files({"prices.py": data, "conftest.py": "", "tests/test_prices.py": PRICE_TESTS})
        install_runner(sb)
        rows = [change(0, ("super().price(n) - 1", "super().price(n) + 0"), source=PRICES, path="prices.py"),
                change(1, ("super().price(n) - 1", "super().price(n)"), source=PRICES, path="prices.py"),
                change(2, ("CURRENCY = 'é'", "CURRENCY = 'è'"), source=PRICES, path="prices.py")]  # a fresh import
        assert rows[0]["edits"][0]["unit"][2] == ["class Shop:"]  # compiled inside its class
        results = validate_batch(sb, rows, pytest_args=["-q"], tests=None, per_candidate_timeout=5.0,
                                 stop_early=False)
        assert results[0]["status"] == "pass" and results[1]["status"] == "pass", results
        assert results[2]["status"] == "fail"  # the bug stays, and the label changed: both fail
        assert sorted(results[2]["failed"]) == ["tests/test_prices.py::test_label", "tests/test_prices.py::test_price"]
        assert sb.read_file("prices.py") == data, "the original bytes are restored after validation"
    finally:
        sb.destroy()
