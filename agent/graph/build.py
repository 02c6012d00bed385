"""`build_graph(deps)`: the nodes of both engines and the routers between them (see agent.graph.routing)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langgraph.graph import END, START, StateGraph

from agent.graph import routing
from agent.graph.deps import Deps
from agent.graph.nodes.finalize import finalize
from agent.graph.nodes.llm_coder import llm_coder
from agent.graph.nodes.llm_manager import llm_manager
from agent.graph.nodes.llm_prove import llm_prove
from agent.graph.nodes.llm_reprotest import llm_reprotest
from agent.graph.nodes.llm_reviewer import llm_reviewer
from agent.graph.nodes.localize import localize
from agent.graph.nodes.propose import propose
from agent.graph.nodes.publish import publish
from agent.graph.nodes.repair import repair
from agent.graph.nodes.reproduce import reproduce
from agent.graph.nodes.review import review
from agent.graph.nodes.test import test
from agent.graph.state import FixState

Node = Callable[[dict[str, Any], Deps], Awaitable[dict[str, Any]]]


def _bind(node: Node, deps: Deps) -> Callable[[FixState], Awaitable[dict[str, Any]]]:
    async def bound(state: FixState) -> dict[str, Any]:
        return await node(dict(state), deps)

    bound.__name__ = node.__name__
    return bound


def build_graph(deps: Deps, checkpointer: Any = None) -> Any:
    """Compile the workflow; pass a checkpointer to make every finished node durable."""
    builder = StateGraph(FixState)
    nodes: tuple[tuple[str, Node], ...] = (
        ("reproduce", reproduce), ("localize", localize), ("repair", repair), ("review", review), ("test", test),
        ("llm_reprotest", llm_reprotest), ("llm_manager", llm_manager), ("llm_coder", llm_coder),
        ("llm_reviewer", llm_reviewer), ("llm_prove", llm_prove), ("finalize", finalize), ("propose", propose),
        ("publish", publish))
    for name, node in nodes:
        builder.add_node(name, _bind(node, deps))  # type: ignore[call-overload]  # TypedDict input is fine
    builder.add_edge(START, "reproduce")
    builder.add_conditional_edges("reproduce", routing.after_reproduce)
    builder.add_conditional_edges("localize", routing.after_localize)
    builder.add_conditional_edges("repair", routing.after_repair)
    builder.add_conditional_edges("review", routing.after_review)
    builder.add_conditional_edges("test", routing.after_test)
    for name in ("llm_reprotest", "llm_manager", "llm_coder", "llm_reviewer", "llm_prove"):
        builder.add_conditional_edges(name, getattr(routing, f"after_{name}"))
    builder.add_conditional_edges("finalize", routing.after_finalize)
    builder.add_conditional_edges("propose", routing.after_propose)
    builder.add_edge("publish", END)
    return builder.compile(checkpointer=checkpointer)
