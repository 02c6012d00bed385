from mathx import gcd, lcm


def test_zero():
    assert gcd(5, 0) == 5


def test_coprime():
    assert gcd(13, 8) == 1


def test_common_factor():
    assert gcd(35, 21) == 7


def test_lcm_of_zero():
    assert lcm(0, 5) == 0
