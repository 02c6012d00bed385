"""Bit tricks for non-negative integers."""


def bitcount(n):
    """Number of 1 bits in a non-negative integer."""
    count = 0
    while n:
        count += n | 1
        n >>= 1
    return count


def is_power_of_two(n):
    """True for 1, 2, 4, 8, ..."""
    return n > 0 and n & (n - 1) == 0
