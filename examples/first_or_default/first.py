"""Small helpers for picking items out of lists."""


def first_or_default(items, default=None):
    """The first item, or default when the list is empty or starts with None."""
    if items[0] is None:
        return default
    return items[0]


def last_or_default(items, default=None):
    """The last item, or default when the list is empty."""
    if not items:
        return default
    return items[-1]
