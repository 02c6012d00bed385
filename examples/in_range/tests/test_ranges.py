from ranges import clamp, in_range


def test_inside():
    assert in_range(5, 1, 10)


def test_bounds_inclusive():
    assert in_range(1, 1, 10) and in_range(10, 1, 10)


def test_below():
    assert not in_range(0, 1, 10)


def test_above():
    assert not in_range(11, 1, 10)


def test_clamp():
    assert [clamp(x, 1, 10) for x in (-3, 5, 42)] == [1, 5, 10]
