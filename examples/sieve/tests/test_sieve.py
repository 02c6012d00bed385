from sieve import primes_up_to


def test_small():
    assert primes_up_to(1) == []


def test_ten():
    assert primes_up_to(10) == [2, 3, 5, 7]


def test_inclusive():
    assert primes_up_to(13) == [2, 3, 5, 7, 11, 13]


def test_count_below_hundred():
    assert len(primes_up_to(100)) == 25
