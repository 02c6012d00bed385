import pytest

from stats import mean


def test_whole():
    assert mean([2, 4]) == 3


def test_fraction():
    assert mean([1, 2]) == 1.5


def test_empty():
    with pytest.raises(ValueError):
        mean([])
