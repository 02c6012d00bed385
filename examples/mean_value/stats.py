"""Descriptive statistics for lists of numbers."""


def mean(values):
    """Arithmetic mean; ValueError for an empty list."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) // len(values)


def spread(values):
    """Largest value minus smallest value; ValueError for an empty list."""
    if not values:
        raise ValueError("spread of an empty list")
    return max(values) - min(values)
