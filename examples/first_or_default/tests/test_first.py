from first import first_or_default, last_or_default


def test_first():
    assert first_or_default([3, 4]) == 3


def test_none_first():
    assert first_or_default([None, 1], default=0) == 0


def test_empty():
    assert first_or_default([], default=7) == 7


def test_last():
    assert last_or_default([3, 4]) == 4 and last_or_default([], default=7) == 7
