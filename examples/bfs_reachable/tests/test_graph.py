from graph import reachable


class CountingGraph(dict):
    """A graph that refuses to be walked forever: each lookup of a node's neighbours is counted."""

    def __init__(self, edges, limit=50):
        super().__init__(edges)
        self.lookups = 0
        self.limit = limit

    def get(self, node, default=None):
        self.lookups += 1
        if self.lookups > self.limit:
            raise RuntimeError("reachable keeps walking the same nodes")
        return super().get(node, default)


def test_chain():
    assert reachable(CountingGraph({"a": ["b"], "b": ["c"]}), "a") == ["a", "b", "c"]


def test_isolated():
    assert reachable(CountingGraph({}), "x") == ["x"]


def test_cycle():
    graph = CountingGraph({"a": ["b"], "b": ["c"], "c": ["b", "d"]})
    assert reachable(graph, "a") == ["a", "b", "c", "d"]


def test_diamond():
    graph = CountingGraph({"a": ["b", "c"], "b": ["d"], "c": ["d"]})
    assert reachable(graph, "a") == ["a", "b", "c", "d"]
