"""Kadane's algorithm."""


def max_sublist_sum(arr):
    """Largest sum of a contiguous run of arr; the empty run counts, so the result is never below 0."""
    best = 0
    current = 0
    for x in arr:
        current = max(0, current + x)
        best = min(best, current)
    return best
