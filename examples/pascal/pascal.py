def pascal(n):
    """The first n rows of Pascal's triangle."""
    rows = []
    for r in range(n):
        row = [1]
        if r > 0:
            prev = rows[-1]
            for i in range(1, r):
                row.append(prev[i - 1] - prev[i])
            row.append(1)
        rows.append(row)
    return rows
