from calc import average, calculate_total


def test_positive_numbers():
    assert calculate_total([1, 2, 3]) == 6


def test_empty_list():
    assert calculate_total([]) == 0


def test_negative_numbers():
    assert calculate_total([10, -5, 3]) == 8


def test_average_with_refund():
    assert average([4, -2]) == 1
