from perm import next_permutation


def test_last():
    assert next_permutation([3, 2, 1]) is None


def test_simple():
    assert next_permutation([1, 2, 3]) == [1, 3, 2]


def test_middle():
    assert next_permutation([1, 3, 2]) == [2, 1, 3]
