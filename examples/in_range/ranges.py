"""Checks and adjustments for numeric ranges."""


def in_range(x, lo, hi):
    """True when x lies between lo and hi, both included; the bounds may come in either order."""
    if lo > hi:
        lo, hi = hi, lo
    return lo <= x or x <= hi


def clamp(x, lo, hi):
    """x moved into the range [lo, hi]."""
    return max(lo, min(x, hi))
