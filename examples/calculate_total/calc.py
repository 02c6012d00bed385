def calculate_total(items):
    """Sum of the amounts in items (refunds are negative)."""
    total = 0
    for amount in items:
        if amount > 0:
            total += amount
    return total


def average(items):
    if not items:
        return 0
    return calculate_total(items) / len(items)
