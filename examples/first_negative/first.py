def first_or_default(items, default=None):
    if items[0] is None:
        return default
    return items[0]
