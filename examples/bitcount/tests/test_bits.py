from bits import bitcount, is_power_of_two


def test_zero():
    assert bitcount(0) == 0


def test_one():
    assert bitcount(1) == 1


def test_all_ones():
    assert bitcount(0b111) == 3


def test_power_of_two():
    assert bitcount(128) == 1


def test_mixed():
    assert bitcount(0b1011001) == 4


def test_is_power_of_two():
    assert [n for n in range(20) if is_power_of_two(n)] == [1, 2, 4, 8, 16]
