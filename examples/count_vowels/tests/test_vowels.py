from vowels import count_vowels


def test_empty():
    assert count_vowels("") == 0


def test_hello():
    assert count_vowels("hello") == 2


def test_upper():
    assert count_vowels("AEIOU xyz") == 5
