"""Which tests matter for a failure (pure): the failing ones and the passing ones that use the same code."""

from __future__ import annotations

from agent import relevance
from agent.relevance import place_of, relevant_tests

LIB = """\
def windowed(seq, n):
    return [seq[i:i + n] for i in range(len(seq) - n)]


def chunked(seq, n):
    return [seq[i:i + n] for i in range(0, len(seq), n)]


class Bucket:
    def keys(self):
        return []
"""
TESTS = """\
from unittest import TestCase

import lib


class WindowedTests(TestCase):
    def setUp(self):
        self.seq = list(range(5))

    def test_basic(self):
        self.assertEqual(lib.windowed(self.seq, 2)[-1], [3, 4])

    def test_other(self):
        self.assertEqual(len(self.seq), 5)


class ChunkedTests(TestCase):
    def test_chunks(self):
        self.assertEqual(lib.chunked([1, 2, 3], 2), [[1, 2], [3]])

    def test_mixed(self):
        self.assertTrue(lib.windowed([1], 1) is not None and lib.chunked([], 1) == [])


def test_bucket():
    assert lib.Bucket().keys() == []


def test_param_windowed():
    assert lib.windowed([1, 2], 1)
"""
SOURCES = {"lib.py": LIB, "tests/test_lib.py": TESTS}


def test_place_of_node_ids():
    assert place_of("tests/test_lib.py::WindowedTests::test_basic").cls == "WindowedTests"
    assert place_of("tests/test_lib.py::test_x[1-2]").function == "test_x"
    assert place_of("<test command>") is None


def test_selection_keeps_failing_tests_and_those_sharing_functions_or_class(monkeypatch):
    monkeypatch.setattr(relevance, "SELECT_ABOVE", 3)
    failing = ["tests/test_lib.py::WindowedTests::test_basic"]
    passing = ["tests/test_lib.py::WindowedTests::test_other", "tests/test_lib.py::ChunkedTests::test_chunks",
               "tests/test_lib.py::ChunkedTests::test_mixed", "tests/test_lib.py::test_bucket",
               "tests/test_lib.py::test_param_windowed[a]"]
    selected = relevant_tests(failing, passing, SOURCES)
    assert selected == failing + ["tests/test_lib.py::WindowedTests::test_other",  # same class first
                                  "tests/test_lib.py::ChunkedTests::test_mixed",
                                  "tests/test_lib.py::test_param_windowed[a]"]


def test_small_suites_and_unknown_ids_run_everything(monkeypatch):
    assert relevant_tests(["tests/test_lib.py::test_bucket"], [], SOURCES) is None  # small: everything
    monkeypatch.setattr(relevance, "SELECT_ABOVE", 0)
    assert relevant_tests(["<test command>"], ["tests/test_lib.py::test_bucket"], SOURCES) is None
    # a failing test that names no function of the sources gives no basis for a selection
    assert relevant_tests(["tests/test_lib.py::WindowedTests::test_other"], ["tests/test_lib.py::test_bucket"],
                          {**SOURCES, "lib.py": "X = 1\n"}) is None
