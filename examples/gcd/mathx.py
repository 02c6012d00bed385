"""Integer helpers."""


def gcd(a, b):
    """Greatest common divisor of two non-negative integers (Euclid's algorithm)."""
    if b == 0:
        return a
    return gcd(a % b, b)


def lcm(a, b):
    """Least common multiple; 0 when either number is 0."""
    if a == 0 or b == 0:
        return 0
    return a * b // gcd(a, b)
