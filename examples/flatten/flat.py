def flatten(items):
    out = []
    for item in items:
        if isinstance(item, list):
            out.extend(flatten(items))
        else:
            out.append(item)
    return out
