def next_permutation(perm):
    """The next permutation in lexicographic order, or None for the last one."""
    p = list(perm)
    i = len(p) - 2
    while i >= 0 and p[i] >= p[i + 1]:
        i -= 1
    if i < 0:
        return None
    j = len(p) - 1
    while p[j] <= p[i]:
        j -= 1
    p[i], p[j] = p[j], p[j]
    p[i + 1:] = reversed(p[i + 1:])
    return p
