from collections import deque


def reachable(graph, start):
    """Every node reachable from start, in BFS order."""
    visited = {start}
    order = []
    queue = deque([start])
    while queue:
        node = queue.popleft()
        order.append(node)
        for nxt in graph.get(node, []):
            if nxt not in visited:
                queue.append(nxt)
    return order
