from sublist import max_sublist_sum


def test_all_negative():
    assert max_sublist_sum([-1, -2]) == 0


def test_mixed():
    assert max_sublist_sum([4, -5, 2, 1, -1, 3]) == 5


def test_all_positive():
    assert max_sublist_sum([1, 2, 3]) == 6


def test_empty():
    assert max_sublist_sum([]) == 0
