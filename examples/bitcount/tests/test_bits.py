import signal

import pytest

from bits import bitcount


@pytest.fixture(autouse=True)
def _bounded():
    # The bug makes bitcount loop forever on some inputs: fail the test instead of hanging.
    signal.alarm(2)
    yield
    signal.alarm(0)


def test_zero():
    assert bitcount(0) == 0


def test_seven():
    assert bitcount(7) == 3


def test_power_of_two():
    assert bitcount(128) == 1


def test_mixed():
    assert bitcount(0b1011001) == 4
