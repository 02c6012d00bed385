from edit import levenshtein


def test_same():
    assert levenshtein("abc", "abc") == 0


def test_insert():
    assert levenshtein("abc", "abcd") == 1


def test_kitten():
    assert levenshtein("kitten", "sitting") == 3


def test_from_empty():
    assert levenshtein("", "abc") == 3
