"""The fix workflow: requests, the repair graph, engines and the CLI."""
