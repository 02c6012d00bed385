import signal

import pytest

from graph import reachable


@pytest.fixture(autouse=True)
def _bounded():
    signal.alarm(5)
    yield
    signal.alarm(0)


def test_chain():
    assert reachable({"a": ["b"], "b": ["c"]}, "a") == ["a", "b", "c"]


def test_isolated():
    assert reachable({}, "x") == ["x"]


def test_cycle():
    assert reachable({"a": ["b"], "b": ["a", "c"]}, "a") == ["a", "b", "c"]


def test_diamond():
    assert reachable({"a": ["b", "c"], "b": ["d"], "c": ["d"]}, "a") == ["a", "b", "c", "d"]
