def is_valid_parens(text):
    """True when the round brackets in text are balanced; other characters are ignored."""
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth:
                return False
            depth -= 1
    return depth == 0
