import pytest

from stats import mean, spread


def test_whole():
    assert mean([2, 4]) == 3


def test_fraction():
    assert mean([1, 2]) == 1.5


def test_empty():
    with pytest.raises(ValueError):
        mean([])


def test_spread():
    assert spread([3, -1, 7]) == 8
