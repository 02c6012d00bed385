from merge import merge_sorted


def test_empty():
    assert merge_sorted([], []) == []


def test_one_empty():
    assert merge_sorted([], [1, 2]) == [1, 2]


def test_interleaved():
    assert merge_sorted([1, 4, 9], [2, 3]) == [1, 2, 3, 4, 9]


def test_b_longer():
    assert merge_sorted([5], [1, 6, 7]) == [1, 5, 6, 7]
