from pascal import pascal


def test_no_rows():
    assert pascal(0) == []


def test_first_two_rows():
    assert pascal(2) == [[1], [1, 1]]


def test_fifth_row():
    assert pascal(5)[-1] == [1, 4, 6, 4, 1]


def test_row_sums_are_powers_of_two():
    assert [sum(row) for row in pascal(6)] == [1, 2, 4, 8, 16, 32]
