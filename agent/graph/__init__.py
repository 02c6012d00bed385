"""The repair workflow as a LangGraph state machine (build it with `build_graph(deps)`)."""
