def max_sublist_sum(arr):
    best = 0
    current = 0
    for x in arr:
        current = max(0, current + x)
        best = min(best, current)
    return best
