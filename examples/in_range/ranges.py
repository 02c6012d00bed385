def in_range(x, lo, hi):
    """True when lo <= x <= hi."""
    if lo > hi:
        lo, hi = hi, lo
    return lo <= x or x <= hi
